"""The command line: a thin typer layer over loader, model, engine and reporters.

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or input error (one line on
stderr, `file:line: message`, never a traceback).
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__, engine, project, reporters
from .cli_options import (
    ChildSize,
    DaemonSize,
    Defines,
    Format,
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
    Version,
    sizing_options,
)
from .discover import load_models
from .errors import ConfigError
from .findings import RANK, SEVERITIES
from .output import emit, use_colour

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Read Apache httpd configurations exactly as httpd does, lint them, size the server.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
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
    select: Annotated[list[str] | None, typer.Option(help="Rule codes or prefixes.")] = None,
    ignore: Annotated[list[str] | None, typer.Option(help="Rule codes or prefixes.")] = None,
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
) -> None:
    """Lint configurations; without PATH, this machine's own."""
    try:
        if fmt not in reporters.FORMATS:
            raise ConfigError(f"unknown format {fmt!r}: one of {', '.join(reporters.FORMATS)}")
        start = Path(paths[0]) if paths else Path.cwd()
        found = project.find(start if start.is_dir() else start.parent) or project.find(Path.cwd())
        conf = found[1] if found else {}
        fail_on = fail_on or conf.get("fail-on", "warning")
        if fail_on not in SEVERITIES:
            raise ConfigError(f"--fail-on must be one of {', '.join(SEVERITIES)}")
        settings = engine.Settings(
            select=_split(select) or _split(conf.get("select")),
            ignore=_split(ignore) + _split(conf.get("ignore")),
            per_file_ignores={k: _split(v) for k, v in conf.get("per-file-ignores", {}).items()},
            severity={k.upper(): v for k, v in conf.get("severity", {}).items()},
        )
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
        models = load_models(
            list(paths or []),
            server_root,
            list(define or []) + list(conf.get("defines", [])),
            list(module or []) + list(conf.get("modules", [])),
            apache_version or conf.get("apache-version"),
            pid=pid,
        )
        findings = []
        wants_sizing = any(
            "sizing" in r.needs for r in engine.selected(engine.catalog().values(), settings)
        )
        for model in models:
            settings.sizing = _sizing(model, sizing) if wants_sizing else None
            settings.filesystem = on_this_machine(model) if filesystem is None else filesystem
            findings.extend(engine.run(model, settings))
        text = reporters.render(
            fmt, models, findings, engine.catalog(), use_colour() and not output
        )
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    emit(text, output)
    if not exit_zero and engine.worst(findings) >= RANK[fail_on]:
        raise typer.Exit(1)


def on_this_machine(model) -> bool:
    """Whether the tree is read where it runs, so its paths can be checked on disk: the
    discovered configuration, or one under /etc. A tree in a checkout or a CI workspace is
    not, and its DocumentRoot need not exist on the machine that lints it."""
    return model.system or model.config.root.startswith("/etc/")


def _sizing(model, opts):
    """The sizing CAP009 checks against: suggest's inputs for this model. This machine's
    configuration (or a --pid) is measured; a tree from elsewhere only uses what is given."""
    from dataclasses import replace

    from .inputs import gather

    gathered = gather(model, replace(opts, live=model.system or opts.pid is not None))
    return gathered.sizing if gathered.declined is None else None


@app.command()
def dump(
    path: Annotated[str | None, typer.Argument(help="Main config file or server root.")] = None,
    fmt: Format = "text",
    apache_version: Version = None,
    define: Defines = None,
    module: Modules = None,
    server_root: ServerRoot = None,
    output: Output = None,
) -> None:
    """The evaluated configuration, like `httpd -t -D DUMP_CONFIG`."""
    from .dump import dump_json, dump_text

    try:
        if fmt not in ("text", "json"):
            raise ConfigError(f"unknown format {fmt!r}: text or json")
        (model,) = load_models(
            [path] if path else [], server_root, define or [], module or [], apache_version
        )
        text = dump_json(model.config) if fmt == "json" else dump_text(model.config.tree)
    except ConfigError as exc:
        fail(str(exc))
    emit(text, output)


@app.command("rules")
def list_rules(fmt: Format = "text") -> None:
    """The rule catalog."""
    try:
        rules = engine.catalog()
    except ConfigError as exc:
        fail(str(exc))
    if fmt == "json":
        import json

        items = [
            {"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary}
            for r in rules.values()
        ]
        emit(json.dumps(items, indent=2) + "\n", None)
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


def main() -> None:
    """Entry point; usage errors exit 2 as click does, input errors 2 with one line."""
    os.environ.setdefault("COLUMNS", "100")
    # A short-lived process whose objects (the tree) all live to the end: the cyclic
    # collector would only re-scan them, which costs more than reading a large tree.
    gc.disable()
    code: int = 0
    try:
        app()
    except ConfigError as exc:  # pragma: no cover - commands catch their own
        sys.stderr.write(f"{exc}\n")
        code = 2
    except SystemExit as exc:
        if isinstance(exc.code, str):
            sys.stderr.write(exc.code + "\n")
            code = 1
        else:
            code = exc.code or 0
    # Freeing a large tree object by object at interpreter exit takes longer than reading
    # it; everything is written, so leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
