"""How long `measure` takes to read 200 processes (target: under 0.5 s).

Starts 200 real processes (small Python children, each writing 1 MiB of private memory so
their smaps are not trivial), then times reading all of them with the measure module: the
fast path (/proc/PID/stat + /proc/PID/smaps_rollup), and the whole-machine `measure()` that
also finds httpd trees and ranks every other process. Median of several runs. Prints figures;
it is not a test.

    python benchmarks/bench_measure.py [--processes 200] [--runs 7]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time

from httpdlint import measure

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
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

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

        def timed(function) -> tuple[float, object]:
            times = []
            result = None
            for _ in range(args.runs):
                start = time.perf_counter()
                result = function()
                times.append(time.perf_counter() - start)
            return statistics.median(times), result

        fast, infos = timed(lambda: measure.read_processes(pids))
        assert len(infos) == len(pids) and all(i.exact for i in infos), "could not read them all"
        whole, result = timed(lambda: measure.measure(top=10))
        machine = len(measure.read_processes())
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


if __name__ == "__main__":
    main()
