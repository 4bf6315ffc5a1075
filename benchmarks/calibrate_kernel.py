"""Calibrate what httpd's processes and threads cost the kernel (capacity.py's overheads).

A minimal httpd (the MPM and mod_authz_core, nothing else) is started in a fresh memory cgroup
(tests/stacklab.py) at two sizes, left to settle, and the cgroup's charge is read: `kernel`
(page tables, kernel stacks, task structs, slab), `anon`, and VmPTE of one child. The cost of
one more process or thread is the slope between the two sizes:

* prefork with N = 10 and 40 children: per process;
* worker and event with 4 children of ThreadsPerChild 10 and 50: per thread, kernel and the
  user memory (anon) of an idle thread;
* event with 2 and 8 children of 25 threads: one whole idle child, to set beside the sum of the
  two constants (and an earlier estimate of about 0.9 MiB per 25-thread event child).

Each point is measured REPEAT times (interleaved, after one discarded warm-up start) and the
median used. Prints figures; it is not a test. Needs root, apache2 and a memory cgroup.

    python benchmarks/calibrate_kernel.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from stacklab import MemCgroup, free_port, start_apache, stop_pid  # noqa: E402

KIB = 1024
MODULES = Path("/usr/lib/apache2/modules")
PREFORK = (10, 40)
THREADS = (10, 50)
PROCESSES = 4
WHOLE_CHILD = (2, 8)  # event children of 25 threads


def _conf(root: Path, mpm: str, size: int, processes: int) -> str:
    if mpm == "prefork":
        tuning = (
            f"StartServers {size}\nMinSpareServers {size}\nMaxSpareServers {size}\n"
            f"ServerLimit {size}\nMaxRequestWorkers {size}\n"
        )
    else:
        # MaxSpareThreads at the whole capacity: no child is ever idle enough to be stopped.
        tuning = (
            f"StartServers {processes}\nServerLimit {processes}\nThreadsPerChild {size}\n"
            f"MaxRequestWorkers {processes * size}\nMinSpareThreads {size}\n"
            f"MaxSpareThreads {processes * size}\n"
        )
    return f"""\
ServerRoot {root}
ServerName localhost
Listen 127.0.0.1:{free_port()}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
DefaultRuntimeDir {root}
User www-data
Group www-data
LoadModule mpm_{mpm}_module {MODULES}/mod_mpm_{mpm}.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
{tuning}"""


def _vmpte_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmPTE:"):
            return int(line.split()[1])
    return 0


def measure(binary: str, mpm: str, size: int, processes: int = PROCESSES) -> dict[str, int]:
    """One start: the settled cgroup's kernel and anon, and a child's VmPTE (KiB)."""
    children = size if mpm == "prefork" else processes
    # Each worker/event child: ThreadsPerChild workers, a listener and its main thread.
    threads = 1 + (size if mpm == "prefork" else processes * (size + 2))
    root = Path(tempfile.mkdtemp(prefix="calibrate-"))
    os.chmod(root, 0o755)  # the children run as www-data
    conf = root / "httpd.conf"
    conf.write_text(_conf(root, mpm, size, processes))
    try:
        with MemCgroup() as cg:
            pid = start_apache(binary, conf, cg)
            try:
                truth = cg.settle(children + 1, threads)
                child = next(p for p in cg.pids() if p != pid)
                return {
                    "kernel": truth["kernel"] // KIB,
                    "anon": truth["anon"] // KIB,
                    "pte": _vmpte_kib(child),
                }
            finally:
                stop_pid(pid)
                deadline = time.monotonic() + 15
                while cg.pids() and time.monotonic() < deadline:
                    time.sleep(0.05)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--apache2", default=shutil.which("apache2") or "/usr/sbin/apache2")
    args = parser.parse_args()
    started = time.monotonic()
    points = (
        [("prefork", n, n) for n in PREFORK]
        + [(mpm, t, PROCESSES) for mpm in ("worker", "event") for t in THREADS]
        + [("event", 25, n) for n in WHOLE_CHILD]
    )
    measure(args.apache2, "prefork", PREFORK[0])  # warm-up: first lookups charge dentries
    raw: dict[tuple[str, int, int], list[dict[str, int]]] = {p: [] for p in points}
    for _ in range(args.repeat):
        for mpm, size, processes in points:
            raw[(mpm, size, processes)].append(measure(args.apache2, mpm, size, processes))
    med = {
        p: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for p, runs in raw.items()
    }

    with MemCgroup() as cg:
        version = cg.version
    kernel = "memory.kmem.usage_in_bytes" if version == 1 else "memory.stat kernel"
    print(
        f"Measured: {args.apache2} started in a fresh cgroup v{version} memory cgroup for "
        f"each point, read once its process and thread counts were reached and the charge "
        f"had stopped moving (idle, no request served): kernel = {kernel}, anon = memory.stat "
        f"total_rss/anon, VmPTE of one child; median of {args.repeat} starts; KiB."
    )
    print(f"{'point':<24}{'kernel':>8}{'anon':>8}{'VmPTE':>7}   raw kernel/anon/VmPTE")
    for (mpm, size, processes), runs in raw.items():
        label = f"{mpm} {processes}" + ("" if mpm == "prefork" else f" x {size} threads")
        m = med[(mpm, size, processes)]
        figures = "  ".join(f"{r['kernel']}/{r['anon']}/{r['pte']}" for r in runs)
        print(f"{label:<24}{m['kernel']:>8.0f}{m['anon']:>8.0f}{m['pte']:>7.0f}   {figures}")

    def slope(a: tuple[str, int, int], b: tuple[str, int, int], units: int, key: str) -> float:
        return (med[b][key] - med[a][key]) / units

    pre = [("prefork", n, n) for n in PREFORK]
    print(
        f"per prefork process: kernel {slope(*pre, PREFORK[1] - PREFORK[0], 'kernel'):.0f} KiB, "
        f"anon {slope(*pre, PREFORK[1] - PREFORK[0], 'anon'):.0f} KiB "
        f"(capacity.py: PROCESS_OVERHEAD = 256 KiB)"
    )
    for mpm in ("worker", "event"):
        pair = [(mpm, t, PROCESSES) for t in THREADS]
        units = PROCESSES * (THREADS[1] - THREADS[0])
        print(
            f"per {mpm} thread: kernel {slope(*pair, units, 'kernel'):.1f} KiB, "
            f"anon (idle) {slope(*pair, units, 'anon'):.1f} KiB "
            f"(capacity.py: THREAD_OVERHEAD = 64 KiB)"
        )
    whole = [("event", 25, n) for n in WHOLE_CHILD]
    units = WHOLE_CHILD[1] - WHOLE_CHILD[0]
    print(
        f"per idle event child of 25 threads: kernel {slope(*whole, units, 'kernel'):.0f} KiB, "
        f"anon {slope(*whole, units, 'anon'):.0f} KiB "
        f"(capacity.py charges 256 + 26 x 64 = 1920 KiB of kernel)"
    )
    print(f"(took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
