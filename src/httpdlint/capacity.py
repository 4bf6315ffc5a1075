"""The capacity model: how many httpd workers fit in memory. Pure arithmetic, no I/O.

Everything here is a function of numbers handed in (measure.py reads the live system,
suggest.py decides what was given and what measured), so the properties that matter can be
checked with hypothesis: more RAM never means fewer workers, a larger child never means more,
and a recommendation is a set of directives httpd accepts without adjusting any of them.

The model (see DESIGN.md, "Capacity model"):

    budget       = RAM - reserve - shared
    child charge = round(child x (1 + margin))
    per process  = child charge + process overhead [+ (ThreadsPerChild + 1) x thread overhead]
    processes    = floor(budget / per process)

* `child` is the private memory (USS) of the largest child after it has served traffic.
* `shared` is what all children share, counted once: the parent's resident memory.
* `reserve` is everything else on the machine: the OS and other services.
* `margin` multiplies the child only: a child may grow by `margin` (10 % by default) before
  the sizing is wrong. It does not multiply the shared memory, which does not grow with the
  number of children, nor the kernel's per-process cost, which is a known constant.
* `process overhead` is kernel memory a child costs that USS does not show (page tables,
  task struct, kernel stack): about 0.25 MiB per prefork child, as measured (DESIGN.md).
* `thread overhead` is the same for each extra thread of a threaded MPM child (ThreadsPerChild
  workers plus the listener; the main thread is in the process overhead).

Prefork: MaxRequestWorkers = processes. Worker/event: ServerLimit = processes and
MaxRequestWorkers = processes x ThreadsPerChild. Apache 2.2 names MaxRequestWorkers
MaxClients and MaxConnectionsPerChild MaxRequestsPerChild.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from httpdlint.mpm import MPMS, VERSIONS
from httpdlint.sizes import format_size

__all__ = [
    "MPMS",
    "VERSIONS",
    "DEFAULT_MARGIN",
    "PROCESS_OVERHEAD",
    "THREAD_OVERHEAD",
    "DEFAULT_THREADS_PER_CHILD",
    "DEFAULT_THREAD_LIMIT",
    "MAX_SERVER_LIMIT",
    "MAX_THREAD_LIMIT",
    "RECYCLE_PREFORK",
    "RECYCLE_THREADED",
    "CapacityError",
    "Sizing",
    "Recommendation",
    "workers_directive",
    "recycle_directive",
    "child_charge",
    "per_process_cost",
    "budget",
    "max_processes",
    "recommend",
    "memory_at",
    "predicted_httpd_memory",
    "processes_for_settings",
    "mib",
]


#: A child may grow by this fraction of its measured size before the sizing is wrong.
DEFAULT_MARGIN = 0.10

#: Kernel memory per child that USS does not show (page tables, task_struct, kernel stack).
#: DESIGN.md: "a prefork child also costs about 0.25 MB of kernel memory that USS does not show".
PROCESS_OVERHEAD = 256 * 1024

#: Kernel memory per extra thread of a threaded child: a 16 KiB kernel stack, the task_struct
#: and its slab neighbours (~10 KiB), and page tables for the thread's stack and malloc arena
#: mappings. Rounded up to 64 KiB, so that at 25 threads the kernel part is a sizable share of
#: a small event child's charge, as DESIGN.md reports; override with --thread-overhead.
THREAD_OVERHEAD = 64 * 1024

DEFAULT_THREADS_PER_CHILD = 25
DEFAULT_THREAD_LIMIT = 64

#: httpd's compile-time limits (server/mpm/*/*.c, the same in 2.2 and 2.4).
MAX_SERVER_LIMIT = {"prefork": 200000, "worker": 20000, "event": 20000}
MAX_THREAD_LIMIT = {"worker": 20000, "event": 100000}

#: MaxConnectionsPerChild recommended when mod_perl or mod_php is loaded: interpreters leak,
#: and recycling a child is cheap next to a machine that swaps. A threaded child serves its
#: connections on many threads at once, so it gets a proportionally larger budget.
RECYCLE_PREFORK = 1000
RECYCLE_THREADED = 10000

# Largest margin accepted: a margin of 10 (1000 %) is already a sign of a wrong child size.
_MAX_MARGIN = 10.0


class CapacityError(ValueError):
    """The inputs admit no sizing: a child larger than the budget, a negative size, ..."""


def workers_directive(version: str) -> str:
    """MaxRequestWorkers on 2.4, MaxClients on 2.2."""
    return "MaxClients" if version == "2.2" else "MaxRequestWorkers"


def recycle_directive(version: str) -> str:
    """MaxConnectionsPerChild on 2.4, MaxRequestsPerChild on 2.2."""
    return "MaxRequestsPerChild" if version == "2.2" else "MaxConnectionsPerChild"


def mib(n: int | float) -> str:
    """Bytes as MiB with at most two decimals: every line of an explanation uses one unit."""
    return format_size(int(round(n)), "MiB")


@dataclass(frozen=True)
class Sizing:
    """The numbers the model needs, all sizes in bytes."""

    ram: int
    reserve: int
    shared: int
    child: int
    margin: float = DEFAULT_MARGIN
    mpm: str = "prefork"
    version: str = "2.4"
    threads_per_child: int = DEFAULT_THREADS_PER_CHILD
    process_overhead: int = PROCESS_OVERHEAD
    thread_overhead: int = THREAD_OVERHEAD
    #: A non-zero MaxConnectionsPerChild is recommended (mod_perl or mod_php loaded).
    recycle: bool = False

    @property
    def threaded(self) -> bool:
        return self.mpm != "prefork"

    def validate(self) -> None:
        """Raise CapacityError for inputs no sizing can come from."""
        if self.mpm not in MPMS:
            raise CapacityError(f"unknown MPM {self.mpm!r}: expected prefork, worker or event")
        if self.version not in VERSIONS:
            raise CapacityError(f"unknown Apache version {self.version!r}: expected 2.2 or 2.4")
        if self.ram <= 0:
            raise CapacityError(f"RAM must be positive, not {format_size(self.ram)}")
        if self.child <= 0:
            raise CapacityError(f"child size must be positive, not {format_size(self.child)}")
        for name in ("reserve", "shared", "process_overhead", "thread_overhead"):
            value = getattr(self, name)
            if value < 0:
                raise CapacityError(f"{name.replace('_', ' ')} cannot be negative")
        if not (0.0 <= self.margin <= _MAX_MARGIN) or math.isnan(self.margin):
            raise CapacityError(f"margin must be between 0 and {_MAX_MARGIN:g} (0 % to 1000 %)")
        if self.threaded:
            limit = MAX_THREAD_LIMIT[self.mpm]
            if not 1 <= self.threads_per_child <= limit:
                raise CapacityError(
                    f"ThreadsPerChild must be between 1 and {limit} for {self.mpm}, "
                    f"not {self.threads_per_child}"
                )


@dataclass(frozen=True)
class Recommendation:
    """The sizing's result: directives in the order to write them, and how they came about."""

    sizing: Sizing
    budget: int
    child_charge: int
    per_process_cost: int
    processes: int
    workers: int
    settings: dict[str, int]
    steps: tuple[str, ...] = field(default=())

    def memory_at(self, processes: int) -> int:
        """Worst-case memory with `processes` children, all at the (margined) child size."""
        return memory_at(self.sizing, processes)


def child_charge(s: Sizing) -> int:
    """The child with its margin, in whole bytes. Non-decreasing in child and margin."""
    # floor(x + 0.5) of a float product is monotone, unlike ceil of an inexact 1.1 x 25 MiB.
    return int(math.floor(s.child * (1.0 + s.margin) + 0.5))


def per_process_cost(s: Sizing) -> int:
    """What one more child process costs: margined child, kernel process and thread overhead."""
    cost = child_charge(s) + s.process_overhead
    if s.threaded:
        cost += (s.threads_per_child + 1) * s.thread_overhead
    return cost


def budget(s: Sizing) -> int:
    """Memory left for the children: RAM less the reserve and the shared memory (once)."""
    return s.ram - s.reserve - s.shared


def max_processes(s: Sizing) -> int:
    """How many child processes fit; at least 1, or CapacityError when not even one fits."""
    s.validate()
    left = budget(s)
    cost = per_process_cost(s)
    if left < cost:
        raise CapacityError(
            f"a child of {mib(cost)} (with {s.margin:.0%} margin and kernel overhead) does not "
            f"fit in the {mib(max(left, 0))} left of {mib(s.ram)} RAM after "
            f"{mib(s.reserve)} reserve and {mib(s.shared)} shared; "
            "no number of workers is safe"
        )
    return min(left // cost, MAX_SERVER_LIMIT[s.mpm])


def _spare_units(processes: int) -> int:
    """Idle children to keep: a quarter of the server when small, 10 % when large, <= 64.

    At 16 to 39 children this gives httpd's own defaults (5 prefork spares, 3 threaded
    children's worth of spare threads); it never exceeds the server itself.
    """
    return max(1, min(processes // 4, max(5 if processes >= 20 else 3, processes // 10), 64))


def recommend(s: Sizing) -> Recommendation:
    """Size the MPM for `s`: every directive httpd needs, consistent with its startup checks.

    The settings pass httpd's checks with no adjustment: ServerLimit >= the processes that
    MaxRequestWorkers needs, MaxRequestWorkers a multiple of ThreadsPerChild <= ThreadLimit,
    StartServers <= that many processes, MinSpare >= 1, MaxSpareServers >= MinSpareServers + 1
    and MaxSpareThreads >= MinSpareThreads + ThreadsPerChild + 1 (event's bucket rule).
    Raises CapacityError when not one child fits.
    """
    processes = max_processes(s)
    left = budget(s)
    charge = child_charge(s)
    cost = per_process_cost(s)
    workers_key = workers_directive(s.version)
    steps = [
        f"budget = RAM - reserve - shared = {mib(s.ram)} - {mib(s.reserve)} - "
        f"{mib(s.shared)} = {mib(left)}",
    ]
    kernel = f"{mib(s.process_overhead)} kernel"
    if s.threaded:
        threads = s.threads_per_child + 1
        steps.append(
            f"per process = child x (1 + margin) + kernel + (ThreadsPerChild + 1) x thread = "
            f"{mib(s.child)} x {1 + s.margin:.4g} + {kernel} + {threads} x "
            f"{format_size(s.thread_overhead)} = {mib(cost)}"
        )
    else:
        steps.append(
            f"per child = child x (1 + margin) + kernel = {mib(s.child)} x {1 + s.margin:.4g} + "
            f"{kernel} = {mib(cost)}"
        )
    exact = left / cost
    name = "ServerLimit" if s.threaded else workers_key
    capped = left // cost > processes
    steps.append(
        f"{name} = floor({mib(left)} / {mib(cost)}) = floor({exact:.2f}) = {left // cost}"
        + (f", capped at httpd's compile-time limit {processes}" if capped else "")
    )

    settings: dict[str, int] = {}
    units = _spare_units(processes)
    if s.threaded:
        tpc = s.threads_per_child
        workers = processes * tpc
        min_spare = units * tpc
        max_spare = max(min_spare + tpc + 1, min(processes, 2 * units) * tpc)
        steps.append(
            f"{workers_key} = ServerLimit x ThreadsPerChild = {processes} x {tpc} = {workers}"
        )
        # Order matters on 2.2, where MaxClients is checked against ServerLimit and
        # ThreadsPerChild as it is read: limits first, then the values they bound.
        settings["ServerLimit"] = processes
        settings["ThreadLimit"] = max(tpc, DEFAULT_THREAD_LIMIT)
        settings["StartServers"] = units
        settings["MinSpareThreads"] = min_spare
        settings["MaxSpareThreads"] = max_spare
        settings["ThreadsPerChild"] = tpc
        settings[workers_key] = workers
        if s.recycle:
            settings[recycle_directive(s.version)] = RECYCLE_THREADED
    else:
        workers = processes
        settings["ServerLimit"] = processes
        settings["StartServers"] = units
        settings["MinSpareServers"] = units
        settings["MaxSpareServers"] = max(units + 1, min(processes, 2 * units))
        settings[workers_key] = workers
        if s.recycle:
            settings[recycle_directive(s.version)] = RECYCLE_PREFORK
    steps.append(
        f"worst case at {processes} {'processes' if s.threaded else 'children'}: "
        f"{mib(s.reserve)} + {mib(s.shared)} + {processes} x {mib(cost)} = "
        f"{mib(memory_at(s, processes))} of {mib(s.ram)}"
    )
    return Recommendation(
        sizing=s,
        budget=left,
        child_charge=charge,
        per_process_cost=cost,
        processes=processes,
        workers=workers,
        settings=settings,
        steps=tuple(steps),
    )


def memory_at(s: Sizing, processes: int) -> int:
    """Worst-case memory in use with `processes` children at the margined size."""
    return s.reserve + s.shared + processes * per_process_cost(s)


def predicted_httpd_memory(shared: int, child: int, children: int) -> int:
    """httpd's own footprint as the model sees it: parent RSS + N x child USS (no margin).

    DESIGN.md: on a real prefork + mod_perl server this predicted the memory cgroup's charge
    within 1.5 %, where the sum of RSS overstated it by 160 %.
    """
    return shared + children * child


def processes_for_settings(mpm: str, settings: Mapping[str, int]) -> int | None:
    """Child processes httpd may run under effective `settings`, or None when unknown.

    Prefork: MaxRequestWorkers (MaxClients). Threaded: MaxRequestWorkers / ThreadsPerChild,
    rounded up, bounded by ServerLimit. Used for "now 256 by default: worst case ..." when no
    MpmResult.processes_needed() is at hand.
    """
    workers = settings.get("MaxRequestWorkers", settings.get("MaxClients"))
    if workers is None:
        return None
    if mpm == "prefork":
        return int(workers)
    tpc = settings.get("ThreadsPerChild")
    if not tpc:
        return None
    processes = -(-int(workers) // int(tpc))
    limit = settings.get("ServerLimit")
    return min(processes, int(limit)) if limit else processes
