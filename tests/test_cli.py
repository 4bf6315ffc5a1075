"""The command line as users and CI run it: the example, Debian's stock tree, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outage" / "conf" / "httpd.conf"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert "Traceback" not in res.stderr, res.stderr
    return res


def line_of(path: Path, text: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {path}")


def test_example_reports_the_outage_at_the_right_lines() -> None:
    res = cli("check", str(EXAMPLE), "-f", "json")
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    found = {(f["rule"], f["file"], f["line"]) for f in doc["findings"]}
    assert ("CAP001", str(EXAMPLE), line_of(EXAMPLE, "<IfModule prefork.c>")) in found
    assert ("CAP002", str(EXAMPLE), line_of(EXAMPLE, "MaxRequestsPerChild   0")) in found
    cap001 = next(f for f in doc["findings"] if f["rule"] == "CAP001")
    assert "MaxClients" in cap001["message"] and "256" in cap001["message"]
    # The trap of the outage: the 150 the admin remembered sits in the worker block.
    assert "MaxClients 150" in cap001["message"] and "worker.c" in cap001["message"]
    assert doc["config"]["apache_version"] == "2.2"
    assert doc["config"]["mpm"]["name"] == "prefork"
    assert doc["config"]["files"][0] == str(EXAMPLE)
    assert len(doc["config"]["files"]) == 4


def test_text_output_is_one_line_per_finding_with_summary() -> None:
    res = cli("check", str(EXAMPLE), "--select", "CAP", cwd=ROOT)
    lines = res.stdout.splitlines()
    assert lines[0].startswith("examples/outage/conf/httpd.conf:")
    assert " CAP00" in lines[0]
    assert lines[-1].startswith("Found ")


def test_exit_codes_follow_fail_on_and_exit_zero() -> None:
    assert cli("check", str(EXAMPLE), "--select", "CAP").returncode == 1
    assert cli("check", str(EXAMPLE), "--select", "CAP", "--exit-zero").returncode == 0
    assert cli("check", str(EXAMPLE), "--select", "CAP", "--fail-on", "error").returncode == 0
    assert cli("check", str(EXAMPLE), "--fail-on", "bogus").returncode == 2


def test_missing_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    res = cli("check", str(tmp_path / "nope.conf"))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1
    assert "nope.conf" in res.stderr


def test_debian_stock_has_no_cap001(debian_conf: Path) -> None:
    res = cli("check", str(debian_conf), "-f", "json", "--exit-zero")
    assert res.returncode == 0
    doc = json.loads(res.stdout)
    assert not [f for f in doc["findings"] if f["rule"] == "CAP001"]
    assert not [f for f in doc["findings"] if f["severity"] == "error"], doc["findings"]
    assert doc["config"]["apache_version"] == "2.4"
    assert doc["config"]["mpm"]["name"] in ("event", "prefork", "worker")


def test_overcommit_on_the_example_shows_the_arithmetic_with_22_names() -> None:
    res = cli("check", str(EXAMPLE), "--ram", "1G", "--child-size", "25M", "-f", "json")
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    (f,) = [f for f in doc["findings"] if f["rule"] == "CAP009"]
    assert f["severity"] == "error"
    assert f["message"].startswith(
        "no MaxClients, so httpd's default 256: worst case 256 children x 25 MiB = 6400 MiB + "
        "0 MiB shared + 32 MiB kernel + 128 MiB reserve + 640 MiB margin (10 %) = 7200 MiB > "
        "1024 MiB RAM; at most 32 fit"
    )
    assert "MaxClients" in f["message"] and "MaxRequestWorkers" not in f["message"]
    assert doc["config"]["mpm"]["effective"]["MaxClients"] == 256


def test_overcommit_needs_sizes() -> None:
    res = cli("check", str(EXAMPLE), "--select", "CAP009", "-f", "json", "--exit-zero")
    assert json.loads(res.stdout)["findings"] == []
