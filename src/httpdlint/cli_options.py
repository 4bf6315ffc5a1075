"""Every command-line option that more than one command takes, declared once.

The commands in cli.py and cli_capacity.py list these types in their signatures; the sizing
options (shared by `check`, for CAP009, and `suggest`) are parsed into one
inputs.SizingOptions by `sizing_options`, so both commands read them the same way.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from httpdlint.errors import ConfigError

__all__ = ["parse_margin", "sizing_options"]

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
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Write to FILE instead of stdout (- is stdout): a regular file atomically, "
        "a device or FIFO directly.",
    ),
]
Pid = Annotated[
    int | None, typer.Option("--pid", help="PID of the httpd parent, in place of discovery.")
]
Confine = Annotated[
    str | None,
    typer.Option(
        "--confine",
        help="Read nothing outside DIR (CI on untrusted pull requests): includes outside it "
        "are errors; the rules that need more are skipped.",
    ),
]
ForcePid = Annotated[
    bool,
    typer.Option("--force-pid", help="Measure --pid even when it is not an httpd process."),
]
Httpd = Annotated[
    str | None,
    typer.Option(
        "--httpd", help="The httpd binary that checks the tree (httpd -t); default: found."
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Give up after SECONDS with one error line, exit 2 (0: never).",
        metavar="SECONDS",
    ),
]
# measure --format nagios: threshold ranges on a limit's use, in per cent (plugin guidelines).
Warning = Annotated[
    str | None,
    typer.Option(
        "--warning", "-w", help="With --format nagios: warning range in % of a limit (@90:)."
    ),
]
Critical = Annotated[
    str | None,
    typer.Option(
        "--critical", "-c", help="With --format nagios: critical range in % of a limit (100)."
    ),
]
Logs = Annotated[
    bool, typer.Option("--logs/--no-logs", help="Read error and kernel logs for warnings.")
]

# suggest --apply: write the recommendation into the configuration.
Apply = Annotated[
    bool,
    typer.Option(
        "--apply",
        help="Write the recommendation into the MPM's block and the PHP-FPM pool files: shows "
        "the diff, asks, keeps backups, validates with httpd -t (and php-fpm -t), restores on "
        "failure.",
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="With --apply: write without asking.")]
BackupDir = Annotated[
    str | None,
    typer.Option(
        "--backup-dir",
        help="With --apply: keep backups here (default: .httpdlint-backup beside each file, "
        "else /var/backups/httpdlint when an Include could read that).",
    ),
]

# Sizing: what check's CAP009 and suggest both size from.
Ram = Annotated[
    str | None,
    typer.Option(
        "--ram", help="RAM of the machine being sized (1G, 512M); default: this machine's."
    ),
]
Swap = Annotated[
    str | None,
    typer.Option(
        "--swap",
        help="Count swap as memory: `all` (this machine's SwapTotal) or a size (default: none).",
    ),
]
ChildSize = Annotated[
    str | None,
    typer.Option("--child-size", help="Private memory of one busy child: 25M (else measured)."),
]
Shared = Annotated[
    str | None,
    typer.Option("--shared", help="Memory all children share, counted once (else measured)."),
]
Reserve = Annotated[
    str | None,
    typer.Option(
        "--reserve",
        help="Memory for the OS and other services (default: measured here, or with --ram "
        "10 % of it, at least 128M).",
    ),
]
Margin = Annotated[
    str | None, typer.Option("--margin", help="Growth allowed per process: 10% (default), 0.1.")
]
ThreadsPerChild = Annotated[
    int | None,
    typer.Option("--threads-per-child", help="Threaded MPMs (default: the configuration's)."),
]
ThreadSize = Annotated[
    str | None,
    typer.Option("--thread-size", help="User memory each busy thread adds (threaded MPMs)."),
]
ThreadOverhead = Annotated[
    str | None,
    typer.Option("--thread-overhead", help="Kernel memory per thread (default 28K)."),
]
ProcessOverhead = Annotated[
    str | None,
    typer.Option(
        "--process-overhead", help="Kernel memory per process (default 64K + page tables)."
    ),
]
DaemonSize = Annotated[
    str | None,
    typer.Option("--daemon-size", help="Private memory of one mod_wsgi daemon process."),
]
PoolChildren = Annotated[
    int | None,
    typer.Option("--pool-children", help="A backend pool's size (PHP-FPM pm.max_children)."),
]
PoolWorkerSize = Annotated[
    str | None,
    typer.Option("--pool-worker-size", help="Private memory of one pool worker, busy."),
]


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


def sizing_options(
    *,
    ram: str | None = None,
    child_size: str | None = None,
    shared: str | None = None,
    reserve: str | None = None,
    margin: str | None = None,
    threads_per_child: int | None = None,
    thread_size: str | None = None,
    thread_overhead: str | None = None,
    process_overhead: str | None = None,
    daemon_size: str | None = None,
    pool_children: int | None = None,
    pool_worker_size: str | None = None,
    pid: int | None = None,
    mpm: str | None = None,
    apache_version: str | None = None,
    swap: str | None = None,
):
    """The sizing options as given, parsed; ConfigError (one line, exit 2) for a bad one."""
    from httpdlint.inputs import SizingOptions

    try:
        margin_value = parse_margin(margin) if margin is not None else None
    except ValueError as exc:
        raise ConfigError(f"--margin: {exc}") from None
    if mpm is not None and mpm.lower() not in ("prefork", "worker", "event"):
        raise ConfigError(f"--mpm: unknown MPM {mpm!r}: expected prefork, worker or event")
    if apache_version is not None and apache_version not in ("2.2", "2.4"):
        raise ConfigError(f"--apache-version: {apache_version!r}: expected 2.2 or 2.4")
    for name, value in (
        ("--threads-per-child", threads_per_child),
        ("--pool-children", pool_children),
    ):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1, not {value}")
    return SizingOptions(
        ram=_size("--ram", ram),
        child=_size("--child-size", child_size),
        shared=_size("--shared", shared),
        reserve=_size("--reserve", reserve),
        margin=margin_value,
        mpm=mpm.lower() if mpm else None,
        apache_version=apache_version,
        threads_per_child=threads_per_child,
        thread_size=_size("--thread-size", thread_size),
        thread_overhead=_size("--thread-overhead", thread_overhead),
        process_overhead=_size("--process-overhead", process_overhead),
        daemon_size=_size("--daemon-size", daemon_size),
        pool_children=pool_children,
        pool_worker_size=_size("--pool-worker-size", pool_worker_size),
        pid=pid,
        swap="all" if swap is not None and swap.strip().lower() == "all" else _size("--swap", swap),
    )
