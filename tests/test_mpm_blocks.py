"""Several MPM blocks in one file, as RHEL and Debian ship: only the loaded MPM's block counts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BLOCKS = """\
<IfModule mpm_prefork_module>
    StartServers 4
    ServerLimit 100
    MaxRequestWorkers 150
    MaxConnectionsPerChild 111
</IfModule>
<IfModule mpm_worker_module>
    StartServers 2
    ThreadsPerChild 20
    MaxRequestWorkers 210
    MaxConnectionsPerChild 222
</IfModule>
<IfModule mpm_event_module>
    StartServers 3
    ThreadsPerChild 30
    MaxRequestWorkers 300
    MaxConnectionsPerChild 333
</IfModule>
"""
# What each block means once httpd has read it (prefork: capped by ServerLimit, AH00180;
# worker: 210 is not a multiple of 20, rounded down, AH00316).
EXPECTED = {
    "prefork": ({"MaxRequestWorkers": 100, "MaxConnectionsPerChild": 111}, {"AH00180"}),
    "worker": ({"MaxRequestWorkers": 200, "MaxConnectionsPerChild": 222}, {"AH00316"}),
    "event": ({"MaxRequestWorkers": 300, "MaxConnectionsPerChild": 333}, set()),
}


def write(tmp_path: Path, mpm: str, modules: Path) -> Path:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"ServerName test.example\nListen 127.0.0.1:18080\nErrorLog {tmp_path}/error.log\n"
        f"PidFile {tmp_path}/httpd.pid\n"
        f"LoadModule mpm_{mpm}_module {modules}/mod_mpm_{mpm}.so\n" + BLOCKS
    )
    return conf


@pytest.mark.parametrize("mpm", sorted(EXPECTED))
def test_only_the_loaded_block_counts(tmp_path: Path, mpm: str) -> None:
    conf = write(tmp_path, mpm, Path("/usr/lib/apache2/modules"))
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", str(conf), "-f", "json", "--exit-zero"],
        capture_output=True,
        text=True,
    )
    doc = json.loads(res.stdout)
    assert doc["config"]["mpm"]["name"] == mpm
    effective = doc["config"]["mpm"]["effective"]
    want, codes = EXPECTED[mpm]
    for key, value in want.items():
        assert effective[key] == value, (key, effective)
    got = {f["httpd_code"] for f in doc["findings"] if f["httpd_code"]}
    assert got == codes


@pytest.mark.apache
@pytest.mark.parametrize("mpm", sorted(EXPECTED))
def test_real_httpd_agrees_on_the_block(
    tmp_path: Path, mpm: str, apache2_bin: str, apache2_modules_dir: Path
) -> None:
    conf = write(tmp_path, mpm, apache2_modules_dir)
    res = subprocess.run(
        [apache2_bin, "-t", "-d", str(tmp_path), "-f", str(conf)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert set(re.findall(r"AH\d{5}", res.stderr)) == EXPECTED[mpm][1]
