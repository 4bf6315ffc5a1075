"""Two httpd servers on one machine: `suggest` for one reserves the other at its worst case
(its own MaxRequestWorkers, its own children measured), not at what it holds today: both may
fill up at once, and the host must hold both.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest
from stacklab import foreground_apache, free_port
from stackrun import base_config

MIB = 1024**2


@pytest.fixture
def shared_tmp():
    """A directory the children (www-data) can read: pytest's own is root's alone."""
    path = Path(tempfile.mkdtemp(prefix="httpdlint-servers-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _tree(root: Path, port: int, workers: int) -> Path:
    root.mkdir(mode=0o755)  # the children run as www-data
    (root / "index.html").write_text("ok\n")
    conf = root / "httpd.conf"
    conf.write_text(
        base_config(root, port, "prefork")
        + "StartServers 2\nMinSpareServers 2\nMaxSpareServers 3\n"
        + f"ServerLimit {workers}\nMaxRequestWorkers {workers}\n"
    )
    return conf


def _json(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", *args, "--format", "json", "--no-logs"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _serve(port: int) -> None:
    for _ in range(20):  # served: each child at its working size
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
            assert r.read() == b"ok\n"


def test_the_other_server_is_reserved_at_its_worst_case(apache2_bin, shared_tmp):
    port_a, port_b = free_port(), free_port()
    conf_a = _tree(shared_tmp / "a", port_a, 20)
    conf_b = _tree(shared_tmp / "b", port_b, 60)
    with (
        foreground_apache(apache2_bin, conf_a, port_a) as a,
        foreground_apache(apache2_bin, conf_b, port_b) as b,
    ):
        _serve(port_a)
        _serve(port_b)
        advice = _json("suggest", str(conf_a))
        assert advice["server"]["pid"] == a.pid
        line = next(x for x in advice["explanation"] if x.startswith(f"reserve httpd {b.pid} "))
        assert f"another httpd ({conf_b})" in line and "MaxRequestWorkers 60" in line, line
        reserved = float(re.match(rf"reserve httpd {b.pid} ([\d.]+) MiB", line).group(1)) * MIB
        seen = _json("measure", str(conf_b))
        tree = next(t for t in seen["httpd"] if t["parent"] == b.pid)
        # At least 60 of its children at their measured size: not the 2 or 3 it runs now.
        assert reserved >= 60 * tree["largest_child"]["private"]
        assert reserved > 3 * tree["pss_total"]
        assert advice["reserved_bytes"] >= reserved

        # Sized the other way round, the first server is the one reserved at its worst case.
        other = _json("suggest", str(conf_b))
        assert any(x.startswith(f"reserve httpd {a.pid} ") for x in other["explanation"])
