"""`httpdlint measure` for people (a table), for Prometheus (OpenMetrics text) and for Nagios
(one plugin line: nagios.py judges, this module gathers the readings)."""

from __future__ import annotations

from collections.abc import Iterable

from httpdlint.demand import render_lines
from httpdlint.discover import describe
from httpdlint.errors import ConfigError
from httpdlint.measure import Measurement, Notice
from httpdlint.procfs import ProcessInfo
from httpdlint.sizes import format_size

__all__ = ["render_table", "render_openmetrics", "render_nagios"]


def _row(p: ProcessInfo) -> str:
    mark = "" if p.exact else "*"
    busy = "-" if p.busy is None else str(p.busy)
    return (
        f"  {p.pid:>7} {p.ppid:>7}  {p.role:<6} {p.name[:15]:<15} "
        f"{format_size(p.rss):>10} {format_size(p.private) + mark:>11} "
        f"{format_size(p.pss) + mark:>11} {format_size(p.swap):>10} {p.threads:>7} {busy:>4} "
        f"{p.cpu:>8.1f}s"
    )


_HEADER = (
    f"  {'PID':>7} {'PPID':>7}  {'ROLE':<6} {'NAME':<15} {'RSS':>10} {'PRIVATE':>11} "
    f"{'PSS':>11} {'SWAP':>10} {'THREADS':>7} {'BUSY':>4} {'CPU':>9}"
)


def render_table(m: Measurement) -> str:
    """The measurement as a table for people."""
    out: list[str] = []
    demand, pools = render_lines(m)
    shown = [c.get("config") for c in m.tree_configs.values()]
    if m.config and m.config not in shown:  # no running server has it: said once, on top
        out += [describe(m.config), ""]
    for tree in m.trees:
        extra = [x for x in (tree.mpm, *tree.interpreters) if x]
        daemons = tree.daemon_groups()
        out.append(
            f"httpd {tree.parent.pid} ({tree.parent.name}"
            + (f", {', '.join(extra)}" if extra else "")
            + f"): {len(tree.children)} children"
            + "".join(f", {len(ps)} {name} daemons" for name, ps in daemons.items())
            + (f", {len(tree.loggers)} piped loggers" if tree.loggers else "")
        )
        config = m.tree_configs.get(tree.parent.pid, {}).get("config")
        if config:
            out.append("  " + describe(config))
        out.append(_HEADER)
        out.extend(_row(p) for p in tree.processes())
        child = tree.largest_child
        if child is not None:
            n = len(tree.children)
            out.append(
                f"  largest child: PID {child.pid}, private {format_size(child.private)}"
                + (f" (peak over {m.samples} samples)" if m.samples > 1 else "")
            )
            out.append(
                f"  shared (parent anonymous + shared memory, once) {format_size(tree.shared)}; "
                f"{n} children private {format_size(sum(c.private for c in tree.children))}; "
                f"sum of PSS {format_size(tree.pss_total())}"
            )
        if tree.parent.pid in demand:
            out.append(demand[tree.parent.pid])
        out.append("")
    if pools:
        out.extend([*pools, ""])
    if m.others:
        out.append("Other processes by PSS:")
        out.append(_HEADER)
        out.extend(_row(p) for p in m.others)
        out.append(f"  all other processes: PSS {format_size(m.others_pss_bytes)}")
        out.append("")
    if m.services:
        out.append("Co-hosted services, reserved at the larger of ceiling and measured:")
        out.extend(
            f"  {s.name} (PID {', '.join(map(str, s.pids[:5]))}): reserve "
            f"{format_size(s.reserved)}; {s.note()}"
            for s in m.services
        )
        out.append("")
    limit = (
        f"cgroup limit {format_size(m.cgroup_limit_bytes)}"
        if m.cgroup_limit_bytes
        else "no cgroup limit"
    )
    out.append(
        f"RAM: {format_size(m.ram_bytes)} (physical {format_size(m.physical_bytes)}, {limit})"
    )
    if m.host is not None:
        out.append(f"  usable for sizing: {format_size(m.host.usable())}, MemTotal less:")
        out.extend(f"    {d.name} {format_size(d.bytes)} ({d.source})" for d in m.host.deductions)
        out.append(f"    (swap {format_size(m.host.swap_total)}: counted only with --swap)")
    if m.limits:
        out.append("Memory limits over httpd and its pools, tightest first:")
        out.extend(
            f"  {lim.name} {format_size(lim.bytes)}: {len(lim.pids)} processes inside hold "
            f"PSS {format_size(lim.held)}"
            + (f", charged {format_size(lim.usage)}" if lim.usage is not None else "")
            for lim in m.limits
        )
    if any(not p.exact for p in m.processes()):
        out.append("* RSS in place of private/PSS: no permission to read that process's maps")
    unreadable = m.unreadable
    warnings = [w for w in m.warnings if w not in unreadable]
    if warnings:
        out.append("")
        out.append("Warnings:")
        out.extend(f"  {w.code}: {w.message}" for w in warnings)
    if unreadable:
        out.append("")
        out.append("Could not read (the figures that stand in are estimates):")
        out.extend(f"  {w.message}" for w in unreadable)
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
        "shared": [],
        "threads": [],
    }
    for tree in m.trees:
        base = {"parent_pid": str(tree.parent.pid), "name": tree.parent.name}
        tree_samples["children"].append((base, len(tree.children)))
        roles = (
            ("parent", [tree.parent]),
            ("child", tree.children),
            ("daemon", tree.daemons),
            ("logger", tree.loggers),
        )
        for role, procs in roles:
            for kind in ("rss", "uss", "private", "pss", "swap"):
                total = sum(getattr(p, kind) for p in procs)
                tree_samples["memory"].append(({**base, "role": role, "kind": kind}, total))
            tree_samples["threads"].append(({**base, "role": role}, sum(p.threads for p in procs)))
        child = tree.largest_child
        if child is not None:
            for kind in ("rss", "uss", "private", "pss"):
                tree_samples["largest"].append(({**base, "kind": kind}, getattr(child, kind)))
        tree_samples["shared"].append((base, tree.shared))
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
        "Memory of the largest child (by private memory)",
        tree_samples["largest"],
    )
    family(
        "httpdlint_httpd_shared_bytes",
        "gauge",
        "bytes",
        "What the children share, counted once: parent anonymous memory and shared memory",
        tree_samples["shared"],
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


# --------------------------------------------------------------------------- nagios


def render_nagios(m: Measurement, models: list, warning, critical) -> tuple[int, str]:
    """(state, plugin line) for `measure --format nagios`: each server's busy peak of its
    MaxRequestWorkers, its worst case of the memory limit and each PHP-FPM pool's busy peak of
    pm.max_children; critical on a limit message written since the parent (or master) started
    (demand.py reads them)."""
    from httpdlint import nagios

    if not m.trees:
        raise ConfigError("no running apache2 or httpd found")
    readings: list[nagios.Reading] = []
    notes: list[str] = []
    extra: list[str] = []
    messages = 0
    several = len(m.trees) > 1
    for tree in m.trees:
        suffix = f"_{tree.parent.pid}" if several else ""
        who = f"httpd {tree.parent.pid}: " if several else ""
        mine = next((x for x in models if _runs(x, tree)), None)
        current = _current_mpm(mine, tree)
        key = current.limit_name
        demand = tree.demand or {}
        busy = demand.get("busy_peak")
        if busy is None:
            busy = tree.busy_peak  # the processes' own threads, without mod_status
        messages += sum(
            1 for x in demand.get("messages", ()) if x["kind"] in ("reached", "scoreboard-full")
        )
        if busy is None:
            notes.append(f"{who}busy workers unknown (no mod_status, threads unreadable)")
        else:
            readings.append(
                nagios.Reading(
                    f"busy_workers{suffix}",
                    busy,
                    current.max_workers,
                    "",
                    f"{who}busy peak {busy} of {key} {current.max_workers}",
                )
            )
        worst = _worst(m, mine, tree, current)
        if isinstance(worst, str):
            notes.append(f"{who}{worst}")
        else:
            total, limit, name = worst
            readings.append(
                nagios.Reading(
                    f"worst_case{suffix}",
                    total,
                    limit,
                    "B",
                    f"{who}worst case at {key} {current.max_workers} "
                    f"{format_size(total)} of {format_size(limit)} ({name})",
                )
            )
        extra.append(f"children{suffix}={len(tree.children)};;;0;")
        extra.append(f"pss{suffix}={tree.pss_total()}B;;;0;")
    for pool in m.pools or ():
        demand = pool.get("demand") or {}
        messages += sum(1 for x in demand.get("messages", ()) if x["kind"] == "fpm-max-children")
        busy, limit = demand.get("busy_peak"), demand.get("limit")
        if busy is not None and limit:
            readings.append(
                nagios.Reading(
                    f"pool_{pool['pool']}_busy",
                    busy,
                    limit,
                    "",
                    f"php-fpm {pool['pool']} busy peak {busy} of pm.max_children {limit}",
                )
            )
    return nagios.evaluate(
        readings, messages, warning=warning, critical=critical, notes=tuple(notes),
        extra=tuple(extra),
    )  # fmt: skip


def _runs(model, tree) -> bool:
    from httpdlint.inputs import server_pid

    return server_pid(model) == tree.parent.pid


def _current_mpm(model, tree):
    """The MPM settings httpd runs `tree` with: its configuration's, else compiled defaults."""
    from httpdlint.mpm import evaluate_mpm

    if model is not None and model.mpm is not None:
        return model.mpm
    return evaluate_mpm(tree.mpm or "prefork", "2.4", [])


def _worst(m: Measurement, model, tree, current):
    """(worst-case bytes at the configured workers, the limit, its name), or why not."""
    from httpdlint import capacity
    from httpdlint.inputs import SizingOptions, gather

    if model is None:
        return "no configuration for this server: worst case unknown"
    g = gather(model, SizingOptions(pid=tree.parent.pid), m)
    if g.sizing is None:
        return f"worst case unknown: {g.missing}"
    name, worst = capacity.tightest_worst(g.sizing, current.processes_needed())
    return worst.total, worst.ram, name
