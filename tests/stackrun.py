"""One procedure for every application stack's end-to-end test (issue: size the whole stack).

A stack test describes its server (a config writer, the URL that holds a request, how many
requests keep every worker busy, backends to start beside httpd); `run_point` starts it in a
fresh memory cgroup at one size, lets every worker serve, then holds every worker busy while
`httpdlint suggest --duration` samples it and the kernel's charge is read (anon + shmem +
kernel, page cache excluded: stacklab.MemCgroup.truth). `judge` compares two sizes:

* the prediction at the running size (`running.predicted_bytes`: shared + N x child + kernel
  + daemons + pools, no margin) within 10 % of the truth at that size;
* the recommendation for 1 GiB with 200 MiB reserved, never above the true maximum (the
  truth extrapolated linearly from the two sizes to where it meets 1 GiB - 200 MiB) and at
  least 85 % of it.

Every figure is printed (pytest -s shows them): they are the README's worked examples.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import stacklab
from stacklab import free_port, hold_all, memcg_or_skip, start_apache, stop_pid

MIB = 1024**2
GIB = 1024**3
RAM = GIB
RESERVE = 200 * MIB
MODULES = Path("/usr/lib/apache2/modules")


def need(path: str | Path, package: str) -> None:
    """Skip locally, fail under CI=true, when a package the stack needs is missing."""
    stacklab.need(Path(path).exists(), f"{package} ({path})")


def base_config(root: Path, port: int, mpm: str) -> str:
    """What every stack's httpd.conf starts with: its own root, 127.0.0.1 only."""
    return f"""\
ServerRoot {root}
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
DefaultRuntimeDir {root}
LogLevel warn
User www-data
Group www-data
KeepAlive Off
LoadModule mpm_{mpm}_module {MODULES}/mod_mpm_{mpm}.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
DocumentRoot {root}
<Directory {root}>
    Require all granted
</Directory>
"""


@dataclass
class Stack:
    """A server to size: how to write it at a size, and how to keep every worker busy."""

    name: str
    #: (root, port, size) -> the httpd.conf path; writes the application files too.
    write: Callable[[Path, int, int], Path]
    #: size -> concurrent requests that keep every httpd worker (and backend) busy.
    busy: Callable[[int], int]
    #: The path of a request that holds its worker for `hold` seconds (`{hold}` is replaced).
    path: str
    #: (cgroup, root) -> PIDs of backends started beside httpd (PHP-FPM), stopped after.
    backends: Callable | None = None
    hold: float = 6.0
    duration: str = "2s"
    interval: str = "0.5s"


@dataclass
class Point:
    """The stack at one size with every worker busy."""

    size: int
    truth: dict[str, int]
    suggestion: dict
    extra: dict = field(default_factory=dict)

    @property
    def predicted(self) -> int:
        return self.suggestion["running"]["predicted_bytes"]

    @property
    def recommended_processes(self) -> int:
        return self.suggestion["processes"]


def httpdlint(*args: str, timeout: float = 120) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"httpdlint {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout)


def suggest_args(conf: Path, pid: int, stack: Stack) -> list[str]:
    return [
        "suggest",
        str(conf),
        "--pid",
        str(pid),
        "--ram",
        "1G",
        "--reserve",
        "200M",
        "--duration",
        stack.duration,
        "--interval",
        stack.interval,
        "--format",
        "json",
        "--no-logs",
    ]


def _measure_at(stack: Stack, apache2_bin: str, cg, root: Path, size: int, after) -> Point:
    """httpd at `size` in `cg` (its backends already there): warm, hold busy, measure, stop."""
    port = free_port()
    conf = stack.write(root, port, size)
    n = stack.busy(size)
    url = f"http://127.0.0.1:{port}{stack.path}"
    pid = start_apache(apache2_bin, conf, cg)
    try:
        # Every worker serves a few requests first: code compiled, caches warm.
        for _ in range(2):
            with hold_all(url.format(hold=0.5), n, 0.5, settle=0.3):
                pass
        with hold_all(url.format(hold=stack.hold), n, stack.hold, settle=1.0):
            suggestion = httpdlint(*suggest_args(conf, pid, stack))
            truth = cg.truth()
        extra = after(conf, pid, url) if after is not None else {}
        return Point(size, truth, suggestion, extra or {})
    finally:
        stop_pid(pid)


def run_point(stack: Stack, apache2_bin: str, size: int, after: Callable | None = None) -> Point:
    """Start `stack` at `size` in a fresh cgroup, warm every worker, then measure it busy.

    `after(conf, pid, url)`, when given, runs once the busy window has ended, before the
    server stops; what it returns is the point's `extra`.
    """
    return run_resized(stack, apache2_bin, (size,), after)[0]


def run_resized(
    stack: Stack, apache2_bin: str, sizes: tuple[int, ...], after: Callable | None = None
) -> list[Point]:
    """run_point at each size in turn in one cgroup, the backends started once and left
    running while httpd is stopped and started at the next size, as a site resizes httpd in
    front of a PHP-FPM it does not restart. For stacks whose backends dwarf one httpd process:
    two fresh starts of php-fpm differ by more than the httpd process the sizes differ by."""
    root = Path(tempfile.mkdtemp(prefix="httpdlint-stack-"))
    os.chmod(root, 0o755)  # the children run as www-data
    points: list[Point] = []
    backends: list[int] = []
    try:
        with memcg_or_skip() as cg:
            try:
                if stack.backends is not None:
                    stack.write(root, free_port(), sizes[0])  # the application's files
                    backends = stack.backends(cg, root)
                kept = set(backends)
                for size in sizes:
                    points.append(_measure_at(stack, apache2_bin, cg, root, size, after))
                    family = kept.union(*(children_of(b) for b in backends))
                    wait_for(lambda f=family: set(cg.pids()) <= f, 20, "httpd did not leave")
            finally:
                for backend in backends:
                    stop_pid(backend)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return points


def true_maximum(a: Point, b: Point) -> float:
    """Processes that fit in RAM - reserve, on the line through the two truths."""
    per = (b.truth["total"] - a.truth["total"]) / (b.size - a.size)
    fixed = a.truth["total"] - a.size * per
    assert per > 0, f"the truth did not grow with the size: {a.truth} {b.truth}"
    return (RAM - RESERVE - fixed) / per


def judge(stack: Stack, a: Point, b: Point) -> None:
    """The issue's two requirements, with every figure printed."""
    top = true_maximum(a, b)
    recommended = b.recommended_processes
    lines = [f"\n{stack.name}:"]
    for p in (a, b):
        t = p.truth
        error = (p.predicted - t["total"]) / t["total"]
        lines.append(
            f"  size {p.size}: truth {t['total'] / MIB:.1f} MiB (anon {t['anon'] / MIB:.1f}, "
            f"shmem {t['shmem'] / MIB:.1f}, kernel {t['kernel'] / MIB:.1f}); predicted "
            f"{p.predicted / MIB:.1f} MiB ({error:+.1%}); child "
            f"{p.suggestion['child_bytes'] / MIB:.2f} MiB, shared "
            f"{p.suggestion['shared_bytes'] / MIB:.1f} MiB, "
            f"recommended {p.recommended_processes} processes"
        )
    lines.append(
        f"  true maximum {top:.1f} processes; recommended {recommended} "
        f"({recommended / top:.1%} of it)"
    )
    print("\n".join(lines))
    for p in (a, b):
        assert abs(p.predicted - p.truth["total"]) <= 0.10 * p.truth["total"], (p.size, p.truth)
    assert recommended <= math.floor(top), (recommended, top)
    assert recommended >= 0.85 * top, (recommended, top)


def children_of(pid: int) -> set[int]:
    """PIDs whose parent is `pid`, now."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        out.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)
