"""What memory a sizing may use here: the host's, and every cgroup limit over the sized processes.

Reads /proc/meminfo, /proc/PID/cgroup and the cgroup files under /sys/fs/cgroup; `proc` and
`root` name other trees (tests use fixture trees). No arithmetic about capacity happens here:
inputs.py turns what is read into capacity.Constraint values.

The host (DESIGN.md, "Capacity model"): MemTotal less what no sized process can ever use:

* HugePages: HugePages_Total x Hugepagesize is inside MemTotal and reserved for programs that
  map huge pages explicitly; httpd and PHP-FPM never do.
* tmpfs and shared memory nobody maps: meminfo's Shmem less the shared-memory PSS of every
  process read (their smaps_rollup Pss_Shmem, or the shared mappings of smaps). What a process
  maps is in its PSS already (the reserve for others, `shared` for httpd); the rest (files in
  /dev/shm, /run, a tmpfs /tmp) stays resident whatever httpd does.
* the kernel's own unreclaimable memory: SUnreclaim (slab that cannot be freed), KernelStack and
  PageTables, less the page tables of the sized processes, which the model charges per process.
  Their kernel stacks and slab stay in (a few tens of KiB a process, counted twice: on the
  safe side).
* swap is counted only when asked (`--swap`): pages swapped out make a server slow before they
  make it fail, so the default sizing is for RAM alone.

Cgroup limits: every cgroup on the path of a sized process, up to the hierarchy's root, and
each limit file there. v2: `memory.max` (the kernel reclaims, then kills) and `memory.high`
(the kernel throttles the cgroup's processes and reclaims hard above it: a server above it is
as good as down, so it binds like a limit). v1: `memory.limit_in_bytes` and
`memory.memsw.limit_in_bytes`, which bounds memory + swap of the cgroup. A sizing that counts no
swap counts memory alone, and memory <= memory + swap, so memsw is applied as a limit on
memory too: it binds only where it is lower than every memory limit (one is never set lower
than memory.limit_in_bytes: the kernel refuses it), i.e. where the memory limit is absent.
Each limit comes with the processes read that are inside it (in that cgroup or below it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from httpdlint.procfs import PROC

__all__ = [
    "CGROUP_ROOT",
    "Deduction",
    "HostMemory",
    "CgroupLimit",
    "read_meminfo",
    "host_memory",
    "cgroup_paths",
    "cgroup_limits",
    "cgroup_limit",
    "ram",
]

CGROUP_ROOT = "/sys/fs/cgroup"

# A limit at or above this is "no limit" (v1 writes 2^63 rounded down to a page).
_NO_LIMIT = 2**62

# Hierarchy keys: the v2 unified one, the v1 memory controller's.
V2, V1 = "v2", "v1"

# Per hierarchy: (directories under root it may be mounted at, (limit file, usage file) pairs).
_FILES = {
    V2: (("", "unified"), (("memory.max", "memory.current"), ("memory.high", "memory.current"))),
    V1: (
        ("memory",),
        (
            ("memory.limit_in_bytes", "memory.usage_in_bytes"),
            ("memory.memsw.limit_in_bytes", "memory.memsw.usage_in_bytes"),
        ),
    ),
}

#: What each limit file bounds, for people.
MEANING = {
    "memory.max": "memory; the kernel reclaims, then kills",
    "memory.high": "memory; the kernel throttles above it",
    "memory.limit_in_bytes": "memory; the kernel reclaims, then kills",
    "memory.memsw.limit_in_bytes": "memory + swap",
}


def read_meminfo(proc: str = PROC) -> dict[str, int]:
    """/proc/meminfo as numbers: sizes in bytes, counts (HugePages_Total) as they are."""
    out: dict[str, int] = {}
    with open(f"{proc}/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            fields = rest.split()
            if not fields:
                continue
            try:
                value = int(fields[0])
            except ValueError:
                continue
            out[key] = value * 1024 if fields[1:2] == ["kB"] else value
    if "MemTotal" not in out:
        raise OSError(f"{proc}/meminfo has no MemTotal line")
    return out


@dataclass(frozen=True)
class Deduction:
    """Memory taken out of MemTotal: what, how many bytes, and where the figure comes from."""

    name: str
    bytes: int
    source: str

    def to_json(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "source": self.source}


@dataclass(frozen=True)
class HostMemory:
    """The machine's memory for sizing: MemTotal less each deduction, plus swap when asked."""

    total: int
    deductions: tuple[Deduction, ...]
    swap_total: int

    def usable(self, swap: int = 0) -> int:
        """What the sizing may fill: MemTotal less every deduction, plus `swap` bytes."""
        return max(0, self.total - sum(d.bytes for d in self.deductions)) + swap

    def to_json(self) -> dict:
        return {
            "mem_total_bytes": self.total,
            "deductions": [d.to_json() for d in self.deductions],
            "swap_total_bytes": self.swap_total,
            "usable_bytes": self.usable(),
        }


def host_memory(
    proc: str = PROC, *, mapped_shmem: int = 0, sized_page_tables: int = 0
) -> HostMemory:
    """The host's memory from /proc/meminfo (see the module docstring for each deduction).

    `mapped_shmem`: the shared-memory PSS of every process read; `sized_page_tables`: the page
    tables (VmPTE) of the processes the sizing charges per process.
    """
    info = read_meminfo(proc)
    huge = info.get("HugePages_Total", 0) * info.get("Hugepagesize", 0)
    shmem = max(0, info.get("Shmem", 0) - mapped_shmem)
    kernel_parts = [
        ("SUnreclaim", info.get("SUnreclaim", 0)),
        ("KernelStack", info.get("KernelStack", 0)),
        ("PageTables", max(0, info.get("PageTables", 0) - sized_page_tables)),
    ]
    deductions = (
        Deduction("hugepages", huge, f"{proc}/meminfo HugePages_Total x Hugepagesize"),
        Deduction(
            "unmapped shmem",
            shmem,
            f"{proc}/meminfo Shmem less the shared memory processes map "
            f"({mapped_shmem // 1024} kB)",
        ),
        Deduction(
            "kernel",
            sum(v for _, v in kernel_parts),
            f"{proc}/meminfo SUnreclaim + KernelStack + PageTables, less the sized processes' "
            f"page tables ({sized_page_tables // 1024} kB)",
        ),
    )
    return HostMemory(info["MemTotal"], deductions, info.get("SwapTotal", 0))


# --------------------------------------------------------------------------- cgroups


@dataclass(frozen=True)
class CgroupLimit:
    """One memory limit of one cgroup, and the processes read that are inside it.

    `path` is the cgroup's path in its hierarchy ("/system.slice/apache2.service"), `setting`
    the file; `usage` the kernel's charge now (page cache included); `members` the processes
    read that are inside it, as (PID, PSS).
    """

    path: str
    setting: str
    bytes: int
    version: int
    usage: int | None = None
    members: tuple[tuple[int, int], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.path} {self.setting}"

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(pid for pid, _ in self.members)

    @property
    def held(self) -> int:
        """What the processes inside it hold now, by PSS."""
        return sum(pss for _, pss in self.members)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "cgroup": self.path,
            "setting": self.setting,
            "version": self.version,
            "limit_bytes": self.bytes,
            "bounds": MEANING[self.setting],
            "usage_bytes": self.usage,
            "pids": list(self.pids),
            "held_bytes": self.held,
        }


def cgroup_paths(pid: int | str, proc: str = PROC) -> dict[str, str]:
    """The memory cgroup paths of a process by hierarchy (v2, v1); {} when it is gone."""
    try:
        with open(f"{proc}/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        path = "/" + path.strip("/")
        if hierarchy == "0" and controllers == "":
            out[V2] = path
        elif "memory" in controllers.split(","):
            out[V1] = path
    return out


def _read_number(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    try:
        value = int(text)
    except ValueError:
        return None  # "max", or empty
    return value if 0 < value < _NO_LIMIT else None


def _ancestors(path: str) -> list[str]:
    """The cgroup and every ancestor up to the root "/": each one's limit binds."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:depth]) for depth in range(len(parts), -1, -1)]


def _inside(path: str, cgroup: str) -> bool:
    return cgroup == "/" or path == cgroup or path.startswith(cgroup + "/")


def cgroup_limits(
    sized: Iterable[int | str],
    held: Mapping[int, int] | None = None,
    *,
    root: str = CGROUP_ROOT,
    proc: str = PROC,
) -> list[CgroupLimit]:
    """Every memory limit on the path of the `sized` PIDs, tightest first.

    `held` maps the PIDs of the processes read to their PSS: each limit lists those inside it
    and what they hold. The root cgroup's files are read too: in a container the path reads
    "/" and the container's own cgroup is mounted at the root.
    """
    found: dict[tuple[str, str, str], CgroupLimit] = {}
    for pid in sized:
        for hierarchy, path in cgroup_paths(pid, proc).items():
            mounts, files = _FILES[hierarchy]
            for cgroup in _ancestors(path):
                for mount in mounts:
                    base = os.path.join(root, mount, cgroup.lstrip("/"))
                    for setting, usage_file in files:
                        key = (hierarchy, cgroup, setting)
                        if key in found:
                            continue
                        value = _read_number(os.path.join(base, setting))
                        if value is not None:
                            usage = _read_number(os.path.join(base, usage_file))
                            version = 2 if hierarchy == V2 else 1
                            found[key] = CgroupLimit(cgroup, setting, value, version, usage)
    if not found:
        return []
    limits = list(found.values())
    if held:
        members: dict[tuple[str, str, str], list[int]] = {key: [] for key in found}
        for pid in held:
            paths = cgroup_paths(pid, proc)
            for key in found:
                hierarchy, cgroup, _ = key
                if hierarchy in paths and _inside(paths[hierarchy], cgroup):
                    members[key].append(pid)
        limits = [
            replace(lim, members=tuple((pid, held[pid]) for pid in sorted(members[key])))
            for key, lim in found.items()
        ]
    return sorted(limits, key=lambda lim: (lim.bytes, lim.path, lim.setting))


def cgroup_limit(
    pid: int | str = "self", *, root: str = CGROUP_ROOT, proc: str = PROC
) -> int | None:
    """The tightest memory limit over `pid` (its cgroup or an ancestor's), or None."""
    limits = cgroup_limits([pid], root=root, proc=proc)
    return limits[0].bytes if limits else None


def ram(
    pid: int | str = "self", *, root: str = CGROUP_ROOT, proc: str = PROC
) -> tuple[int, int, int | None]:
    """(MemTotal or the tightest limit if smaller, MemTotal, that limit or None)."""
    physical = read_meminfo(proc)["MemTotal"]
    limit = cgroup_limit(pid, root=root, proc=proc)
    return (min(physical, limit) if limit else physical), physical, limit
