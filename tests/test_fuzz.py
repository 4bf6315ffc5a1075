"""A short seeded run of the differential fuzzer (fuzz/fuzz_httpd.py): no crash, no hang.

The long run is a command (`python3 fuzz/fuzz_httpd.py --minutes 30 --out DIR`); this one
keeps the fuzzer itself working and the crashes it once found fixed. Disagreements with
httpd are counted, not failed on: the fuzzer reports them by class for the closing notes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FUZZER = Path(__file__).parent.parent / "fuzz" / "fuzz_httpd.py"


def test_a_short_seeded_run_finds_no_crash_and_no_hang(apache2_bin: str) -> None:
    done = subprocess.run(
        [sys.executable, str(FUZZER), "--seed", "3", "--cases", "40", "--minutes", "1"]
        + ["--timeout", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    tally = report["tally"]
    assert report["cases"] >= 20
    assert not tally.get("crash") and not tally.get("hang"), report["examples"]
    assert done.returncode == 0
