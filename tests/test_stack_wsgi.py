"""event + mod_wsgi in daemon mode, measured with every httpd worker and daemon thread busy.

`WSGIDaemonProcess app processes=2 threads=5` runs the application in two daemon processes
whose name (comm) and command line are apache2's, like the event children's; httpdlint tells
them apart by the listening socket their group holds. Each request makes its daemon thread hold
HELD_MIB of written memory and 1 MiB of Python objects, then sleeps `hold` seconds. At both
sizes (1 and 2 event processes of 10 threads) the daemons' 10 threads are all busy and httpd's
10 x size threads all hold a request (those beyond 10 wait on the daemons' socket). The
daemons are a fixed cost (the `daemons` term, at their own processes=); an event child only
relays requests, so it is small, and it is what the recommendation multiplies.

Between 1 and 2 event processes the truth grows by one event child, about 5 MiB, so the true
maximum extrapolated to about 147 processes moves by 4 % per 0.2 MiB of error in either truth.
The kernel's figures repeat within 0.03 MiB; the application's must too. Hence the Python
objects are 1 KiB bytes objects, which CPython takes from malloc: small ones (dicts, short
strings) come from pymalloc's arenas, shared by the daemon's five threads, and a daemon then
steps up by 0.8 MiB once, after two to four rounds of requests. The procedure warms up with
two rounds of busy(size) requests, which the daemons serve in two rounds at size 1 and four
at size 2: the step lands in one truth and not the other, and the true maximum came out
anywhere from 113 to 149 (10 of 25 pairs of runs passed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from stacklab import free_port, hold_all, memcg_or_skip, start_apache, stop_pid
from stackrun import MIB, MODULES, Stack, base_config, httpdlint, judge, need, run_point

pytestmark = pytest.mark.apache

HELD_MIB = 6
DAEMON_PROCESSES = 2
DAEMON_THREADS = 5
THREADS_PER_CHILD = 10

APP = f"""\
import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    held = bytearray({HELD_MIB} * 1024 * 1024)
    for i in range(0, len(held), 4096):
        held[i] = 1
    rows = [b"%07d " % i * 128 for i in range(1000)]
    hold = float(parse_qs(environ.get("QUERY_STRING", "")).get("hold", ["0"])[0])
    time.sleep(hold)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d %d %d\\n" % (os.getpid(), len(held), len(rows))]
"""


def write(root: Path, port: int, size: int, *, prefix: str = "wsgi") -> Path:
    (root / "app.wsgi").write_text(APP)
    conf = root / "httpd.conf"
    conf.write_text(
        base_config(root, port, "event")
        + f"""\
LoadModule wsgi_module {MODULES}/mod_wsgi.so
StartServers {size}
ServerLimit {size}
ThreadLimit {THREADS_PER_CHILD}
ThreadsPerChild {THREADS_PER_CHILD}
MinSpareThreads 1
MaxSpareThreads {THREADS_PER_CHILD * size}
MaxRequestWorkers {THREADS_PER_CHILD * size}
MaxConnectionsPerChild 0
WSGISocketPrefix {root}/{prefix}
WSGIDaemonProcess app processes={DAEMON_PROCESSES} threads={DAEMON_THREADS}
WSGIProcessGroup app
WSGIApplicationGroup %{{GLOBAL}}
WSGIScriptAlias /app {root}/app.wsgi
"""
    )
    return conf


STACK = Stack(
    f"event + mod_wsgi daemon mode (processes={DAEMON_PROCESSES} threads={DAEMON_THREADS})",
    write,
    lambda size: THREADS_PER_CHILD * size,
    "/app?hold={hold}",
)


def test_event_mod_wsgi_daemon_mode(apache2_bin: str) -> None:
    need(MODULES / "mod_wsgi.so", "libapache2-mod-wsgi-py3")
    small = run_point(STACK, apache2_bin, 1)
    large = run_point(STACK, apache2_bin, 2)
    judge(STACK, small, large)
    slots = DAEMON_PROCESSES * DAEMON_THREADS
    for p in (small, large):
        s = p.suggestion
        daemons = s["daemons"]
        workers = s["recommended"]["MaxRequestWorkers"]
        concurrency = [w["message"] for w in s["warnings"] if w["code"] == "concurrency"]
        print(
            f"  size {p.size}: running {s['running']['children']} children, "
            f"{s['running']['daemons']} daemons; "
            + ", ".join(
                f"{d['name']} {d['count']} x {d['each_bytes'] / MIB:.2f} MiB "
                f"({d['total_bytes'] / MIB:.1f} MiB with margin and kernel)"
                for d in daemons
            )
            + f"; MaxRequestWorkers {workers} for {slots} daemon threads"
            + (": concurrency warned" if concurrency else "")
        )
        # The daemons are one fixed term at their processes=, not children.
        assert [(d["name"], d["count"], d["threads"]) for d in daemons] == [
            ("wsgi:app", DAEMON_PROCESSES, DAEMON_THREADS)
        ], daemons
        assert s["running"]["children"] == p.size, s["running"]
        assert s["running"]["daemons"] == DAEMON_PROCESSES, s["running"]
        assert s["sources"]["daemon wsgi:app"] == "measured"
        # A daemon holds its busy threads' request memory; an event child only relays.
        assert daemons[0]["each_bytes"] >= DAEMON_THREADS * HELD_MIB * MIB
        assert s["child_bytes"] < HELD_MIB * MIB, s["child_bytes"]
        assert s["running"]["largest_child_private"] < HELD_MIB * MIB
        assert s["running"]["busy_seen"] is True and s["sizing"] == "given-ram"
        # Daemon mode runs no application in the children: nothing to recycle them for.
        assert "MaxConnectionsPerChild" not in s["recommended"]
        # Over a thousand recommended workers sit in front of 10 daemon threads: said so. The
        # running 10 x size workers are at most 4 per thread: nothing said about them.
        assert workers > 4 * slots
        assert len(concurrency) == 1, s["warnings"]
        assert f"MaxRequestWorkers {workers} (recommended)" in concurrency[0]
        assert f"{slots} backend slots" in concurrency[0]
        assert not [line for line in s["explanation"] if "(now)" in line]


def test_daemons_found_whatever_the_socket_prefix(apache2_bin: str) -> None:
    """WSGISocketPrefix is any path; mod_wsgi appends .PARENT.GENERATION.ID.sock to it."""
    need(MODULES / "mod_wsgi.so", "libapache2-mod-wsgi-py3")
    root = Path(tempfile.mkdtemp(prefix="httpdlint-stack-"))
    os.chmod(root, 0o755)  # the children and daemons run as www-data
    (root / "run").mkdir(mode=0o755)
    port = free_port()
    conf = write(root, port, 1, prefix="run/app")
    pid = None
    try:
        with memcg_or_skip() as cg:
            try:
                pid = start_apache(apache2_bin, conf, cg)
                with hold_all(f"http://127.0.0.1:{port}/app?hold=0.5", 10, 0.5, settle=0.3):
                    pass
                tree = httpdlint("measure", "--pid", str(pid), "--format", "json")["httpd"][0]
            finally:
                if pid is not None:
                    stop_pid(pid)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert (tree["children"], tree["daemons"]) == (1, {"wsgi#1": DAEMON_PROCESSES}), tree
