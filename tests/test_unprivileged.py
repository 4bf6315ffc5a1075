"""`measure` and `suggest` as the Apache user, not root: they finish, say which figures are
estimates, and list what they could not read.

A real apache2 (started as root, its children switched to www-data, as on any server) and
httpdlint as the single file (scripts/build_single.py) run by Debian's /usr/bin/python3 as
www-data: the checkout under /work or /root need not be readable by www-data, a copy of the
archive in a world-readable directory is. The kernel hides the memory maps and the threads'
wait channels of root's process and of the children (setuid made them non-dumpable), so
every httpd figure stands on RSS.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest
from stacklab import foreground_apache, free_port, need
from stackrun import base_config

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def shared_dir():
    """A directory www-data can read (pytest's own base directory is root's alone)."""
    need(os.geteuid() == 0, "root (to start httpd and switch to www-data)")
    need(os.path.exists(SYSTEM_PYTHON), "Debian's python3")
    try:
        pwd.getpwnam("www-data")
    except KeyError:
        need(False, "the www-data user")
    path = Path(tempfile.mkdtemp(prefix="httpdlint-www-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def pyz(shared_dir: Path) -> Path:
    """The single file, readable by www-data."""
    out = shared_dir / "httpdlint.pyz"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_single.py"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out.chmod(0o644)
    return out


def _tree(root: Path, modules: Path, port: int) -> Path:
    root.mkdir()
    # Compressed on every request: the children use CPU as they serve, as a real site's do
    # (a static file through sendfile costs them next to none).
    words = " ".join(f"{n * 7919 % 100003:x}" for n in range(200_000))
    (root / "index.html").write_text(words)
    conf = root / "httpd.conf"
    conf.write_text(
        base_config(root, port, "prefork")
        + f"""LoadModule dir_module {modules}/mod_dir.so
LoadModule filter_module {modules}/mod_filter.so
LoadModule deflate_module {modules}/mod_deflate.so
SetOutputFilter DEFLATE
StartServers 3
MinSpareServers 3
MaxSpareServers 6
MaxRequestWorkers 20
"""
    )
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return conf


def _traffic(port: int, requests: int = 120, threads: int = 4) -> None:
    """Enough requests that the children use CPU: served, with their working size."""

    def get(n: int) -> None:
        for _ in range(n):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/", headers={"Accept-Encoding": "gzip"}
            )
            with urllib.request.urlopen(request, timeout=10) as r:
                assert r.headers["Content-Encoding"] == "gzip"
                r.read()

    workers = [threading.Thread(target=get, args=(requests // threads,)) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def _as_www_data(pyz: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "www-data", "--", SYSTEM_PYTHON, str(pyz), *args],
        capture_output=True,
        text=True,
        cwd="/",
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/"},
        timeout=180,
    )


def test_measure_and_suggest_as_www_data(pyz, shared_dir, apache2_bin, apache2_modules_dir):
    port = free_port()
    conf = _tree(shared_dir / "srv", apache2_modules_dir, port)
    with foreground_apache(apache2_bin, conf, port) as server:
        _traffic(port)
        measured = _as_www_data(pyz, "measure", str(conf), "--format", "json")
        assert measured.returncode == 0, measured.stderr
        data = json.loads(measured.stdout)
        tree = next(t for t in data["httpd"] if t["parent"] == server.pid)
        httpd = [p for p in data["processes"] if p["pid"] == server.pid or p["ppid"] == server.pid]
        assert httpd and all(p["estimated"] for p in httpd), httpd
        assert data["estimated"] is True
        assert tree["busy_peak"] is None  # wait channels hidden: not guessed as idle
        said = " ".join(u["message"] for u in data["unreadable"])
        assert "memory maps" in said and "wait channels" in said, data["unreadable"]
        assert not [w for w in data["warnings"] if w["code"] == "no-permission"]

        text = _as_www_data(pyz, "measure", str(conf))
        assert text.returncode == 0, text.stderr
        assert "Could not read" in text.stdout and "*" in text.stdout

        suggested = _as_www_data(pyz, "suggest", str(conf), "--format", "json")
        assert suggested.returncode == 0, suggested.stderr
        advice = json.loads(suggested.stdout)
        assert "child" in advice["estimated"] and advice["sources"]["child"] == "estimated"
        assert advice["server"]["pid"] == server.pid
        # Served, by the CPU they used: a recommendation, on RSS, with the warning that says so.
        assert advice["recommended"]["MaxRequestWorkers"] > 0, advice["declined"]
        codes = {w["code"] for w in advice["warnings"]}
        assert "estimated" in codes, advice["warnings"]
        assert any("memory maps" in u["message"] for u in advice["unreadable"])

        # As root the same server is read exactly: nothing estimated, the maps read.
        exact = subprocess.run(
            [sys.executable, "-m", "httpdlint", "measure", str(conf), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert exact.returncode == 0, exact.stderr
        root_view = json.loads(exact.stdout)
        mine = [
            p for p in root_view["processes"] if p["pid"] == server.pid or p["ppid"] == server.pid
        ]
        assert mine and not any(p["estimated"] for p in mine)
