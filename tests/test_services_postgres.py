"""A real PostgreSQL asked for its shared_buffers over its own socket: the value in force is
reserved even when postgresql.conf was edited since the server started.

The test makes its own cluster (initdb in a temporary directory, as the postgres user), starts
it with 96 MB of shared buffers on a Unix socket only, then edits the file down to 16 MB
without a restart: only the running server knows 96 MB are held.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from stacklab import free_port, need

from httpdlint import measure, services

MIB = 1024**2


@pytest.fixture
def cluster():
    """(postgres PID, its data directory): a cluster of our own, stopped by PID."""
    need(os.geteuid() == 0, "root (to run PostgreSQL as its own user)")
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    need(bool(binaries) and os.path.isfile(services.PSQL), "PostgreSQL (.ci/run installs it)")
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        need(False, "the postgres user")
    bindir = Path(binaries[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="httpdlint-pg-"))
    os.chown(root, owner.pw_uid, owner.pw_gid)
    data, sockets = root / "data", root / "run"
    as_postgres = {"user": owner.pw_uid, "group": owner.pw_gid, "cwd": root}
    env = {"PATH": "/usr/bin:/bin", "LANG": "C"}
    subprocess.run(
        [bindir / "initdb", "-D", data, "-A", "peer", "--no-sync"],
        check=True, capture_output=True, env=env, timeout=120, **as_postgres,
    )  # fmt: skip
    subprocess.run(["install", "-d", "-o", "postgres", sockets], check=True)
    port = free_port()
    conf = data / "postgresql.conf"
    conf.write_text(
        conf.read_text()
        + f"\nshared_buffers = 96MB\nlisten_addresses = ''\nport = {port}\n"
        + f"unix_socket_directories = '{sockets}'\n"
    )
    server = subprocess.Popen(
        [bindir / "postgres", "-D", data],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True, **as_postgres,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (sockets / f".s.PGSQL.{port}").exists():
            assert server.poll() is None, "postgres exited"
            assert time.monotonic() < deadline, "postgres did not open its socket"
            time.sleep(0.1)
        yield server.pid, data
    finally:
        os.kill(server.pid, signal.SIGINT)  # fast shutdown
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def test_the_value_in_force_is_reserved(cluster):
    pid, data = cluster
    conf = data / "postgresql.conf"
    # Edited since the start, not restarted: the files now say 16 MB.
    conf.write_text(conf.read_text().replace("shared_buffers = 96MB", "shared_buffers = 16MB"))

    seen = measure.measure()
    entry = next(s for s in seen.services if pid in s.pids)
    assert entry.kind == "postgresql"
    assert entry.ceiling == 96 * MIB, entry.source
    assert "SHOW shared_buffers via" in entry.source and "16 MiB" in entry.source
    assert entry.reserved >= 96 * MIB

    # The other way round (the files ask for more than is in force): the files' value, and
    # the value in force named beside it.
    conf.write_text(conf.read_text().replace("shared_buffers = 16MB", "shared_buffers = 256MB"))
    entry = next(s for s in measure.measure().services if pid in s.pids)
    assert entry.ceiling == 256 * MIB and "in force now 96 MiB" in entry.source, entry.source
