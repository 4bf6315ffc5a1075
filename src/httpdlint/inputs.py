"""Where each number of a sizing comes from: given, the configuration, measured, or a default.

Both the lint rule CAP009 (`httpdlint check`) and `httpdlint suggest` size from `gather`, so
they can never disagree about the inputs. Two modes (JSON `"sizing"`):

* this-machine (no --ram): the machine that runs here is sized, with its own RAM (MemTotal less
  what no sized process can use, limits.py; swap only with --swap) and every other process's
  memory as the reserve; and each cgroup memory limit over httpd or a pool is a constraint of
  its own, against the processes inside it only;
* given-ram (--ram): the RAM of the machine being sized, which may be another one. This
  machine's other processes do not enter the budget (the reserve is --reserve, else a
  documented default); the workers' sizes still come from the running httpd when one runs
  here and --child-size is not given (measured here, applied there).

A worker's size is what it holds while it serves. A look at children that are between
requests says little when an interpreter runs inside them (mod_php frees most of a request's
memory when it ends); such a measurement is declined (`declined`) rather than turned into a
recommendation, with the command that measures under traffic instead.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from httpdlint import capacity
from httpdlint.capacity import Constraint, Sizing, Term, mib
from httpdlint.errors import ConfigError
from httpdlint.measure import HttpdTree, Measurement, Notice, read_pid_file, served, unknowable
from httpdlint.mpm import MPMS, VERSIONS, evaluate_mpm, workers_directive
from httpdlint.procfs import argv as process_argv
from httpdlint.services import ServiceReserve
from httpdlint.sizes import format_size

__all__ = ["Input", "SizingOptions", "Gathered", "gather", "fit_threads", "wsgi_groups"]

#: Modules that run application code inside every child: a reason to recycle children, and
#: to distrust a look at children between requests.
INTERPRETERS = (
    "perl_module",
    "php_module",
    "php5_module",
    "php7_module",
    "php8_module",
    "python_module",
    "wsgi_module",
)

#: mod_perl's defaults (PerlInterpStart 3, PerlInterpMax 5): interpreters a threaded child
#: clones at start and at most.
PERL_INTERP_START = 3
PERL_INTERP_MAX = 5


@dataclass(frozen=True)
class Input:
    """One number of the sizing and where it came from."""

    value: Any
    source: str  # given | config | measured | estimated | default | assumed
    note: str = ""

    def origin(self) -> str:
        return f"{self.source}: {self.note}" if self.note else self.source


@dataclass
class SizingOptions:
    """What the user gave; None means "find out" (configuration, measurement or default)."""

    ram: int | None = None
    child: int | None = None
    shared: int | None = None
    reserve: int | None = None
    margin: float | None = None
    mpm: str | None = None
    apache_version: str | None = None
    threads_per_child: int | None = None
    thread_size: int | None = None
    thread_overhead: int | None = None
    process_overhead: int | None = None
    daemon_size: int | None = None
    pool_children: int | None = None
    pool_worker_size: int | None = None
    pid: int | None = None
    #: Swap the sizing may fill: bytes, or "all" (this machine's SwapTotal); None: none.
    swap: int | str | None = None
    #: Look at the live system for what is not given (tests switch it off).
    live: bool = True


@dataclass
class Gathered:
    """The inputs of one sizing, each with its source, and what was measured on the way."""

    sizing: Sizing | None
    inputs: dict[str, Input]
    mode: str
    measurement: Measurement | None = None
    tree: HttpdTree | None = None
    warnings: list[Notice] = field(default_factory=list)
    #: Why no recommendation can be made from what was measured, and what to run instead.
    declined: str | None = None
    #: What is missing for any sizing (CAP009 is then skipped; suggest exits 2).
    missing: str | None = None
    #: The MPM as httpd runs it now: the configuration's, else the compiled defaults.
    current: Any = None
    current_source: str | None = None
    #: PHP's memory_limit per pool: the most one request may take.
    request_ceilings: dict[str, str] = field(default_factory=dict)
    #: Per pool term, (php-fpm.conf, FpmPool) read from disk: where --apply writes.
    pool_files: dict[str, tuple[str, Any]] = field(default_factory=dict)
    #: Co-hosted services in the reserve, each at the larger of its ceiling and its peak.
    services: list[ServiceReserve] = field(default_factory=list)
    #: Per pool term, the PIDs of its running processes (which cgroups bind it).
    pool_members: dict[str, set[int]] = field(default_factory=dict)

    def source(self) -> str:
        """measured | given: where the child size, which decides the sizing, came from."""
        child = self.inputs.get("child")
        return "given" if child is not None and child.source == "given" else "measured"


def _config_path(model, value: str | None) -> str | None:
    """A path from the configuration, relative to ServerRoot as httpd reads it."""
    if not value:
        return None
    if os.path.isabs(value):
        return value
    return os.path.join(model.config.server_root or "", value)


def server_pid(model) -> int | None:
    """The parent PID the configuration's PidFile names, when that process runs."""
    if model is None:
        return None
    path = _config_path(model, (model.server_values("PidFile") or [None])[0])
    if path is None:
        # httpd's default, relative to DefaultRuntimeDir (Debian sets it through envvars).
        runtime = (model.server_values("DefaultRuntimeDir") or ["logs"])[0]
        path = _config_path(model, os.path.join(runtime, "httpd.pid"))
    with contextlib.suppress(ConfigError, OSError):
        if os.path.isfile(path):
            pid = read_pid_file(path)
            if os.path.exists(f"/proc/{pid}/stat"):
                return pid
    return None


def _measure(opts: SizingOptions, model, duration: float, interval: float, progress, neighbours=()):
    from httpdlint import measure as m

    pid = opts.pid if opts.pid is not None else server_pid(model)
    pids = [pid] if pid is not None else None
    if pids is not None:
        # The other servers of this machine are measured too: they are reserved at theirs.
        pids += [p for p in map(server_pid, neighbours) if p is not None and p not in pids]
    if duration > 0:
        return m.sample(duration, interval, pids, progress=progress)
    return m.measure(pids)


def wsgi_groups(model) -> dict[str, tuple[int, int]]:
    """mod_wsgi daemon groups the configuration defines: name -> (processes, threads)."""
    groups: dict[str, tuple[int, int]] = {}
    if model is None:
        return groups
    for node in model.find("WSGIDaemonProcess"):
        if not node.args:
            continue
        options = dict(a.split("=", 1) for a in node.args[1:] if "=" in a)
        try:
            processes = int(options.get("processes", 1))
            threads = int(options.get("threads", 15))
        except ValueError:
            continue
        groups[f"wsgi:{node.args[0]}"] = (max(1, processes), max(1, threads))
    return groups


def fit_threads(tree: HttpdTree, threads_per_child: int) -> tuple[int, int, str] | None:
    """(child with no busy thread, user memory per busy thread, how) from the observations.

    A least-squares line through (busy threads, private memory) over every child at every
    look; the child is then the largest of (private - busy x slope), so that the worst child
    at ThreadsPerChild busy threads is the largest private + (ThreadsPerChild - busy) x slope.
    None without two distinct busy counts or with a slope that is not positive.
    """
    points = [(o.busy, o.private) for o in tree.observations if o.busy is not None]
    if len({b for b, _ in points}) < 2:
        return None
    n = len(points)
    mean_b = sum(b for b, _ in points) / n
    mean_p = sum(p for _, p in points) / n
    var = sum((b - mean_b) ** 2 for b, _ in points)
    slope = sum((b - mean_b) * (p - mean_p) for b, p in points) / var
    if slope <= 0:
        return None
    per_thread = int(round(slope))
    base = max(p - b * per_thread for b, p in points)
    most = max(b for b, _ in points)
    how = f"fitted over {n} looks at children with 0 to {most} of {threads_per_child} threads busy"
    return max(base, 0), per_thread, how


def _declined(tree: HttpdTree, loaded: list[str]) -> str | None:
    """Why a look at these children cannot size the server, or None when it can."""
    if not tree.children and tree.peak_child is None:
        return None
    busy = tree.busy_seen
    has_served = any(served(c) for c in tree.children) or bool(busy)
    command = "httpdlint suggest --duration 10m (while the site has traffic)"
    if not has_served and tree.children and all(unknowable(c) for c in tree.children):
        return (
            f"it cannot be told whether the {len(tree.children)} children of httpd "
            f"{tree.parent.pid} have served: they used little CPU, and without permission "
            "their responses (/proc/PID/io) and threads are hidden, so their working size is "
            "unknown; run as root, or give --child-size"
        )
    if not has_served:
        return (
            f"the {len(tree.children)} children of httpd {tree.parent.pid} have served no "
            f"traffic yet, so their working size is unknown; run {command}"
        )
    # PHP frees a request's memory when it ends, and Python gives large buffers back; Perl
    # keeps what it once took, so a mod_perl child between requests is as large as it gets.
    releasing = [m for m in loaded if "php" in m or "python" in m or "wsgi" in m]
    if releasing and busy is False:
        return (
            f"no child of httpd {tree.parent.pid} was serving a request when it was measured, "
            f"and {', '.join(releasing)} frees much of a request's memory when the request "
            f"ends: the size of a busy child is unknown; run {command}"
        )
    return None


def gather(
    model,
    opts: SizingOptions,
    measured: Measurement | None = None,
    *,
    duration: float = 0.0,
    interval: float = 10.0,
    progress=None,
    neighbours: tuple = (),
) -> Gathered:
    """The inputs for `model` (None: no configuration) and `opts`; measures what it must.

    `neighbours`: the configurations of the other httpd servers running here; each is
    reserved at the larger of its worst case (at its own MaxRequestWorkers) and its PSS."""
    mode = "given-ram" if opts.ram is not None else "this-machine"
    out = Gathered(None, {}, mode)
    inputs = out.inputs
    # In given-ram mode this machine is measured only for the workers' sizes.
    needs_live = opts.pid is not None or opts.child is None or mode == "this-machine"
    if measured is None and opts.live and needs_live:
        measured = _measure(opts, model, duration, interval, progress, neighbours)
    out.measurement = measured
    tree = _sized_tree(measured, opts.pid if opts.pid is not None else server_pid(model))
    if tree is not None and opts.child is not None and opts.pid is None and mode == "given-ram":
        tree = None
    out.tree = tree
    if tree is not None:
        own = server_pid(model)
        argv = " ".join(process_argv(tree.parent.pid))
        if opts.pid is not None:
            inputs["server"] = Input(tree.parent.pid, "given", argv)
        elif own == tree.parent.pid:
            inputs["server"] = Input(tree.parent.pid, "config", f"its PidFile; {argv}")
        else:
            inputs["server"] = Input(tree.parent.pid, "measured", f"discovered; {argv}")
            if model is not None:
                out.warnings.append(
                    Notice(
                        "other-server",
                        f"no running server has the configuration's PidFile: measured httpd "
                        f"{tree.parent.pid} ({argv}) instead; give --pid, or the configuration "
                        "that server runs",
                    )
                )
    wanted = {
        "young-children",
        "no-permission",
        "several-httpd",
        "pid-is-child",
        "pid-not-httpd",
        "unreadable",
    }
    if opts.reserve is None and mode == "this-machine":
        wanted.add("no-permission-others")
    out.warnings = [w for w in (measured.warnings if measured else []) if w.code in wanted]

    # MPM and version: given, else the configuration, else what the live server loaded.
    if opts.mpm is not None:
        inputs["mpm"] = Input(opts.mpm, "given")
    elif model is not None and model.mpm_name:
        inputs["mpm"] = Input(model.mpm_name, "config")
    elif tree is not None and tree.mpm:
        inputs["mpm"] = Input(tree.mpm, "measured", f"mod_mpm_{tree.mpm}.so loaded")
    else:
        inputs["mpm"] = Input("prefork", "assumed", "give --mpm")
    if opts.apache_version is not None:
        inputs["version"] = Input(opts.apache_version, "given")
    elif model is not None:
        inputs["version"] = Input(model.version, "config")
    else:
        inputs["version"] = Input("2.4", "assumed", "give --apache-version")
    mpm, version = inputs["mpm"].value, inputs["version"].value
    if mpm not in MPMS:
        raise ConfigError(f"unknown MPM {mpm!r}: expected prefork, worker or event")
    if version not in VERSIONS:
        raise ConfigError(f"unknown Apache version {version!r}: expected 2.2 or 2.4")

    # What httpd runs with now: the configuration's effective settings, else the defaults.
    if model is not None and model.mpm is not None and model.mpm_name == mpm:
        out.current = model.mpm
        key = workers_directive(version)
        out.current_source = "config" if key in model.mpm.explicit else "default"
    else:
        out.current = evaluate_mpm(mpm, version, [])
        out.current_source = "default"
    effective = out.current.effective

    threaded = mpm != "prefork"
    if opts.threads_per_child is not None:
        inputs["threads_per_child"] = Input(opts.threads_per_child, "given")
    elif threaded and model is not None and out.current is model.mpm:
        inputs["threads_per_child"] = Input(int(effective["ThreadsPerChild"]), "config")
    else:
        inputs["threads_per_child"] = Input(capacity.DEFAULT_THREADS_PER_CHILD, "default")
    tpc = inputs["threads_per_child"].value

    # Interpreters in the children: recycle them, and distrust a look between requests.
    loaded: list[str] = []
    recycle_source = "default"
    if model is not None:
        loaded = sorted(m for m in model.modules if m in INTERPRETERS or m.startswith("php"))
        if "wsgi_module" in loaded and model.find("WSGIDaemonProcess"):
            loaded.remove("wsgi_module")  # daemon mode runs the application elsewhere
        recycle_source = "config"
    if not loaded and tree is not None and tree.interpreters:
        loaded, recycle_source = tree.interpreters, "measured"
    inputs["recycle"] = Input(
        bool(loaded), recycle_source, ", ".join(loaded) + " loaded" if loaded else ""
    )

    # Without RAM or a child size there is no sizing: say so before following the backends
    # (on a tree of 10,000 virtual hosts that walk is most of what a sizing costs).
    if opts.ram is None and measured is None:
        out.missing = "give --ram: nothing measured"
        return out
    if opts.child is None and (tree is None or tree.largest_child is None):
        _child(out, opts, tree, threaded, tpc, loaded, model)
        return out
    pool_list, counted = _pool_terms(out, opts, model, measured)
    _ram_and_reserve(out, opts, measured, mode, counted)
    if measured is not None and opts.reserve is None and mode == "this-machine":
        _other_servers(out, measured, tree, neighbours)
    _child(out, opts, tree, threaded, tpc, loaded, model)
    if opts.shared is not None:
        inputs["shared"] = Input(opts.shared, "given")
    elif tree is not None:
        inputs["shared"] = Input(
            tree.shared,
            "measured",
            f"anonymous memory of parent {tree.parent.pid} "
            f"({mib(tree.parent.anon)}) and shared memory of the tree, once",
        )
    else:
        inputs["shared"] = Input(0, "assumed", "no running httpd to measure; give --shared")
    inputs["margin"] = (
        Input(opts.margin, "given")
        if opts.margin is not None
        else Input(capacity.DEFAULT_MARGIN, "default")
    )
    _kernel(out, opts, tree)
    terms = _daemon_terms(out, opts, tree, model) + pool_list
    inputs["terms"] = Input(tuple(terms), "measured" if terms else "default")
    constraints = _constraints(out, measured, tree, terms) if mode == "this-machine" else ()

    if out.missing is not None:
        return out
    out.sizing = Sizing(
        ram=inputs["ram"].value,
        reserve=inputs["reserve"].value,
        shared=inputs["shared"].value,
        child=inputs["child"].value,
        margin=inputs["margin"].value,
        mpm=mpm,
        version=version,
        threads_per_child=tpc,
        process_overhead=inputs["process_overhead"].value,
        thread_overhead=inputs["thread_overhead"].value,
        thread_user=inputs["thread_user"].value if threaded else 0,
        terms=tuple(terms),
        recycle=bool(loaded),
        constraints=constraints,
    )
    return out


def _constraints(out: Gathered, measured, tree, terms: list[Term]) -> tuple[Constraint, ...]:
    """A constraint per cgroup limit over httpd's tree or a pool: what is sized inside it
    (httpd, the pools whose processes are in it) and, as its reserve, the PSS of the other
    processes in it. The machine's others are the host's reserve, never a cgroup's."""
    if measured is None or not measured.limits:
        return ()
    httpd = {p.pid for p in tree.processes()} if tree is not None else set()
    out_list = []
    for lim in measured.limits:
        inside = set(lim.pids)
        has_httpd = bool(httpd & inside)
        names = [
            t.name
            for t in terms
            if (t.kind == "daemon" and has_httpd) or out.pool_members.get(t.name, set()) & inside
        ]
        if not has_httpd and not names:
            continue
        sized = httpd.union(*(out.pool_members.get(n, set()) for n in names))
        others = sum(pss for pid, pss in lim.members if pid not in sized)
        constraint = Constraint(lim.name, lim.bytes, has_httpd, tuple(names), others)
        what = ", ".join((["httpd"] if has_httpd else []) + names)
        out.inputs[f"limit {lim.name}"] = Input(
            lim.bytes,
            "measured",
            f"binds {what}; {len(inside) - len(sized & inside)} other process(es) inside hold "
            f"{mib(others)}",
        )
        out_list.append(constraint)
    return tuple(out_list)


def _ram_and_reserve(
    out: Gathered, opts: SizingOptions, measured, mode: str, counted: set[int]
) -> None:
    inputs = out.inputs
    _ram(out, opts, measured)
    if opts.reserve is not None:
        inputs["reserve"] = Input(opts.reserve, "given")
    elif mode == "given-ram" or measured is None:
        ram = inputs["ram"].value
        inputs["reserve"] = Input(
            capacity.default_reserve(ram),
            "default",
            f"{capacity.RESERVE_SHARE:.0%} of RAM, at least {mib(capacity.RESERVE_FLOOR)}",
        )
    else:
        top = ", ".join(
            f"{p.name} {mib(p.pss)}" for p in measured.others[:3] if p.pss >= 1024 * 1024
        )
        # PHP-FPM processes that serve no backend of this configuration are other services.
        elsewhere = sum(p.pss for p in measured.backends if p.pid not in counted)
        # Known services grow to their configured ceiling: reserved at it, not at today's PSS.
        known = measured.services
        out.services = list(known)
        rest = measured.others_pss_bytes - sum(s.current for s in known)
        names = [s.name for s in known]
        for s in known:
            key = f"reserve {s.name}" + (f" {s.pids[0]}" if names.count(s.name) > 1 else "")
            inputs[key] = Input(s.reserved, s.basis, s.note())
        services = ", ".join(f"{s.name} {mib(s.reserved)}" for s in known)
        estimated = any(not p.exact for p in measured.others)
        inputs["reserve"] = Input(
            max(0, rest) + elsewhere + sum(s.reserved for s in known),
            "estimated" if estimated else "measured",
            ("PSS (RSS where unreadable)" if estimated else "PSS")
            + " of all other processes"
            + (f", co-hosted services at their ceiling: {services}" if known else "")
            + (f", largest: {top}" if top else ""),
        )


def _sized_tree(measured: Measurement | None, pid: int | None) -> HttpdTree | None:
    """The tree to size: the one `pid` (--pid, else the PidFile) names, else the busiest."""
    if measured is None:
        return None
    return next((t for t in measured.trees if t.parent.pid == pid), measured.tree)


def _other_servers(out: Gathered, measured: Measurement, tree, neighbours) -> None:
    """Every other httpd running here, added to the reserve at the larger of its worst case
    (its configuration's MaxRequestWorkers, its own children measured: the same formula) and
    what it holds now: it may fill up while this one does."""
    from dataclasses import replace

    extra = 0
    for other in measured.trees:
        if other is tree:
            continue
        now = other.pss_total()
        model = next((n for n in neighbours if server_pid(n) == other.parent.pid), None)
        worst, how = None, "its configuration is not known here (not confirmed by a PidFile)"
        if model is not None and model.mpm is not None:
            g = gather(model, SizingOptions(pid=other.parent.pid, live=False), measured)
            if g.sizing is not None:
                n = model.mpm.processes_needed()
                case = capacity.worst_case(replace(g.sizing, reserve=0, constraints=()), n)
                worst = case.total
                how = f"at {model.mpm.limit_name} {model.mpm.max_workers}: {case.text}"
            else:
                how = f"its worst case is unknown: {g.missing}"
        reserved = max(now, worst or 0)
        extra += reserved
        out.inputs[f"reserve httpd {other.parent.pid}"] = Input(
            reserved,
            "measured",
            f"another httpd ({model.config.root if model is not None else other.parent.name}) "
            f"{how}; PSS now {mib(now)}; reserved the larger",
        )
    if extra:
        reserve = out.inputs["reserve"]
        out.inputs["reserve"] = Input(
            reserve.value + extra, reserve.source, reserve.note + ", other httpd servers"
        )


def _ram(out: Gathered, opts: SizingOptions, measured) -> None:
    """The host's RAM for the sizing: given, or MemTotal less each deduction (one input line
    each, with its source), plus swap only with --swap. Cgroup limits are constraints of
    their own (`_constraints`), not a smaller RAM."""
    inputs = out.inputs
    swap = opts.swap
    if opts.ram is not None:
        if swap == "all":
            raise ConfigError("--swap all counts this machine's swap: with --ram give a size")
        inputs["ram"] = Input(
            opts.ram + (swap or 0), "given", f"with {mib(swap)} swap" if swap else ""
        )
        return
    if measured is None:
        out.missing = "give --ram: nothing measured"
        inputs["ram"] = Input(0, "assumed")
        return
    host = measured.host
    if host is None:  # a measurement made without reading the host (tests, old records)
        note = f"physical {mib(measured.physical_bytes)}"
        if measured.cgroup_limit_bytes:
            note += f", cgroup limit {mib(measured.cgroup_limit_bytes)}"
        inputs["ram"] = Input(measured.ram_bytes, "measured", note)
        return
    counted = 0
    if swap is not None:
        counted = host.swap_total if swap == "all" else int(swap)
        if counted > host.swap_total:
            raise ConfigError(
                f"--swap {mib(counted)}: this machine has {mib(host.swap_total)} of swap "
                "(SwapTotal)"
            )
        inputs["swap"] = Input(counted, "given", f"--swap; SwapTotal {mib(host.swap_total)}")
    for d in host.deductions:
        inputs[f"less {d.name}"] = Input(d.bytes, "measured", d.source)
    less = " - ".join(f"{mib(d.bytes)} {d.name}" for d in host.deductions)
    note = f"MemTotal {mib(host.total)} - {less}" + (f" + {mib(counted)} swap" if counted else "")
    inputs["ram"] = Input(host.usable(counted), "measured", note)


def _child(out: Gathered, opts, tree, threaded: bool, tpc: int, loaded: list[str], model):
    inputs = out.inputs
    inputs["thread_user"] = Input(opts.thread_size or 0, "given" if opts.thread_size else "default")
    if opts.child is not None:
        inputs["child"] = Input(opts.child, "given")
        return
    if tree is None:
        out.missing = "no running httpd to measure the child size: give --child-size or --pid"
        inputs["child"] = Input(0, "assumed")
        return
    child = tree.largest_child
    if child is None:
        out.missing = f"httpd {tree.parent.pid} has no children to measure: give --child-size"
        inputs["child"] = Input(0, "assumed")
        return
    out.declined = _declined(tree, loaded)
    what = "private memory" if child.exact else "RSS: no permission to read its memory maps"
    note = f"{what} of the largest of {len(tree.children)} children, PID {child.pid}"
    if child.busy:
        note += f", {child.busy} thread(s) serving" if threaded else ", serving a request"
    inputs["child"] = Input(child.private, "measured" if child.exact else "estimated", note)
    if not child.exact:
        out.warnings.append(
            Notice(
                "estimated",
                "the child size is its RSS, which counts the pages it shares with the parent "
                "and every other child: an upper bound, so the worst case is overstated and "
                "the recommendation errs low; run as root (or as the children's user, with "
                "their maps readable) for the private memory",
            )
        )
    if not threaded or opts.thread_size is not None:
        return
    every = Input(0, "measured", "every thread was seen busy: the child holds it already")
    if "perl_module" in loaded and model is not None:
        start = _perl_setting(model, "PerlInterpStart", PERL_INTERP_START)
        most = min(_perl_setting(model, "PerlInterpMax", PERL_INTERP_MAX), tpc)
        # Threads past PerlInterpMax wait for an interpreter (on a futex: idle to busy_threads).
        if child.busy is not None and child.busy >= most:
            # Every interpreter the child may have was busy: the peak is the worst case.
            inputs["thread_user"] = every
            return
        _perl_interpreters(out, tree, tpc, start, most)
        return
    if child.busy is not None and child.busy >= tpc:
        inputs["thread_user"] = every
        return
    fit = fit_threads(tree, tpc)
    if fit is not None:
        base, per_thread, how = fit
        inputs["child"] = Input(base, "measured", f"no thread busy, {how}")
        inputs["thread_user"] = Input(per_thread, "measured", how)


def _perl_interpreters(out: Gathered, tree, tpc: int, start: int, most: int) -> None:
    """Threaded mod_perl seen with fewer than `most` threads busy: its worst child, estimated.

    Perl keeps an interpreter's memory, so a child's private memory follows the most threads it
    ever had busy at once, not the threads busy now: a fit against the busy count sees no slope.
    Each busy thread holds an interpreter, so a child seen with b busy threads and p private
    bytes holds at least b of them: p / b bounds what one interpreter's requests add. Each
    interpreter past PerlInterpStart is cloned in the child and copies the parent's interpreter:
    at most the parent's anonymous memory / (PerlInterpStart + 1). Each child is taken at its
    peak and with the most threads it was seen busy; the largest worst child is the one sized.
    """
    clone = tree.parent.anon // (start + 1)
    looks = [(c.busy, c.private) for c in tree.children if c.busy]
    if not looks:  # threads unreadable: the largest child, as if one thread were busy
        looks = [(1, tree.largest_child.private)]
    best = (0, 0, 0)
    for busy, private in looks:
        b = min(busy, most)
        worst = private + (most - b) * (private // b) + max(0, most - max(b, start)) * clone
        best = max(best, (worst, private, b))
    worst, private, b = best
    how = (
        f"a child of {mib(private)} with {b} of {tpc} threads busy, grown to PerlInterpMax "
        f"{most}: {most - b} x {mib(private // b)} more + {max(0, most - max(b, start))} "
        f"interpreters cloned x {mib(clone)} (parent / (PerlInterpStart {start} + 1)); "
        "measure with every thread busy to know"
    )
    out.inputs["child"] = Input(private, "measured", how)
    out.inputs["thread_user"] = Input(-(-(worst - private) // tpc), "estimated", how)


def _perl_setting(model, name: str, default: int) -> int:
    values = model.server_values(name)
    try:
        return max(1, int(values[0])) if values else default
    except ValueError:
        return default


def _kernel(out: Gathered, opts: SizingOptions, tree) -> None:
    inputs = out.inputs
    if opts.process_overhead is not None:
        inputs["process_overhead"] = Input(opts.process_overhead, "given")
    elif tree is not None and tree.largest_child is not None:
        pte = max(c.pte for c in [*tree.children, tree.largest_child])
        inputs["process_overhead"] = Input(
            capacity.PROCESS_OVERHEAD + pte,
            "measured",
            f"{format_size(capacity.PROCESS_OVERHEAD)} calibrated + "
            f"{format_size(pte)} page tables measured",
        )
    else:
        inputs["process_overhead"] = Input(
            capacity.PROCESS_OVERHEAD + capacity.PAGE_TABLES, "default"
        )
    inputs["thread_overhead"] = (
        Input(opts.thread_overhead, "given")
        if opts.thread_overhead is not None
        else Input(capacity.THREAD_OVERHEAD, "default")
    )


def _daemon_terms(out: Gathered, opts: SizingOptions, tree, model) -> list[Term]:
    """mod_wsgi daemon groups and piped loggers: fixed costs, sized by their own settings."""
    terms: list[Term] = []
    configured = wsgi_groups(model)
    running = tree.daemon_groups() if tree is not None else {}
    # mod_wsgi numbers its daemon groups from 1 in the order they are defined.
    names = list(configured)
    for key in [k for k in running if k.startswith("wsgi#")]:
        index = int(key[5:]) - 1
        if 0 <= index < len(names):
            running[names[index]] = running.pop(key)
    for name in dict.fromkeys([*configured, *running]):
        processes, threads = configured.get(name, (len(running.get(name, [])), 1))
        seen = running.get(name, [])
        if seen:
            each = max(p.private for p in seen)
            note = f"{name}: {len(seen)} running, largest {mib(each)}"
        elif opts.daemon_size is not None:
            each = opts.daemon_size
            note = f"{name}: --daemon-size"
        else:
            out.warnings.append(
                Notice(
                    "daemon-unmeasured",
                    f"{name} ({processes} processes) is configured but not running here: give "
                    "--daemon-size for one of its processes",
                )
            )
            continue
        out.inputs[f"daemon {name}"] = Input(each, "measured" if seen else "given", note)
        terms.append(Term("daemon", name, processes, each, 0, threads, "processes="))
    if tree is not None and tree.loggers:
        each = max(p.private for p in tree.loggers)
        terms.append(Term("daemon", "piped loggers", len(tree.loggers), each))
    return terms


def _pool_terms(out: Gathered, opts: SizingOptions, model, measured) -> tuple[list[Term], set[int]]:
    """PHP-FPM pools the configuration sends requests to, at pm.max_children, and the PIDs of
    the PHP-FPM processes they count (so that the reserve does not count them again)."""
    if opts.pool_children is not None:
        if opts.pool_worker_size is None:
            raise ConfigError("give --pool-worker-size with --pool-children")
        out.inputs["pool"] = Input(
            opts.pool_worker_size,
            "given",
            f"pm.max_children {opts.pool_children} x {mib(opts.pool_worker_size)}",
        )
        term = Term(
            "pool", "backend pool", opts.pool_children, opts.pool_worker_size, 0, 1,
            "pm.max_children",
        )  # fmt: skip
        return [term], set()
    if model is None:
        return [], set()
    from httpdlint import pools

    ceiling = pools.mod_php_ceiling(model)
    if ceiling is not None:
        out.request_ceilings["mod_php"] = f"{ceiling[0]} ({ceiling[1]})"

    found = pools.pool_terms(model, measured if opts.live else None, opts.pool_worker_size)
    out.warnings.extend(found.warnings)
    out.pool_files.update(found.files)
    out.pool_members.update(found.members)
    for term, note, ceiling in found.items:
        out.inputs[f"pool {term.name}"] = Input(term.each, found.source(term), note)
        if ceiling:
            out.request_ceilings[term.name] = ceiling
    return [term for term, _, _ in found.items], found.pids
