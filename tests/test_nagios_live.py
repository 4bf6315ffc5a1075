"""`measure --format nagios` against a real apache2: OK, WARNING, CRITICAL and UNKNOWN, each
line parsed as the plugin guidelines define it (tests/test_nagios.py) and each exit code that
of its state.

The server is prefork with ten children and MinSpareServers 1. Connections that send half a
request hold a child each (it waits for the rest, as a slow client makes it): nine of ten busy
is 90 % of MaxRequestWorkers, a warning, and httpd has the one idle child it wants; the tenth
leaves none idle, httpd cannot fork another and logs AH00161, which is critical.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from stacklab import foreground_apache, free_port, memcg_or_skip, start_apache, stop_pid
from stackrun import base_config
from test_nagios import parse

pytestmark = pytest.mark.usefixtures("apache2_bin")


def _tree(root: Path, port: int) -> Path:
    root.mkdir(parents=True)
    conf = root / "httpd.conf"
    conf.write_text(
        base_config(root, port, "prefork")
        + "StartServers 10\nMinSpareServers 1\nMaxSpareServers 10\n"
        + "ServerLimit 10\nMaxRequestWorkers 10\n"
    )
    return conf


def _plugin(*args: str) -> tuple[int, str, str, list[dict]]:
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", "measure", "--format", "nagios", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.count("\n") == 1, done.stdout + done.stderr
    state, text, data = parse(done.stdout.rstrip("\n"))
    assert done.returncode == ("OK", "WARNING", "CRITICAL", "UNKNOWN").index(state), done
    return done.returncode, state, text, data


def _hold(port: int, n: int) -> list[socket.socket]:
    """n connections, each with half a request sent: a child waits on each."""
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        held.append(s)
    return held


def _perf(result) -> dict[str, dict]:
    return {d["label"]: d for d in result[3]}


def _until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def test_ok_warning_critical_unknown(apache2_bin, tmp_path):
    port = free_port()
    conf = _tree(tmp_path / "srv", port)
    held: list[socket.socket] = []
    with foreground_apache(apache2_bin, conf, port):
        try:
            # Wait for the ten children StartServers asks for.
            code, state, text, data = _until(
                lambda: (r := _plugin(str(conf))) and _perf(r)["children"]["value"] == "10" and r
            )
            assert state == "OK", text
            perf = {d["label"]: d for d in data}
            assert perf["busy_workers"]["max"] == "10"
            assert perf["busy_workers"]["warn"] == "@9:"  # 90 % of MaxRequestWorkers
            assert perf["limit_messages"]["value"] == "0"
            assert perf["worst_case"]["uom"] == "B"

            held += _hold(port, 9)
            code, state, text, data = _until(
                lambda: (r := _plugin(str(conf))) and r[1] != "OK" and r
            )
            assert state == "WARNING", text
            assert "busy peak 9 of MaxRequestWorkers 10" in text
            assert {d["label"]: d for d in data}["busy_workers"]["value"] == "9"

            # Thresholds given: the same server, judged by -w/-c.
            assert _plugin(str(conf), "-w", "95", "-c", "100")[1] == "OK"
            assert _plugin(str(conf), "-w", "50", "-c", "80")[1] == "CRITICAL"

            held += _hold(port, 1)
            code, state, text, data = _until(
                lambda: (r := _plugin(str(conf))) and r[1] == "CRITICAL" and r
            )
            assert state == "CRITICAL", text
            assert "limit message" in text
            assert int({d["label"]: d for d in data}["limit_messages"]["value"]) >= 1
            assert "AH00161" in (tmp_path / "srv/error.log").read_text()
        finally:
            for s in held:
                with contextlib.suppress(OSError):
                    s.close()

    # The server is gone: no PidFile names a running process.
    assert _plugin(str(conf))[1] == "UNKNOWN"


@pytest.mark.parametrize(
    "args",
    [
        ("--pid", "999999999"),
        ("--warning", "ninety"),
        ("--top", "many"),
        ("--no-such-option",),
        ("/nonexistent/httpd.conf",),
    ],
)
def test_every_failure_is_unknown(args):
    code, state, text, _ = _plugin(*args)
    assert (code, state) == (3, "UNKNOWN") and text


def test_worst_case_against_a_cgroup_limit(apache2_bin, tmp_path):
    """The worst case at MaxRequestWorkers judged against the limit it fills most: a memory
    cgroup around the server, set so that the worst case fills 93 % of it (WARNING), then
    130 % (CRITICAL), both above what the idle server holds so the kernel kills nothing."""
    root = Path(tempfile.mkdtemp(prefix="httpdlint-nagios-"))
    root.chmod(0o755)  # the children run as www-data
    port = free_port()
    conf = root / "httpd.conf"
    conf.write_text(
        base_config(root, port, "prefork")
        + "StartServers 3\nMinSpareServers 3\nMaxSpareServers 4\n"
        + "ServerLimit 100\nMaxRequestWorkers 100\n"
    )
    (root / "index.html").write_text("ok\n")
    with memcg_or_skip() as cg:
        pid = start_apache(apache2_bin, conf, cg)
        try:
            for _ in range(30):  # served: each child at its working size
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
                    assert r.read() == b"ok\n"
            cg.set_limit(1 << 40)  # far above the host: the host binds
            _, state, text, data = _plugin(str(conf), "--no-logs")
            assert state == "OK" and "host RAM" in text, text
            cg.set_limit(512 * 2**20)
            _, state, text, data = _plugin(str(conf), "--no-logs")
            worst = float(_perf((0, state, text, data))["worst_case"]["value"])
            assert cg.cgroup_path() in text, text  # the cgroup is the limit it fills most
            assert worst < 0.9 * 512 * 2**20, text
            for ratio, expected in ((0.93, "WARNING"), (1.3, "CRITICAL")):
                cg.set_limit(int(worst / ratio))
                code, state, text, data = _plugin(str(conf), "--no-logs")
                assert state == expected, (ratio, text)
                # The limit as the kernel keeps it: rounded down to a page.
                shown = int(_perf((code, state, text, data))["worst_case"]["max"])
                assert 0 <= int(worst / ratio) - shown < 4096
        finally:
            stop_pid(pid)
            shutil.rmtree(root, ignore_errors=True)
