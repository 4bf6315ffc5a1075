"""Live httpd processes and their memory, and what the system says about httpd's past.

Reads /proc directly (the fast path: /proc/PID/stat and /proc/PID/smaps_rollup, two small
reads per process) and falls back to psutil where a kernel lacks smaps_rollup. No arithmetic
about capacity happens here: this module hands numbers to capacity.py through suggest.py.

What it finds:

* httpd process trees: from a PidFile, a `--pid`, or by scanning for processes named
  apache2/httpd whose parent is not one; the parent's descendants of the same name are its
  children (piped loggers and CGI scripts are "other").
* per process RSS, USS (private clean + dirty), PSS, swap, threads and age;
* the other large processes by PSS (mysqld, php-fpm, java, ...): what the reserve must cover;
* RAM: the smaller of physical memory and the memory cgroup limit (v1 or v2);
* warnings: no permission to read another user's memory (RSS is used instead, an
  overstatement), children too young to have grown, httpd hitting MaxRequestWorkers in its
  error log, the kernel's OOM killer taking httpd.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import psutil

from httpdlint.errors import ConfigError

__all__ = [
    "HTTPD_NAMES",
    "YOUNG_SECONDS",
    "ProcessInfo",
    "HttpdTree",
    "Notice",
    "Measurement",
    "read_process",
    "read_processes",
    "physical_memory",
    "cgroup_limit",
    "ram",
    "find_trees",
    "measure",
    "sample",
    "read_pid_file",
    "parse_duration",
    "find_limit_hits",
    "find_oom_kills",
    "error_log_warnings",
    "kernel_log_warnings",
    "open_error_logs",
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

#: Children younger than this have likely served too little to show their working size.
YOUNG_SECONDS = 60.0

# A cgroup limit at or above this is "no limit" (v1 writes 2^63 rounded down to a page).
_NO_LIMIT = 2**62

_PROC = "/proc"
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
}


# httpd24, httpd.worker, httpd-prefork: distributions' variants; not httpdlint.
_HTTPD_VARIANT = re.compile(r"httpd(\d*|[.-][\w.-]+)")


def is_httpd_name(name: str) -> bool:
    """True for apache2, httpd and the distributions' variants (httpd.worker, ...)."""
    return name in HTTPD_NAMES or _HTTPD_VARIANT.fullmatch(name) is not None


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
    """One process, sizes in bytes. `exact` is False when USS/PSS are RSS stand-ins."""

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

    def to_json(self) -> dict:
        return {
            "pid": self.pid,
            "ppid": self.ppid,
            "role": self.role,
            "name": self.name,
            "rss": self.rss,
            "uss": self.uss,
            "pss": self.pss,
            "swap": self.swap,
            "threads": self.threads,
            "age_seconds": round(self.age, 1),
            "exact": self.exact,
        }


@dataclass
class HttpdTree:
    """A running httpd: its parent and its worker children."""

    parent: ProcessInfo
    children: list[ProcessInfo]
    #: Shared objects the parent has mapped (mod_perl.so, libphp8.2.so, mod_mpm_event.so, ...).
    libraries: list[str] = field(default_factory=list)
    #: The largest child seen over all samples (by USS), which may have exited since.
    peak_child: ProcessInfo | None = None

    @property
    def largest_child(self) -> ProcessInfo | None:
        if self.peak_child is not None:
            return self.peak_child
        return max(self.children, key=lambda p: p.uss, default=None)

    @property
    def mpm(self) -> str | None:
        """The MPM the running server loaded (from its mapped mod_mpm_*.so), if any."""
        for lib in self.libraries:
            match = re.match(r"mod_mpm_(prefork|worker|event)\.so$", lib)
            if match:
                return match.group(1)
        return None

    @property
    def interpreters(self) -> list[str]:
        """mod_perl / mod_php style libraries loaded: reasons to recycle children."""
        return [
            lib
            for lib in self.libraries
            if lib == "mod_perl.so" or re.match(r"(lib)?php\d*(\.\d+)*\.so$|mod_php", lib)
        ]

    def predicted_bytes(self) -> int:
        """The model's view of this tree: parent RSS + N x largest child USS."""
        child = self.largest_child
        return self.parent.rss + len(self.children) * (child.uss if child else 0)

    def pss_total(self) -> int:
        """What the tree really costs: the sum of PSS over the parent and its children."""
        return self.parent.pss + sum(c.pss for c in self.children)

    def to_json(self) -> dict:
        child = self.largest_child
        return {
            "parent": self.parent.pid,
            "mpm": self.mpm,
            "children": len(self.children),
            "parent_rss": self.parent.rss,
            "largest_child": child.to_json() if child else None,
            "children_uss": sum(c.uss for c in self.children),
            "pss_total": self.pss_total(),
            "predicted_bytes": self.predicted_bytes(),
            "libraries": self.libraries,
        }


@dataclass(frozen=True)
class Notice:
    """Something the user should know about the numbers: code and one-line message."""

    code: str
    message: str

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass
class Measurement:
    """One look (or several merged) at the machine."""

    ram_bytes: int
    physical_bytes: int
    cgroup_limit_bytes: int | None
    trees: list[HttpdTree]
    others: list[ProcessInfo]
    others_pss_bytes: int
    warnings: list[Notice] = field(default_factory=list)
    samples: int = 1
    timestamp: float = field(default_factory=time.time)

    @property
    def tree(self) -> HttpdTree | None:
        """The httpd to size: the one with most children when several run."""
        return max(self.trees, key=lambda t: len(t.children), default=None)

    def processes(self) -> list[ProcessInfo]:
        out: list[ProcessInfo] = []
        for tree in self.trees:
            out.append(tree.parent)
            out.extend(tree.children)
        out.extend(self.others)
        return out

    def to_json(self) -> dict:
        return {
            "schema": 1,
            "ram_bytes": self.ram_bytes,
            "physical_bytes": self.physical_bytes,
            "cgroup_limit_bytes": self.cgroup_limit_bytes,
            "processes": [p.to_json() for p in self.processes()],
            "httpd": [t.to_json() for t in self.trees],
            "others_pss_bytes": self.others_pss_bytes,
            "samples": self.samples,
            "timestamp": round(self.timestamp, 3),
            "warnings": [w.to_json() for w in self.warnings],
        }


# --------------------------------------------------------------------------- reading /proc


def _uptime(proc: str = _PROC) -> float:
    with open(f"{proc}/uptime", "rb") as f:
        return float(f.read().split()[0])


def _read_stat(pid: int, proc: str) -> tuple[str, int, int, float, int] | None:
    """(name, ppid, threads, start ticks, rss pages) from /proc/PID/stat; None if gone."""
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
    # fields[0] is state (stat field 3); ppid is field 4, num_threads 20, starttime 22, rss 24.
    return name, int(fields[1]), int(fields[17]), int(fields[19]) / _CLK_TCK, int(fields[21])


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


def _read_status_swap(pid: int, proc: str) -> int:
    """VmSwap from /proc/PID/status, readable even for other users' processes."""
    try:
        with open(f"{proc}/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmSwap:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def read_process(
    pid: int, *, uptime: float | None = None, proc: str = _PROC, role: str = "other"
) -> ProcessInfo | None:
    """One process's memory; None when it has exited (a race every scan must expect).

    Without permission to read its memory maps (another user's process, not root), USS and PSS
    are set to RSS and `exact` is False: an upper bound, never a traceback.
    """
    stat = _read_stat(pid, proc)
    if stat is None:
        return None
    name, ppid, threads, start, rss_pages = stat
    if "/" in name:
        name = _real_name(pid, name, proc)
    if uptime is None:
        uptime = _uptime(proc)
    try:
        uid = os.stat(f"{proc}/{pid}").st_uid
    except OSError:
        return None
    exact = True
    try:
        rollup = _read_rollup(pid, proc)
    except ProcessLookupError:
        return None
    except PermissionError:
        rollup = None
        exact = False
    if rollup is None and exact:
        rollup = _psutil_memory(pid)
        if rollup is None:
            exact = False
    if rollup is not None:
        rss = rollup["rss"]
        uss = rollup["private_clean"] + rollup["private_dirty"] + rollup["private_hugetlb"]
        pss = rollup["pss"]
        swap = rollup["swap"]
    else:
        rss = uss = pss = rss_pages * _PAGE
        swap = _read_status_swap(pid, proc)
    return ProcessInfo(
        pid=pid,
        ppid=ppid,
        name=name,
        rss=rss,
        uss=uss,
        pss=pss,
        swap=swap,
        threads=threads,
        uid=uid,
        age=max(0.0, uptime - start),
        exact=exact,
        role=role,
    )


def _psutil_memory(pid: int) -> dict[str, int] | None:
    """The slow path for kernels without smaps_rollup: psutil parses /proc/PID/smaps."""
    try:
        full = psutil.Process(pid).memory_full_info()
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
        return None
    return {
        "rss": full.rss,
        "pss": getattr(full, "pss", full.uss),
        "private_clean": full.uss,
        "private_dirty": 0,
        "private_hugetlb": 0,
        "swap": getattr(full, "swap", 0),
    }


def _all_pids(proc: str = _PROC) -> list[int]:
    return [int(entry) for entry in os.listdir(proc) if entry.isdigit()]


def read_processes(pids: Iterable[int] | None = None, *, proc: str = _PROC) -> list[ProcessInfo]:
    """Read many processes (all of them by default), skipping those that exit meanwhile."""
    uptime = _uptime(proc)
    out = []
    for pid in _all_pids(proc) if pids is None else pids:
        info = read_process(pid, uptime=uptime, proc=proc)
        if info is not None:
            out.append(info)
    return out


def _mapped_libraries(pid: int, proc: str = _PROC) -> list[str]:
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


# --------------------------------------------------------------------------- RAM and cgroups


def physical_memory() -> int:
    """Total physical memory in bytes."""
    return int(psutil.virtual_memory().total)


def _read_limit(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if 0 < value < _NO_LIMIT else None


def cgroup_limit(
    pid: int | str = "self", *, root: str = "/sys/fs/cgroup", proc: str = _PROC
) -> int | None:
    """The tightest memory limit of the cgroup `pid` runs in and its ancestors, or None.

    Reads cgroup v2 (memory.max, also on a hybrid /sys/fs/cgroup/unified mount) and v1
    (memory/memory.limit_in_bytes). "max", an absent file or a huge value mean no limit.
    The root files are read too: inside a container the cgroup path may read "/" while the
    container's own cgroup is mounted at the root.
    """
    candidates: list[str] = [
        f"{root}/memory.max",
        f"{root}/unified/memory.max",
        f"{root}/memory/memory.limit_in_bytes",
    ]
    try:
        with open(f"{proc}/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        path = path.strip("/")
        if hierarchy == "0" and controllers == "":
            bases, filename = [root, f"{root}/unified"], "memory.max"
        elif "memory" in controllers.split(","):
            bases, filename = [f"{root}/memory"], "memory.limit_in_bytes"
        else:
            continue
        parts = path.split("/") if path else []
        for base in bases:
            # Every ancestor's limit binds too, so walk up to the hierarchy's root.
            for depth in range(len(parts), 0, -1):
                candidates.append("/".join([base, *parts[:depth], filename]))
    limits = [limit for limit in map(_read_limit, candidates) if limit is not None]
    return min(limits) if limits else None


def ram(pid: int | str = "self") -> tuple[int, int, int | None]:
    """(usable RAM, physical RAM, cgroup limit or None): usable is the smaller of the two."""
    physical = physical_memory()
    limit = cgroup_limit(pid)
    return (min(physical, limit) if limit else physical), physical, limit


# --------------------------------------------------------------------------- finding httpd


def read_pid_file(path: str) -> int:
    """The PID a PidFile holds; ConfigError when absent or not a number."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot read PidFile: {exc.strerror} (is httpd running?)", path
        ) from None
    if not text.isdigit():
        raise ConfigError(f"PidFile does not hold a process ID: {text[:40]!r}", path)
    return int(text)


def _check_running(pid: int, proc: str = _PROC) -> None:
    if pid <= 0 or not os.path.exists(f"{proc}/{pid}/stat"):
        raise ConfigError(f"no process with PID {pid} is running")


# httpd options that make it print something and exit rather than serve: `apache2 -t`,
# `-S`, `-M`, `-V`, `-v`, `-l`, `-L`, `-h` (and -t's variants such as `-t -D DUMP_VHOSTS`).
_ONE_SHOT = {b"-t", b"-T", b"-S", b"-M", b"-V", b"-v", b"-l", b"-L", b"-h"}


def _is_one_shot(pid: int, proc: str = _PROC) -> bool:
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


def find_trees(
    processes: list[ProcessInfo],
    parents: Iterable[int] | None = None,
    *,
    proc: str = _PROC,
) -> tuple[list[HttpdTree], list[ProcessInfo], list[Notice]]:
    """Split `processes` into httpd trees and the rest.

    With `parents` (from --pid or a PidFile) those are the httpd parents; a PID that is an
    httpd child is taken for its parent, with a warning. Without, every httpd-named process
    whose parent is not httpd-named is a parent. A parent's httpd-named descendants are its
    children; its other descendants (piped loggers, CGI scripts) stay "other".
    """
    warnings: list[Notice] = []
    by_pid = {p.pid: p for p in processes}
    kids: dict[int, list[ProcessInfo]] = {}
    for p in processes:
        kids.setdefault(p.ppid, []).append(p)

    if parents is None:
        roots = [
            p.pid
            for p in processes
            if is_httpd_name(p.name)
            and not (p.ppid in by_pid and is_httpd_name(by_pid[p.ppid].name))
            and not _is_one_shot(p.pid, proc)
        ]
    else:
        roots = []
        for pid in parents:
            p = by_pid.get(pid)
            if p is None:
                raise ConfigError(f"no process with PID {pid} is running")
            parent = by_pid.get(p.ppid)
            if is_httpd_name(p.name) and parent is not None and is_httpd_name(parent.name):
                warnings.append(
                    Notice(
                        "pid-is-child",
                        f"PID {pid} is an httpd child; measuring its parent {parent.pid}",
                    )
                )
                pid = parent.pid
            elif not is_httpd_name(p.name):
                warnings.append(
                    Notice("pid-not-httpd", f"PID {pid} is {p.name!r}, not apache2 or httpd")
                )
            if pid not in roots:
                roots.append(pid)

    trees: list[HttpdTree] = []
    in_tree: set[int] = set()
    for root in roots:
        parent = replace(by_pid[root], role="parent")
        children: list[ProcessInfo] = []
        stack = list(kids.get(root, []))
        while stack:
            p = stack.pop()
            if p.pid in in_tree:
                continue
            if is_httpd_name(p.name) or p.name == parent.name:
                children.append(replace(p, role="child"))
                in_tree.add(p.pid)
            stack.extend(kids.get(p.pid, []))
        children.sort(key=lambda c: c.pid)
        in_tree.add(root)
        trees.append(HttpdTree(parent, children))
    others = [p for p in processes if p.pid not in in_tree]
    return trees, others, warnings


def _permission_warnings(
    httpd: Iterable[ProcessInfo], others: Iterable[ProcessInfo]
) -> list[Notice]:
    """One warning for httpd processes and one for others whose memory maps we may not read."""
    out = []
    for code, what, procs in (
        ("no-permission", "httpd", [p for p in httpd if not p.exact]),
        ("no-permission-others", "other", [p for p in others if not p.exact]),
    ):
        if procs:
            users = ", ".join(str(uid) for uid in sorted({p.uid for p in procs}))
            out.append(
                Notice(
                    code,
                    f"cannot read the memory maps of {len(procs)} {what} process(es) owned by "
                    f"uid {users} (run as root or as that user): USS and PSS fall back to RSS, "
                    "which counts shared pages in every process and overstates the need",
                )
            )
    return out


def _young_warning(tree: HttpdTree, min_age: float) -> Notice | None:
    young = [c for c in tree.children if c.age < min_age]
    if not young or min_age <= 0:
        return None
    return Notice(
        "young-children",
        f"{len(young)} of {len(tree.children)} children of httpd {tree.parent.pid} started "
        f"less than {min_age:g} s ago and may not have grown to their working size yet; "
        "measure after they have served traffic (or sample with --duration)",
    )


def measure(
    pids: Iterable[int] | None = None,
    *,
    top: int = 10,
    min_age: float = YOUNG_SECONDS,
    proc: str = _PROC,
) -> Measurement:
    """Look at the machine once: httpd trees (given parents, or discovered), others, RAM.

    Raises ConfigError when a given PID is not running.
    """
    wanted = list(pids) if pids is not None else None
    for pid in wanted or ():
        _check_running(pid, proc)
    processes = read_processes(proc=proc)
    me = os.getpid()
    processes = [p for p in processes if p.pid != me]
    trees, others, warnings = find_trees(processes, wanted, proc=proc)
    for tree in trees:
        tree.libraries = _mapped_libraries(tree.parent.pid, proc)
    # Kernel threads have no memory of their own; they are not "other processes".
    others = [p for p in others if p.rss > 0]
    others.sort(key=lambda p: p.pss, reverse=True)
    usable, physical, limit = ram(trees[0].parent.pid if trees else "self")
    result = Measurement(
        ram_bytes=usable,
        physical_bytes=physical,
        cgroup_limit_bytes=limit,
        trees=trees,
        others=others[:top],
        others_pss_bytes=sum(p.pss for p in others),
        warnings=warnings,
    )
    _add_process_warnings(result, min_age)
    return result


def _add_process_warnings(result: Measurement, min_age: float) -> None:
    if not result.trees:
        result.warnings.append(Notice("no-httpd", "no running apache2 or httpd found"))
    httpd = [p for t in result.trees for p in (t.parent, *t.children)]
    result.warnings.extend(_permission_warnings(httpd, result.others))
    for tree in result.trees:
        young = _young_warning(tree, min_age)
        if young:
            result.warnings.append(young)
    if len(result.trees) > 1:
        result.warnings.append(
            Notice(
                "several-httpd",
                f"{len(result.trees)} httpd servers run (parents "
                f"{', '.join(str(t.parent.pid) for t in result.trees)}); sizing uses the one "
                "with most children: give --pid to choose",
            )
        )


def sample(
    duration: float,
    interval: float,
    pids: Iterable[int] | None = None,
    *,
    top: int = 10,
    min_age: float = YOUNG_SECONDS,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    proc: str = _PROC,
) -> Measurement:
    """Measure every `interval` seconds for `duration` and merge: each process at its peak.

    The result is the last look, with every process's sizes at the largest USS seen for that
    PID, and each tree's peak_child the largest child seen at any time, also one that exited
    meanwhile (MaxConnectionsPerChild recycles the big ones first). `progress(done, total)`
    is called after each look. A server that stops while sampling ends the sampling for a
    given PID (with a warning), and sends discovery looking again otherwise.
    """
    wanted = list(pids) if pids is not None else None
    given = wanted is not None
    total = max(1, int(duration // interval) + 1) if interval > 0 else 1
    peaks: dict[int, ProcessInfo] = {}
    peak_children: dict[int, ProcessInfo] = {}
    gone: list[int] = []
    last = measure(wanted, top=top, min_age=min_age, proc=proc)
    looks = 0
    while True:
        looks += 1
        if wanted is None and last.trees:
            # Keep following the same servers even if discovery would find others later.
            wanted = [t.parent.pid for t in last.trees]
        for p in last.processes():
            seen = peaks.get(p.pid)
            if seen is None or p.uss > seen.uss:
                peaks[p.pid] = p
        for tree in last.trees:
            child = tree.largest_child
            seen = peak_children.get(tree.parent.pid)
            if child and (seen is None or child.uss > seen.uss):
                peak_children[tree.parent.pid] = child
        if progress is not None:
            progress(looks, total)
        if looks >= total:
            break
        sleep(interval)
        if wanted:
            alive = [pid for pid in wanted if os.path.exists(f"{proc}/{pid}/stat")]
            gone.extend(pid for pid in wanted if pid not in alive)
            if not alive and given:
                break  # what we have is all there is
            wanted = alive or None
        try:
            last = measure(wanted, top=top, min_age=min_age, proc=proc)
        except ConfigError:
            # It stopped between the check and the look.
            gone.extend(wanted or ())
            if given:
                break
            wanted = None
            last = measure(None, top=top, min_age=min_age, proc=proc)
    if gone:
        last.warnings.append(
            Notice(
                "httpd-exited",
                f"httpd {', '.join(map(str, dict.fromkeys(gone)))} stopped while sampling",
            )
        )
    for tree in last.trees:
        tree.parent = replace(peaks.get(tree.parent.pid, tree.parent), role="parent")
        tree.children = [replace(peaks.get(c.pid, c), role="child") for c in tree.children]
        tree.peak_child = peak_children.get(tree.parent.pid)
    last.others = [peaks.get(p.pid, p) for p in last.others]
    last.samples = looks
    return last


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds from `10s`, `10m`, `1h`, `500ms` or a bare number of seconds."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 10m or 1h")
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[(match.group(2) or "s").lower()]
    return float(match.group(1)) * factor


# --------------------------------------------------------------------------- httpd's history

_LIMIT_RE = re.compile(
    r"AH00161|AH00286|AH00484|server reached (?:MaxRequestWorkers|MaxClients) setting"
)
_OOM_RE = re.compile(
    r"(?:Out of memory|Memory cgroup out of memory)[^\n]*?: Kill(?:ed)? process (\d+) \(([^)]*)\)"
)


def find_limit_hits(text: str) -> list[str]:
    """Error log lines where httpd ran out of workers (2.4 AH00161/AH00286/AH00484, 2.2 text)."""
    return [line for line in text.splitlines() if _LIMIT_RE.search(line)]


def find_oom_kills(text: str) -> list[tuple[int, str, str]]:
    """(pid, name, line) for each kernel OOM kill of an httpd process in `text`."""
    kills = []
    for line in text.splitlines():
        match = _OOM_RE.search(line)
        if match and is_httpd_name(match.group(2)):
            kills.append((int(match.group(1)), match.group(2), line.strip()))
    return kills


def _tail(path: str, limit: int = 8 * 1024 * 1024) -> str:
    """The last `limit` bytes of a file as text (logs can be huge; recent lines matter)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        return f.read().decode("utf-8", "replace")


def open_error_logs(pid: int, proc: str = _PROC) -> list[str]:
    """Error logs the running parent holds open (its fds pointing at *error*log* files)."""
    paths: set[str] = set()
    try:
        fds = os.listdir(f"{proc}/{pid}/fd")
    except OSError:
        return []
    for fd in fds:
        try:
            target = os.readlink(f"{proc}/{pid}/fd/{fd}")
        except OSError:
            continue
        if re.search(r"error[._-]?log", os.path.basename(target)) and os.path.isfile(target):
            paths.add(target)
    return sorted(paths)


DEFAULT_ERROR_LOGS = ("/var/log/apache2/error.log", "/var/log/httpd/error_log")


def error_log_warnings(paths: Iterable[str]) -> list[Notice]:
    """A warning per error log that shows httpd reached MaxRequestWorkers (or MaxClients)."""
    warnings = []
    for path in dict.fromkeys(paths):
        try:
            hits = find_limit_hits(_tail(path))
        except OSError:
            continue
        if hits:
            warnings.append(
                Notice(
                    "limit-reached",
                    f"{path}: httpd reached its worker limit {len(hits)} time(s), last: "
                    f"{hits[-1].strip()[:200]}",
                )
            )
    return warnings


def _kernel_log_text() -> str:
    """Recent kernel messages from the first readable source: kern.log, journal, dmesg."""
    for path in ("/var/log/kern.log", "/var/log/messages"):
        try:
            return _tail(path)
        except OSError:
            continue
    for command in (["journalctl", "-k", "-q", "--no-pager", "-n", "20000"], ["dmesg"]):
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=5, errors="replace"
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0 and done.stdout:
            return done.stdout
    return ""


def kernel_log_warnings(text: str | None = None) -> list[Notice]:
    """A warning when the kernel's OOM killer has killed httpd processes."""
    kills = find_oom_kills(_kernel_log_text() if text is None else text)
    if not kills:
        return []
    pids = ", ".join(str(pid) for pid, _, _ in kills[-5:])
    return [
        Notice(
            "oom-killed",
            f"the kernel killed httpd for lack of memory {len(kills)} time(s) (PIDs {pids}); "
            f"last: {kills[-1][2][:200]}",
        )
    ]


# --------------------------------------------------------------------------- rendering


def _row(p: ProcessInfo) -> str:
    from httpdlint.sizes import format_size

    mark = "" if p.exact else "*"
    return (
        f"  {p.pid:>7} {p.ppid:>7}  {p.role:<6} {p.name[:15]:<15} "
        f"{format_size(p.rss):>10} {format_size(p.uss) + mark:>11} {format_size(p.pss) + mark:>11} "
        f"{format_size(p.swap):>10} {p.threads:>7} {p.age:>8.0f}s"
    )


_HEADER = (
    f"  {'PID':>7} {'PPID':>7}  {'ROLE':<6} {'NAME':<15} {'RSS':>10} {'USS':>11} {'PSS':>11} "
    f"{'SWAP':>10} {'THREADS':>7} {'AGE':>9}"
)


def render_table(m: Measurement) -> str:
    """The measurement as a table for people."""
    from httpdlint.sizes import format_size

    out: list[str] = []
    for tree in m.trees:
        extra = [x for x in (tree.mpm, *tree.interpreters) if x]
        out.append(
            f"httpd {tree.parent.pid} ({tree.parent.name}"
            + (f", {', '.join(extra)}" if extra else "")
            + f"): {len(tree.children)} children"
        )
        out.append(_HEADER)
        out.append(_row(tree.parent))
        out.extend(_row(c) for c in tree.children)
        child = tree.largest_child
        if child is not None:
            n = len(tree.children)
            out.append(
                f"  largest child: PID {child.pid}, USS {format_size(child.uss)}"
                + (f" (peak over {m.samples} samples)" if m.samples > 1 else "")
            )
            out.append(
                f"  parent RSS + {n} x largest child USS = {format_size(tree.predicted_bytes())}; "
                f"sum of PSS = {format_size(tree.pss_total())}"
            )
        out.append("")
    if m.others:
        out.append("Other processes by PSS:")
        out.append(_HEADER)
        out.extend(_row(p) for p in m.others)
        out.append(f"  all other processes: PSS {format_size(m.others_pss_bytes)}")
        out.append("")
    limit = (
        f"cgroup limit {format_size(m.cgroup_limit_bytes)}"
        if m.cgroup_limit_bytes
        else "no cgroup limit"
    )
    out.append(
        f"RAM: {format_size(m.ram_bytes)} (physical {format_size(m.physical_bytes)}, {limit})"
    )
    if any(not p.exact for p in m.processes()):
        out.append("* RSS in place of USS/PSS: no permission to read that process's memory maps")
    if m.warnings:
        out.append("")
        out.append("Warnings:")
        out.extend(f"  {w.code}: {w.message}" for w in m.warnings)
    return "\n".join(out) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_openmetrics(m: Measurement) -> str:
    """The measurement for node_exporter's textfile collector (OpenMetrics text format).

    Labels carry the parent PID, never a child's: children come and go, and a label per child
    PID would create a new time series for every one of them.
    """
    families: list[tuple[str, str, str, str, list[tuple[dict[str, str], float]]]] = []

    def family(name: str, kind: str, unit: str, help_: str, samples) -> None:
        families.append((name, kind, unit, help_, list(samples)))

    family(
        "httpdlint_ram_bytes",
        "gauge",
        "bytes",
        "Usable memory: the smaller of physical memory and the cgroup limit",
        [({}, m.ram_bytes)],
    )
    family(
        "httpdlint_physical_memory_bytes",
        "gauge",
        "bytes",
        "Physical memory",
        [({}, m.physical_bytes)],
    )
    if m.cgroup_limit_bytes:
        family(
            "httpdlint_cgroup_limit_bytes",
            "gauge",
            "bytes",
            "Memory cgroup limit",
            [({}, m.cgroup_limit_bytes)],
        )
    tree_samples: dict[str, list[tuple[dict[str, str], float]]] = {
        "children": [],
        "memory": [],
        "largest": [],
        "predicted": [],
        "threads": [],
    }
    for tree in m.trees:
        base = {"parent_pid": str(tree.parent.pid), "name": tree.parent.name}
        tree_samples["children"].append((base, len(tree.children)))
        for role, procs in (("parent", [tree.parent]), ("child", tree.children)):
            for kind in ("rss", "uss", "pss", "swap"):
                total = sum(getattr(p, kind) for p in procs)
                tree_samples["memory"].append(({**base, "role": role, "kind": kind}, total))
            tree_samples["threads"].append(({**base, "role": role}, sum(p.threads for p in procs)))
        child = tree.largest_child
        if child is not None:
            for kind in ("rss", "uss", "pss"):
                tree_samples["largest"].append(({**base, "kind": kind}, getattr(child, kind)))
        tree_samples["predicted"].append((base, tree.predicted_bytes()))
    family(
        "httpdlint_httpd_children",
        "gauge",
        "",
        "httpd worker child processes",
        tree_samples["children"],
    )
    family(
        "httpdlint_httpd_memory_bytes",
        "gauge",
        "bytes",
        "Memory of httpd's parent and the sum over its children, by kind",
        tree_samples["memory"],
    )
    family(
        "httpdlint_httpd_threads",
        "gauge",
        "",
        "Threads of httpd's parent and children",
        tree_samples["threads"],
    )
    family(
        "httpdlint_httpd_largest_child_bytes",
        "gauge",
        "bytes",
        "Memory of the largest child (by USS)",
        tree_samples["largest"],
    )
    family(
        "httpdlint_httpd_predicted_bytes",
        "gauge",
        "bytes",
        "Capacity model: parent RSS + children x largest child USS",
        tree_samples["predicted"],
    )
    family(
        "httpdlint_other_pss_bytes",
        "gauge",
        "bytes",
        "PSS of the largest other processes, by name",
        _others_by_name(m.others),
    )
    family(
        "httpdlint_others_pss_bytes",
        "gauge",
        "bytes",
        "PSS of all other processes",
        [({}, m.others_pss_bytes)],
    )
    family(
        "httpdlint_measure_warnings",
        "gauge",
        "",
        "Warnings of the measurement, by code",
        [({"code": code}, n) for code, n in _count_codes(m.warnings).items()],
    )
    family(
        "httpdlint_measure_timestamp_seconds",
        "gauge",
        "seconds",
        "When the measurement was taken",
        [({}, round(m.timestamp, 3))],
    )

    lines: list[str] = []
    for name, kind, unit, help_, samples in families:
        lines.append(f"# TYPE {name} {kind}")
        if unit:
            lines.append(f"# UNIT {name} {unit}")
        lines.append(f"# HELP {name} {help_}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            number = repr(float(value)) if isinstance(value, float) else str(int(value))
            lines.append(f"{name}{{{text}}} {number}" if text else f"{name} {number}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _others_by_name(others: Iterable[ProcessInfo]) -> list[tuple[dict[str, str], float]]:
    totals: dict[str, int] = {}
    for p in others:
        totals[p.name] = totals.get(p.name, 0) + p.pss
    return [({"name": name}, pss) for name, pss in totals.items()]


def _count_codes(warnings: Iterable[Notice]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in warnings:
        counts[w.code] = counts.get(w.code, 0) + 1
    return counts
