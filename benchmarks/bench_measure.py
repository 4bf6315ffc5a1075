"""How long `measure` takes to read 200 processes (target: under 0.5 s).

Starts 200 real processes (small Python children, each writing 1 MiB of private memory so
their smaps are not trivial), then times reading all of them: the fast path (/proc/PID/stat +
/proc/PID/smaps_rollup), and the whole-machine `measure()` that also finds httpd trees and
ranks every other process. Then, when apache2 is installed, a real prefork httpd with mod_php
and 200 children: `measure --pid` reads every process of its tree in detail (the whole smaps,
status, io and each thread's wait channel). Median of several runs. Prints figures; it is not
a test.

    python benchmarks/bench_measure.py [--processes 200] [--httpd-children 200] [--runs 7]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from httpdlint import measure, procfs

MODULES = Path("/usr/lib/apache2/modules")

CHILD = (
    "import sys\n"
    "b = bytearray(1024 * 1024)\n"
    "for i in range(0, len(b), 4096): b[i] = 1\n"
    "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    "sys.stdin.read()\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--httpd-children", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    plain(args)
    if args.httpd_children and shutil.which("apache2") and (MODULES / "libphp8.2.so").exists():
        httpd(args)


def timed(function, runs: int) -> tuple[float, object]:
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def plain(args) -> None:
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(args.processes):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-S", "-c", CHILD],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise SystemExit(f"child {p.pid} did not start")
        pids = [p.pid for p in procs]
        fast, infos = timed(lambda: procfs.read_processes(pids), args.runs)
        assert len(infos) == len(pids) and all(i.exact for i in infos), "could not read them all"
        whole, result = timed(lambda: measure.measure(top=10), args.runs)
        machine = len(procfs.read_processes())
        print(f"processes started:             {len(pids)}")
        print(
            f"read_processes({len(pids)} pids):      {fast * 1000:7.1f} ms median of {args.runs}"
            f"  ({fast / len(pids) * 1e6:.0f} us per process)"
        )
        # The whole machine includes processes we did not start: a process in the middle of
        # exec or mmap holds its mm lock, and reading its smaps_rollup waits for it.
        print(
            f"measure() whole machine:       {whole * 1000:7.1f} ms median of {args.runs}"
            f"  ({machine} processes on the machine)"
        )
        verdict = "PASS" if fast < 0.5 else "FAIL"
        print(f"target: 200 processes read in under 500 ms: {verdict}")
    finally:
        for p in procs:
            with contextlib.suppress(OSError):
                p.stdin.close()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def httpd(args) -> None:
    """A prefork + mod_php server of N children on 127.0.0.1, its tree read in detail."""
    n = args.httpd_children
    root = Path(tempfile.mkdtemp(prefix="httpdlint-bench-"))
    os.chmod(root, 0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (root / "httpd.conf").write_text(
        f"ServerRoot {root}\nServerName localhost\nListen 127.0.0.1:{port}\n"
        f"PidFile {root}/httpd.pid\nErrorLog {root}/error.log\nDefaultRuntimeDir {root}\n"
        "User www-data\nGroup www-data\n"
        f"LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so\n"
        f"LoadModule authz_core_module {MODULES}/mod_authz_core.so\n"
        f"LoadModule php_module {MODULES}/libphp8.2.so\n"
        f"StartServers {n}\nMinSpareServers {n}\nMaxSpareServers {n + 1}\n"
        f"ServerLimit {n}\nMaxRequestWorkers {n}\n"
    )
    pid = None
    try:
        subprocess.run(["apache2", "-f", str(root / "httpd.conf"), "-k", "start"], check=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = (root / "httpd.pid").read_text().strip() if (root / "httpd.pid").exists() else ""
            if text.isdigit():
                pid = int(text)
                if len(measure.measure([pid]).tree.children) >= n:
                    break
            time.sleep(0.5)
        took, result = timed(lambda: measure.measure([pid]), args.runs)
        tree = result.tree
        print(
            f"measure --pid, prefork + mod_php, {len(tree.children)} children in detail: "
            f"{took * 1000:7.1f} ms median of {args.runs} "
            f"({took / (len(tree.children) + 1) * 1e6:.0f} us per process)"
        )
        print(f"target: under 500 ms: {'PASS' if took < 0.5 else 'FAIL'}")
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            time.sleep(2)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
