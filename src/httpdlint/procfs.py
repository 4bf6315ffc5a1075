"""One process's memory as the kernel accounts it (the machine's RAM and limits: limits.py).

Reads /proc directly: /proc/PID/stat and /proc/PID/smaps_rollup for every process (two small
reads), and for the processes a sizing depends on (httpd's tree, its daemons, PHP-FPM pools)
also /proc/PID/smaps, /proc/PID/status and each thread's wait channel. psutil is the fallback
where a kernel lacks smaps_rollup (Linux before 4.14), imported only then: the single-file build
uses the distribution's python3-psutil, and without it such a process counts by its RSS, marked
as inexact. No arithmetic about capacity happens here.

What "private" means: a process's pages that no other process maps, in its private mappings
(dirty pages and anonymous clean ones, plus what of them is swapped out). That is what one
more child costs the kernel. Shared-memory mappings (opcache, the scoreboard: `s` in the
permissions) are left out of it even when only one process has touched them so far (the child
that compiled the code), and counted once for the whole tree through their PSS; clean file
pages (program text) are page cache, not the process's own.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "HTTPD_NAMES",
    "ProcessInfo",
    "is_httpd_name",
    "process_name",
    "started_at",
    "is_one_shot",
    "read_process",
    "read_processes",
    "busy_threads",
    "cmdline",
    "parents_and_names",
    "mapped_libraries",
]

#: Process names (comm, at most 15 characters) that are an httpd, most common first.
_HTTPD_NAMES = (
    "apache2",
    "httpd",
    "apache",
    "httpd2",
    "httpd-prefork",
    "httpd.worker",
    "httpd.event",
)
HTTPD_NAMES = frozenset(_HTTPD_NAMES)

PROC = "/proc"
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

# Keys of /proc/PID/smaps_rollup we use, in kB.
_ROLLUP_KEYS = {
    b"Rss": "rss",
    b"Pss": "pss",
    b"Private_Clean": "private_clean",
    b"Private_Dirty": "private_dirty",
    b"Private_Hugetlb": "private_hugetlb",
    b"Swap": "swap",
    # Shared memory (tmpfs, SysV, shared anonymous) by PSS, Linux 5.8 and later: limits.py
    # takes what processes map out of meminfo's Shmem.
    b"Pss_Shmem": "pss_shmem",
}

# Where an idle worker waits, by the kernel function in /proc/PID/task/TID/wchan: accept()
# on a listener, epoll on several (and event's listener thread), the accept mutex (futex,
# SysV semaphore, fcntl or flock lock), a threaded MPM's idle queue (a futex), and a threaded
# child's main thread on the pipe of death. A thread that waits anywhere else (a sleep, a
# socket read, a backend) is serving a request, and one that runs has no wait channel at
# all. Names differ across kernels (futex_wait_queue_me, futex_do_wait): prefixes cover them.
_IDLE_WAITS = (
    b"inet_csk_accept",
    # accept() on a Unix socket (PHP-FPM's idle workers): unix_accept -> skb_recv_datagram.
    b"__skb_wait_for_more_packets",
    b"ep_poll",
    b"do_epoll_wait",
    b"futex",
    b"do_semtimedop",
    b"sem",
    b"posix_lock",
    b"locks_lock",
    b"flock",
    b"fcntl",
    b"anon_pipe_read",
    b"pipe_read",
    b"pipe_wait",
)

# httpd24, httpd.worker, httpd-prefork: distributions' variants; not httpdlint.
_HTTPD_VARIANT = re.compile(r"httpd(\d*|[.-][\w.-]+)")


def is_httpd_name(name: str) -> bool:
    """True for apache2, httpd and the distributions' variants (httpd.worker, ...)."""
    return name in HTTPD_NAMES or _HTTPD_VARIANT.fullmatch(name) is not None


# httpd options that make it print something and exit rather than serve: `apache2 -t`,
# `-S`, `-M`, `-V`, `-v`, `-l`, `-L`, `-h` (and -t's variants such as `-t -D DUMP_VHOSTS`).
_ONE_SHOT = {b"-t", b"-T", b"-S", b"-M", b"-V", b"-v", b"-l", b"-L", b"-h"}


def is_one_shot(pid: int, proc: str = PROC) -> bool:
    """True for `apache2 -t` and friends (a config test, not a server to size), and for a
    process without a command line: a zombie, or one exiting or still being exec'd."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except FileNotFoundError:
        return True  # gone since we read its stat
    except OSError:
        return False
    if argv == [b""]:
        return True
    return any(arg in _ONE_SHOT for arg in argv[1:])


def _real_name(pid: int, comm: str, proc: str) -> str:
    """The program's name when comm holds a path instead.

    mod_perl sets $0 to the command line, so the kernel's comm reads "/usr/sbin/apach" (a path
    cut at 15 characters). The executable's name is then read from /proc/PID/exe, which needs
    the same permission as the memory maps; without it a cut name that begins an httpd name
    ("apach") is taken for that name.
    """
    try:
        # An upgraded binary reads "/usr/sbin/apache2 (deleted)" until httpd restarts.
        return os.path.basename(os.readlink(f"{proc}/{pid}/exe")).removesuffix(" (deleted)")
    except OSError:
        pass
    base = os.path.basename(comm)
    if len(comm) == 15 and len(base) >= 4:
        for name in _HTTPD_NAMES:
            if name.startswith(base):
                return name
    return base or comm


@dataclass(frozen=True)
class ProcessInfo:
    """One process, sizes in bytes. `exact` is False when USS/PSS are RSS stand-ins.

    `private`, `anon`, `pte` and `busy` are read only in detail (see read_process);
    elsewhere `private` is the USS and the others 0 or None, and `shm` smaps_rollup's Pss_Shmem.
    """

    pid: int
    ppid: int
    name: str
    rss: int
    uss: int
    pss: int
    swap: int
    threads: int
    uid: int
    age: float
    exact: bool = True
    role: str = "other"
    #: Private memory that only this process holds (see the module's docstring).
    private: int = 0
    #: Anonymous resident memory (RssAnon): a parent's copy-on-write pages.
    anon: int = 0
    #: PSS of its shared-memory mappings: summed over processes, the shared memory in use.
    shm: int = 0
    #: Page tables (VmPTE): kernel memory that grows with the process's mappings.
    pte: int = 0
    #: CPU seconds used (user + system): has it served traffic?
    cpu: float = 0.0
    #: Threads serving a request at the time of reading; None when unknown.
    busy: int | None = None
    #: Write system calls made (/proc/PID/io syscw): about one per response httpd sends, so
    #: a count of requests served where CPU time says little (a static file costs ~0 ticks).
    writes: int | None = 0
    #: Daemon group or pool this process belongs to ("wsgi:app", "php-fpm www").
    group: str = ""

    def to_json(self) -> dict:
        return {
            "pid": self.pid,
            "ppid": self.ppid,
            "role": self.role,
            "group": self.group or None,
            "name": self.name,
            "rss": self.rss,
            "uss": self.uss,
            "pss": self.pss,
            "private": self.private,
            "anon": self.anon,
            "shm": self.shm,
            "pte": self.pte,
            "swap": self.swap,
            "threads": self.threads,
            "busy": self.busy,
            "cpu_seconds": round(self.cpu, 2),
            "writes": self.writes,
            "age_seconds": round(self.age, 1),
            "exact": self.exact,
            # RSS in place of USS and PSS (no permission to read the maps): an upper bound.
            "estimated": not self.exact,
        }


def _uptime(proc: str = PROC) -> float:
    with open(f"{proc}/uptime", "rb") as f:
        return float(f.read().split()[0])


def process_name(pid: int, proc: str = PROC) -> str | None:
    """The program name of a process (comm, or the executable's name when mod_perl has put
    a path there); None when it is gone."""
    stat = _read_stat(pid, proc)
    return _real_name(pid, stat[0], proc) if stat is not None else None


def started_at(pid: int, proc: str = PROC) -> float | None:
    """When a process started, in epoch seconds (now less its age); None when it is gone."""
    stat = _read_stat(pid, proc)
    if stat is None:
        return None
    return time.time() - max(0.0, _uptime(proc) - stat[3])


def _read_stat(pid: int, proc: str) -> tuple[str, int, int, float, int, float] | None:
    """(name, ppid, threads, start s, rss pages, cpu s) from /proc/PID/stat; None if gone."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may hold spaces and parentheses: it runs from the first "(" to the last ")".
    open_paren = data.find(b"(")
    close_paren = data.rfind(b")")
    name = data[open_paren + 1 : close_paren].decode("utf-8", "replace")
    fields = data[close_paren + 2 :].split()
    # fields[0] is stat field 3 (state): ppid 4, utime 14, stime 15, threads 20, start 22, rss 24.
    cpu = (int(fields[11]) + int(fields[12])) / _CLK_TCK
    return name, int(fields[1]), int(fields[17]), int(fields[19]) / _CLK_TCK, int(fields[21]), cpu


def _read_rollup(pid: int, proc: str) -> dict[str, int] | None:
    """Sizes in bytes from /proc/PID/smaps_rollup; None when the kernel has no such file.

    Raises PermissionError when the process belongs to another user and we may not ptrace it.
    """
    try:
        with open(f"{proc}/{pid}/smaps_rollup", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if os.path.exists(f"{proc}/{pid}"):
            return None  # kernel older than 4.14: no rollup
        raise ProcessLookupError(pid) from None
    values = dict.fromkeys(_ROLLUP_KEYS.values(), 0)
    for line in data.splitlines()[1:]:
        key, _, rest = line.partition(b":")
        name = _ROLLUP_KEYS.get(key)
        if name is not None:
            values[name] = int(rest.split()[0]) * 1024
    return values


# One mapping of /proc/PID/smaps: its permissions, its path (empty for anonymous memory),
# and the sizes we use. The kernel writes these fields in this order in every version that has
# smaps; the C regex engine reads a 7,000-line smaps three times faster than a Python loop.
_MAPPING = re.compile(
    rb"^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+ *([^\n]*)\n"
    rb"(?:[^\n]*\n)*?Rss: +(\d+) kB\nPss: +(\d+) kB\n"
    rb"(?:[^\n]*\n)*?Private_Clean: +(\d+) kB\nPrivate_Dirty: +(\d+) kB\n"
    rb"(?:[^\n]*\n)*?Swap: +(\d+) kB\n",
    re.M,
)


def _read_smaps(pid: int, proc: str) -> dict[str, int] | None:
    """rss, pss, uss, swap, private and shm from /proc/PID/smaps (see the module docstring).

    None when the kernel has no such file; raises PermissionError, ProcessLookupError.
    """
    try:
        with open(f"{proc}/{pid}/smaps", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if os.path.exists(f"{proc}/{pid}"):
            return None
        raise ProcessLookupError(pid) from None
    rss = pss = uss = swap = private = shm = 0
    for perms, path, r, p, clean, dirty, swapped in _MAPPING.findall(data):
        rss += int(r)
        pss += int(p)
        clean_kb, dirty_kb = int(clean), int(dirty)
        uss += clean_kb + dirty_kb
        swap += int(swapped)
        if perms[3:4] == b"s":
            shm += int(p)
            continue
        private += dirty_kb + int(swapped)
        if not path or path[:1] == b"[":
            private += clean_kb
    k = 1024
    return {
        "rss": rss * k,
        "pss": pss * k,
        "uss": uss * k,
        "swap": swap * k,
        "private": private * k,
        "shm": shm * k,
    }


def _read_status(pid: int, proc: str) -> dict[str, int]:
    """VmSwap, RssAnon and VmPTE from /proc/PID/status (readable for any process), in bytes."""
    out = {"VmSwap": 0, "RssAnon": 0, "VmPTE": 0}
    try:
        with open(f"{proc}/{pid}/status", "rb") as f:
            for line in f:
                key = line.split(b":", 1)[0].decode("ascii", "replace")
                if key in out:
                    out[key] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


def _read_writes(pid: int, proc: str) -> int | None:
    """syscw of /proc/PID/io; None when unreadable (another user's process, not root)."""
    try:
        with open(f"{proc}/{pid}/io", "rb") as f:
            for line in f:
                if line.startswith(b"syscw:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return 0


def busy_threads(pid: int, proc: str = PROC) -> int | None:
    """How many of a process's threads are serving a request now; None when unreadable.

    A thread is idle when it waits where httpd's (and PHP-FPM's) idle workers wait (_IDLE_WAITS);
    a running thread or one waiting elsewhere is busy. The main thread and the listener of a
    threaded child wait on a futex or in epoll, so they count as idle.
    """
    try:
        tids = os.listdir(f"{proc}/{pid}/task")
    except OSError:
        return None
    busy = 0
    known = False
    for tid in tids:
        try:
            with open(f"{proc}/{pid}/task/{tid}/wchan", "rb") as f:
                wchan = f.read().strip()
        except OSError:
            continue
        if wchan in (b"", b"0"):
            # No wait channel: running, or hidden from us. Only a running state counts.
            try:
                with open(f"{proc}/{pid}/task/{tid}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1][1:2]
            except (OSError, IndexError):
                continue
            known = True
            busy += state == b"R"
            continue
        known = True
        busy += not wchan.startswith(_IDLE_WAITS)
    return busy if known else None


def read_process(
    pid: int,
    *,
    uptime: float | None = None,
    proc: str = PROC,
    role: str = "other",
    detail: bool = False,
) -> ProcessInfo | None:
    """One process's memory; None when it has exited (a race every scan must expect).

    Without permission to read its memory maps (another user's process, not root), USS and PSS
    are set to RSS and `exact` is False: an upper bound, never a traceback. With `detail`,
    smaps, status and the threads' wait channels are read too (private, anon, shm, pte, busy).
    """
    stat = _read_stat(pid, proc)
    if stat is None:
        return None
    name, ppid, threads, start, rss_pages, cpu = stat
    if "/" in name:
        name = _real_name(pid, name, proc)
    if uptime is None:
        uptime = _uptime(proc)
    try:
        uid = os.stat(f"{proc}/{pid}").st_uid
    except OSError:
        return None
    exact = True
    values: dict[str, int] | None = None
    try:
        if detail:
            values = _read_smaps(pid, proc)
        if values is None:
            rollup = _read_rollup(pid, proc)
            if rollup is not None:
                uss = rollup["private_clean"] + rollup["private_dirty"] + rollup["private_hugetlb"]
                values = {**rollup, "uss": uss, "private": uss, "shm": rollup["pss_shmem"]}
    except ProcessLookupError:
        return None
    except PermissionError:
        exact = False
    if values is None and exact:
        values = _psutil_memory(pid)
        exact = values is not None
    status = _read_status(pid, proc) if detail or values is None else {}
    if values is None:
        rss = rss_pages * _PAGE
        values = {"rss": rss, "uss": rss, "pss": rss, "private": rss, "shm": 0}
        values["swap"] = status.get("VmSwap", 0)
    return ProcessInfo(
        pid=pid,
        ppid=ppid,
        name=name,
        rss=values["rss"],
        uss=values["uss"],
        pss=values["pss"],
        swap=values["swap"],
        threads=threads,
        uid=uid,
        age=max(0.0, uptime - start),
        exact=exact,
        role=role,
        private=values["private"],
        anon=status.get("RssAnon", 0),
        shm=values["shm"],
        pte=status.get("VmPTE", 0),
        cpu=cpu,
        # The kernel hides the wait channels of a process whose maps it hides (the same
        # ptrace check): every thread would look idle, so busy is unknown then.
        busy=busy_threads(pid, proc) if detail and exact else None,
        writes=_read_writes(pid, proc) if detail else 0,
    )


def _psutil_memory(pid: int) -> dict[str, int] | None:
    """The slow path for kernels without smaps_rollup: psutil parses /proc/PID/smaps. None
    without psutil (a single-file build on a host without python3-psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        full = psutil.Process(pid).memory_full_info()
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
        return None
    return {
        "rss": full.rss,
        "pss": getattr(full, "pss", full.uss),
        "uss": full.uss,
        "private": full.uss,
        "shm": 0,
        "swap": getattr(full, "swap", 0),
    }


def all_pids(proc: str = PROC) -> list[int]:
    return [int(entry) for entry in os.listdir(proc) if entry.isdigit()]


def read_processes(pids: Iterable[int] | None = None, *, proc: str = PROC) -> list[ProcessInfo]:
    """Read many processes (all of them by default), skipping those that exit meanwhile."""
    uptime = _uptime(proc)
    out = []
    for pid in all_pids(proc) if pids is None else pids:
        info = read_process(pid, uptime=uptime, proc=proc)
        if info is not None:
            out.append(info)
    return out


def parents_and_names(proc: str = PROC) -> dict[int, tuple[str, int]]:
    """Every process's (name, parent PID), from /proc/PID/stat alone: a cheap scan."""
    out: dict[int, tuple[str, int]] = {}
    for pid in all_pids(proc):
        try:
            with open(f"{proc}/{pid}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        close = data.rfind(b")")
        name = data[data.find(b"(") + 1 : close].decode("utf-8", "replace")
        if "/" in name:
            name = _real_name(pid, name, proc)
        try:
            out[pid] = (name, int(data[close + 2 :].split()[1]))
        except (IndexError, ValueError):
            continue
    return out


def cmdline(pid: int, proc: str = PROC) -> list[bytes] | None:
    """The process's arguments; None when it is gone, [] for a zombie or a kernel thread."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return []
    return data.rstrip(b"\0").split(b"\0") if data else []


def argv(pid: int, proc: str = PROC) -> list[str]:
    """A process's command line as text ([] when gone or a kernel thread), decoded with
    surrogateescape as Python's own sys.argv is: output sanitizes what is not UTF-8."""
    return [a.decode("utf-8", "surrogateescape") for a in cmdline(pid, proc) or []]


def environ(pid: int, proc: str = PROC) -> dict[str, str] | None:
    """The environment a process started with (its `${VAR}`s); None when it may not be read
    (another user's process, without root) or is gone. Names and values are decoded with
    surrogateescape, as Python's own os.environ is."""
    try:
        with open(f"{proc}/{pid}/environ", "rb") as f:
            data = f.read(1 << 20)  # bounded; a real httpd's environment is a few KiB
    except OSError:
        return None
    out: dict[str, str] = {}
    for entry in data.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name:
            out[name.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return out


def mapped_libraries(pid: int, proc: str = PROC) -> list[str]:
    """Basenames of the shared objects a process maps, sorted; [] when unreadable."""
    names: set[str] = set()
    try:
        with open(f"{proc}/{pid}/maps", "rb") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and b".so" in parts[5]:
                    names.add(os.path.basename(parts[5].strip()).decode("utf-8", "replace"))
    except OSError:
        return []
    return sorted(names)
