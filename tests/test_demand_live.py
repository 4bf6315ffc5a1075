"""Demand against a real stack: apache2 (event, mod_status, proxy_fcgi) in front of a real
php-fpm8.2 pool (`pm = dynamic`, pm.max_children 3, on 127.0.0.1) driven until it is full.

Eight requests to a page that sleeps 2 s hold the three workers and queue in php-fpm's
backlog, each held by an httpd worker that waits for it. `measure PATH` sampled meanwhile
must see the busy workers on mod_status, the pool's "max children reached" on its status
page (fetched over FastCGI), php-fpm's own log line, and proxy_fcgi's errors for a backend
nobody listens on. Both servers run from a temporary tree on 127.0.0.1 and are stopped by
PID. The FastCGI client is checked against the same php-fpm: what it sends, php-fpm reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from stacklab import busy_workers, foreground_apache, free_port, stop_pid
from stackrun import MODULES, base_config, need, wait_for

from httpdlint import fastcgi
from httpdlint.demand import fetch_fpm_status, fetch_server_status

pytestmark = pytest.mark.apache

PHP_FPM = Path("/usr/sbin/php-fpm8.2")
MAX_CHILDREN = 3
REQUESTS = 8
HOLD = 2.0
WORKERS = 50  # MaxRequestWorkers of the test server

PAGE = """<?php
usleep((int)(floatval($_GET["hold"] ?? "0") * 1000000));
echo getmypid(), "\\n";
"""
ECHO = """<?php
header("Content-Type: application/json");
echo json_encode(["server" => $_SERVER, "stdin" => file_get_contents("php://input")]);
"""


def fpm_conf(root: Path, port: int) -> str:
    return f"""\
[global]
pid = {root}/php-fpm.pid
error_log = {root}/php-fpm.log
log_level = notice
daemonize = no

[www]
user = www-data
group = www-data
listen = 127.0.0.1:{port}
pm = dynamic
pm.max_children = {MAX_CHILDREN}
pm.start_servers = 1
pm.min_spare_servers = 1
pm.max_spare_servers = 2
pm.status_path = /fpm-status
"""


def httpd_conf(root: Path, port: int, fpm_port: int, dead_port: int) -> str:
    return base_config(root, port, "event") + (
        f"""\
LoadModule status_module {MODULES}/mod_status.so
LoadModule authz_host_module {MODULES}/mod_authz_host.so
LoadModule proxy_module {MODULES}/mod_proxy.so
LoadModule proxy_fcgi_module {MODULES}/mod_proxy_fcgi.so
StartServers 1
ServerLimit 2
ThreadsPerChild 25
ThreadLimit 25
MinSpareThreads 25
MaxSpareThreads 50
MaxRequestWorkers {WORKERS}
<Location "/server-status">
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
<Directory {root}/app>
    <FilesMatch "\\.php$">
        SetHandler "proxy:fcgi://127.0.0.1:{fpm_port}"
    </FilesMatch>
</Directory>
<Directory {root}/down>
    <FilesMatch "\\.php$">
        SetHandler "proxy:fcgi://127.0.0.1:{dead_port}"
    </FilesMatch>
</Directory>
"""
    )


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def stack(apache2_bin: str) -> Iterator[dict]:
    need(PHP_FPM, "php8.2-fpm")
    need(MODULES / "mod_proxy_fcgi.so", "apache2 (mod_proxy_fcgi)")
    need(MODULES / "mod_status.so", "apache2 (mod_status)")
    root = Path(tempfile.mkdtemp(prefix="httpdlint-demand-"))
    root.chmod(0o755)  # php-fpm's workers run as www-data
    port, fpm_port, dead_port = free_port(), free_port(), free_port()
    for name, text in (("app/page.php", PAGE), ("app/echo.php", ECHO), ("down/page.php", PAGE)):
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_text(text)
    (root / "php-fpm.conf").write_text(fpm_conf(root, fpm_port))
    conf = root / "httpd.conf"
    conf.write_text(httpd_conf(root, port, fpm_port, dead_port))
    with open(root / "php-fpm.out", "wb") as out:
        fpm = subprocess.Popen(
            [str(PHP_FPM), "-F", "-y", str(root / "php-fpm.conf")],
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:

        def up() -> bool:
            if fpm.poll() is not None:
                log = (root / "php-fpm.out").read_text(errors="replace")
                raise RuntimeError(f"php-fpm exited {fpm.returncode}: {log}")
            return _listening(fpm_port)

        wait_for(up, 20, "php-fpm never listened")
        with foreground_apache(apache2_bin, conf, port) as httpd:
            yield {
                "root": root,
                "conf": conf,
                "port": port,
                "fpm_port": fpm_port,
                "fpm": fpm.pid,
                "httpd": httpd.pid,
            }
    finally:
        stop_pid(fpm.pid)
        fpm.wait(timeout=15)


def httpdlint(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_fastcgi_round_trip_with_php_fpm(stack: dict) -> None:
    """Params as the client encodes them arrive in PHP's $_SERVER unchanged (a name-value pair
    of more than 127 bytes takes the 4-byte length), and the records it decodes are php-fpm's
    answer: a JSON body after CGI headers, ended by END_REQUEST."""
    script = stack["root"] / "app" / "echo.php"
    long_value = "v" * 300
    params = {
        "SCRIPT_FILENAME": str(script),
        "SCRIPT_NAME": "/echo.php",
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": "a=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_X_LONG": long_value,
        "HTTP_X_UTF8": "héllo",
    }
    assert fastcgi.decode_params(fastcgi.encode_params(params)) == params
    stdout, stderr = fastcgi.request(f"tcp:127.0.0.1:{stack['fpm_port']}", params, timeout=10)
    head, _, body = stdout.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower()
    seen = json.loads(body)["server"]
    for name, value in params.items():
        assert seen[name] == value, name
    # The same exchange by hand: the raw answer decodes into STDOUT records and END_REQUEST.
    import socket

    with socket.create_connection(("127.0.0.1", stack["fpm_port"]), timeout=10) as s:
        s.sendall(fastcgi.request_bytes(params, request_id=7))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    records = list(fastcgi.decode_records(data))
    kinds = [kind for kind, _, _ in records]
    assert kinds[-1] == fastcgi.END_REQUEST and fastcgi.STDOUT in kinds
    assert {request_id for _, request_id, _ in records} == {7}
    raw = b"".join(c for k, _, c in records if k == fastcgi.STDOUT).partition(b"\r\n\r\n")[2]
    again = json.loads(raw)["server"]
    assert {name: again[name] for name in params} == params


def test_fastcgi_status_page_and_bounds(stack: dict) -> None:
    """The pool's status page over FastCGI; a path that is not its status path is refused."""
    address = f"tcp:127.0.0.1:{stack['fpm_port']}"
    status = fetch_fpm_status(address, "/fpm-status")
    assert status["pool"] == "www" and status["process manager"] == "dynamic"
    assert status["active processes"] >= 1  # the status request itself
    with pytest.raises(ValueError):
        fetch_fpm_status(address, "/not-the-status-path")
    with pytest.raises(OSError):  # nothing listens there
        fetch_fpm_status(f"tcp:127.0.0.1:{free_port()}", "/fpm-status", timeout=1)


def test_mod_status_auto_page(stack: dict) -> None:
    page = fetch_server_status(f"http://127.0.0.1:{stack['port']}/server-status?auto")
    assert page["busy"] >= 1  # the status request
    assert page["idle"] is not None and page["slots"] >= 25
    assert sum(page["scoreboard"].values()) == page["slots"]
    assert busy_workers(f"http://127.0.0.1:{stack['port']}/server-status") >= 1


def test_measure_demand_when_the_pool_is_full(stack: dict) -> None:
    """Must-show 4: busy peak from mod_status, the pool's "max children reached", php-fpm's
    log line, proxy_fcgi's refusals, and the report's reached / limit / fits."""
    base = f"http://127.0.0.1:{stack['port']}"
    # A backend nobody listens on: proxy_fcgi logs its refusal (503).
    assert _get(f"{base}/down/page.php") == 503
    results: list[int] = []
    load = [
        threading.Thread(target=lambda: results.append(_get(f"{base}/app/page.php?hold={HOLD}")))
        for _ in range(REQUESTS)
    ]
    for t in load:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while busy_workers(f"{base}/server-status") < REQUESTS + 1:
            assert time.monotonic() < deadline, "the requests never all reached httpd"
            time.sleep(0.05)
        done = httpdlint(
            "measure", str(stack["conf"]), "--format", "json", "--duration", "3s",
            "--interval", "1s",
        )  # fmt: skip
    finally:
        for t in load:
            t.join(120)
    assert done.returncode == 0, done.stderr
    assert results == [200] * REQUESTS
    report = json.loads(done.stdout)
    (tree,) = [t for t in report["httpd"] if t["parent"] == stack["httpd"]]
    d = tree["demand"]
    print(f"  httpd demand: {json.dumps({k: v for k, v in d.items() if k != 'messages'})}")
    assert d["busy_peak"] >= MAX_CHILDREN, d
    assert d["busy_peak"] >= REQUESTS  # every request held an httpd worker
    assert d["limit"] == WORKERS and d["limit_directive"] == "MaxRequestWorkers"
    assert d["source"].startswith("mod_status http://127.0.0.1:")
    codes = {m["code"] for m in d["messages"]}
    assert {"AH01079", "AH00957"} <= codes, d["messages"]
    assert all(m["file"] == str(stack["root"] / "error.log") for m in d["messages"])

    (pool,) = [p for p in report["pools"] if p["master"] == stack["fpm"]]
    p = pool["demand"]
    print(f"  pool demand: {json.dumps(p)}")
    assert pool["pool"] == "www" and pool["pm"] == "dynamic"
    assert p["limit"] == MAX_CHILDREN and p["limit_directive"] == "pm.max_children"
    assert p["max_children_reached"] >= 1
    assert p["busy_peak"] == MAX_CHILDREN
    assert p["reached"] is True
    fpm_lines = [m for m in p["messages"] if m["code"] == "fpm-max-children"]
    assert fpm_lines, p["messages"]
    assert "reached pm.max_children setting (3)" in fpm_lines[0]["text"]
    assert fpm_lines[0]["file"] == str(stack["root"] / "php-fpm.log")
    assert fpm_lines[0]["pool"] == "www"
    # The pool is one httpd sends to: the sizing says how many of its workers fit.
    assert isinstance(p["fits"], int) or p["fits_note"], p

    # The text report: reached / limit / fits for the server and the pool.
    text = httpdlint("measure", str(stack["conf"]))
    assert text.returncode == 0, text.stderr
    print(text.stdout)
    server_line = next(line for line in text.stdout.splitlines() if "demand: busy peak" in line)
    assert f"of MaxRequestWorkers {WORKERS}" in server_line and "fits" in server_line
    assert "AH01079" in server_line
    pool_line = next(
        line for line in text.stdout.splitlines() if f"(master {stack['fpm']}): demand" in line
    )
    reached = p["max_children_reached"]
    assert f"max children reached {reached}" in pool_line
    assert f"active peak {MAX_CHILDREN} of pm.max_children {MAX_CHILDREN}" in pool_line
    assert "fits" in pool_line and "limit reached" in pool_line
    assert "fpm-max-children" in pool_line


def test_messages_before_the_start_are_left_out(stack: dict) -> None:
    """A limit message dated before php-fpm's master started is not this run's."""
    log = stack["root"] / "php-fpm.log"
    old = "[01-Jan-2020 00:00:00] WARNING: [pool www] server reached pm.max_children setting (3)"
    with open(log, "a") as f:
        f.write(old + ", consider raising it\n")
    done = httpdlint("measure", str(stack["conf"]), "--format", "json")
    assert done.returncode == 0, done.stderr
    (pool,) = [p for p in json.loads(done.stdout)["pools"] if p["master"] == stack["fpm"]]
    assert not [m for m in pool["demand"]["messages"] if "2020" in m["text"]]
    os.truncate(log, os.path.getsize(log) - len(old) - len(", consider raising it\n"))
