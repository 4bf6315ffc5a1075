"""Demand's parts without servers: mod_status's ?auto page, PHP-FPM's status answer, the
FastCGI records (and the client's bounds against real sockets that are not PHP-FPM), the
limit messages of httpd, mod_proxy and PHP-FPM in logs written here, and where a status page
is looked for. The same parts against a real apache2 and php-fpm: test_demand_live.py."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from httpdlint import fastcgi, history
from httpdlint.demand import fpm_error_log, parse_auto, parse_fpm_status, status_urls
from httpdlint.fpm import read_fpm_config
from httpdlint.model import load_model

AUTO_24 = """\
127.0.0.1
ServerVersion: Apache/2.4.62 (Debian)
ServerMPM: event
Total Accesses: 12
BusyWorkers: 4
IdleWorkers: 21
Processes: 1
Scoreboard: _W_KWW___________________..........................
"""
AUTO_22 = """\
Total Accesses: 3
Total kBytes: 1
BusyWorkers: 2
IdleWorkers: 5
Scoreboard: _WW____...
"""


def test_parse_auto_24_and_22() -> None:
    page = parse_auto(AUTO_24)
    assert page is not None
    assert (page["busy"], page["idle"], page["slots"]) == (4, 21, 51)
    assert page["scoreboard"] == {"_": 21, "W": 3, "K": 1, ".": 26}
    old = parse_auto(AUTO_22)
    assert old is not None and (old["busy"], old["idle"], old["slots"]) == (2, 5, 10)


@pytest.mark.parametrize(
    "text", ["", "<html><body>It works!</body></html>", "BusyWorkers: many\nIdleWorkers: 3"]
)
def test_parse_auto_refuses_what_is_not_a_status_page(text: str) -> None:
    assert parse_auto(text) is None


FPM_JSON = (
    b'{"pool":"www","process manager":"dynamic","start time":1796650000,"start since":60,'
    b'"accepted conn":40,"listen queue":2,"max listen queue":5,"listen queue len":511,'
    b'"idle processes":0,"active processes":3,"total processes":3,'
    b'"max active processes":3,"max children reached":4,"slow requests":0}'
)


def test_parse_fpm_status() -> None:
    answer = b"Content-type: application/json\r\nExpires: 0\r\n\r\n" + FPM_JSON
    status = parse_fpm_status(answer)
    assert status["max children reached"] == 4 and status["max active processes"] == 3
    with pytest.raises(ValueError, match="404"):
        parse_fpm_status(b"Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.")
    with pytest.raises(ValueError):
        parse_fpm_status(b"Content-type: text/html\r\n\r\n<html>pong</html>")
    with pytest.raises(ValueError):
        parse_fpm_status(b'Content-type: application/json\r\n\r\n{"pool": "www"}')


def test_fastcgi_records_and_params() -> None:
    record = fastcgi.encode_record(fastcgi.STDOUT, b"hello", request_id=3)
    assert len(record) == 8 + 8  # 5 bytes of content padded to 8
    assert record[:8] == bytes([1, 6, 0, 3, 0, 5, 3, 0])
    data = record + fastcgi.encode_record(fastcgi.END_REQUEST, bytes(8), request_id=3)
    assert list(fastcgi.decode_records(data)) == [
        (fastcgi.STDOUT, 3, b"hello"),
        (fastcgi.END_REQUEST, 3, bytes(8)),
    ]
    assert list(fastcgi.decode_records(data[:-3])) == [(fastcgi.STDOUT, 3, b"hello")]
    params = {"A": "", "B" * 200: "x", "C": "y" * 70000}
    encoded = fastcgi.encode_params(params)
    assert encoded[:2] == b"\x01\x00"  # short lengths take one byte each
    assert fastcgi.decode_params(encoded) == params
    with pytest.raises(ValueError):
        fastcgi.decode_params(encoded[:-1])
    # PARAMS content above one record's 65535 bytes is split over several records.
    whole = fastcgi.request_bytes(params)
    kinds = [kind for kind, _, _ in fastcgi.decode_records(whole)]
    assert kinds.count(fastcgi.PARAMS) == 3 and kinds[0] == fastcgi.BEGIN_REQUEST
    assert kinds[-1] == fastcgi.STDIN
    with pytest.raises(ValueError):
        fastcgi.encode_record(fastcgi.STDIN, bytes(70000))


def _server(answer: bytes | None, hold: float = 0.0) -> tuple[int, threading.Thread]:
    """A real listener on 127.0.0.1 that reads a request and answers `answer` (None: nothing,
    holding the connection `hold` seconds)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                if answer is not None:
                    conn.sendall(answer)
                time.sleep(hold)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_fastcgi_client_refuses_a_listener_that_is_not_fastcgi() -> None:
    port, thread = _server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(fastcgi.FastCGIError, match="not a FastCGI record"):
        fastcgi.request(f"tcp:127.0.0.1:{port}", {"A": "b"}, timeout=2)
    thread.join(5)


def test_fastcgi_client_gives_up_on_a_silent_listener() -> None:
    port, thread = _server(None, hold=3.0)
    started = time.monotonic()
    with pytest.raises(fastcgi.FastCGIError, match="within 0.5 s"):
        fastcgi.request(f"tcp:127.0.0.1:{port}", {"A": "b"}, timeout=0.5)
    assert time.monotonic() - started < 2
    thread.join(5)


def test_fastcgi_client_bounds_the_answer() -> None:
    flood = fastcgi.encode_record(fastcgi.STDOUT, b"x" * 60000) * 3
    port, thread = _server(flood, hold=1.0)
    with pytest.raises(fastcgi.FastCGIError, match="larger than"):
        fastcgi.request(f"tcp:127.0.0.1:{port}", {"A": "b"}, timeout=2, limit=64 * 1024)
    thread.join(5)


# --------------------------------------------------------------------------- log messages

FPM_LINE = (
    "[07-Dec-2026 14:00:00] WARNING: [pool www] server reached pm.max_children setting (3), "
    "consider raising it"
)
ONDEMAND_LINE = (
    "[07-Dec-2026 14:00:01] WARNING: [pool api] server reached max_children setting (5), "
    "consider raising it"
)
BUSY_LINE = (
    "[07-Dec-2026 14:00:02.123456] WARNING: [pool www] seems busy (you may need to increase "
    "pm.start_servers, or pm.min/max_spare_servers), spawning 8 children, there are 0 idle, "
    "and 9 total children"
)
PROXY_LINES = [
    ("[Mon Dec 07 14:00:03.000001 2026] [proxy:error] [pid 9:tid 10] (111)Connection refused: "
     "AH00957: FCGI: attempt to connect to 127.0.0.1:9000 (127.0.0.1:9000) failed", "AH00957"),
    ("[Mon Dec 07 14:00:03.000002 2026] [proxy_fcgi:error] [pid 9:tid 10] [client 127.0.0.1:1] "
     "AH01079: failed to make connection to backend: 127.0.0.1", "AH01079"),
    ("[Mon Dec 07 14:00:03.000003 2026] [proxy:error] [pid 9:tid 10] (2)No such file or "
     "directory: AH02454: FCGI: attempt to connect to Unix domain socket /run/php/x.sock "
     "(localhost:8000) failed", "AH02454"),
    ("[Mon Dec 07 14:00:03.000004 2026] [proxy:error] [pid 9:tid 10] AH00959: "
     "ap_proxy_connect_backend disabling worker for (127.0.0.1:9000) for 60s", "AH00959"),
    ("[Mon Dec 07 14:00:03.000005 2026] [proxy_fcgi:error] [pid 9:tid 10] (104)Connection reset "
     "by peer: [client 127.0.0.1:2] AH01075: Error dispatching request to 127.0.0.1:9000:",
     "AH01075"),
]  # fmt: skip


def test_classify_php_fpm_and_proxy_lines() -> None:
    assert history.classify(FPM_LINE) == ("fpm-max-children", "fpm-max-children")
    assert history.classify(ONDEMAND_LINE) == ("fpm-max-children", "fpm-max-children")
    assert history.classify(BUSY_LINE) == ("fpm-busy", "fpm-busy")
    for line, code in PROXY_LINES:
        assert history.classify(line)[0] == code
    mpm = "[Mon Dec 07 14:00:04.5 2026] [mpm_event:error] [pid 1:tid 1] AH00484: server reached "
    assert history.classify(mpm + "MaxRequestWorkers setting") == ("AH00484", "reached")
    assert history.classify("[Mon Dec 07 14:00:00 2026] [notice] AH00094: Command line") is None


def test_log_time_reads_both_formats() -> None:
    fpm = history.log_time(FPM_LINE)
    httpd = history.log_time(PROXY_LINES[0][0])
    assert fpm is not None and httpd is not None and httpd - fpm == 3
    assert history.log_time("[Mon Dec 07 14:00:00 2026] [error] server reached MaxClients") == fpm
    assert history.log_time(BUSY_LINE) == fpm + 2
    assert history.log_time("no time here") is None
    assert history.log_time("[07-Xyz-2026 14:00:00] WARNING: [pool www] seems busy") is None


def test_messages_since_a_start(tmp_path: Path) -> None:
    log = tmp_path / "php-fpm.log"
    old = FPM_LINE.replace("07-Dec-2026", "06-Dec-2026")
    undated = "WARNING: [pool www] server reached pm.max_children setting (3), consider raising it"
    log.write_text("\n".join([old, undated, FPM_LINE, ONDEMAND_LINE, BUSY_LINE]) + "\n")
    start = history.log_time(FPM_LINE)
    found = history.messages_since(str(log), start)
    assert [(m.code, m.pool, m.line) for m in found] == [
        ("fpm-max-children", "www", 3),
        ("fpm-max-children", "api", 4),
        ("fpm-busy", "www", 5),
    ]
    assert found[0].to_json()["text"] == FPM_LINE and found[0].to_json()["line"] == 3
    # A start within the line's second still counts it (log times have whole seconds).
    assert len(history.messages_since(str(log), start + 0.5)) == 3
    assert len(history.messages_since(str(log), None)) == 4  # the undated one never


def test_messages_since_reads_the_tail_only(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    filler = "[Mon Dec 07 13:00:00.0 2026] [core:notice] [pid 1] AH00094: padding\n" * 200
    log.write_text(PROXY_LINES[0][0] + "\n" + filler + PROXY_LINES[1][0] + "\n")
    found = history.messages_since(str(log), None, limit=4096)
    # The first message is beyond the tail; line numbers are unknown in a tail.
    assert [(m.code, m.line) for m in found] == [("AH01079", None)]
    assert "line" not in found[0].to_json()


def test_messages_since_refuses_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "error.log"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        history.messages_since(str(fifo), None)


# --------------------------------------------------------------------------- where to look


def test_status_urls_on_loopback_listeners(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"""\
ServerRoot {tmp_path}
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule status_module /usr/lib/apache2/modules/mod_status.so
Listen 127.0.0.1:8080
Listen 10.1.2.3:81
Listen [::1]:8081
Listen 8443 https
Listen 8082
<Location "/server-status">
    SetHandler server-status
</Location>
<LocationMatch "^/st.*">
    SetHandler server-status
</LocationMatch>
"""
    )
    assert status_urls(load_model(str(conf))) == [
        "http://127.0.0.1:8080/server-status?auto",
        "http://[::1]:8081/server-status?auto",
        "http://127.0.0.1:8082/server-status?auto",
    ]
    # A Location a request line cannot carry as written is sent percent-encoded.
    conf.write_text(conf.read_text().replace('"/server-status"', '"/my status"'))
    assert status_urls(load_model(str(conf)))[0] == "http://127.0.0.1:8080/my%20status?auto"
    conf.write_text(conf.read_text().replace("LoadModule status_module", "#"))
    assert status_urls(load_model(str(conf))) == []


def test_fpm_error_log_paths(tmp_path: Path) -> None:
    conf = tmp_path / "php-fpm.conf"
    pool = "[www]\nlisten = 127.0.0.1:9000\npm = static\npm.max_children = 2\n"
    cases = [
        ("error_log = /var/log/php8.2-fpm.log\n", "/usr", "/var/log/php8.2-fpm.log"),
        ("", "/usr", "/var/log/php-fpm.log"),
        ("error_log = log/fpm.log\n", "/usr/local", "/usr/local/var/log/fpm.log"),
        ("error_log = log/fpm.log\n", str(tmp_path), f"{tmp_path}/log/fpm.log"),
        ("error_log = syslog\n", "/usr", None),
    ]
    for line, prefix, expected in cases:
        conf.write_text("[global]\n" + line + pool)
        assert fpm_error_log(read_fpm_config(str(conf), prefix=prefix)) == expected, line
