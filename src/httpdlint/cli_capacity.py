"""The `measure` and `suggest` commands: a thin typer layer over measure.py and suggest.py.

`register(app)` adds both to the main app. Bad input never shows a traceback: sizes,
durations and margins are parsed here and any error becomes one line on stderr and exit 2.
Without PATH both read this machine's configuration, as `check` does.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from httpdlint.cli_options import (
    Apply,
    BackupDir,
    ChildSize,
    Critical,
    DaemonSize,
    Defines,
    ForcePid,
    Format,
    Httpd,
    Logs,
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
    Swap,
    ThreadOverhead,
    ThreadSize,
    ThreadsPerChild,
    Version,
    Warning,
    Yes,
    sizing_options,
)
from httpdlint.errors import ConfigError
from httpdlint.output import emit, json_text, warn

__all__ = ["register"]

MEASURE_FORMATS = ("text", "json", "openmetrics", "nagios")

PathArg = Annotated[
    str | None,
    typer.Argument(help="Configuration (main file or server root); default: this machine's."),
]
Duration = Annotated[
    str | None,
    typer.Option(help="Sample for this long (10m, 30s) and keep each process at its peak."),
]
Interval = Annotated[str, typer.Option(help="Time between samples.")]


def _fail(message: str) -> None:
    warn(message)
    raise typer.Exit(2)


def _models(path, server_root, defines, modules, version, pid, every=False) -> list:
    """The configuration of PATH; without one, the running servers' (`pid`, else each
    confirmed by its PidFile: all with `every`, else the busiest), else this machine's."""
    from httpdlint.discover import load_models

    return load_models(
        [path] if path else [],
        server_root,
        list(defines or ()),
        list(modules or ()),
        version,
        optional=True,
        pid=pid,
        every=every,
    )


def _model(path, server_root, defines, modules, version, pid):
    models = _models(path, server_root, defines, modules, version, pid)
    return models[0] if models else None


def _neighbours(model, pid: int | None) -> tuple:
    """The other httpd servers running here, each confirmed by its PidFile: sized this
    machine shares its memory with them."""
    from httpdlint.inputs import server_pid

    if model is None:
        return ()
    mine = {pid, server_pid(model)} - {None}
    try:
        running = _models(None, None, None, None, None, None, every=True)
    except ConfigError:
        return ()  # a neighbour that cannot be read is reserved at what it holds now
    return tuple(m for m in running if server_pid(m) not in mine and m.found is not None
                 and m.found.how == "running")  # fmt: skip


def _discovery_notices(models: list) -> list:
    """What discovery could not do or chose, once each, as warnings."""
    from httpdlint.measure import Notice

    notes = dict.fromkeys(n for m in models if m.found is not None for n in m.found.notes)
    return [Notice("configuration", note) for note in notes]


def _tree_configs(models: list, pid: int | None, result) -> None:
    """Each measured server's configuration: where it came from and its MPM settings."""
    from httpdlint.discover import provenance
    from httpdlint.inputs import server_pid

    by_pid = {server_pid(m): m for m in models}
    if pid is not None and models and result.trees:  # --pid: its tree runs the one read
        by_pid[result.trees[0].parent.pid] = models[0]
    for tree in result.trees:
        model = by_pid.get(tree.parent.pid)
        if model is not None:
            effective = getattr(model.mpm, "effective", None)
            result.tree_configs[tree.parent.pid] = {
                "config": provenance(model),
                "mpm_settings": dict(effective) if effective is not None else None,
            }
    result.config = provenance(models[0]) if models else None


def _window(duration: str | None, interval: str) -> tuple[float, float]:
    from httpdlint.measure import parse_duration

    try:
        every = parse_duration(interval)
        length = parse_duration(duration) if duration else 0.0
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if length and every <= 0:
        raise ConfigError("--interval must be more than 0")
    return length, min(every, length) if length else every


def _progress(length: float, every: float):
    """A progress bar on stderr for a sampling window, and the callback that moves it."""
    bar = typer.progressbar(
        length=max(1, int(length // every) + 1), label="sampling", file=sys.stderr
    )
    return bar, lambda done, total: bar.update(1)


def measure_command(
    path: PathArg = None,
    pid: Pid = None,
    fmt: Format = "text",
    output: Output = None,
    duration: Duration = None,
    interval: Interval = "10s",
    top: Annotated[int, typer.Option(help="Other processes to list, by PSS.")] = 10,
    apache_version: Version = None,
    define: Defines = None,
    module: Modules = None,
    server_root: ServerRoot = None,
    logs: Logs = True,
    force_pid: ForcePid = False,
    warning: Warning = None,
    critical: Critical = None,
) -> None:
    """Live httpd processes with their roles and memory (private, PSS, RSS), others, RAM,
    demand and limits; `--format nagios` is a monitoring plugin (exit 0/1/2/3)."""
    from httpdlint import history
    from httpdlint import measure as m
    from httpdlint.demand import DemandWatch
    from httpdlint.inputs import server_pid
    from httpdlint.measure_render import render_nagios, render_openmetrics, render_table

    try:
        if fmt not in MEASURE_FORMATS:
            raise ConfigError(f"unknown format {fmt!r}: one of {', '.join(MEASURE_FORMATS)}")
        thresholds = _thresholds(warning, critical) if fmt == "nagios" else None
        if thresholds is None and (warning or critical):
            raise ConfigError("--warning and --critical go with --format nagios")
        length, every = _window(duration, interval)
        if pid is not None:
            m.check_pid(pid, force_pid)
        models = _models(path, server_root, define, module, apache_version, pid, every=True)
        pids = [pid] if pid is not None else None
        if pid is None and models:
            pids = [p for p in map(server_pid, models) if p is not None] or None
            if pids is None and path:
                raise ConfigError(f"no running httpd has the PidFile of {path}")
        # Demand (status pages, limit messages) of the first server read: --pid's, PATH's,
        # else the busiest running one.
        model = models[0] if models else None
        watch = DemandWatch(model)
        if length:
            bar, tick = _progress(length, every)

            def look(done: int, total: int) -> None:
                tick(done, total)
                watch.look()  # status pages at each sample: the busiest look is kept

            with bar:
                result = m.sample(length, every, pids, top=top, progress=look)
        else:
            result = m.measure(pids, top=top)
        watch.attach(result, pid if pid is not None else server_pid(model), logs=logs)
        _tree_configs(models, pid, result)
        result.warnings.extend(_discovery_notices(models))
        if logs:
            result.warnings.extend(history.log_warnings(model, result))
        if thresholds is not None:
            state, line = render_nagios(result, models, *thresholds)
            emit(line + "\n", output)
            raise typer.Exit(state)
        if fmt == "json":
            text = json_text(result.to_json())
        elif fmt == "openmetrics":
            text = render_openmetrics(result)
        else:
            text = render_table(result)
        emit(text, output)
    except ConfigError as exc:
        if fmt == "nagios":
            from httpdlint.nagios import UNKNOWN, unknown

            emit(unknown(str(exc)) + "\n", None)
            raise typer.Exit(UNKNOWN) from None
        _fail(str(exc))


def _thresholds(warning: str | None, critical: str | None):
    from httpdlint.nagios import DEFAULT_CRITICAL, DEFAULT_WARNING, Range

    try:
        return Range.parse(warning or DEFAULT_WARNING), Range.parse(critical or DEFAULT_CRITICAL)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def suggest_command(
    path: PathArg = None,
    ram: Ram = None,
    swap: Swap = None,
    child_size: ChildSize = None,
    shared: Shared = None,
    reserve: Reserve = None,
    margin: Margin = None,
    mpm: Annotated[str | None, typer.Option(help="prefork, worker or event.")] = None,
    apache_version: Version = None,
    threads_per_child: ThreadsPerChild = None,
    thread_size: ThreadSize = None,
    thread_overhead: ThreadOverhead = None,
    process_overhead: ProcessOverhead = None,
    daemon_size: DaemonSize = None,
    pool_children: PoolChildren = None,
    pool_worker_size: PoolWorkerSize = None,
    pid: Pid = None,
    duration: Duration = None,
    interval: Interval = "10s",
    fmt: Format = "text",
    output: Output = None,
    define: Defines = None,
    module: Modules = None,
    server_root: ServerRoot = None,
    logs: Logs = True,
    apply: Apply = False,
    yes: Yes = False,
    backup_dir: BackupDir = None,
    httpd: Httpd = None,
    force_pid: ForcePid = False,
) -> None:
    """Size MaxRequestWorkers, its companions and the backends' pools; what is not given is
    read from the configuration or measured on the running server."""
    from httpdlint import suggest as sg

    try:
        if fmt not in sg.FORMATS:
            raise ConfigError(f"unknown format {fmt!r}: one of {', '.join(sg.FORMATS)}")
        if not apply and (yes or backup_dir or httpd):
            raise ConfigError("--yes, --backup-dir and --httpd go with --apply")
        if apply and (fmt != "text" or output):
            raise ConfigError(
                "--apply shows a diff and writes the configuration: no --format/--output"
            )
        opts = sizing_options(
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
            mpm=mpm,
            apache_version=apache_version,
            swap=swap,
        )
        length, every = _window(duration, interval)
        if pid is not None:
            from httpdlint.measure import check_pid

            check_pid(pid, force_pid)
        model = _model(path, server_root, define, module, apache_version, pid)
        neighbours = _neighbours(model, pid) if ram is None else ()
        if length:
            bar, tick = _progress(length, every)
            with bar:
                result = sg.suggest(
                    model,
                    opts,
                    duration=length,
                    interval=every,
                    progress=tick,
                    logs=logs,
                    neighbours=neighbours,
                )
        else:
            result = sg.suggest(model, opts, logs=logs, neighbours=neighbours)
        if model is not None:
            from httpdlint.discover import provenance

            result.config = provenance(model)
            result.warnings.extend(_discovery_notices([model]))
        if apply:
            _apply(model, result, path, server_root, define, yes, backup_dir, httpd)
            return
        emit(sg.render(result, fmt), output)
    except ConfigError as exc:
        _fail(str(exc))


def _apply(model, result, path, server_root, defines, yes, backup_dir, httpd) -> None:
    from httpdlint import apply as ap
    from httpdlint.validate import httpd_check

    def check():
        return httpd_check(path, server_root=server_root, defines=tuple(defines or ()), httpd=httpd)

    ap.run(
        model,
        result,
        out=sys.stdout,
        yes=yes,
        interactive=sys.stdin.isatty(),
        ask=lambda prompt: typer.confirm(prompt, default=False),
        httpd_check=check,
        backup_dir=backup_dir,
    )


def register(app: typer.Typer) -> None:
    """Add `measure` and `suggest` to the main app."""
    app.command("measure")(measure_command)
    app.command("suggest")(suggest_command)
