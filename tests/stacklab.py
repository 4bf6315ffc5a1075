"""Ground truth about a server's memory, from the kernel, for end-to-end stack tests.

The sizing model (DESIGN.md, "Capacity model") is judged against what the kernel charges a
fresh memory cgroup that holds the whole server: anonymous memory, shared memory (tmpfs, SysV,
MAP_SHARED anonymous) and kernel memory (page tables, stacks, slab), but not page cache, which
the kernel reclaims under pressure and sizing does not budget. cgroup v2 is used when its memory
controller is delegated to us, else v1 under our own v1 memory cgroup.

Also here: starting httpd inside such a cgroup and stopping it by PID, and holding n requests
in flight at once, so that a test can read the truth while every worker is busy.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: v2 memory.stat keys that make up kernel memory on kernels without a `kernel` line (< 5.18).
V2_KERNEL_PARTS = ("kernel_stack", "pagetables", "slab", "percpu", "sock", "vmalloc")


class CgroupUnavailable(RuntimeError):
    """No memory cgroup can be made here (no controller, not delegated, not root)."""


def truth_from_stat(version: int, stat: dict[str, int], kmem: int = 0) -> dict[str, int]:
    """anon, shmem, kernel, total (= their sum) and file (page cache, not in total) in bytes.

    v1 counts kernel memory only in memory.kmem.usage_in_bytes (`kmem`); its memory.stat `rss`
    is anonymous memory and its `cache` includes shmem, as v2's `file` does.
    """
    v1_keys = ("total_rss", "total_shmem", "total_cache")
    anon, shmem, cache = (stat[k] for k in (("anon", "shmem", "file") if version == 2 else v1_keys))
    if version == 1:
        kernel = kmem
    else:
        kernel = stat.get("kernel", sum(stat.get(k, 0) for k in V2_KERNEL_PARTS))
    total = anon + shmem + kernel
    return dict(anon=anon, shmem=shmem, kernel=kernel, total=total, file=cache - shmem)


def _own_cgroup(version: int) -> Path | None:
    """Our cgroup directory: the v2 one, or the v1 one of the memory controller."""
    # /proc/self/mounts: device, mount point, type, options; /proc/self/cgroup: id:names:path.
    mine = "cgroup2" if version == 2 else "cgroup"
    for m in (line.split() for line in Path("/proc/self/mounts").read_text().splitlines()):
        if m[2] == mine and (version == 2 or "memory" in m[3].split(",")):
            for line in Path("/proc/self/cgroup").read_text().splitlines():
                _, names, path = line.split(":", 2)
                if (names == "") if version == 2 else "memory" in names.split(","):
                    return Path(m[1]) / path.lstrip("/")
    return None


class MemCgroup:
    """A fresh memory cgroup, removed on close with every process left in it killed."""

    _count = 0

    def __init__(self) -> None:
        parent, self.version = self._parent()
        MemCgroup._count += 1
        self.path = parent / f"stacklab-{os.getpid()}-{MemCgroup._count}"
        try:
            self.path.mkdir()
        except OSError as err:
            raise CgroupUnavailable(f"cannot create {self.path}: {err}") from err
        self._spawned: list[subprocess.Popen] = []

    @staticmethod
    def _parent() -> tuple[Path, int]:
        v2 = _own_cgroup(2)
        if v2 and "memory" in (v2 / "cgroup.controllers").read_text().split():
            control = v2 / "cgroup.subtree_control"
            # Enabling fails (EBUSY) when our cgroup holds processes and is not the root: then
            # memory is not ours to delegate, and v1 is the only way left.
            with contextlib.suppress(OSError):
                if "memory" not in control.read_text().split():
                    control.write_text("+memory")
                return v2, 2
        v1 = _own_cgroup(1)
        if v1 is None or not (v1 / "memory.stat").exists():
            raise CgroupUnavailable("no memory cgroup: v2 memory not delegated, v1 not mounted")
        if not (v1 / "memory.kmem.usage_in_bytes").exists():
            raise CgroupUnavailable("cgroup v1 without kernel memory accounting")
        return v1, 1

    def __enter__(self) -> MemCgroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def spawn(self, argv: list[str], **popen_kwargs) -> subprocess.Popen:
        """Start argv already inside the cgroup, so that everything it forks is charged here."""
        procs = str(self.path / "cgroup.procs")
        chained = popen_kwargs.pop("preexec_fn", None)

        def enter() -> None:
            # Between fork and exec: only the child moves ("0" means the writer itself).
            with open(procs, "w") as f:
                f.write("0")
            if chained:
                chained()

        process = subprocess.Popen(argv, preexec_fn=enter, **popen_kwargs)
        self._spawned.append(process)
        return process

    def _file(self, name: str) -> str:
        return (self.path / name).read_text()

    def set_limit(self, limit: int | None, *, swap: int | None = None) -> None:
        """Cap the cgroup's memory at `limit` bytes (None: no limit): memory.max on v2,
        memory.limit_in_bytes on v1; on v1 also memory + swap at `swap` (memsw) when given,
        else no memsw limit. v1 refuses a memsw below the memory limit: memsw goes first."""
        if self.version == 2:
            (self.path / "memory.max").write_text("max" if limit is None else str(limit))
            return
        memsw = self.path / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            memsw.write_text("-1")
        (self.path / "memory.limit_in_bytes").write_text("-1" if limit is None else str(limit))
        if swap is not None:
            memsw.write_text(str(swap))

    def cgroup_path(self) -> str:
        """The cgroup's path in its hierarchy, as /proc/PID/cgroup writes it."""
        kind = "cgroup2" if self.version == 2 else "cgroup"
        for m in (line.split() for line in Path("/proc/self/mounts").read_text().splitlines()):
            right = self.version == 2 or "memory" in m[3].split(",")
            if m[2] == kind and right and self.path.is_relative_to(m[1]):
                return "/" + str(self.path.relative_to(m[1]))
        raise CgroupUnavailable(f"{self.path} is under no {kind} mount")

    def pids(self) -> list[int]:
        return sorted({int(p) for p in self._file("cgroup.procs").split()})

    def threads(self) -> int:
        return len(self._file("cgroup.threads" if self.version == 2 else "tasks").split())

    def truth(self) -> dict[str, int]:
        """anon, shmem, kernel and total (their sum), and file (page cache, not in total)."""
        lines = self._file("memory.stat").splitlines()
        stat = {k: int(v) for k, v in (line.split() for line in lines)}
        kmem = int(self._file("memory.kmem.usage_in_bytes")) if self.version == 1 else 0
        return truth_from_stat(self.version, stat, kmem)

    def close(self, timeout: float = 15.0) -> None:
        """SIGKILL what is left (the test stops its servers politely first), then rmdir."""
        if not self.path.exists():
            return
        deadline = time.monotonic() + timeout
        while True:
            for process in self._spawned:
                process.poll()  # reap our own children: a zombie of ours would linger
            left = self.pids()
            if not left:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {left} will not leave {self.path}")
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        while True:
            try:
                return self.path.rmdir()
            except OSError:  # EBUSY while the last exits are still being accounted
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def settle(
        self, processes: int, threads: int | None = None, timeout: float = 30.0
    ) -> dict[str, int]:
        """Wait for this many processes (and threads), then for the charge to stop moving."""
        deadline = time.monotonic() + timeout
        while len(self.pids()) != processes or (threads is not None and self.threads() != threads):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.pids())} processes, {self.threads()} threads")
            time.sleep(0.1)
        last = self.truth()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.truth()
            if abs(now["total"] - last["total"]) < 128 * 1024:
                return now
            last = now
        return last


def need(condition: bool, what: str) -> None:
    """Skip locally when CONDITION is false; fail under CI=true (.ci/run installs it all)."""
    if not condition:
        import pytest

        if IN_CI:
            pytest.fail(f"{what} is required in CI (CI=true) but missing")
        pytest.skip(f"{what} is missing")


def memcg_or_skip() -> MemCgroup:
    """A MemCgroup for a test: when none can be made, a failure under CI=true, else a skip."""
    try:
        return MemCgroup()
    except CgroupUnavailable as err:
        need(False, f"a memory cgroup ({err})")
        raise  # not reached: need() fails or skips


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _conf_path(text: str, name: str, root: Path, default: str) -> Path:
    found = re.findall(rf"^\s*{name}\s+\"?([^\"\n]+?)\"?\s*$", text, re.M | re.I)
    return root / (found[-1] if found else default)  # an absolute path replaces root


def start_apache(binary: str, conf: Path, cgroup: MemCgroup, *, timeout: float = 30.0) -> int:
    """`binary -f conf -k start` inside cgroup; the parent PID once its PidFile names it."""
    conf = Path(conf)
    text = conf.read_text()
    root = _conf_path(text, "ServerRoot", Path("/"), str(conf.parent))
    pidfile = _conf_path(text, "PidFile", root, "logs/httpd.pid")
    error_log = _conf_path(text, "ErrorLog", root, "logs/error_log")
    pidfile.unlink(missing_ok=True)  # a stale one would be read as this start's

    def failed(why: str) -> RuntimeError:
        log = error_log.read_text(errors="replace") if error_log.exists() else "(none)"
        return RuntimeError(
            f"{why}\n--- {error_log}, tail ---\n{''.join(log.splitlines(True)[-20:])}"
        )

    argv = [binary, "-f", str(conf), "-k", "start"]
    done = cgroup.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = done.communicate(timeout=timeout)[0]
    if done.returncode != 0:
        raise failed(f"{binary} -k start exited {done.returncode}: {output}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = pidfile.read_text().strip() if pidfile.exists() else ""
        if pid.isdigit() and _alive(int(pid)):
            if int(pid) not in cgroup.pids():
                raise failed(f"httpd {pid} is not in {cgroup.path}")
            return int(pid)
        time.sleep(0.05)
    raise failed(f"no live PID in {pidfile} after {timeout} s: {output}")


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM, wait up to timeout for it to exit, then SIGKILL it and its children left."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if stat.read_text().rsplit(") ", 1)[1].split()[1] == str(pid):
                children.append(int(stat.parent.name))
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    for victim in [pid, *children]:
        if _alive(victim):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)


def busy_workers(status_url: str) -> int:
    """mod_status's BusyWorkers (which counts the status request itself)."""
    with urllib.request.urlopen(status_url + "?auto", timeout=5) as response:
        found = re.search(r"^BusyWorkers: (\d+)", response.read().decode(), re.M)
    if not found:
        raise RuntimeError(f"no BusyWorkers at {status_url}")
    return int(found.group(1))


@contextlib.contextmanager
def hold_all(
    url: str,
    n: int,
    hold_seconds: float,
    *,
    status_url: str | None = None,
    settle: float = 1.0,
    timeout: float = 30.0,
) -> Iterator[None]:
    """Send n concurrent GETs to url, whose handler holds each one for hold_seconds; the block
    runs while all n are in flight. Readiness: mod_status reporting n + 1 busy workers when
    status_url is given (the server needs a worker spare for it), else all n connected and
    `settle` seconds more. Raises if a request fails, or ends before the block does."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "") or "/"
    connected = threading.Semaphore(0)
    errors: list[str] = []
    ended: list[float] = []

    def one() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=hold_seconds + timeout)
        try:
            try:
                conn.connect()
            finally:
                connected.release()  # on failure too, so that the wait below ends
            conn.request("GET", target, headers={"Connection": "close"})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                errors.append(f"HTTP {response.status}: {body[:200]!r}")
        except Exception as err:  # reported from the caller's thread, below
            errors.append(repr(err))
        finally:
            conn.close()
            ended.append(time.monotonic())

    workers = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + timeout
        for _ in range(n):
            if not connected.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"not all {n} requests connected to {url}")
        if status_url:
            while not ended and busy_workers(status_url) < n + 1:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{status_url} never showed {n} busy workers")
                time.sleep(0.05)
        else:
            time.sleep(settle)
        if ended or errors:
            raise RuntimeError(f"requests ended before all {n} were in flight: {errors}")
        yield
        body_end = time.monotonic()
    finally:
        for worker in workers:
            worker.join(hold_seconds + timeout)
    if errors:
        raise RuntimeError(f"{len(errors)} of {n} requests to {url} failed: {errors[:3]}")
    if min(ended) < body_end:
        raise RuntimeError(f"a request ended before the block did: hold longer than {hold_seconds}")


@contextlib.contextmanager
def foreground_apache(binary: str, conf: Path, port: int, timeout: float = 20.0):
    """`binary -d DIR -f conf -DFOREGROUND` until the block ends, answering on 127.0.0.1:port
    before the block starts; stopped by PID. Its own session: prefork's parent signals its
    whole process group when it stops, which would otherwise take pytest with it."""
    proc = subprocess.Popen(
        [binary, "-d", str(conf.parent), "-f", str(conf), "-DFOREGROUND"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{binary} exited {proc.returncode}: {proc.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield proc
    finally:
        stop_pid(proc.pid)
        proc.wait(timeout=15)


def memory_cap(limit: int = 2 << 30) -> None:
    """A `preexec_fn`: the child may map at most `limit` bytes (2 GiB), so a run that would
    grow without end fails fast instead of taking the machine (tests of hostile input)."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
