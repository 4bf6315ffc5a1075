"""The `audit` command: a thin typer layer over audit.py.

`register(app)` adds it to the main app. The tree is read as `check` reads it (a PATH, else
this machine's configuration; -D, --module, --apache-version, and the project settings'
`defines`, `modules` and `apache-version`); selection, ignores and severities do not apply:
the benchmark decides what runs. Exit 0 when no control fails, 1 when one does, 2 when the
benchmark is unknown or the tree cannot be read (one line on stderr; with --format json a
document that records the error as well).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from httpdlint.bounds import arm_timeout, disarm_timeout
from httpdlint.cli_options import (
    Defines,
    Format,
    Modules,
    Output,
    ServerRoot,
    Timeout,
    Version,
)
from httpdlint.errors import ConfigError
from httpdlint.output import emit, json_text, warn

__all__ = ["register"]

FORMATS = ("text", "json")

Benchmark = Annotated[
    str,
    typer.Option(
        "--benchmark",
        "-b",
        help="The set to audit against: cis, stig, dev-sec or mozilla (docs/benchmarks.md).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)


def _fail(message: str) -> None:
    warn(message)
    raise typer.Exit(2)


def _project(path: str | None) -> dict:
    """The project settings that say how to read the tree (as `check` finds them)."""
    from httpdlint import project

    start = Path(path) if path else Path.cwd()
    found = project.find(start if start.is_dir() else start.parent) or project.find(Path.cwd())
    return found[1] if found else {}


def audit_command(
    benchmark: Benchmark,
    path: Annotated[
        str | None,
        typer.Argument(help="Main config file or server root; default: this machine's."),
    ] = None,
    fmt: Format = "text",
    apache_version: Version = None,
    define: Defines = None,
    module: Modules = None,
    server_root: ServerRoot = None,
    output: Output = None,
    timeout: Timeout = 60,
) -> None:
    """Per control of a benchmark: pass, fail, not applicable, manual or skipped, with the
    evidence (the findings' file:line, or the rules that ran)."""
    from httpdlint import audit, controls, engine
    from httpdlint.discover import load_models, on_this_machine
    from httpdlint.report import ToolError

    try:
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}: text or json")
        bench = controls.for_profile(benchmark)
    except ConfigError as exc:
        _fail(str(exc))
    arm_timeout(timeout)
    try:
        conf = _project(path)
        (model,) = load_models(
            [path] if path else [],
            server_root,
            list(define or []) + list(conf.get("defines", [])),
            list(module or []) + list(conf.get("modules", [])),
            apache_version or conf.get("apache-version"),
        )
        settings = engine.Settings(filesystem=on_this_machine(model))
        result = audit.run(model, bench, settings)
    except ConfigError as exc:
        disarm_timeout()
        if fmt == "json":
            error = ToolError(exc.message, exc.file, exc.line)
            emit(json_text(audit.document(bench, None, [error])), output)
        _fail(str(exc))
    disarm_timeout()
    text = audit.render_json(result) if fmt == "json" else audit.render_text(result)
    emit(text, output)
    raise typer.Exit(1 if result.failed else 0)
