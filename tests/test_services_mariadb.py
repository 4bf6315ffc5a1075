"""A real MariaDB asked for its buffers over its own socket: a buffer pool grown with SET
GLOBAL (no file says so) is reserved at its new size.

The test makes its own data directory (mariadb-install-db, owned by mysql), starts mariadbd
with no option files, a Unix socket only and a 64 MB buffer pool, then grows the pool to
256 MB at run time, as an admin tuning a live server does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from stacklab import need

from httpdlint import measure, services

MIB = 1024**2
SERVER = "/usr/sbin/mariadbd"
INSTALL = "/usr/bin/mariadb-install-db"


def _client() -> str:
    return next(c for c in services.MYSQL_CLIENTS if os.path.isfile(c))


@pytest.fixture
def server():
    """(mariadbd PID, its socket): a server of our own, stopped by PID."""
    need(os.geteuid() == 0, "root (to ask MariaDB through unix_socket authentication)")
    need(
        os.path.isfile(SERVER)
        and os.path.isfile(INSTALL)
        and any(os.path.isfile(c) for c in services.MYSQL_CLIENTS),
        "MariaDB (.ci/run installs mariadb-server)",
    )
    try:
        pwd.getpwnam("mysql")
    except KeyError:
        need(False, "the mysql user")
    root = Path(tempfile.mkdtemp(prefix="httpdlint-mariadb-"))
    data, sock = root / "data", root / "mysqld.sock"
    subprocess.run(["install", "-d", "-o", "mysql", "-g", "mysql", data, root], check=True)
    env = {"PATH": "/usr/bin:/usr/sbin:/bin", "LANG": "C"}
    subprocess.run(
        [INSTALL, "--no-defaults", f"--datadir={data}", "--user=mysql",
         "--auth-root-authentication-method=socket", "--skip-test-db"],
        check=True, capture_output=True, env=env, timeout=180,
    )  # fmt: skip
    proc = subprocess.Popen(
        [SERVER, "--no-defaults", f"--datadir={data}", f"--socket={sock}", "--skip-networking",
         "--user=mysql", "--innodb-buffer-pool-size=64M", f"--pid-file={root}/mysqld.pid",
         f"--log-error={root}/error.log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert proc.poll() is None, (root / "error.log").read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "mariadbd did not open its socket"
            time.sleep(0.1)
        yield proc.pid, sock
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _ask(sock: Path, sql: str) -> str:
    done = subprocess.run(
        [_client(), "--no-defaults", "-S", str(sock), "-u", "root", "-N", "-B", "-e", sql],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _expected(sock: Path) -> int:
    """The ceiling from what the server itself says: pool + 10 % + log and key buffers."""
    pool, log, key = map(int, _ask(sock, services._MYSQL_ASK).split())
    return int(pool * 1.1) + log + key


def test_a_pool_grown_at_run_time_is_reserved(server):
    pid, sock = server
    entry = next(s for s in measure.measure().services if pid in s.pids)
    assert entry.kind == "mysql", entry
    # As started: 64 MiB on its command line and in force alike (MariaDB's own default key
    # buffer, 128 MiB, is in what it says).
    assert entry.ceiling == _expected(sock), entry.source

    _ask(sock, "SET GLOBAL innodb_buffer_pool_size = 268435456")
    deadline = time.monotonic() + 60
    while int(_ask(sock, "SELECT @@innodb_buffer_pool_size")) < 256 * MIB:
        assert time.monotonic() < deadline, "the buffer pool did not grow"
        time.sleep(0.5)
    entry = next(s for s in measure.measure().services if pid in s.pids)
    # Only the server knows: its command line still says 64M.
    assert entry.ceiling == _expected(sock) >= int(256 * MIB * 1.1), entry.source
    assert f"via {sock}" in entry.source and "innodb_buffer_pool_size 64 MiB" in entry.source
    assert entry.reserved >= entry.ceiling
