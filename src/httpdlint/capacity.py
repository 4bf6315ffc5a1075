"""The capacity model: how many httpd workers fit in memory. Pure arithmetic, no I/O.

Everything here is a function of numbers handed in (measure.py reads the live system,
inputs.py decides what was given, read from the configuration or measured), so the properties
that matter can be checked with hypothesis: more RAM never means fewer workers, a larger child
never means more, and a recommendation is a set of directives httpd accepts as written. The
lint rule CAP009 and `httpdlint suggest` both call `worst_case` and `recommend`: there is one
formula.

The whole stack shares the machine (DESIGN.md, "Capacity model"):

    RAM >= reserve + shared + daemons + pools + processes x per process

* `reserve`: the OS and other services.
* `shared`: what all MPM children share, counted once: the parent's anonymous memory (its
  copy-on-write pages) and shared memory such as opcache or the scoreboard.
* `daemons`: application processes under httpd whose number is fixed by their own settings
  (mod_wsgi daemon mode, mod_cgid, mod_fcgid), and `pools`: backends the configuration proxies
  to (a PHP-FPM pool at pm.max_children). Each is a `Term`: count x (each with margin + kernel)
  plus what its processes share once (a PHP-FPM master).
* per process = (child + ThreadsPerChild x per busy thread) x (1 + margin) + kernel, where
  `child` is a child's private memory while it serves, `per busy thread` the user memory each
  busy thread adds (threaded Perl clones an interpreter per busy thread), and kernel is
  process overhead + (ThreadsPerChild + 1) x thread overhead: page tables, kernel stacks and
  task structures that no user-space figure shows.

`margin` multiplies what a process may grow (child, per busy thread, a daemon or pool worker),
never shared memory or the kernel's cost, which do not grow with a request.

Memory constraints: the host's RAM binds everything; each `Constraint` (a cgroup's memory limit)
binds the processes inside it, against its own reserve: the unsized processes inside that
cgroup, never the machine's others. Each is checked on its own, with the same formula (the
stack restricted to what is inside it: `within`), and the fewest processes wins; the
Recommendation names the one that binds (the host on a tie).

Order of the budget: fixed costs first, then each pool at its configured size (lowered only
when it leaves no room for a single httpd process), then httpd's workers get the remainder.
Prefork: MaxRequestWorkers = processes. Worker/event: ServerLimit = processes and
MaxRequestWorkers = processes x ThreadsPerChild. Apache 2.2 names MaxRequestWorkers
MaxClients and MaxConnectionsPerChild MaxRequestsPerChild (mpm.py owns the names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from httpdlint.mpm import (
    DEFAULT_THREAD_LIMIT,
    DEFAULT_THREADS_PER_CHILD,
    MAX_SERVER_LIMIT,
    MAX_THREAD_LIMIT,
    MPMS,
    VERSIONS,
    recycle_directive,
    workers_directive,
)
from httpdlint.sizes import format_size

__all__ = [
    "DEFAULT_MARGIN",
    "PROCESS_OVERHEAD",
    "PAGE_TABLES",
    "THREAD_OVERHEAD",
    "CONCURRENCY_FACTOR",
    "RECYCLE_PREFORK",
    "RECYCLE_THREADED",
    "CapacityError",
    "Term",
    "Constraint",
    "Bound",
    "Sizing",
    "Worst",
    "Recommendation",
    "default_reserve",
    "child_charge",
    "per_process_cost",
    "term_cost",
    "budget",
    "within",
    "bounds",
    "max_processes",
    "worst_case",
    "tightest_worst",
    "predicted",
    "recommend",
    "concurrency_notes",
    "constraint_notes",
    "mib",
]


#: A process may grow by this fraction of its measured size before the sizing is wrong.
DEFAULT_MARGIN = 0.10

#: Kernel memory per process that no user-space figure shows, page tables apart: task_struct,
#: kernel stack, file table, signal and mm structures. benchmarks/calibrate_kernel.py measured
#: 118 KiB per idle prefork child in a memory cgroup, 56 KiB of it page tables (VmPTE); the
#: rest, rounded up, is this. Page tables grow with a process's mappings, so a measured child
#: adds its own VmPTE (inputs.py), and an unmeasured one PAGE_TABLES.
PROCESS_OVERHEAD = 64 * 1024
PAGE_TABLES = 64 * 1024

#: Kernel memory per extra thread of a threaded child (kernel stack, task_struct and slab
#: neighbours): 27 KiB measured the same way, over 10 to 50 threads per child, worker and event.
THREAD_OVERHEAD = 28 * 1024

#: The reserve when --ram names another machine and --reserve is not given: 10 % of RAM,
#: at least 128 MiB (the OS, sshd, cron, a log shipper).
RESERVE_SHARE = 0.10
RESERVE_FLOOR = 128 * 1024 * 1024

#: httpd workers per backend slot above which the two are mismatched: one worker waits on the
#: backend, the others serve static files and requests in transit; beyond that, requests queue
#: in the backend's listen backlog while httpd holds memory for workers that cannot help.
CONCURRENCY_FACTOR = 4

#: MaxConnectionsPerChild recommended when an interpreter runs inside the children: they
#: leak, and recycling a child is cheap next to a machine that swaps. A threaded child serves
#: its connections on many threads at once, so it gets a proportionally larger budget.
RECYCLE_PREFORK = 1000
RECYCLE_THREADED = 10000

# Largest margin accepted: a margin of 10 (1000 %) is already a sign of a wrong child size.
_MAX_MARGIN = 10.0


class CapacityError(ValueError):
    """The inputs admit no sizing: a child larger than the budget, a negative size, ..."""


def mib(n: int | float) -> str:
    """Bytes as MiB with at most two decimals: every line of an explanation uses one unit."""
    return format_size(int(round(n)), "MiB")


def default_reserve(ram: int) -> int:
    """The documented reserve for a machine known only by its RAM."""
    return max(RESERVE_FLOOR, int(ram * RESERVE_SHARE))


@dataclass(frozen=True)
class Term:
    """A fixed cost beside httpd's workers: `count` processes of `each` bytes, `base` once.

    kind "daemon" (mod_wsgi daemon processes, mod_cgid, mod_fcgid, piped loggers) or "pool"
    (a PHP-FPM pool). `threads` is how many requests one process serves at once; `setting`
    names what bounds `count` ("pm.max_children", "processes=").
    """

    kind: str
    name: str
    count: int
    each: int
    base: int = 0
    threads: int = 1
    setting: str = ""

    def with_count(self, count: int) -> Term:
        return replace(self, count=count)


@dataclass(frozen=True)
class Constraint:
    """A memory limit beside the host's RAM over part of the stack: a cgroup's limit.

    `httpd`: httpd's children and shared memory are inside it; `terms`: the names of the
    daemons and pools inside it; `others`: what the unsized processes inside it hold (another
    service in the same unit), its reserve.
    """

    name: str
    limit: int
    httpd: bool = True
    terms: tuple[str, ...] = ()
    others: int = 0


@dataclass(frozen=True)
class Bound:
    """The host or one constraint checked: its budget for children, and how many fit there
    (None when httpd's children are not inside it)."""

    name: str
    limit: int
    budget: int
    processes: int | None


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
    process_overhead: int = PROCESS_OVERHEAD + PAGE_TABLES
    thread_overhead: int = THREAD_OVERHEAD
    #: User memory each busy thread of a threaded child adds to `child`.
    thread_user: int = 0
    #: Daemons and pools, each a fixed cost.
    terms: tuple[Term, ...] = ()
    #: A non-zero MaxConnectionsPerChild is recommended (an interpreter runs in the children).
    recycle: bool = False
    #: Memory limits beside the host's RAM (cgroups), each over part of the stack.
    constraints: tuple[Constraint, ...] = ()

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
        for name in ("reserve", "shared", "process_overhead", "thread_overhead", "thread_user"):
            if getattr(self, name) < 0:
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
        for t in self.terms:
            if t.count < 0 or t.each < 0 or t.base < 0 or t.threads < 1:
                raise CapacityError(f"{t.name}: counts and sizes cannot be negative")
        for c in self.constraints:
            if c.limit <= 0 or c.others < 0:
                raise CapacityError(f"{c.name}: a limit must be positive, what it holds >= 0")


def _grown(s: Sizing, size: int) -> int:
    # floor(x + 0.5) of a float product is monotone, unlike ceil of an inexact 1.1 x 25 MiB.
    return int(math.floor(size * (1.0 + s.margin) + 0.5))


def child_raw(s: Sizing) -> int:
    """A child at its worst before the margin: every thread busy."""
    return s.child + (s.threads_per_child * s.thread_user if s.threaded else 0)


def child_charge(s: Sizing) -> int:
    """The child at its worst with the margin, in whole bytes. Non-decreasing in every input."""
    return _grown(s, child_raw(s))


def kernel_cost(s: Sizing) -> int:
    """Kernel memory of one child process: the process, and each thread of a threaded one."""
    cost = s.process_overhead
    if s.threaded:
        cost += (s.threads_per_child + 1) * s.thread_overhead
    return cost


def per_process_cost(s: Sizing) -> int:
    """What one more child process costs: margined child and kernel overhead."""
    return child_charge(s) + kernel_cost(s)


def term_process_cost(s: Sizing, t: Term) -> int:
    """One process of a daemon or pool: margined size, kernel process and thread overhead."""
    kernel = s.process_overhead
    if t.threads > 1:
        kernel += (t.threads + 1) * s.thread_overhead
    return _grown(s, t.each) + kernel


def term_cost(s: Sizing, t: Term) -> int:
    """A daemon or pool in all: its processes at their cost, plus what they share once."""
    return t.base + t.count * term_process_cost(s, t)


def fixed_cost(s: Sizing) -> int:
    return sum(term_cost(s, t) for t in s.terms)


def budget(s: Sizing) -> int:
    """Memory left for httpd's children: RAM less the reserve, shared memory and fixed terms."""
    return s.ram - s.reserve - s.shared - fixed_cost(s)


def within(s: Sizing, c: Constraint) -> Sizing:
    """The stack as constraint `c` sees it: its limit for RAM, the unsized processes inside it
    for the reserve, and only the shared memory, daemons and pools inside it."""
    return replace(
        s,
        ram=c.limit,
        reserve=c.others,
        shared=s.shared if c.httpd else 0,
        terms=tuple(t for t in s.terms if t.name in c.terms),
        constraints=(),
    )


def _fit(s: Sizing) -> int:
    """Children that fit in `s`'s own budget (no constraint), capped at httpd's limit."""
    return max(0, min(budget(s) // per_process_cost(s), MAX_SERVER_LIMIT[s.mpm]))


def bounds(s: Sizing) -> list[Bound]:
    """The host, then each constraint: its budget and how many children fit in it."""
    out = [Bound("host", s.ram, budget(s), _fit(s))]
    for c in s.constraints:
        inner = within(s, c)
        out.append(Bound(c.name, c.limit, budget(inner), _fit(inner) if c.httpd else None))
    return out


def _no_child_fits(s: Sizing, where: str) -> CapacityError:
    left = budget(s)
    fixed = fixed_cost(s)
    others = f", {mib(fixed)} daemons and pools" if fixed else ""
    return CapacityError(
        f"a child of {mib(per_process_cost(s))} (with {s.margin:.0%} margin and kernel "
        f"overhead) does not fit in the {mib(max(left, 0))} left of {mib(s.ram)} {where} after "
        f"{mib(s.reserve)} reserve and {mib(s.shared)} shared{others}; "
        "no number of workers is safe"
    )


def max_processes(s: Sizing) -> int:
    """How many child processes fit in the host and in every constraint over httpd; at least
    1, or CapacityError (naming the limit) when not even one fits."""
    s.validate()
    if budget(s) < per_process_cost(s):
        raise _no_child_fits(s, "RAM")
    fits = _fit(s)
    for c in s.constraints:
        if not c.httpd:
            continue
        inner = within(s, c)
        if budget(inner) < per_process_cost(inner):
            raise _no_child_fits(inner, f"({c.name}; its reserve: other processes inside it)")
        fits = min(fits, _fit(inner))
    return fits


@dataclass(frozen=True)
class Worst:
    """Memory in use when `processes` children and every daemon and pool are at their peak."""

    processes: int
    total: int
    ram: int
    parts: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return self.total <= self.ram

    @property
    def text(self) -> str:
        """The sum written out, first the children: `256 x 25 MiB = 6400 MiB + ... = 7304 MiB`."""
        return " + ".join(self.parts) + f" = {mib(self.total)}"


def worst_case(s: Sizing, processes: int) -> Worst:
    """The worst case at `processes` children, as the one sum both CAP009 and suggest print.

    Parts in order: the children (N x child, with N x ThreadsPerChild x per busy thread for a
    threaded MPM), shared, kernel, each daemon and pool, reserve and the children's margin.
    """
    raw = child_raw(s)
    unit = "processes" if s.threaded else "children"
    if s.threaded and s.thread_user:
        child = (
            f"{processes} {unit} x ({mib(s.child)} + {s.threads_per_child} threads x "
            f"{mib(s.thread_user)}) = {mib(processes * raw)}"
        )
    else:
        child = f"{processes} {unit} x {mib(raw)} = {mib(processes * raw)}"
    kernel = kernel_cost(s)
    parts = [child, f"{mib(s.shared)} shared", f"{mib(processes * kernel)} kernel"]
    for t in s.terms:
        parts.append(f"{mib(term_cost(s, t))} {t.name}")
    parts.append(f"{mib(s.reserve)} reserve")
    margin = processes * (child_charge(s) - raw)
    parts.append(f"{mib(margin)} margin ({s.margin * 100:g} %)")
    total = s.reserve + s.shared + fixed_cost(s) + processes * per_process_cost(s)
    return Worst(processes, total, s.ram, tuple(parts))


def tightest_worst(s: Sizing, processes: int) -> tuple[str, Worst]:
    """The worst case at `processes` children against the limit it fills most: the host's
    RAM or a cgroup limit over httpd (each with only what counts against it)."""
    cases = [("host RAM", worst_case(s, processes))]
    cases += [(c.name, worst_case(within(s, c), processes)) for c in s.constraints if c.httpd]
    return max(cases, key=lambda case: case[1].total / max(case[1].ram, 1))


def predicted(s: Sizing, processes: int) -> int:
    """What the stack holds with `processes` busy children as measured: no margin, no reserve.

    This is the figure to compare with the kernel's charge for httpd and its backends.
    """
    return worst_case(replace(s, margin=0.0, reserve=0), processes).total


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
    #: Per pool (by name), its settings: pm.max_children as configured or lowered to fit.
    pools: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: tuple[str, ...] = ()
    #: The limit that sets the number: ("host", RAM) or a constraint's (name, limit).
    binding: tuple[str, int] = ("host", 0)
    #: The host and every constraint, checked (see `bounds`).
    bounds: tuple[Bound, ...] = ()

    def worst(self, processes: int | None = None) -> Worst:
        return worst_case(self.sizing, self.processes if processes is None else processes)

    def memory_at(self, processes: int) -> int:
        return self.worst(processes).total


def _spare_units(processes: int) -> int:
    """Idle children to keep: a quarter of the server when small, 10 % when large, <= 64.

    At 16 to 39 children this gives httpd's own defaults (5 prefork spares, 3 threaded
    children's worth of spare threads); it never exceeds the server itself.
    """
    return max(1, min(processes // 4, max(5 if processes >= 20 else 3, processes // 10), 64))


def _fit_pools(s: Sizing) -> Sizing:
    """Lower the pools' sizes, proportionally, when they leave no room for one httpd process."""
    pools = [t for t in s.terms if t.kind == "pool"]
    if not pools or budget(s) >= per_process_cost(s):
        return s
    fixed = sum(term_cost(s, t) for t in s.terms if t.kind != "pool")
    room = s.ram - s.reserve - s.shared - fixed - per_process_cost(s)
    variable = sum(t.count * term_process_cost(s, t) for t in pools)
    room -= sum(t.base for t in pools)
    if room <= 0 or variable <= 0:
        return s  # max_processes says what does not fit
    ratio = room / variable
    terms = tuple(
        t.with_count(max(1, math.floor(t.count * ratio))) if t.kind == "pool" else t
        for t in s.terms
    )
    return replace(s, terms=terms)


def _budget_step(s: Sizing, left: int) -> str:
    names = ["RAM", "reserve", "shared"]
    values = [s.ram, s.reserve, s.shared]
    for t in s.terms:
        names.append(t.name)
        values.append(term_cost(s, t))
    return f"budget = {' - '.join(names)} = {' - '.join(mib(v) for v in values)} = {mib(left)}"


def _term_steps(s: Sizing) -> list[str]:
    steps = []
    for t in s.terms:
        if t.setting.endswith("="):
            what = f"{t.setting}{t.count}"
        else:
            what = f"{t.setting} {t.count}" if t.setting else f"{t.count} processes"
        kernel = term_process_cost(s, t) - _grown(s, t.each)
        base = f" + {mib(t.base)} shared" if t.base else ""
        steps.append(
            f"{t.name} = {what} x ({mib(t.each)} x {1 + s.margin:.4g} + {mib(kernel)} kernel)"
            f"{base} = {mib(term_cost(s, t))}"
        )
    return steps


def recommend(s: Sizing) -> Recommendation:
    """Size the MPM for `s`: every directive httpd needs, consistent with its startup checks.

    The settings pass httpd's checks with no adjustment: ServerLimit >= the processes that
    MaxRequestWorkers needs, MaxRequestWorkers a multiple of ThreadsPerChild <= ThreadLimit,
    StartServers <= that many processes, MinSpare >= 1, MaxSpareServers >= MinSpareServers + 1
    and MaxSpareThreads >= MinSpareThreads + ThreadsPerChild + 1 (event's bucket rule).
    Raises CapacityError when not one child fits.
    """
    s.validate()
    fitted = _fit_pools(s)
    # Pools lowered to leave room for one httpd process get exactly that one: what the
    # rounding down of their sizes frees is not handed on, or less RAM could recommend more
    # workers than more RAM does (where the pools keep their size).
    squeezed = fitted is not s
    s = fitted
    processes = 1 if squeezed else max_processes(s)
    if squeezed:
        max_processes(s)  # raises when not even that one fits
    left = budget(s)
    charge = child_charge(s)
    cost = per_process_cost(s)
    workers_key = workers_directive(s.version)
    steps = _term_steps(s) + [_budget_step(s, left)]
    kernel = f"{mib(s.process_overhead)} kernel"
    if s.threaded:
        threads = s.threads_per_child + 1
        grown = (
            f"({mib(s.child)} + {s.threads_per_child} x {mib(s.thread_user)})"
            if s.thread_user
            else mib(s.child)
        )
        steps.append(
            f"per process = child x (1 + margin) + kernel + (ThreadsPerChild + 1) x thread = "
            f"{grown} x {1 + s.margin:.4g} + {kernel} + {threads} x "
            f"{format_size(s.thread_overhead)} = {mib(cost)}"
        )
    else:
        steps.append(
            f"per child = child x (1 + margin) + kernel = {mib(s.child)} x {1 + s.margin:.4g} + "
            f"{kernel} = {mib(cost)}"
        )
    exact = left / cost
    name = "ServerLimit" if s.threaded else workers_key
    limit = MAX_SERVER_LIMIT[s.mpm]
    capped = left // cost > limit
    steps.append(
        f"{name} = floor({mib(left)} / {mib(cost)}) = floor({exact:.2f}) = {left // cost}"
        + (f", capped at httpd's compile-time limit {limit}" if capped else "")
    )
    checked = tuple(bounds(s))
    binding = checked[0]
    for c, b in zip(s.constraints, checked[1:], strict=True):
        steps.append(_constraint_step(s, c, b, name))
        if b.processes is not None and b.processes < binding.processes:
            binding = b
    if s.constraints:
        counts = ", ".join(f"{b.name} {b.processes}" for b in checked if b.processes is not None)
        steps.append(
            f"binding: {binding.name} ({mib(binding.limit)}): {name} = min({counts}) = {processes}"
        )
    if squeezed:
        binding = checked[0]

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
    steps.append(f"worst case at {processes}: {worst_case(s, processes).text} of {mib(s.ram)}")
    for c in s.constraints:
        if c.name == binding.name:
            inner = worst_case(within(s, c), processes)
            steps.append(f"worst case in {c.name} at {processes}: {inner.text} of {mib(c.limit)}")
    pools = {t.name: {"pm.max_children": t.count} for t in s.terms if t.kind == "pool"}
    return Recommendation(
        sizing=s,
        budget=binding.budget,
        child_charge=charge,
        per_process_cost=cost,
        processes=processes,
        workers=workers,
        settings=settings,
        pools=pools,
        steps=tuple(steps),
        binding=(binding.name, binding.limit),
        bounds=checked,
    )


def _constraint_step(s: Sizing, c: Constraint, b: Bound, name: str) -> str:
    """One constraint's budget written out: its limit less only what is inside it."""
    inner = within(s, c)
    names = ["limit", "others inside"] + (["shared"] if c.httpd else [])
    values = [c.limit, c.others] + ([s.shared] if c.httpd else [])
    for t in inner.terms:
        names.append(t.name)
        values.append(term_cost(s, t))
    line = (
        f"{c.name}: budget = {' - '.join(names)} = {' - '.join(mib(v) for v in values)} "
        f"= {mib(b.budget)}"
    )
    if b.processes is None:
        return line + (": fits" if b.budget >= 0 else ": does not fit")
    cost = per_process_cost(s)
    return line + f"; {name} = floor({mib(b.budget)} / {mib(cost)}) = {b.processes}"


def constraint_notes(s: Sizing) -> list[str]:
    """Constraints without httpd inside (a PHP-FPM unit's MemoryMax) that their daemons and
    pools overflow at their configured size, one sentence each with the size that fits."""
    notes = []
    for c in s.constraints:
        inner = within(s, c)
        if c.httpd or budget(inner) >= 0:
            continue
        need = fixed_cost(inner)
        fit = []
        for t in inner.terms:
            room = c.limit - c.others - (need - term_cost(s, t)) - t.base
            fit.append(f"{t.name} fits {max(0, room // term_process_cost(s, t))} processes")
        notes.append(
            f"{', '.join(t.name for t in inner.terms)} need {mib(need)} at their configured "
            f"size, above {c.name} {mib(c.limit)} less {mib(c.others)} of other processes "
            f"in it: {'; '.join(fit)}"
        )
    return notes


def concurrency_notes(s: Sizing, workers: int, what: str) -> list[str]:
    """Where httpd's workers and its backends' slots are mismatched, one sentence each.

    `what` says whose figure `workers` is ("recommended", "configured"). A backend slot is a
    pool's child or a daemon's thread: each request to it holds one httpd worker meanwhile.
    """
    backends = [t for t in s.terms if t.kind == "pool" or t.setting == "processes="]
    slots = sum(t.count * t.threads for t in backends)
    if not backends or slots <= 0:
        return []
    names = ", ".join(f"{t.name} ({t.count * t.threads})" for t in backends)
    key = workers_directive(s.version)
    if workers > CONCURRENCY_FACTOR * slots:
        return [
            f"{key} {workers} ({what}) sits in front of {slots} backend slots ({names}): "
            f"{workers / slots:.0f} workers per slot, above {CONCURRENCY_FACTOR}; requests beyond "
            f"{slots} queue in the backend while httpd holds workers that cannot help. Raise "
            "the backend's size if memory allows, or lower the workers"
        ]
    if workers < slots:
        return [
            f"{key} {workers} ({what}) is below the {slots} backend slots ({names}): "
            f"{slots - workers} of them can never be used at once, and their memory is "
            "reserved for nothing"
        ]
    return []
