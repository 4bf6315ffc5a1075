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
from .errors import ConfigError
from .findings import RANK, SEVERITIES
from .output import emit, use_colour

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Read Apache httpd configurations exactly as httpd does, lint them, size the server.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

Format = Annotated[str, typer.Option("--format", "-f", help="Output format.")]
Version = Annotated[
    str | None,
    typer.Option("--apache-version", help="2.2 or 2.4 (default: detected from the tree)."),
]
Defines = Annotated[
    list[str] | None, typer.Option("-D", "--define", help="Define NAME, as httpd -D NAME.")
]
Modules = Annotated[
    list[str] | None,
    typer.Option("--module", help="Treat a module as loaded (ssl_module or mod_ssl.c)."),
]
ServerRoot = Annotated[
    str | None, typer.Option("--server-root", help="ServerRoot for relative paths (httpd -d).")
]
Ram = Annotated[str | None, typer.Option("--ram", help="Memory of the machine: 1G, 512M, 1.5GiB.")]
ChildSize = Annotated[
    str | None, typer.Option("--child-size", help="Private memory of one httpd child: 25M.")
]
Output = Annotated[
    str | None, typer.Option("--output", "-o", help="Write to FILE (atomically) instead of stdout.")
]


def fail(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    raise typer.Exit(2)


def _split(values: list[str] | None) -> list[str]:
    out = []
    for v in values or []:
        out.extend(x.strip().upper() for x in v.split(",") if x.strip())
    return out


def _models(
    paths: list[str],
    server_root: str | None,
    defines: list[str],
    modules: list[str],
    version: str | None,
) -> list:
    from .model import load_model

    system = False
    if not paths:
        from .discover import discover

        main, root, found_version = discover()
        paths = [main]
        server_root = server_root or root
        version = version or found_version
        system = True
    models = []
    for path in paths:
        model = load_model(
            path,
            server_root=server_root,
            defines=defines,
            modules=modules,
            apache_version=version,
        )
        model.system = system
        models.append(model)
    return models


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
        from .sizes import parse_size

        settings.ram = parse_size(ram) if ram else None
        settings.child_size = parse_size(child_size) if child_size else None
        models = _models(
            list(paths or []),
            server_root,
            list(define or []) + list(conf.get("defines", [])),
            list(module or []) + list(conf.get("modules", [])),
            apache_version or conf.get("apache-version"),
        )
        findings = []
        for model in models:
            if model.system and (settings.ram is None or settings.child_size is None):
                _measure_into(model)
            if settings.ram is not None:
                model.ram_bytes = settings.ram
            if settings.child_size is not None:
                model.child_bytes = settings.child_size
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


def _measure_into(model) -> None:
    """Sizes from the running httpd, for this machine's own configuration: RAM (cgroup
    aware), the largest child's USS and the parent's RSS (what the children share)."""
    from .measure import measure

    try:
        m = measure()
    except (ConfigError, OSError):
        return
    tree = m.tree
    model.ram_bytes = m.ram_bytes
    if tree is not None and tree.largest_child is not None:
        model.child_bytes = tree.largest_child.uss or tree.largest_child.rss
        model.shared_bytes = tree.parent.rss


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
        (model,) = _models(
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
