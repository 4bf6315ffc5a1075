"""Time `httpdlint check` against `apache2 -t` on the same generated trees, side by side.

Runs are interleaved (httpd, httpdlint, httpd, ...) so both see the same machine state; the
figures are medians of several runs, with each process's peak RSS from wait4. Also checks that
time grows linearly (hosts x 1, x 2, x 4 ...) and prints the ratio.

    python benchmarks/bench_check.py --hosts 10000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_tree import generate  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit code) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def compare(main: Path, runs: int, apache: str, lint: list[str]) -> dict:
    httpd_cmd = [apache, "-t", "-d", str(main.parent), "-f", str(main)]
    # A file, not /dev/null: httpdlint before 2026-12 replaced a device given to -o with a
    # regular file (as root, /dev/null itself), and this script also times older versions.
    report = str(main.parent / "report.json")
    lint_cmd = [*lint, "check", str(main), "--exit-zero", "-f", "json", "-o", report]
    h, hm, lt, lm = [], [], [], []
    for _ in range(runs):
        wall, rss, code = timed(httpd_cmd)
        if code != 0:
            raise SystemExit(f"apache2 -t failed on {main}")
        h.append(wall)
        hm.append(rss)
        wall, rss, code = timed(lint_cmd)
        if code != 0:
            raise SystemExit(f"httpdlint failed on {main} (exit {code})")
        lt.append(wall)
        lm.append(rss)
    return {
        "httpd_s": statistics.median(h),
        "lint_s": statistics.median(lt),
        "httpd_rss_mib": max(hm) / 1024,
        "lint_rss_mib": max(lm) / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scaling", action="store_true", help="also time 1/4, 1/2 of the hosts")
    args = ap.parse_args()
    apache = shutil.which("apache2") or "/usr/sbin/apache2"
    if not os.access(apache, os.X_OK):
        raise SystemExit("apache2 is needed for the side-by-side comparison")
    lint = [sys.executable, "-m", "httpdlint"]
    # pip compiles a wheel's modules at install; an editable checkout (and an environment
    # with PYTHONDONTWRITEBYTECODE) would otherwise compile them again on every run.
    import httpdlint

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(httpdlint.__file__).parent)],
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
    )
    sizes = [args.hosts // 4, args.hosts // 2, args.hosts] if args.scaling else [args.hosts]
    with tempfile.TemporaryDirectory(prefix="httpdlint-bench-") as tmp:
        print(
            f"{'layout':<7} {'hosts':>6} {'lines':>8}  {'apache2 -t':>10} {'httpdlint':>10} "
            f"{'ratio':>6}  {'httpd MiB':>9} {'lint MiB':>8}"
        )
        for layout in ("single", "split"):
            for n in sizes:
                main = generate(n, layout, Path(tmp) / f"{layout}-{n}")
                lines = sum(p.read_bytes().count(b"\n") for p in main.parent.rglob("*.conf"))
                r = compare(main, args.runs, apache, lint)
                print(
                    f"{layout:<7} {n:>6} {lines:>8}  {r['httpd_s']:>9.3f}s {r['lint_s']:>9.3f}s "
                    f"{r['lint_s'] / r['httpd_s']:>6.2f}  {r['httpd_rss_mib']:>9.1f} "
                    f"{r['lint_rss_mib']:>8.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
