"""Co-hosted services reserved at their configured ceiling (issue 14, must-show 3).

A real redis-server (Debian's package; CI installs it and stops the packaged service) is
started by the test on a free 127.0.0.1 port with `maxmemory` far above what it holds, and
stopped by PID: `measure`, the sizing's inputs and `suggest` must reserve its ceiling, in its
own reserve entry, with the source naming INFO maxmemory. memcached, MariaDB/MySQL,
PostgreSQL, JVM and Varnish are not run here: their command lines and configuration files
(tests/fixtures/services) are read through the same functions, with a fixture /proc that
holds only the files those functions read.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, IN_CI
from stacklab import free_port, stop_pid

from httpdlint import measure as m
from httpdlint import service_config as cfg
from httpdlint import services
from httpdlint.inputs import SizingOptions, gather
from httpdlint.procfs import ProcessInfo
from httpdlint.services import ServiceReserve, find_services

MIB = 1 << 20
GIB = 1 << 30
HERE = FIXTURES / "services"


def redis_bin() -> str:
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(path):
        if IN_CI:
            pytest.fail("redis-server is required in CI (CI=true): .ci/run installs it")
        pytest.skip("redis-server not installed")
    return path


def start_redis(tmp: Path, *extra: str, port: int | None = None, sock: Path | None = None):
    """A test-owned redis-server in the foreground, its own session; (Popen, address)."""
    argv = [redis_bin(), "--port", str(port or 0), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--daemonize", "no", "--dir", str(tmp), *extra]
    if sock is not None:
        argv += ["--unixsocket", str(sock)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 10
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if sock is not None:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(sock))
            else:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if time.monotonic() > deadline:
                stop_pid(proc.pid)
                raise
            time.sleep(0.05)


@pytest.fixture
def redis(tmp_path: Path):
    """redis-server with maxmemory 512mb, far above the few MiB it holds empty."""
    port = free_port()
    proc = start_redis(tmp_path, "--maxmemory", "512mb", port=port)
    yield proc.pid, port
    stop_pid(proc.pid)
    proc.wait(timeout=15)


def entry_for(found: list[ServiceReserve], pid: int) -> ServiceReserve:
    match = [s for s in found if pid in s.pids]
    assert len(match) == 1, [s.to_json() for s in found]
    return match[0]


# --------------------------------------------------------------------------- a real Redis


def test_redis_reserved_at_maxmemory_in_measure_and_the_sizing(redis) -> None:
    pid, port = redis
    measured = m.measure()
    entry = entry_for(measured.services, pid)
    assert entry.name == "redis-server" and entry.kind == "redis" and entry.pids == (pid,)
    assert entry.measured < 64 * MIB  # an empty Redis: far below its ceiling
    assert entry.ceiling is not None and entry.ceiling >= 512 * MIB
    assert entry.reserved == entry.ceiling
    assert "INFO memory maxmemory 512 MiB" in entry.source
    assert f"127.0.0.1:{port}" in entry.source
    assert entry.to_json()["reserved_bytes"] >= 512 * MIB

    # The sizing of this machine: the Redis entry in the inputs, and in the reserve.
    gathered = gather(None, SizingOptions(child=20 * MIB), measured)
    assert gathered.mode == "this-machine"
    row = gathered.inputs["reserve redis-server"]
    assert row.value == entry.reserved and row.source == "config"
    assert "ceiling" in row.note and "maxmemory" in row.note and "reserved the larger" in row.note
    reserve = gathered.inputs["reserve"].value
    unknown = measured.others_pss_bytes - sum(s.current for s in measured.services)
    assert reserve >= unknown + entry.reserved
    assert reserve >= measured.others_pss_bytes - entry.measured + 512 * MIB
    assert gathered.sizing.reserve == reserve

    # --reserve still overrides everything.
    given = gather(None, SizingOptions(child=20 * MIB, reserve=100 * MIB), measured)
    assert given.inputs["reserve"].value == 100 * MIB and given.services == []
    assert "reserve redis-server" not in given.inputs


def run(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", *args], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_cli_suggest_and_measure_list_the_redis_reserve_entry(redis) -> None:
    pid, port = redis
    done = run("suggest", "--child-size", "20M", "--mpm", "prefork", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    [entry] = [e for e in data["reserve"] if pid in e["pids"]]
    assert entry["name"] == "redis-server"
    assert entry["ceiling_bytes"] >= 512 * MIB and entry["reserved_bytes"] == entry["ceiling_bytes"]
    assert entry["measured_bytes"] < entry["ceiling_bytes"]
    assert "INFO memory maxmemory" in entry["source"]
    assert data["reserved_bytes"] >= entry["reserved_bytes"]
    assert data["sources"]["reserve redis-server"] == "config"

    text = run("suggest", "--child-size", "20M", "--mpm", "prefork").stdout
    assert "reserve redis-server" in text and "maxmemory 512 MiB" in text

    measured = json.loads(run("measure", "--format", "json").stdout)
    [listed] = [e for e in measured["services"] if pid in e["pids"]]
    assert listed["reserved_bytes"] >= 512 * MIB and "maxmemory" in listed["source"]
    assert "redis-server" in run("measure").stdout.split("Co-hosted services")[1]


def test_sampling_keeps_the_redis_entry_at_its_peak(redis) -> None:
    pid, _ = redis
    result = m.sample(0.2, 0.1)
    entry = entry_for(result.services, pid)
    assert entry.ceiling >= 512 * MIB and entry.measured > 0


def test_redis_without_maxmemory_is_reserved_as_measured_and_says_so(tmp_path: Path) -> None:
    port = free_port()
    proc = start_redis(tmp_path, port=port)
    try:
        entry = entry_for(m.measure().services, proc.pid)
    finally:
        stop_pid(proc.pid)
        proc.wait(timeout=15)
    assert entry.ceiling is None and entry.reserved == entry.measured
    assert "maxmemory 0, no limit" in entry.source
    assert "reserved the measured" in entry.note()


def test_redis_on_a_unix_socket_only(tmp_path: Path) -> None:
    sock = tmp_path / "redis.sock"
    proc = start_redis(tmp_path, "--maxmemory", "300mb", sock=sock)
    try:
        entry = entry_for(m.measure().services, proc.pid)
    finally:
        stop_pid(proc.pid)
        proc.wait(timeout=15)
    assert entry.ceiling >= 300 * MIB and f"via {sock}" in entry.source


def test_redis_that_wants_a_password_is_reserved_as_measured_with_the_reason(
    tmp_path: Path,
) -> None:
    port = free_port()
    proc = start_redis(tmp_path, "--maxmemory", "300mb", "--requirepass", "s3cret", port=port)
    try:
        entry = entry_for(m.measure().services, proc.pid)
    finally:
        stop_pid(proc.pid)
        proc.wait(timeout=15)
    assert entry.ceiling is None and entry.reserved == entry.measured
    assert "INFO refused" in entry.source and "NOAUTH" in entry.source
    assert "s3cret" not in entry.source


# --------------------------------------------------------------------------- bounded asks


def test_ask_refuses_an_address_that_is_not_loopback() -> None:
    with pytest.raises(OSError, match="not a loopback address"):
        services.ask(("tcp", "192.0.2.1:6379"), b"PING\r\n", lambda r: True)


def test_ask_gives_up_on_a_silent_listener_after_a_second() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(OSError):
            services.ask(("tcp", f"127.0.0.1:{port}"), b"stats\r\n", lambda r: False)
        assert time.monotonic() - start < 3


def test_ask_stops_reading_a_reply_without_end() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def flood() -> None:
            conn, _ = server.accept()
            with conn, __import__("contextlib").suppress(OSError):
                for _ in range(64):
                    conn.sendall(b"STAT x 1\r\n" * 1000)

        writer = threading.Thread(target=flood)
        writer.start()
        with pytest.raises(OSError, match="larger than"):
            services.ask(("tcp", f"*:{port}"), b"stats\r\n", lambda r: False)
        writer.join(10)


# --------------------------------------------------------------------------- command lines


def fake_proc(tmp: Path, pid: int, argv: list[str], environ: dict[str, str] | None = None) -> str:
    """A fixture /proc with the one process's cmdline (and environ): all a reader needs."""
    d = tmp / "proc" / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    env = environ or {}
    (d / "environ").write_bytes(b"".join(f"{k}={v}\0".encode() for k, v in env.items()))
    return str(tmp / "proc")


def info(pid: int, name: str, ppid: int = 1, pss: int = 10 * MIB) -> ProcessInfo:
    return ProcessInfo(pid, ppid, name, pss, pss, pss, 0, 1, 0, 100.0)


def test_memcached_options_and_the_ceiling_from_its_command_line(tmp_path: Path) -> None:
    assert cfg.memcached_options(["memcached", "-m", "64", "-p", "11211", "-u", "memcache"]) == {
        "m": "64",
        "p": "11211",
    }
    assert cfg.memcached_options(["memcached", "-m1024", "--listen=127.0.0.1"]) == {
        "m": "1024",
        "l": "127.0.0.1",
    }
    assert cfg.memcached_options(["memcached", "--memory-limit", "2g"])["m"] == "2g"
    assert cfg.memcached_size("64") == 64 * MIB and cfg.memcached_size("2g") == 2 * GIB
    # Its port answers nothing here (a free port): the command line's -m, + 10 %.
    port = str(free_port())
    argv = ["/usr/bin/memcached", "-m", "1024", "-p", port, "-l", "127.0.0.1"]
    proc = fake_proc(tmp_path, 4242, argv)
    ceiling, source, basis = services.memcached_ceiling(info(4242, "memcached"), 0, proc=proc)
    assert ceiling == int(1024 * MIB * 1.10) and basis == "config"
    assert source.startswith("memcached -m 1024 (command line) + 10 %")
    assert f"stats via 127.0.0.1:{port} failed" in source


def test_memcached_without_m_is_its_default(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, 4243, ["memcached", "-p", str(free_port())])
    ceiling, source, basis = services.memcached_ceiling(info(4243, "memcached"), 0, proc=proc)
    assert ceiling == int(64 * MIB * 1.10) and basis == "default" and "default 64 MiB" in source


@pytest.mark.parametrize(
    ("argv", "environ", "heap", "how"),
    [
        (["java", "-Xms512m", "-Xmx2g", "-jar", "app.jar", "-Xmx9g"], {}, 2 * GIB, "-Xmx2g"),
        (["java", "-XX:MaxHeapSize=1073741824", "Main"], {}, GIB, "MaxHeapSize"),
        # JAVA_TOOL_OPTIONS comes first: the command line's -Xmx wins.
        (["java", "-Xmx768m", "Main"], {"JAVA_TOOL_OPTIONS": "-Xmx4g"}, 768 * MIB, "-Xmx768m"),
        (["java", "-cp", "-Xmx5g", "Main"], {"JAVA_TOOL_OPTIONS": "-Xmx3G"}, 3 * GIB, "-Xmx3G"),
        (["java", "-XX:MaxRAMPercentage=50", "Main"], {}, 4 * GIB, "MaxRAMPercentage 50 %"),
        (["java", "Main"], {}, 2 * GIB, "no -Xmx: MaxRAMPercentage 25 %"),
    ],
)
def test_jvm_heap_from_its_options(argv, environ, heap, how) -> None:
    got, text, _ = cfg.jvm_heap(cfg.java_options(argv, environ), 8 * GIB)
    assert got == heap and how in text


def test_jvm_ceiling_adds_the_documented_overhead(tmp_path: Path) -> None:
    argv = ["/usr/bin/java", "-Xmx2g", "-XX:MaxDirectMemorySize=256m", "-jar", "app.jar"]
    proc = fake_proc(tmp_path, 777, argv)
    ceiling, source, basis = services.jvm_ceiling(info(777, "java"), 0, 8 * GIB, proc)
    assert ceiling == 2 * GIB + 512 * MIB + 256 * MIB and basis == "config"
    assert "-Xmx2g" in source and "512 MiB overhead" in source and "MaxDirectMemorySize" in source
    # A small heap: the 256 MiB floor, not 25 %.
    small = fake_proc(tmp_path / "small", 778, ["java", "-Xmx256m", "Main"])
    assert services.jvm_ceiling(info(778, "java"), 0, 8 * GIB, small)[0] == 512 * MIB


@pytest.mark.parametrize(
    ("argv", "ceiling", "words"),
    [
        (["varnishd", "-F", "-a", ":6081", "-s", "malloc,1G"], int(1.25 * GIB), "-s malloc,1G"),
        (["varnishd", "-smalloc,256m", "-s", "Transient=malloc,64m"], 400 * MIB, "Transient"),
        (["varnishd", "-a", ":80", "-f", "/etc/varnish/default.vcl"], 125 * MIB, "default"),
        (["varnishd", "-s", "file,/var/lib/varnish/store,10G"], 0, "page cache"),
    ],
)
def test_varnish_storage_and_its_overhead(argv, ceiling, words) -> None:
    got, source = services.varnish_ceiling_of(cfg.varnish_storage(argv))
    assert got == ceiling and words in source and "25 %" in source
    if "Transient" not in " ".join(argv):
        assert "Transient storage unbounded" in source


# --------------------------------------------------------------------------- configuration files


def test_my_cnf_follows_includedir_and_only_the_servers_groups() -> None:
    options, read = cfg.read_my_cnf([str(HERE / "mysql" / "my.cnf")])
    assert options["innodb_buffer_pool_size"][0] == "2G"
    assert options["innodb_buffer_pool_size"][1].endswith("60-tuning.cnf")
    assert options["key_buffer_size"][0] == "16M"  # [mysql]'s 999M is the client's
    assert options["innodb_log_buffer_size"][0] == "32M"
    assert [os.path.basename(p) for p in read] == [
        "my.cnf", "mysql.cnf", "50-server.cnf", "60-tuning.cnf",
    ]  # fmt: skip


def test_mysql_ceiling_from_its_defaults_file_and_command_line(tmp_path: Path) -> None:
    cnf = str(HERE / "mysql" / "my.cnf")
    proc = fake_proc(tmp_path, 3306, ["/usr/sbin/mariadbd", f"--defaults-file={cnf}"])
    ceiling, source, basis = services.mysql_ceiling(info(3306, "mariadbd"), 0, proc=proc)
    assert ceiling == int(2 * GIB * 1.1) + 32 * MIB + 16 * MIB and basis == "config"
    assert source.startswith("my.cnf innodb_buffer_pool_size 2 GiB (")
    assert "+ 10 % InnoDB" in source and "key_buffer_size 16 MiB" in source
    # The command line comes after the files.
    argv = ["mysqld", f"--defaults-file={cnf}", "--innodb-buffer-pool-size=4G"]
    proc2 = fake_proc(tmp_path / "2", 3307, argv)
    assert (
        services.mysql_ceiling(info(3307, "mysqld"), 0, proc=proc2)[0]
        == int(4 * GIB * 1.1) + 48 * MIB
    )
    # No option file: InnoDB's default pool.
    proc3 = fake_proc(tmp_path / "3", 3308, ["mysqld", f"--defaults-file={tmp_path}/none.cnf"])
    ceiling, source, basis = services.mysql_ceiling(info(3308, "mysqld"), 0, proc=proc3)
    assert ceiling == int(128 * MIB * 1.1) + 16 * MIB and basis == "default"


def test_postgresql_conf_includes_units_and_auto_conf(tmp_path: Path) -> None:
    conf = HERE / "postgresql" / "postgresql.conf"
    settings, read = cfg.read_postgresql_conf(str(conf))
    assert settings["shared_buffers"][0] == "262144"  # conf.d, after the main file's 128MB
    assert cfg.postgres_size("262144") == 2 * GIB and cfg.postgres_size("128MB") == 128 * MIB
    assert settings["work_mem"][0] == "4MB"
    data = HERE / "postgresql" / "data"
    argv = ["/usr/lib/postgresql/15/bin/postgres", "-D", str(data), "-c", f"config_file={conf}"]
    proc = fake_proc(tmp_path, 5432, argv)
    ceiling, source, basis = services.postgres_ceiling(info(5432, "postgres"), 0, proc=proc)
    assert ceiling == 3 * GIB and basis == "config"  # ALTER SYSTEM's postgresql.auto.conf
    assert source.startswith("postgresql.conf shared_buffers 3 GiB (") and "auto.conf" in source
    proc2 = fake_proc(tmp_path / "2", 5433, [*argv, "-c", "shared_buffers=1GB"])
    ceiling, source, _ = services.postgres_ceiling(info(5433, "postgres"), 0, proc=proc2)
    assert ceiling == GIB and "postgres -c shared_buffers 1 GiB" in source


def test_redis_sizes_are_redis_own_units() -> None:
    assert cfg.redis_size("512mb") == 512 * MIB and cfg.redis_size("1gb") == GIB
    assert cfg.redis_size("1m") == 10**6 and cfg.redis_size("100") == 100
    with pytest.raises(ValueError):
        cfg.redis_size("lots")


# --------------------------------------------------------------------------- recognising


def test_services_are_grouped_with_their_processes_and_others_left_out(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, 10, ["postgres", "-D", str(tmp_path / "nodata")])
    varnish = fake_proc(tmp_path / "v", 20, ["varnishd", "-s", "malloc,512m"])
    os.symlink(f"{varnish}/20", f"{proc}/20")
    others = [
        info(10, "postgres", pss=40 * MIB),
        info(11, "postgres", 10, pss=5 * MIB),  # a backend
        info(12, "postgres", 10, pss=5 * MIB),
        info(20, "varnishd", pss=3 * MIB),
        info(21, "cache-main", 20, pss=30 * MIB),  # varnishd's cache child
        info(30, "sshd", pss=4 * MIB),
        info(31, "bash", 30, pss=2 * MIB),
    ]
    found = {s.kind: s for s in find_services(others, physical=8 * GIB, proc=proc)}
    assert set(found) == {"postgresql", "varnish"}
    pg = found["postgresql"]
    assert pg.pids == (10, 11, 12) and pg.measured == 50 * MIB
    assert pg.ceiling == 128 * MIB and pg.basis == "default" and "default" in pg.source
    assert found["varnish"].pids == (20, 21) and found["varnish"].measured == 33 * MIB
    assert found["varnish"].ceiling == 640 * MIB


def test_merge_peaks_keeps_the_largest_size_seen() -> None:
    early = [ServiceReserve("redis-server", "redis", (5,), 90 * MIB, 512 * MIB, "x", current=1)]
    late = [ServiceReserve("redis-server", "redis", (5,), 20 * MIB, 512 * MIB, "y", current=20)]
    [merged] = services.merge_peaks(early, late)
    assert merged.measured == 90 * MIB and merged.current == 20 and merged.source == "y"
    big = [ServiceReserve("java", "jvm", (6,), 3 * GIB, 2 * GIB, "z")]
    assert services.merge_peaks([], big)[0].reserved == 3 * GIB  # above its ceiling: measured


def test_a_setting_that_is_no_size_leaves_the_measured_and_is_not_echoed(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, 40, ["postgres", "-D", str(tmp_path), "-c", "shared_buffers=s3cr"])
    [entry] = find_services([info(40, "postgres", pss=7 * MIB)], proc=proc)
    assert entry.ceiling is None and entry.reserved == 7 * MIB and entry.basis == "measured"
    assert entry.source == "could not read its ceiling: not a size" and "s3cr" not in entry.note()
