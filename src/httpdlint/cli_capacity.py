"""The `measure` and `suggest` commands: a thin typer layer over measure.py and suggest.py.

`register(app)` adds both to the main app. Bad input never shows a traceback: sizes,
durations and margins are parsed here and any error becomes one line on stderr and exit 2.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from httpdlint.errors import ConfigError

__all__ = ["register", "parse_margin"]

MEASURE_FORMATS = ("text", "json", "openmetrics")


def _fail(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    raise typer.Exit(2)


def _size(option: str, value: str | None) -> int | None:
    from httpdlint.sizes import parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def parse_margin(text: str) -> float:
    """`10%`, `10` (percent) or `0.1` (a fraction): values below 1 are fractions."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*", text)
    if match is None:
        raise ValueError(f"invalid margin {text!r}: expected e.g. 10% or 0.1")
    value = float(match.group(1))
    return value / 100 if match.group(2) or value >= 1 else value


def _model(path: str, server_root, defines, modules, version):
    from httpdlint.model import load_model

    return load_model(
        [path],
        server_root=server_root,
        defines=tuple(defines or ()),
        modules=tuple(modules or ()),
        apache_version=version,
    )


Format = Annotated[str, typer.Option("--format", "-f", help="Output format.")]
OutputOpt = Annotated[
    str | None, typer.Option("--output", "-o", help="Write to FILE atomically (temp + rename).")
]
PidOpt = Annotated[
    int | None, typer.Option("--pid", help="PID of the httpd parent, in place of discovery.")
]
PathArg = Annotated[
    str | None,
    typer.Argument(help="Configuration (main file or server root): PidFile, ErrorLog, MPM."),
]
VersionOpt = Annotated[str | None, typer.Option("--apache-version", help="2.2 or 2.4.")]
DefineOpt = Annotated[list[str] | None, typer.Option("-D", "--define", help="Define NAME.")]
ModuleOpt = Annotated[list[str] | None, typer.Option("--module", help="Treat as loaded.")]
RootOpt = Annotated[str | None, typer.Option("--server-root", help="ServerRoot for PATH.")]
LogsOpt = Annotated[
    bool, typer.Option("--logs/--no-logs", help="Read error and kernel logs for warnings.")
]


def measure_command(
    path: PathArg = None,
    pid: PidOpt = None,
    fmt: Format = "text",
    output: OutputOpt = None,
    duration: Annotated[
        str | None, typer.Option(help="Sample for this long (10m, 30s); keeps the peaks.")
    ] = None,
    interval: Annotated[str, typer.Option(help="Time between samples.")] = "10s",
    top: Annotated[int, typer.Option(help="Other processes to list, by PSS.")] = 10,
    min_age: Annotated[
        str, typer.Option("--min-age", help="Warn about children younger than this.")
    ] = "60s",
    apache_version: VersionOpt = None,
    define: DefineOpt = None,
    module: ModuleOpt = None,
    server_root: RootOpt = None,
    logs: LogsOpt = True,
) -> None:
    """Live httpd processes and their memory (RSS, USS, PSS, swap), other processes, RAM."""
    from httpdlint import measure as m
    from httpdlint.suggest import write_atomic

    try:
        if fmt not in MEASURE_FORMATS:
            raise ConfigError(f"unknown format {fmt!r}: one of {', '.join(MEASURE_FORMATS)}")
        try:
            young = m.parse_duration(min_age)
            every = m.parse_duration(interval)
            length = m.parse_duration(duration) if duration else 0.0
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if duration and every <= 0:
            raise ConfigError("--interval must be more than 0")
        pids = [pid] if pid is not None else None
        error_logs: list[str] = []
        if path:
            model = _model(path, server_root, define, module, apache_version)
            root = getattr(model.config, "server_root", "") or ""
            if pids is None and model.server_values("PidFile"):
                pid_file = model.server_values("PidFile")[0]
                pid_file = pid_file if pid_file.startswith("/") else f"{root}/{pid_file}"
                pids = [m.read_pid_file(pid_file)]
            log = (model.server_values("ErrorLog") or [None])[0]
            if log and not log.startswith(("|", "syslog")):
                error_logs.append(log if log.startswith("/") else f"{root}/{log}")
        if duration:
            with typer.progressbar(
                length=max(1, int(length // every) + 1), label="sampling", file=sys.stderr
            ) as bar:
                result = m.sample(
                    length,
                    every,
                    pids,
                    top=top,
                    min_age=young,
                    progress=lambda done, total: bar.update(1),
                )
        else:
            result = m.measure(pids, top=top, min_age=young)
        if logs:
            for tree in result.trees:
                error_logs.extend(m.open_error_logs(tree.parent.pid))
            if not error_logs:
                error_logs.extend(m.DEFAULT_ERROR_LOGS)
            result.warnings.extend(m.error_log_warnings(error_logs))
            result.warnings.extend(m.kernel_log_warnings())
        if fmt == "json":
            import json

            text = json.dumps(result.to_json(), indent=2) + "\n"
        elif fmt == "openmetrics":
            text = m.render_openmetrics(result)
        else:
            text = m.render_table(result)
        if output:
            write_atomic(output, text)
        else:
            sys.stdout.write(text)
    except ConfigError as exc:
        _fail(str(exc))


def suggest_command(
    path: PathArg = None,
    ram: Annotated[str | None, typer.Option(help="Memory of the machine: 1G, 512M.")] = None,
    child_size: Annotated[
        str | None, typer.Option("--child-size", help="Private memory (USS) of one child: 25M.")
    ] = None,
    shared: Annotated[
        str | None, typer.Option(help="Memory all children share, counted once (parent RSS).")
    ] = None,
    reserve: Annotated[
        str | None, typer.Option(help="Memory for the OS and other services.")
    ] = None,
    margin: Annotated[
        str | None, typer.Option(help="Growth allowed per child: 10% (default), 0.1.")
    ] = None,
    mpm: Annotated[str | None, typer.Option(help="prefork, worker or event.")] = None,
    apache_version: VersionOpt = None,
    threads_per_child: Annotated[
        int | None, typer.Option("--threads-per-child", help="Threaded MPMs (default 25).")
    ] = None,
    thread_overhead: Annotated[
        str | None,
        typer.Option("--thread-overhead", help="Kernel memory per thread (default 64K)."),
    ] = None,
    process_overhead: Annotated[
        str | None,
        typer.Option("--process-overhead", help="Kernel memory per child (default 256K)."),
    ] = None,
    pid: PidOpt = None,
    fmt: Format = "text",
    output: OutputOpt = None,
    define: DefineOpt = None,
    module: ModuleOpt = None,
    server_root: RootOpt = None,
    logs: LogsOpt = True,
) -> None:
    """Size MaxRequestWorkers and its companions; what is not given is measured."""
    from httpdlint import suggest as sg

    try:
        if fmt not in sg.FORMATS:
            raise ConfigError(f"unknown format {fmt!r}: one of {', '.join(sg.FORMATS)}")
        try:
            margin_value = parse_margin(margin) if margin is not None else None
        except ValueError as exc:
            raise ConfigError(f"--margin: {exc}") from None
        if mpm is not None and mpm.lower() not in ("prefork", "worker", "event"):
            raise ConfigError(f"--mpm: unknown MPM {mpm!r}: expected prefork, worker or event")
        if apache_version is not None and apache_version not in ("2.2", "2.4"):
            raise ConfigError(f"--apache-version: {apache_version!r}: expected 2.2 or 2.4")
        opts = sg.SuggestOptions(
            ram=_size("--ram", ram),
            child=_size("--child-size", child_size),
            shared=_size("--shared", shared),
            reserve=_size("--reserve", reserve),
            margin=margin_value,
            mpm=mpm.lower() if mpm else None,
            apache_version=apache_version,
            threads_per_child=threads_per_child,
            thread_overhead=_size("--thread-overhead", thread_overhead),
            process_overhead=_size("--process-overhead", process_overhead),
            config=path,
            server_root=server_root,
            defines=tuple(define or ()),
            modules=tuple(module or ()),
            pid=pid,
            logs=logs,
        )
        result = sg.suggest(opts)
        text = sg.render(result, fmt)
        if output:
            sg.write_atomic(output, text)
        else:
            sys.stdout.write(text)
    except ConfigError as exc:
        _fail(str(exc))


def register(app: typer.Typer) -> None:
    """Add `measure` and `suggest` to the main app."""
    app.command("measure")(measure_command)
    app.command("suggest")(suggest_command)
