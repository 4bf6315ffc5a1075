"""The command line: a thin typer layer over loader, model, engine and reporters.

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or input error (one line on
stderr, `file:line: message`, never a traceback).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__, engine, project, reporters
from .bounds import RunTimeout, arm_timeout, disarm_timeout
from .cli_options import (
    ChildSize,
    Confine,
    DaemonSize,
    Defines,
    ForcePid,
    Format,
    Httpd,
    Margin,
    Modules,
    Output,
    Pid,
    PoolChildren,
    PoolWorkerSize,
    ProcessOverhead,
    Ram,
    Reserve,
    ServerRoot,
    Shared,
    ThreadOverhead,
    ThreadSize,
    ThreadsPerChild,
    Timeout,
    Version,
    sizing_options,
)
from .discover import load_models, on_this_machine
from .errors import ConfigError
from .findings import RANK, SEVERITIES
from .output import emit, json_text, use_colour, warn

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="Read Apache httpd configurations exactly as httpd does, lint them, size the server.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str) -> None:
    warn(message)
    raise typer.Exit(2)


def _split(values: list[str] | None) -> list[str]:
    out = []
    for v in values or []:
        out.extend(x.strip().upper() for x in v.split(",") if x.strip())
    return out


@app.command()
def check(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Main config file or server root directory.")
    ] = None,
    fmt: Format = "text",
    apache_version: Version = None,
    define: Defines = None,
    module: Modules = None,
    server_root: ServerRoot = None,
    ram: Ram = None,
    child_size: ChildSize = None,
    shared: Shared = None,
    reserve: Reserve = None,
    margin: Margin = None,
    threads_per_child: ThreadsPerChild = None,
    thread_size: ThreadSize = None,
    thread_overhead: ThreadOverhead = None,
    process_overhead: ProcessOverhead = None,
    daemon_size: DaemonSize = None,
    pool_children: PoolChildren = None,
    pool_worker_size: PoolWorkerSize = None,
    pid: Pid = None,
    timeout: Timeout = 60,
    select: Annotated[list[str] | None, typer.Option(help="Rule codes or prefixes.")] = None,
    ignore: Annotated[list[str] | None, typer.Option(help="Rule codes or prefixes.")] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            help="A benchmark's profile: cis, stig, dev-sec or mozilla (its policy rules and "
            "thresholds)."
        ),
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option(help="error, warning or info (default warning).")
    ] = None,
    exit_zero: Annotated[bool, typer.Option(help="Exit 0 even with findings.")] = False,
    filesystem: Annotated[
        bool | None,
        typer.Option(
            "--filesystem/--no-filesystem",
            help="Check that DocumentRoot and <Directory> paths exist here (default: for "
            "this machine's configuration and for trees under /etc).",
        ),
    ] = None,
    output: Output = None,
    show_source: Annotated[
        bool, typer.Option("--show-source", help="Print the offending line under each finding.")
    ] = False,
    changed: Annotated[
        bool,
        typer.Option(
            "--changed",
            help="PATHs are changed files (pre-commit): lint the tree each belongs to, once; "
            "a file no main file reads as a fragment.",
        ),
    ] = False,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="Fail only on findings this baseline file does not hold."),
    ] = None,
    write_baseline: Annotated[
        str | None,
        typer.Option("--write-baseline", help="Record today's findings as the baseline FILE."),
    ] = None,
    github_annotations: Annotated[
        bool,
        typer.Option(
            "--github-annotations",
            help="Also print GitHub workflow annotations on stdout (with --output FILE).",
        ),
    ] = False,
    fail_on_skipped: Annotated[
        bool | None,
        typer.Option(
            "--fail-on-skipped/--no-fail-on-skipped",
            help="A rule that cannot run (it needs --ram, a running httpd...) fails the run.",
        ),
    ] = None,
    pre_restart: Annotated[
        bool,
        typer.Option(
            "--pre-restart",
            help="Before a restart: also run httpd's own -t on the tree; fail on errors only; "
            "quiet on success, one summary line.",
        ),
    ] = False,
    httpd: Httpd = None,
    force_pid: ForcePid = False,
    confine: Confine = None,
) -> None:
    """Lint configurations; without PATH, the running server's own."""
    from .fingerprints import project_root
    from .report import Report, ToolError

    if fmt not in reporters.FORMATS:
        fail(f"unknown format {fmt!r}: one of {', '.join(reporters.FORMATS)}")
    if github_annotations and fmt != "github" and not output:
        fail("--github-annotations needs --output FILE for the other format")
    fence = _confinement(confine, pid=pid, pre_restart=pre_restart, changed=changed)
    stop = fence.root if fence is not None else None
    first = Path(paths[0]).resolve() if paths else None
    report = Report(
        root=project_root(
            str(first if first and first.is_dir() else (first.parent if first else Path.cwd())),
            stop,
        )
    )
    fail_rank = RANK["warning"]
    settings = engine.Settings()
    arm_timeout(timeout)
    try:
        report.catalog = engine.catalog()
        start = Path(paths[0]) if paths else Path.cwd()
        found = project.find(start if start.is_dir() else start.parent, stop) or project.find(
            Path.cwd(), stop
        )
        conf = found[1] if found else {}
        where = str(found[0]) if found else None
        fail_on = "error" if pre_restart else fail_on or conf.get("fail-on", "warning")
        if fail_on not in SEVERITIES:
            raise ConfigError(f"--fail-on must be one of {', '.join(SEVERITIES)}")
        fail_rank = RANK[fail_on]
        settings = _settings(select, ignore, conf, where)
        settings.profile = profile or conf.get("profile")
        if settings.profile is not None and settings.profile not in engine.PROFILES:
            raise ConfigError(
                f"unknown profile {settings.profile!r}: one of {', '.join(engine.PROFILES)}"
            )
        settings.fail_on_skipped = (
            fail_on_skipped if fail_on_skipped is not None else conf.get("fail-on-skipped", False)
        )
        settings.filesystem_off = filesystem is False
        sizing = sizing_options(
            ram=ram,
            child_size=child_size,
            shared=shared,
            reserve=reserve,
            margin=margin,
            threads_per_child=threads_per_child,
            thread_size=thread_size,
            thread_overhead=thread_overhead,
            process_overhead=process_overhead,
            daemon_size=daemon_size,
            pool_children=pool_children,
            pool_worker_size=pool_worker_size,
            pid=pid,
        )
        if pid is not None:
            from .measure import check_pid

            check_pid(pid, force_pid)
        wants_sizing = any(
            "sizing" in r.needs for r in engine.selected(report.catalog.values(), settings)
        )
        for path, root, fragment in _jobs(list(paths or []), changed, server_root, report.root):
            try:
                models = load_models(
                    [path] if path else [],
                    root,
                    list(define or []) + list(conf.get("defines", [])),
                    list(module or []) + list(conf.get("modules", [])),
                    apache_version or conf.get("apache-version"),
                    pid=pid,
                    confine=fence,
                    every=True,
                )
            except ConfigError as exc:  # one unreadable PATH hides none of the others
                report.errors.append(ToolError(exc.message, exc.file, exc.line))
                continue
            for model in models:
                if pre_restart:
                    given = list(define or []) + list(conf.get("defines", []))
                    # Each running server is checked with its own command line.
                    own = pid if pid is not None else model.found.pid
                    settings.httpd_check = (path, root, given, httpd, own)
                if wants_sizing and fence is not None and (ram is None or child_size is None):
                    settings.sizing = None
                    settings.sizing_missing = "--ram and --child-size (--confine measures nothing)"
                elif wants_sizing:
                    settings.sizing, settings.sizing_missing = _sizing(model, sizing)
                settings.filesystem = on_this_machine(model) if filesystem is None else filesystem
                if fence is not None:  # no path outside DIR is looked at: reported as skipped
                    settings.filesystem = settings.filesystem_off = False
                report.models.append(model)
                found = engine.run(model, settings)
                if fragment:
                    found = _fragment(found, model, report)
                report.findings.extend(found)
                report.skipped.extend(engine.skipped(model, settings))
    except ConfigError as exc:
        report.errors.append(ToolError(exc.message, exc.file, exc.line))
    if not report.errors and (baseline or write_baseline):
        try:
            _baseline(report, baseline, write_baseline, settings)
        except ConfigError as exc:
            report.errors.append(ToolError(exc.message, exc.file, exc.line))
    disarm_timeout()
    if github_annotations and fmt != "github":
        try:
            emit(reporters.render("github", report), None)
        except ConfigError as exc:
            fail(str(exc))
    if pre_restart and fmt == "text" and not output:
        _pre_restart_finish(report, fail_rank, show_source)
    _finish(
        report, fmt, output, show_source, fail_rank, exit_zero or bool(write_baseline), settings
    )


def _confinement(confine: str | None, *, pid=None, pre_restart=False, changed=False):
    """The Confinement of --confine DIR (None without it); what reaches outside DIR by its
    nature (a running server, httpd itself) is refused with it, in one line."""
    if confine is None:
        return None
    from .confine import Confinement

    try:
        fence = Confinement(confine)
        if pid is not None:
            raise fence.refuse("--pid (measuring a running server)")
        if pre_restart:
            raise fence.refuse("--pre-restart (httpd -t loads the modules)")
        if changed:
            raise fence.refuse("--changed")
    except ConfigError as exc:
        fail(str(exc))
    return fence


def _repository(paths: list[str] | None) -> str:
    """The repository the first PATH lies in (else the working directory's): paths in SARIF,
    GitLab reports and baselines are relative to it, so a laptop and CI agree."""
    from .fingerprints import project_root

    if not paths:
        return project_root()
    first = Path(paths[0]).resolve()
    return project_root(str(first if first.is_dir() else first.parent))


def _baseline(report, path: str | None, write: str | None, settings) -> None:
    """--write-baseline records the findings; --baseline keeps only the new ones and says
    which baselined ones were fixed (of the rules that ran: a deselected one is not fixed)."""
    from . import baseline as bl

    if write:
        count = bl.write(report, write)
        warn(f"{write}: {count} baseline entries for {len(report.findings)} findings")
        return
    applied = bl.apply(bl.load(path), report)
    ran = {r.code for r in engine.selected(report.catalog.values(), settings)}
    report.findings = applied.new
    report.baseline = {
        "file": path,
        "known": len(applied.known),
        "fixed": [str(e) for e in applied.fixed if e.rule in ran],
        "unchecked": [str(e) for e in applied.unchecked],
    }


def _jobs(paths: list[str], changed: bool, server_root: str | None, root: str) -> list:
    """(path, ServerRoot, fragment?) to lint: each PATH, or with --changed the tree each
    changed file belongs to (once) and the files no tree reads, as fragments."""
    if not changed:
        return [(p, server_root, False) for p in paths] or [(None, server_root, False)]
    from .hook import group, server_root_of

    mains, fragments = group(paths, root, server_root)
    jobs = [(main, server_root_of(main, server_root), False) for main in mains]
    return jobs + [(f, server_root, True) for f in fragments]


def _fragment(found: list, model, report) -> list:
    """A fragment's findings at its directives; what a rule says about the whole tree (a
    setting nobody sets, a module nobody loads) is skipped, and said so."""
    from .report import Skipped

    whole = sorted({(f.rule, f.name) for f in found if not f.source})
    for code, name in whole:
        report.skipped.append(
            Skipped(code, name, "the whole tree: no main file reads this file, linted alone",
                    model.config.root)
        )  # fmt: skip
    return [f for f in found if f.source]


def _settings(select, ignore, conf: dict, where: str | None) -> engine.Settings:
    """Selection, ignores, per-file ignores and severities, every code checked against the
    catalog: an unknown one is an error that names where it came from, never a silent pass."""
    chosen = _split(select)
    if chosen:
        engine.check_codes(chosen, "--select")
    ignored = _split(ignore)
    engine.check_codes(ignored, "--ignore")
    origin = where or "settings"
    engine.check_codes(_split(conf.get("select")), f"{origin}: select")
    engine.check_codes(_split(conf.get("ignore")), f"{origin}: ignore")
    per_file = {k: _split(v) for k, v in conf.get("per-file-ignores", {}).items()}
    for pattern, codes in per_file.items():
        engine.check_codes(codes, f"{origin}: per-file-ignores {pattern!r}")
    severity = {k.upper(): v for k, v in conf.get("severity", {}).items()}
    engine.check_codes(severity, f"{origin}: severity", exact=True)
    return engine.Settings(
        select=chosen or _split(conf.get("select")),
        ignore=ignored + _split(conf.get("ignore")),
        per_file_ignores=per_file,
        severity=severity,
    )


def _pre_restart_finish(report, fail_rank: int, show_source: bool) -> None:
    """--pre-restart in text: the findings that fail it (none on success), then one line for
    the journal: passed or failed, and what was checked."""
    failing = [f for f in report.findings if RANK[f.severity] >= fail_rank]
    for error in report.errors:
        warn(str(error))
    if failing:
        from dataclasses import replace

        shown = replace(report, findings=failing, skipped=[], errors=[])
        colour = use_colour()
        emit(reporters.render("text", shown, colour, show_source), None, colour=colour)
    others = len(report.findings) - len(failing)
    ran = "httpd -t accepts the tree" if not any(f.rule == "COR023" for f in failing) else ""
    parts = [
        "FAILED" if failing or report.errors else "passed",
        f"{len(failing)} error{'s' * (len(failing) != 1)}",
        f"{others} other finding{'s' * (others != 1)} not shown" if others else "",
        ran if not report.errors else "",
        "skipped: " + " ".join(sorted({s.rule for s in report.skipped})) if report.skipped else "",
    ]
    emit("httpdlint pre-restart: " + ", ".join(p for p in parts if p) + "\n", None)
    if report.errors:
        raise typer.Exit(2)
    raise typer.Exit(1 if failing else 0)


def _finish(report, fmt, output, show_source, fail_rank, exit_zero, settings) -> None:
    """Write the report in its format (errors included: a valid document whatever happened),
    each error as one line on stderr, and leave with the exit code the README documents."""
    from dataclasses import replace

    for error in report.errors:
        warn(str(error))
    # In text the errors are the stderr lines above (and with nothing read, all there is to
    # say); a document keeps them too, so that a CI report shows them.
    if fmt != "text" or report.models or not report.errors:
        shown = replace(report, errors=[]) if fmt == "text" else report
        colour = use_colour() and not output
        try:
            emit(reporters.render(fmt, shown, colour, show_source), output, colour=colour)
        except ConfigError as exc:
            fail(str(exc))
    if report.errors:
        raise typer.Exit(2)
    if exit_zero:
        return
    if engine.worst(report.findings) >= fail_rank or (settings.fail_on_skipped and report.skipped):
        raise typer.Exit(1)


def _sizing(model, opts) -> tuple[object | None, str]:
    """The sizing CAP009 checks against: suggest's inputs for this model. This machine's
    configuration (or a --pid) is measured; a tree from elsewhere only uses what is given."""
    from dataclasses import replace

    from .inputs import gather

    live = model.system or opts.pid is not None
    gathered = gather(model, replace(opts, live=live))
    if gathered.declined is not None:
        return None, gathered.declined
    if gathered.sizing is None:
        why = f" ({gathered.missing})" if live and gathered.missing else ""
        return None, f"--ram and --child-size, or a running httpd to measure{why}"
    return gathered.sizing, ""


@app.command()
def dump(
    path: Annotated[str | None, typer.Argument(help="Main config file or server root.")] = None,
    fmt: Format = "text",
    apache_version: Version = None,
    define: Defines = None,
    module: Modules = None,
    server_root: ServerRoot = None,
    output: Output = None,
    vhosts: Annotated[
        bool, typer.Option("--vhosts", help="The virtual-host map, like `httpd -S`.")
    ] = False,
    confine: Confine = None,
    timeout: Timeout = 60,
) -> None:
    """The evaluated configuration, like `httpd -t -D DUMP_CONFIG` (--vhosts: like -S)."""
    from .dump import dump_json, dump_text

    arm_timeout(timeout)
    try:
        if fmt not in ("text", "json"):
            raise ConfigError(f"unknown format {fmt!r}: text or json")
        (model,) = load_models(
            [path] if path else [],
            server_root,
            define or [],
            module or [],
            apache_version,
            confine=_confinement(confine),
        )
        if vhosts:
            from .vhosts import render_json, render_text, vhost_map

            vmap = vhost_map(model)
            text = render_json(vmap) if fmt == "json" else render_text(vmap)
        else:
            text = dump_json(model.config) if fmt == "json" else dump_text(model.config.tree)
    except ConfigError as exc:
        fail(str(exc))
    disarm_timeout()
    emit(text, output)


@app.command()
def explain(
    url: Annotated[str, typer.Argument(help="http://host[:port]/path, https://..., or /path.")],
    path: Annotated[str | None, typer.Argument(help="Main config file or server root.")] = None,
    method: Annotated[str, typer.Option("--method", "-X", help="The request method.")] = "GET",
    address: Annotated[
        str | None,
        typer.Option("--address", help="The local address the client connects to."),
    ] = None,
    client: Annotated[
        str | None, typer.Option("--client", help="The client's address (else unknown).")
    ] = None,
    fmt: Format = "text",
    apache_version: Version = None,
    define: Defines = None,
    module: Modules = None,
    server_root: ServerRoot = None,
    output: Output = None,
    timeout: Timeout = 60,
    confine: Confine = None,
) -> None:
    """Which server answers a request, what applies to it in httpd's order, and the result."""
    from .explain import explain as run
    from .explain import parse_url, render_json, render_text

    arm_timeout(timeout)
    try:
        if fmt not in ("text", "json"):
            raise ConfigError(f"unknown format {fmt!r}: text or json")
        request = parse_url(url, method, client)
        (model,) = load_models(
            [path] if path else [],
            server_root,
            define or [],
            module or [],
            apache_version,
            confine=_confinement(confine),
        )
        found = run(model, request, address)
        text = render_json(found) if fmt == "json" else render_text(found)
    except ConfigError as exc:
        fail(str(exc))
    disarm_timeout()
    emit(text, output)


@app.command("rules")
def list_rules(fmt: Format = "text") -> None:
    """The rule catalog."""
    try:
        rules = engine.catalog()
    except ConfigError as exc:
        fail(str(exc))
    if fmt == "json":
        items = [
            {"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary}
            for r in rules.values()
        ]
        emit(json_text(items), None)
        return
    width = max((len(r.name) for r in rules.values()), default=10)
    lines = [f"{r.code}  {r.severity:<7}  {r.name:<{width}}  {r.summary}" for r in rules.values()]
    emit("\n".join(lines) + "\n", None)


@app.command("rule")
def show_rule(code: Annotated[str, typer.Argument(help="A rule code or name.")]) -> None:
    """One rule's page: what it finds, why, how to fix it, examples."""
    try:
        rule = engine.lookup(code)
    except ConfigError as exc:
        fail(str(exc))

    def block(text: str) -> str:
        return "\n".join("    " + line for line in text.strip("\n").splitlines())

    page = [
        f"{rule.code} {rule.name} ({rule.severity})",
        "",
        rule.summary,
        "",
        "Why",
        block(" ".join(rule.rationale.split())),
        "",
        "Fix",
        block(rule.fix.strip()),
        "",
        "Bad",
        block(rule.bad),
        "",
        "Good",
        block(rule.good),
    ]
    if rule.references:
        page += ["", "References", *("    " + r for r in rule.references)]
    emit("\n".join(page) + "\n", None)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"httpdlint {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """httpdlint: lint and size Apache httpd."""


try:  # measure and suggest live in their own module
    from .cli_capacity import register

    register(app)
except ImportError:  # pragma: no cover - only while the capacity commands are absent
    pass

from .cli_audit import register as register_audit  # noqa: E402 - after the app exists

register_audit(app)


def main() -> None:
    """Entry point; usage errors exit 2 as click does, input errors 2 with one line."""
    # A short-lived process whose objects (the tree) all live to the end: the cyclic
    # collector would only re-scan them, which costs more than reading a large tree.
    gc.disable()
    code = _nagios_main() if _wants_nagios(sys.argv[1:]) else _main()
    # Freeing a large tree object by object at interpreter exit takes longer than reading
    # it; everything is written, so leave at once (what a full disk or a closed pipe kept
    # in a buffer was reported already).
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _main() -> int:
    code = 0
    try:
        app()
    except ConfigError as exc:  # a write to standard output that failed, as commands' own
        warn(str(exc))
        code = 2
    except RunTimeout as exc:
        sys.stderr.write(f"{exc}\n")
        code = 2
    except RecursionError:
        # A safety net: the readers, renderers and rules walk without recursion or bound
        # their depth; should one be missed, one line rather than a traceback.
        sys.stderr.write("the configuration nests too deep for httpdlint\n")
        code = 2
    except SystemExit as exc:
        if isinstance(exc.code, str):
            warn(exc.code)
            code = 1
        else:
            code = exc.code or 0
    return code


def _wants_nagios(argv: list[str]) -> bool:
    """`measure --format nagios` (in any spelling click accepts): a monitoring plugin run."""
    if not argv or argv[0] != "measure":
        return False
    for i, arg in enumerate(argv):
        if arg in ("--format", "-f") and argv[i + 1 : i + 2] == ["nagios"]:
            return True
        if arg in ("--format=nagios", "-fnagios"):
            return True
    return False


def _nagios_main() -> int:
    """A plugin's contract: every way it can fail (a bad option, no server, a bug) is one
    UNKNOWN line on standard output and exit 3, never a usage text and exit 2."""
    from .nagios import UNKNOWN, unknown

    try:
        result = app(standalone_mode=False)
    except (ConfigError, RunTimeout) as exc:
        message = str(exc)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else UNKNOWN
    except Exception as exc:  # noqa: BLE001 - the plugin contract covers our own bugs too
        # click's usage errors (typer bundles its own click, so matched by what they offer).
        usage = getattr(exc, "format_message", None)
        if callable(usage):
            message = f"invalid command line: {usage()}"
        else:
            message = f"internal error: {type(exc).__name__}: {exc}"
    else:
        return result if isinstance(result, int) else 0
    sys.stdout.write(unknown(message) + "\n")
    return UNKNOWN
