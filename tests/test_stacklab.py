"""The stacklab harness checked against the kernel: each memory source proves itself first.

A helper process inside a fresh memory cgroup does one known thing at a time (touch 100 MiB
of anonymous memory, start 1000 threads, fork 200 processes, fill a shared mapping or a
/dev/shm file, read a file into the page cache) and the harness's `truth()` must move by what
that thing costs, in the right bucket. Then a real prefork httpd: started in the cgroup,
n requests held at once, stopped by PID, the cgroup emptied and removed.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import stacklab
from stacklab import (
    MemCgroup,
    busy_workers,
    free_port,
    hold_all,
    memcg_or_skip,
    start_apache,
    stop_pid,
    truth_from_stat,
)

MIB = 1024**2

# One command a line on stdin, "ok" when done; what it allocates is kept until stdin closes.
HELPER = r"""
import mmap, os, sys, threading
keep, stop = [], threading.Event()
for line in sys.stdin:
    cmd, arg = line.split(maxsplit=1)
    if cmd == "anon":
        keep.append(b"\1" * int(arg))  # every page written
    elif cmd == "shared":
        m = mmap.mmap(-1, int(arg), flags=mmap.MAP_SHARED)
        for i in range(0, len(m), 4096):
            m[i] = 1
        keep.append(m)
    elif cmd == "devshm":
        with open(f"/dev/shm/stacklab-{os.getpid()}", "wb") as f:
            for _ in range(int(arg) // 2**20):
                f.write(b"\1" * 2**20)
    elif cmd == "threads":
        for _ in range(int(arg)):
            threading.Thread(target=stop.wait, daemon=True).start()
    elif cmd == "fork":
        r, w = os.pipe()
        for _ in range(int(arg)):
            if os.fork() == 0:
                os.read(r, 1)  # until the helper goes: the write end closes
                os._exit(0)
        keep.append(w)
    elif cmd == "cache":
        path, size = arg.split()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        for _ in range(int(size) // 2**20):
            os.write(fd, b"\1" * 2**20)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # so the read below is a real one
        os.lseek(fd, 0, 0)
        while os.read(fd, 2**20):
            pass
        os.close(fd)
    print("ok", flush=True)
"""


@pytest.fixture
def cg():
    with memcg_or_skip() as group:
        yield group


class Helper:
    def __init__(self, group: MemCgroup) -> None:
        self.process = group.spawn(
            [sys.executable, "-S", "-c", HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def do(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline() == "ok\n", command


def _delta(group: MemCgroup, helper: Helper, command: str) -> dict[str, int]:
    before = group.truth()
    helper.do(command)
    after = group.truth()
    # Nothing sizable escapes the buckets: with page cache they make up the cgroup's whole
    # charge, less what each CPU has charged ahead (up to 64 pages a CPU).
    name = "memory.current" if group.version == 2 else "memory.usage_in_bytes"
    whole = int((group.path / name).read_text())
    slack = MIB + 256 * 1024 * (os.cpu_count() or 1)
    assert abs(whole - after["total"] - after["file"]) < slack, (whole, after)
    return {k: after[k] - before[k] for k in after}


def test_truth_from_stat_formulas() -> None:
    v2 = {"anon": 10, "shmem": 3, "file": 8, "kernel_stack": 1, "pagetables": 2, "slab": 4}
    assert truth_from_stat(2, v2) == {"anon": 10, "shmem": 3, "kernel": 7, "total": 20, "file": 5}
    assert truth_from_stat(2, {**v2, "kernel": 9})["kernel"] == 9
    v1 = {"total_rss": 10, "total_shmem": 3, "total_cache": 8, "rss": 99}
    assert truth_from_stat(1, v1, kmem=6) == {
        "anon": 10,
        "shmem": 3,
        "kernel": 6,
        "total": 19,
        "file": 5,
    }


def test_no_memory_cgroup_fails_in_ci_and_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise stacklab.CgroupUnavailable("none here")

    monkeypatch.setattr(stacklab.MemCgroup, "_parent", staticmethod(unavailable))
    monkeypatch.setattr(stacklab, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        memcg_or_skip()
    monkeypatch.setattr(stacklab, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="none here"):
        memcg_or_skip()


def test_anonymous_memory_is_anon(cg: MemCgroup) -> None:
    helper = Helper(cg)
    helper.do("anon 0")
    d = _delta(cg, helper, f"anon {100 * MIB}")
    assert abs(d["anon"] - 100 * MIB) < 3 * MIB, d
    assert abs(d["shmem"]) < MIB and abs(d["kernel"]) < MIB, d
    assert cg.pids() == [helper.process.pid]


def test_threads_cost_kernel_memory(cg: MemCgroup) -> None:
    helper = Helper(cg)
    helper.do("anon 0")
    d = _delta(cg, helper, "threads 1000")
    # A kernel stack alone is 16 KiB on x86-64: 1000 threads cannot cost less than 16 MiB.
    assert d["kernel"] > 16 * MIB, d
    assert cg.threads() >= 1001


def test_processes_cost_kernel_memory(cg: MemCgroup) -> None:
    helper = Helper(cg)
    helper.do("anon 0")
    d = _delta(cg, helper, "fork 200")
    assert d["kernel"] > 200 * 32 * 1024, d
    assert len(cg.pids()) == 201


def test_shared_mapping_and_dev_shm_are_shmem(cg: MemCgroup) -> None:
    helper = Helper(cg)
    helper.do("anon 0")
    d = _delta(cg, helper, f"shared {50 * MIB}")
    assert abs(d["shmem"] - 50 * MIB) < MIB and abs(d["anon"]) < 2 * MIB, d
    try:
        d = _delta(cg, helper, f"devshm {50 * MIB}")
        assert abs(d["shmem"] - 50 * MIB) < MIB and abs(d["anon"]) < 2 * MIB, d
        assert abs(d["total"] - 50 * MIB) < 2 * MIB, d
    finally:
        # A tmpfs file outlives its writer, and keeps its charge: remove it.
        Path(f"/dev/shm/stacklab-{helper.process.pid}").unlink(missing_ok=True)


def test_page_cache_is_not_in_total(cg: MemCgroup) -> None:
    helper = Helper(cg)
    helper.do("anon 0")
    # Not /tmp, which may be tmpfs (shmem): a disk-backed directory.
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        d = _delta(cg, helper, f"cache {tmp}/big {64 * MIB}")
    assert d["file"] > 60 * MIB, d
    assert abs(d["total"]) < 2 * MIB, d


def test_close_kills_daemonised_processes_and_removes_the_cgroup() -> None:
    with memcg_or_skip() as group:
        # The shell exits at once; its background sleep, reparented away, stays in the cgroup.
        group.spawn(["sh", "-c", "sleep 300 >/dev/null 2>&1 &"]).wait()
        deadline = time.monotonic() + 5
        while not group.pids() and time.monotonic() < deadline:
            time.sleep(0.02)
        (orphan,) = group.pids()
        path = group.path
    assert not path.exists()
    assert not stacklab._alive(orphan)


def test_hold_all_has_every_request_in_flight_and_reports_late_ones() -> None:
    active, peak, lock = [0], [0], threading.Lock()

    class Hold(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                active[0] += 1
            time.sleep(float(self.path.strip("/")))
            with lock:
                active[0] -= 1
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hold)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with hold_all(f"{base}/0.8", 5, 0.8, settle=0.2), lock:
            peak[0] = active[0]
        assert peak[0] == 5
        # A block that outlasts the hold did not measure with every request in flight.
        late = pytest.raises(RuntimeError, match="ended before the block")
        with late, hold_all(f"{base}/0.4", 3, 0.4, settle=0.1):
            time.sleep(0.5)
    finally:
        server.shutdown()
        server.server_close()


HOLD_CGI = "#!/bin/sh\nsleep 1.5\nprintf 'Content-Type: text/plain\\n\\nheld\\n'\n"


def _prefork_conf(root: Path, port: int, modules: Path, children: int) -> str:
    return f"""\
ServerRoot {root}
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
DefaultRuntimeDir {root}
User www-data
Group www-data
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule cgi_module {modules}/mod_cgi.so
LoadModule status_module {modules}/mod_status.so
StartServers {children}
MinSpareServers {children}
MaxSpareServers {children}
ServerLimit {children}
MaxRequestWorkers {children}
DocumentRoot {root}
<Directory {root}>
    Options +ExecCGI
    SetHandler cgi-script
</Directory>
<Location /server-status>
    SetHandler server-status
</Location>
"""


@pytest.mark.apache
def test_apache_in_a_cgroup_with_requests_held(
    cg: MemCgroup, apache2_bin: str, apache2_modules_dir: Path
) -> None:
    # Not pytest's tmp_path: its parents are private to root, and the children run as www-data.
    root = Path(tempfile.mkdtemp(prefix="stacklab-"))
    try:
        os.chmod(root, 0o755)
        (root / "hold").write_text(HOLD_CGI)
        os.chmod(root / "hold", 0o755)
        port = free_port()
        conf = root / "httpd.conf"
        conf.write_text(_prefork_conf(root, port, apache2_modules_dir, 4))
        pid = start_apache(apache2_bin, conf, cg)
        try:
            cg.settle(5, timeout=10)
            status = f"http://127.0.0.1:{port}/server-status"
            idle = cg.truth()
            # Three held, one worker left for mod_status.
            with hold_all(f"http://127.0.0.1:{port}/hold", 3, 1.5, status_url=status):
                assert busy_workers(status) == 4
                # Each CGI is a shell and its sleep, forked by a child: all in the cgroup.
                assert len(cg.pids()) >= 5 + 3
                assert cg.truth()["kernel"] > idle["kernel"]
        finally:
            stop_pid(pid)
        deadline = time.monotonic() + 10
        while cg.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cg.pids() == []
        conf.write_text(_prefork_conf(root, port, apache2_modules_dir, 1) + "NoSuchDirective\n")
        with pytest.raises(RuntimeError, match="NoSuchDirective"):
            start_apache(apache2_bin, conf, cg)
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
