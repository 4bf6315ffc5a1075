"""`httpdlint measure` for people (a table) and for Prometheus (OpenMetrics text)."""

from __future__ import annotations

from collections.abc import Iterable

from httpdlint.discover import describe
from httpdlint.measure import Measurement, Notice
from httpdlint.procfs import ProcessInfo
from httpdlint.sizes import format_size

__all__ = ["render_table", "render_openmetrics"]


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
        out.append("* RSS in place of private/PSS: no permission to read that process's maps")
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
