"""Live httpd process trees with roles, their memory while serving, the machine's RAM and limits.

procfs.py reads each process; this module finds the httpd trees and gives every process of a
tree its role, looks once (`measure`) or over a window (`sample`, keeping each process at its
peak), reads the host's memory and the cgroup limits over the sized processes (limits.py), and
says what the numbers can and cannot tell (warnings). No arithmetic about capacity happens here:
inputs.py hands these numbers to capacity.py.

Roles in a tree (DESIGN.md, "Capacity model"):

* parent: the process everything forks from; its anonymous memory is shared copy-on-write.
* child: an MPM child; their number scales with MaxRequestWorkers.
* daemon: an application process under httpd whose number its own settings fix: mod_wsgi
  daemon mode. Its processes look like children (same name, same command line) unless
  `display-name` retitles them `(wsgi:GROUP)`; what tells them apart is the listening socket
  each group gets, `PREFIX.PARENT.GENERATION.ID.sock`, which they hold and MPM children close.
* logger: a piped logger (`ErrorLog "|/usr/bin/rotatelogs ..."`), a direct child of the
  parent that is not httpd.
* other: anything else below the parent (CGI scripts come and go with their requests).

Backends outside the tree (PHP-FPM pools the configuration proxies to) are read by inputs.py
through backends.py.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from httpdlint.bounds import NotRegular, TooLarge, read_regular
from httpdlint.errors import ConfigError
from httpdlint.limits import CgroupLimit, HostMemory, cgroup_limits, host_memory
from httpdlint.procfs import (
    PROC,
    ProcessInfo,
    cmdline,
    is_httpd_name,
    is_one_shot,
    mapped_libraries,
    process_name,
    read_process,
    read_processes,
)
from httpdlint.services import ServiceReserve, find_services, merge_peaks

__all__ = [
    "SERVED_CPU",
    "SERVED_WRITES",
    "served",
    "unknowable",
    "HttpdTree",
    "Notice",
    "Measurement",
    "Observation",
    "find_trees",
    "measure",
    "sample",
    "read_pid_file",
    "parse_duration",
    "is_httpd_name",
]

#: A child that has used less CPU than this, made fewer write calls than SERVED_WRITES (about
#: one per response) and was never seen serving has likely not grown to its working size.
SERVED_CPU = 0.05
SERVED_WRITES = 2


def served(p: ProcessInfo, min_cpu: float = SERVED_CPU) -> bool:
    """Whether a child has served traffic: by its CPU time, its responses, or seen busy."""
    return p.cpu >= min_cpu or (p.writes or 0) >= SERVED_WRITES or bool(p.busy)


def unknowable(p: ProcessInfo, min_cpu: float = SERVED_CPU) -> bool:
    """Whether it cannot be told that a child has served: little CPU, and its responses and
    threads hidden (another user's process, and not root)."""
    return not served(p, min_cpu) and p.writes is None and p.busy is None


@dataclass(frozen=True)
class Observation:
    """One child at one look: how many of its threads served and what it held."""

    pid: int
    busy: int | None
    private: int


@dataclass
class HttpdTree:
    """A running httpd: its parent, MPM children, daemons and piped loggers."""

    parent: ProcessInfo
    children: list[ProcessInfo]
    daemons: list[ProcessInfo] = field(default_factory=list)
    loggers: list[ProcessInfo] = field(default_factory=list)
    #: Shared objects the parent has mapped (mod_perl.so, libphp8.2.so, mod_mpm_event.so, ...).
    libraries: list[str] = field(default_factory=list)
    #: The largest child seen over all samples (by private memory), which may have exited since.
    peak_child: ProcessInfo | None = None
    #: The largest shared figure seen over all samples.
    peak_shared: int = 0
    #: Every child at every look, for the per-busy-thread fit.
    observations: list[Observation] = field(default_factory=list)
    #: The most workers (prefork children, threads) seen serving at once at one look; None
    #: when no child's threads could be read.
    busy_peak: int | None = None
    #: What the server was asked to do (demand.py): busy peak, limit, limit messages.
    demand: dict | None = None

    @property
    def largest_child(self) -> ProcessInfo | None:
        if self.peak_child is not None:
            return self.peak_child
        return max(self.children, key=lambda p: p.private, default=None)

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

    def processes(self) -> list[ProcessInfo]:
        return [self.parent, *self.children, *self.daemons, *self.loggers]

    def shared_now(self) -> int:
        """What the children share, counted once: the parent's anonymous memory (its pages the
        children map copy-on-write) and the PSS of every shared-memory mapping in the tree."""
        return self.parent.anon + sum(p.shm for p in self.processes())

    @property
    def shared(self) -> int:
        return max(self.peak_shared, self.shared_now())

    @property
    def busy_seen(self) -> bool | None:
        """Whether any child was seen serving a request; None when threads were unreadable."""
        known = [o.busy for o in self.observations if o.busy is not None]
        if not known:
            return None
        return any(known)

    def daemon_groups(self) -> dict[str, list[ProcessInfo]]:
        groups: dict[str, list[ProcessInfo]] = {}
        for p in self.daemons:
            groups.setdefault(p.group, []).append(p)
        return groups

    def pss_total(self) -> int:
        """What the tree really costs by PSS: parent, children, daemons and loggers."""
        return sum(p.pss for p in self.processes())

    def to_json(self) -> dict:
        child = self.largest_child
        return {
            "parent": self.parent.pid,
            "mpm": self.mpm,
            "children": len(self.children),
            "daemons": {name: len(ps) for name, ps in self.daemon_groups().items()},
            "loggers": len(self.loggers),
            "parent_rss": self.parent.rss,
            "parent_anon": self.parent.anon,
            "shared_bytes": self.shared,
            "largest_child": child.to_json() if child else None,
            "children_private": sum(c.private for c in self.children),
            "busy_seen": self.busy_seen,
            "busy_peak": self.busy_peak,
            "pss_total": self.pss_total(),
            "libraries": self.libraries,
            "demand": self.demand,
        }


@dataclass(frozen=True)
class Notice:
    """Something the user should know about the numbers: code and one-line message."""

    code: str
    message: str

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


#: Notices that name something that could not be read (a process's maps, a log, a file).
UNREADABLE = frozenset({"no-permission", "no-permission-others", "unreadable"})


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
    #: PHP-FPM masters and workers (role pool-master or pool-worker, group the pool), read in
    #: detail: inputs.py counts those that serve httpd as pools, the rest in the reserve.
    backends: list[ProcessInfo] = field(default_factory=list)
    #: Each running PHP-FPM pool with its demand (demand.py), when read.
    pools: list[dict] = field(default_factory=list)
    #: Co-hosted services among the others (services.py), each with its ceiling.
    services: list[ServiceReserve] = field(default_factory=list)
    #: Every cgroup memory limit over httpd and the PHP-FPM processes, tightest first.
    limits: list[CgroupLimit] = field(default_factory=list)
    #: MemTotal and what no sized process can use (limits.py); None: not read.
    host: HostMemory | None = None
    #: Where the configuration came from (discover.provenance), set by the command.
    config: dict | None = None
    #: Per parent PID, what its configuration says: {"config": ..., "mpm_settings": ...}.
    tree_configs: dict[int, dict] = field(default_factory=dict)

    @property
    def tree(self) -> HttpdTree | None:
        """The httpd to size: the one with most children when several run."""
        return max(self.trees, key=lambda t: len(t.children), default=None)

    def processes(self) -> list[ProcessInfo]:
        out: list[ProcessInfo] = []
        for tree in self.trees:
            out.extend(tree.processes())
        out.extend(self.backends)
        out.extend(self.others)
        return out

    def to_json(self) -> dict:
        return {
            "schema": 1,
            "ram_bytes": self.ram_bytes,
            "physical_bytes": self.physical_bytes,
            "cgroup_limit_bytes": self.cgroup_limit_bytes,
            "host": self.host.to_json() if self.host is not None else None,
            "limits": [lim.to_json() for lim in self.limits],
            "processes": [p.to_json() for p in self.processes()],
            "config": self.config,
            "httpd": [
                {**t.to_json(), **self.tree_configs.get(t.parent.pid, {})} for t in self.trees
            ],
            "others_pss_bytes": self.others_pss_bytes,
            "services": [s.to_json() for s in self.services],
            "samples": self.samples,
            "timestamp": round(self.timestamp, 3),
            "warnings": [w.to_json() for w in self.warnings if w.code not in UNREADABLE],
            "unreadable": [w.to_json() for w in self.unreadable],
            "estimated": any(not p.exact for p in self.processes()),
            "pools": self.pools,
        }

    @property
    def unreadable(self) -> list[Notice]:
        """What could not be read, each item once: the figures that stand in are estimates."""
        return [w for w in self.warnings if w.code in UNREADABLE]


# --------------------------------------------------------------------------- finding httpd


def read_pid_file(path: str) -> int:
    """The PID a PidFile holds; ConfigError when absent or not a number."""
    try:
        # A regular file only, its first 64 bytes (a PID is at most 20 digits): a PidFile
        # naming a FIFO or /dev/zero must neither block nor be read without end.
        text = read_regular(path, 64, tail=False).decode("ascii", "replace").strip()
    except TooLarge:
        raise ConfigError("PidFile does not hold a process ID", path) from None
    except NotRegular:
        raise ConfigError("PidFile is not a regular file: not read", path) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read PidFile: {exc.strerror} (is httpd running?)", path
        ) from None
    if not text.isdigit():
        # Never its contents: a PidFile may name any file (a key, /etc/shadow).
        raise ConfigError("PidFile does not hold a process ID (its content is not shown)", path)
    return int(text)


def check_pid(pid: int, force: bool = False, proc: str = PROC) -> None:
    """A --pid must name a running httpd (apache2, httpd, a distribution's variant): the
    processes below another one are no httpd children (`--pid 1` would size the whole
    machine as one server). `force` (--force-pid) measures it anyway."""
    _check_running(pid, proc)
    name = process_name(pid, proc)
    if not force and name is not None and not is_httpd_name(name):
        shown = name.encode("ascii", "backslashreplace").decode()[:32]
        raise ConfigError(
            f"--pid {pid} is {shown!r}, not an httpd process (apache2, httpd): give the httpd "
            "parent's PID, or --force-pid to measure that process anyway"
        )


def _check_running(pid: int, proc: str = PROC) -> None:
    if pid <= 0 or not os.path.exists(f"{proc}/{pid}/stat"):
        raise ConfigError(f"no process with PID {pid} is running")


def _wsgi_sockets(parent: int, proc: str) -> dict[str, str]:
    """socket:[INODE] -> `wsgi#ID` for the daemon groups' listening sockets of `parent`.

    mod_wsgi names them PREFIX.PARENT.GENERATION.ID.sock, PREFIX being WSGISocketPrefix as
    written (`logs/wsgi` by default, but any path: `run/app`), so only the tail is matched.
    """
    pattern = re.compile(rf"\.{parent}\.\d+\.(\d+)\.sock$")
    out: dict[str, str] = {}
    try:
        with open(f"{proc}/net/unix") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) >= 8:
            match = pattern.search(fields[7])
            if match:
                out[f"socket:[{fields[6]}]"] = f"wsgi#{match.group(1)}"
    return out


def _daemon_group(pid: int, proc: str, sockets: dict[str, str]) -> str | None:
    """`wsgi:GROUP` (retitled) or `wsgi#ID` for a mod_wsgi daemon process, else None."""
    argv = cmdline(pid, proc)
    if argv and argv[0].startswith(b"(wsgi:"):
        return argv[0].strip(b"()").decode("utf-8", "replace")
    if not sockets:
        return None
    try:
        fds = os.listdir(f"{proc}/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            group = sockets.get(os.readlink(f"{proc}/{pid}/fd/{fd}"))
        except OSError:
            continue
        if group:
            return group
    return None


def find_trees(
    processes: list[ProcessInfo],
    parents: Iterable[int] | None = None,
    *,
    proc: str = PROC,
) -> tuple[list[HttpdTree], list[ProcessInfo], list[Notice]]:
    """Split `processes` into httpd trees (with roles) and the rest.

    With `parents` (from --pid or a PidFile) those are the httpd parents; a PID that is an
    httpd child is taken for its parent, with a warning. Without, every httpd-named process
    whose parent is not httpd-named is a parent.
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
            and not is_one_shot(p.pid, proc)
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
        tree = HttpdTree(replace(by_pid[root], role="parent"), [])
        sockets = _wsgi_sockets(root, proc)
        stack = list(kids.get(root, []))
        while stack:
            p = stack.pop()
            if p.pid in in_tree:
                continue
            if is_httpd_name(p.name) or p.name == tree.parent.name:
                group = _daemon_group(p.pid, proc, sockets)
                if group:
                    tree.daemons.append(replace(p, role="daemon", group=group))
                else:
                    tree.children.append(replace(p, role="child"))
                in_tree.add(p.pid)
            elif p.ppid == root:
                tree.loggers.append(replace(p, role="logger", group="piped loggers"))
                in_tree.add(p.pid)
            stack.extend(kids.get(p.pid, []))
        for group in (tree.children, tree.daemons, tree.loggers):
            group.sort(key=lambda c: c.pid)
        in_tree.add(root)
        trees.append(tree)
    others = [p for p in processes if p.pid not in in_tree]
    return trees, others, warnings


def _detailed(tree: HttpdTree, uptime: float | None, proc: str) -> HttpdTree:
    """The tree's processes read again in detail (smaps, status, threads); the exited dropped."""

    def again(p: ProcessInfo) -> ProcessInfo | None:
        q = read_process(p.pid, uptime=uptime, proc=proc, role=p.role, detail=True)
        return replace(q, group=p.group) if q is not None else None

    parent = again(tree.parent) or tree.parent
    out = HttpdTree(parent, [], libraries=mapped_libraries(parent.pid, proc))
    for name in ("children", "daemons", "loggers"):
        setattr(out, name, [q for q in map(again, getattr(tree, name)) if q is not None])
    out.observations = [Observation(c.pid, c.busy, c.private) for c in out.children]
    known = [c.busy for c in out.children if c.busy is not None]
    out.busy_peak = sum(known) if known else None
    return out


def _backend_processes(proc: str) -> list[ProcessInfo]:
    """The PHP-FPM masters and workers of this machine, read in detail."""
    from httpdlint.fpm import find_fpm_masters

    out: list[ProcessInfo] = []
    uptime = None
    for master in find_fpm_masters(proc, read_config=False):
        members = [(master.pid, "pool-master", master.conf or "")]
        for pool, pids in master.workers.items():
            members.extend((pid, "pool-worker", pool) for pid in pids)
        for pid, role, group in members:
            p = read_process(pid, uptime=uptime, proc=proc, role=role, detail=True)
            if p is not None:
                out.append(replace(p, group=group))
    return out


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


def _unserved_warning(tree: HttpdTree, min_cpu: float) -> Notice | None:
    """Children that have served little: little CPU used and never seen busy."""
    busy = {o.pid for o in tree.observations if o.busy}
    fresh = [c for c in tree.children if not served(c, min_cpu) and c.pid not in busy]
    if not fresh or min_cpu <= 0:
        return None
    return Notice(
        "young-children",
        f"{len(fresh)} of {len(tree.children)} children of httpd {tree.parent.pid} have used "
        f"less than {min_cpu:g} s of CPU, sent fewer than {SERVED_WRITES} responses and were "
        "not seen serving: they may not have grown to their working size; measure while the "
        "site has traffic (sample with --duration)",
    )


def measure(
    pids: Iterable[int] | None = None,
    *,
    top: int = 10,
    min_cpu: float = SERVED_CPU,
    proc: str = PROC,
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
    trees = [_detailed(tree, None, proc) for tree in trees]
    backends = _backend_processes(proc)
    counted = {p.pid for p in backends}
    # Kernel threads have no memory of their own; they are not "other processes".
    others = [p for p in others if p.rss > 0 and p.pid not in counted]
    others.sort(key=lambda p: p.pss, reverse=True)
    sized = [p for tree in trees for p in tree.processes()] + backends
    pss = {p.pid: p.pss for p in processes}
    pss.update((p.pid, p.pss) for p in sized)
    limits = cgroup_limits([p.pid for p in sized] or ["self"], pss, proc=proc)
    # What processes map of meminfo's Shmem is in their PSS already (the detailed readings
    # of the sized processes replace their first ones).
    shm = {p.pid: p.shm for p in processes}
    shm.update((p.pid, p.shm) for p in sized)
    host = host_memory(
        proc, mapped_shmem=sum(shm.values()), sized_page_tables=sum(p.pte for p in sized)
    )
    tightest = limits[0].bytes if limits else None
    result = Measurement(
        ram_bytes=min(host.total, tightest) if tightest else host.total,
        physical_bytes=host.total,
        cgroup_limit_bytes=tightest,
        trees=trees,
        others=others[:top],
        others_pss_bytes=sum(p.pss for p in others),
        warnings=warnings,
        backends=backends,
        services=find_services(others, physical=host.total, proc=proc),
        limits=limits,
        host=host,
    )
    _add_process_warnings(result, min_cpu)
    return result


def _add_process_warnings(result: Measurement, min_cpu: float) -> None:
    result.warnings = [w for w in result.warnings if w.code != "young-children"]
    if not result.trees:
        result.warnings.append(Notice("no-httpd", "no running apache2 or httpd found"))
    httpd = [p for t in result.trees for p in t.processes()]
    result.warnings.extend(_permission_warnings(httpd, result.others))
    for tree in result.trees:
        fresh = _unserved_warning(tree, min_cpu)
        if fresh:
            result.warnings.append(fresh)
        hidden = [c for c in tree.children if c.busy is None]
        if hidden:
            result.warnings.append(
                Notice(
                    "unreadable",
                    f"the threads' wait channels of {len(hidden)} children of httpd "
                    f"{tree.parent.pid} (/proc/PID/task/*/wchan, hidden without permission): "
                    "how many workers serve is unknown from the processes",
                )
            )
    if len(result.trees) > 1:
        result.warnings.append(
            Notice(
                "several-httpd",
                f"{len(result.trees)} httpd servers run (parents "
                f"{', '.join(str(t.parent.pid) for t in result.trees)}); sizing uses the one "
                "with most children: give PATH (its PidFile names it) or --pid to choose",
            )
        )


def _merge(peaks: dict[int, ProcessInfo], p: ProcessInfo) -> None:
    seen = peaks.get(p.pid)
    if seen is None or p.private > seen.private:
        # Keep the most busy threads seen, which the private memory at the peak may lack.
        if seen is not None and seen.busy is not None and (p.busy or 0) < seen.busy:
            p = replace(p, busy=seen.busy)
        peaks[p.pid] = p
    elif p.busy is not None and (seen.busy is None or p.busy > seen.busy):
        peaks[p.pid] = replace(seen, busy=p.busy)


def sample(
    duration: float,
    interval: float,
    pids: Iterable[int] | None = None,
    *,
    top: int = 10,
    min_cpu: float = SERVED_CPU,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    proc: str = PROC,
) -> Measurement:
    """Measure every `interval` seconds for `duration` and merge: each process at its peak.

    The result is the last look, with every process at the largest private memory seen for
    its PID, each tree's peak_child the largest child seen at any time (also one that exited
    meanwhile: MaxConnectionsPerChild recycles the big ones first), its shared memory at its
    largest, and every child of every look in `observations`. `progress(done, total)` is
    called after each look. A server that stops while sampling ends the sampling for a given
    PID (with a warning), and sends discovery looking again otherwise.
    """
    wanted = list(pids) if pids is not None else None
    given = wanted is not None
    total = max(1, int(duration // interval) + 1) if interval > 0 else 1
    peaks: dict[int, ProcessInfo] = {}
    peak_children: dict[int, ProcessInfo] = {}
    peak_shared: dict[int, int] = {}
    observations: dict[int, list[Observation]] = {}
    busy_peaks: dict[int, int | None] = {}
    gone: list[int] = []
    last = measure(wanted, top=top, min_cpu=min_cpu, proc=proc)
    looks = 0
    services: list[ServiceReserve] = []
    while True:
        looks += 1
        services = merge_peaks(services, last.services)
        if wanted is None and last.trees:
            # Keep following the same servers even if discovery would find others later.
            wanted = [t.parent.pid for t in last.trees]
        for p in last.processes():
            _merge(peaks, p)
        for tree in last.trees:
            key = tree.parent.pid
            child = tree.largest_child
            seen = peak_children.get(key)
            if child and (seen is None or child.private > seen.private):
                peak_children[key] = child
            peak_shared[key] = max(peak_shared.get(key, 0), tree.shared_now())
            observations.setdefault(key, []).extend(tree.observations)
            if tree.busy_peak is not None:
                busy_peaks[key] = max(busy_peaks.get(key) or 0, tree.busy_peak)
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
            last = measure(wanted, top=top, min_cpu=min_cpu, proc=proc)
        except ConfigError:
            # It stopped between the check and the look.
            gone.extend(wanted or ())
            if given:
                break
            wanted = None
            last = measure(None, top=top, min_cpu=min_cpu, proc=proc)
    if gone:
        last.warnings.append(
            Notice(
                "httpd-exited",
                f"httpd {', '.join(map(str, dict.fromkeys(gone)))} stopped while sampling",
            )
        )
    for tree in last.trees:
        key = tree.parent.pid
        tree.parent = peaks.get(key, tree.parent)
        for name in ("children", "daemons", "loggers"):
            setattr(tree, name, [peaks.get(c.pid, c) for c in getattr(tree, name)])
        tree.peak_child = peak_children.get(key)
        tree.peak_shared = peak_shared.get(key, 0)
        tree.observations = observations.get(key, tree.observations)
        tree.busy_peak = busy_peaks.get(key, tree.busy_peak)
    last.others = [peaks.get(p.pid, p) for p in last.others]
    # PHP-FPM workers at their peak too: a pool is sized by what a worker holds mid-request.
    last.backends = [peaks.get(p.pid, p) for p in last.backends]
    last.services = services
    last.samples = looks
    _add_process_warnings(last, min_cpu)
    return last


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds from `10s`, `10m`, `1h`, `500ms` or a bare number of seconds."""
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 10m or 1h")
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[(match.group(2) or "s").lower()]
    return float(match.group(1)) * factor
