"""`httpdlint suggest`: the recommendation with its inputs and arithmetic, in five formats.

inputs.py decides where each number comes from (given, configuration, measured, default),
capacity.py does the arithmetic; this module compares the result with what httpd runs with
now, and renders text, a config snippet (jinja2), JSON or a self-contained HTML page with an
SVG chart. When what was measured cannot size the server (children between requests), the
inputs are still shown, with no recommendation and the command to run instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import jinja2

from httpdlint import capacity
from httpdlint.capacity import CapacityError, Recommendation, Sizing, mib
from httpdlint.errors import ConfigError
from httpdlint.inputs import Gathered, SizingOptions, gather
from httpdlint.measure import UNREADABLE, Notice
from httpdlint.mpm import evaluate_mpm, module_condition, workers_directive
from httpdlint.output import json_text
from httpdlint.sizes import format_size

__all__ = ["FORMATS", "Suggestion", "suggest", "render", "mpm_adjustments"]

FORMATS = ("text", "json", "conf", "html")


@dataclass
class Suggestion:
    """The recommendation (None when declined) with its inputs, comparison and warnings."""

    gathered: Gathered
    recommendation: Recommendation | None
    sizing: Sizing
    warnings: list[Notice] = field(default_factory=list)
    #: Where the configuration came from (discover.provenance), set by the command.
    config: dict | None = None

    @property
    def inputs(self):
        return self.gathered.inputs

    @property
    def current(self) -> dict[str, int] | None:
        current = self.gathered.current
        return dict(current.effective) if current is not None else None

    @property
    def current_processes(self) -> int | None:
        current = self.gathered.current
        return current.processes_needed() if current is not None else None

    def input_rows(self) -> list[tuple[str, str, str]]:
        """(what, value, where it came from) for each input of the sizing."""
        s = self.sizing
        i = self.inputs
        rows = [("RAM", mib(s.ram), i["ram"].origin())]
        # The host's deductions, counted swap and each cgroup limit, with their sources.
        for name, inp in i.items():
            if name.startswith(("less ", "limit ")) or name == "swap":
                rows.append((name, mib(inp.value), inp.origin()))
        rows += [
            ("reserve", mib(s.reserve), i["reserve"].origin()),
            ("shared", mib(s.shared), i["shared"].origin()),
            ("child", mib(s.child), i["child"].origin()),
        ]
        if s.threaded:
            rows.append(("per busy thread", mib(s.thread_user), i["thread_user"].origin()))
        for name, inp in i.items():
            if name.startswith(("daemon ", "pool", "reserve ")):
                rows.append((name, mib(inp.value), inp.origin()))
        for name, ceiling in self.gathered.request_ceilings.items():
            rows.append((f"{name} request", ceiling, "memory_limit: the most one request takes"))
        rows += [
            ("margin", f"{s.margin * 100:g} %", i["margin"].origin()),
            ("MPM", s.mpm, i["mpm"].origin()),
            ("Apache", s.version, i["version"].origin()),
        ]
        if s.threaded:
            rows.append(
                ("ThreadsPerChild", str(s.threads_per_child), i["threads_per_child"].origin())
            )
            rows.append(
                ("kernel per thread", format_size(s.thread_overhead), i["thread_overhead"].origin())
            )
        rows.append(
            ("kernel per process", format_size(s.process_overhead), i["process_overhead"].origin())
        )
        rows.append(("recycle children", "yes" if s.recycle else "no", i["recycle"].origin()))
        rows.append(("sizing", self.gathered.mode, self._machine()))
        if "server" in i:
            rows.append(("httpd", f"PID {i['server'].value}", i["server"].origin()))
        return rows

    def _machine(self) -> str:
        if self.gathered.mode == "given-ram":
            return "the RAM given; this machine's other processes are not in the budget"
        return "this machine: its RAM, limits and other processes"

    def input_lines(self) -> list[str]:
        return [f"{what} {value} ({origin})" for what, value, origin in self.input_rows()]

    def current_lines(self) -> list[str]:
        s = self.sizing
        r = self.recommendation
        key = workers_directive(s.version)
        lines: list[str] = []
        current, n = self.current, self.current_processes
        if current and n is not None and key in current:
            # Against the limit it fills most: a unit's MemoryMax can overflow on a large host.
            limit, worst = capacity.tightest_worst(s, n)
            what = "RAM" if limit == "host RAM" else f"the limit {limit}"
            how = "by default" if self.gathered.current_source == "default" else "in the config"
            procs = f" ({n} processes)" if s.threaded else ""
            verdict = (
                f"{worst.total / worst.ram:.1f}x {what}"
                if worst.total > worst.ram
                else f"{worst.total / worst.ram:.0%} of {what}"
            )
            rec = f"; recommended {r.workers}" if r is not None else ""
            lines.append(
                f"now {key} {current[key]}{procs} {how}: worst case {worst.text} on "
                f"{mib(worst.ram)} {'RAM' if limit == 'host RAM' else f'({limit})'} "
                f"({verdict}){rec}"
            )
            lines += capacity.concurrency_notes(s, int(current[key]), "now")
        tree = self.gathered.tree
        if tree is not None and tree.children:
            n = len(tree.children)
            predicted = capacity.predicted(s, n)
            lines.append(
                f"running now: {n} children: predicted {mib(predicted)} (shared + {n} x "
                f"child + kernel + daemons and pools, no margin); their PSS sum "
                f"{mib(tree.pss_total())}"
            )
        return lines

    def explanation(self) -> list[str]:
        steps = list(self.recommendation.steps) if self.recommendation else []
        if self.gathered.declined:
            steps.append(f"no recommendation: {self.gathered.declined}")
        return self.input_lines() + steps + self.current_lines()

    def to_json(self) -> dict:
        s = self.sizing
        r = self.recommendation
        g = self.gathered
        tree = g.tree
        n = self.current_processes
        data: dict[str, Any] = {
            "schema": 1,
            "config": self.config,
            "mpm": s.mpm,
            "apache_version": s.version,
            "sizing": g.mode,
            "ram_bytes": s.ram,
            "reserved_bytes": s.reserve,
            "shared_bytes": s.shared,
            "child_bytes": s.child,
            "thread_bytes": s.thread_user if s.threaded else None,
            "margin": s.margin,
            "source": g.source(),
            "sources": {
                name: inp.source
                for name, inp in g.inputs.items()
                if name not in ("terms", "server") and not name.startswith("limit ")
            },
            "server": (
                {"pid": g.inputs["server"].value, "found": g.inputs["server"].origin()}
                if "server" in g.inputs
                else None
            ),
            "threads_per_child": s.threads_per_child if s.threaded else None,
            "process_overhead_bytes": s.process_overhead,
            "thread_overhead_bytes": s.thread_overhead if s.threaded else None,
            "daemons": [_term_json(s, t) for t in s.terms if t.kind == "daemon"],
            "pools": [_term_json(s, t) for t in s.terms if t.kind == "pool"],
            "request_ceilings": g.request_ceilings,
            "reserve": [service.to_json() for service in g.services],
            "budget_bytes": r.budget if r else None,
            "binding": (
                {"name": r.binding[0], "limit_bytes": r.binding[1]} if r is not None else None
            ),
            "constraints": _constraints_json(s, r),
            "per_process_bytes": capacity.per_process_cost(s),
            "processes": r.processes if r else None,
            "worst_case_bytes": r.memory_at(r.processes) if r else None,
            "recommended": dict(r.settings) if r else None,
            "recommended_pools": r.pools if r else None,
            "declined": g.declined,
            "current": self.current,
            "current_source": g.current_source,
            "current_worst_case_bytes": capacity.worst_case(s, n).total if n else None,
            "running": None,
            "explanation": self.explanation(),
            "warnings": [w.to_json() for w in self.warnings if w.code not in UNREADABLE],
            "unreadable": [w.to_json() for w in self.warnings if w.code in UNREADABLE],
            "estimated": sorted(n for n, i in g.inputs.items() if i.source == "estimated"),
        }
        if tree is not None:
            child = tree.largest_child
            data["running"] = {
                "parent": tree.parent.pid,
                "children": len(tree.children),
                "daemons": sum(len(ps) for ps in tree.daemon_groups().values()),
                "parent_rss": tree.parent.rss,
                "parent_anon": tree.parent.anon,
                "largest_child_private": child.private if child else None,
                "busy_seen": tree.busy_seen,
                "samples": g.measurement.samples if g.measurement else 1,
                "predicted_bytes": capacity.predicted(s, len(tree.children)),
                "pss_total_bytes": tree.pss_total(),
            }
        return data


def _constraints_json(s: Sizing, r: Recommendation | None) -> list[dict]:
    """Each cgroup constraint: what it binds, its own reserve, budget and children that fit."""
    checked = {b.name: b for b in (r.bounds if r is not None else capacity.bounds(s))}
    out = []
    for c in s.constraints:
        b = checked.get(c.name)
        out.append(
            {
                "name": c.name,
                "limit_bytes": c.limit,
                "httpd": c.httpd,
                "terms": list(c.terms),
                "others_bytes": c.others,
                "budget_bytes": b.budget if b else None,
                "processes": b.processes if b else None,
            }
        )
    return out


def _term_json(s: Sizing, t) -> dict:
    return {
        "name": t.name,
        "count": t.count,
        "each_bytes": t.each,
        "shared_bytes": t.base,
        "threads": t.threads,
        "setting": t.setting or None,
        "total_bytes": capacity.term_cost(s, t),
    }


def mpm_adjustments(mpm: str, version: str, settings: dict[str, int]) -> list:
    """What httpd would change in `settings` at startup (ideally nothing)."""
    from httpdlint.mpm import Setting

    settings_list = [Setting(name, (str(value),)) for name, value in settings.items()]
    return list(evaluate_mpm(mpm, version, settings_list).adjustments)


def suggest(
    model,
    opts: SizingOptions,
    *,
    measured=None,
    duration: float = 0.0,
    interval: float = 10.0,
    progress=None,
    logs: bool = True,
    neighbours: tuple = (),
) -> Suggestion:
    """Gather the inputs and size the server (the other servers running here, `neighbours`,
    reserved at their worst case). Raises ConfigError for input no sizing fits."""
    g = gather(
        model,
        opts,
        measured,
        duration=duration,
        interval=interval,
        progress=progress,
        neighbours=neighbours,
    )
    if g.missing:
        raise ConfigError(g.missing)
    s = g.sizing
    assert s is not None
    warnings = list(g.warnings)
    recommendation = None
    if g.declined is None:
        try:
            recommendation = capacity.recommend(s)
        except CapacityError as exc:
            raise ConfigError(str(exc)) from None
        for adj in mpm_adjustments(s.mpm, s.version, recommendation.settings):
            # A bug of ours, not the user's: say so rather than hand out a snippet httpd rewrites.
            warnings.append(
                Notice("httpd-adjusts", f"httpd would adjust the recommendation: {adj.message}")
            )
        for note in capacity.concurrency_notes(
            recommendation.sizing, recommendation.workers, "recommended"
        ):
            warnings.append(Notice("concurrency", note))
        for note in capacity.constraint_notes(recommendation.sizing):
            warnings.append(Notice("pool-limit", note))
        for name, values in recommendation.pools.items():
            configured = next(t.count for t in s.terms if t.name == name)
            if values["pm.max_children"] < configured:
                warnings.append(
                    Notice(
                        "pool-lowered",
                        f"{name}: pm.max_children {configured} does not fit beside httpd; "
                        f"{values['pm.max_children']} does",
                    )
                )
    if logs:
        from httpdlint.history import log_warnings

        warnings.extend(log_warnings(model, g.measurement))
    return Suggestion(g, recommendation, s, warnings)


# --------------------------------------------------------------------------- rendering

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("httpdlint", "templates"),
    autoescape=jinja2.select_autoescape(["html.j2"]),
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def render_text(s: Suggestion) -> str:
    r = s.recommendation
    z = s.sizing
    if r is not None:
        width = max(len(k) for k in r.settings)
        out = [f"Recommended for {z.mpm} on Apache {z.version}:", ""]
        out += [f"    {name:<{width}}  {value:>6}" for name, value in r.settings.items()]
        for pool, values in r.pools.items():
            out += ["", f"  {pool}:"]
            out += [f"    {name:<{width}}  {value:>6}" for name, value in values.items()]
        name, limit = r.binding
        bound = "the host's RAM" if name == "host" else f"the cgroup limit {name}"
        out += ["", f"Binding: {bound}, {mib(limit)}"]
    else:
        out = [f"No recommendation for {z.mpm} on Apache {z.version}:", ""]
        out += [f"    {s.gathered.declined}"]
    if s.config is not None:
        from httpdlint.discover import describe

        out += ["", describe(s.config)]
    out += ["", "Inputs:"]
    rows = s.input_rows()
    w1 = max(len(row[0]) for row in rows)
    w2 = max(len(row[1]) for row in rows)
    out += [f"  {what:<{w1}}  {value:>{w2}}  {origin}" for what, value, origin in rows]
    if r is not None:
        out += ["", "Arithmetic:"]
        out += ["  " + line for line in r.steps]
    current = s.current_lines()
    if current:
        out += ["", "Now:"]
        out += ["  " + line for line in current]
    unreadable = [w for w in s.warnings if w.code in UNREADABLE]
    warnings = [w for w in s.warnings if w.code not in UNREADABLE]
    if warnings:
        out += ["", "Warnings:"]
        out += [f"  {w.code}: {w.message}" for w in warnings]
    if unreadable:
        out += ["", "Could not read (the figures that stand in are estimates):"]
        out += [f"  {w.message}" for w in unreadable]
    return "\n".join(out) + "\n"


def render_conf(s: Suggestion) -> str:
    z = s.sizing
    r = s.recommendation
    if r is None:
        raise ConfigError(f"no recommendation: {s.gathered.declined}")
    width = max(len(k) for k in r.settings)
    pools = []
    for name, values in r.pools.items():
        pool_width = max(len(k) for k in values)
        pools.append((name, [(f"{k:<{pool_width}}", v) for k, v in values.items()]))
    return _env.get_template("mpm.conf.j2").render(
        module=module_condition(z.mpm, z.version),
        settings=[(f"{k:<{width}}", v) for k, v in r.settings.items()],
        summary=(
            f"{mib(z.ram)} RAM, {mib(z.reserve)} reserve, {mib(z.shared)} shared, "
            f"{mib(z.child)} per child + {z.margin * 100:g} % margin"
        ),
        mpm=z.mpm,
        version=z.version,
        pools=pools,
    )


def _chart(s: Suggestion) -> dict:
    """Coordinates for the SVG: memory against processes, RAM line, current and recommended."""
    z = s.sizing
    r = s.recommendation
    assert r is not None
    width, height, left, bottom, top, right = 640, 360, 70, 40, 20, 20
    marks = [r.processes] + ([s.current_processes] if s.current_processes else [])
    x_max = max(max(marks) * 1.15, 1)
    y_max = max(capacity.worst_case(z, math.ceil(x_max)).total, z.ram) * 1.1

    def x(n: float) -> float:
        return round(left + (width - left - right) * n / x_max, 1)

    def y(b: float) -> float:
        return round(height - bottom - (height - top - bottom) * b / y_max, 1)

    def point(n: float) -> dict:
        total = z.reserve + z.shared + capacity.fixed_cost(z) + n * capacity.per_process_cost(z)
        return {"x": x(n), "y": y(total), "n": n}

    ticks = []
    step = 10 ** max(0, int(math.log10(max(x_max, 1))))
    if x_max / step < 4:
        step = max(1, step // 5 if step >= 5 else step)
    for n in range(0, int(x_max) + 1, step):
        ticks.append({"x": x(n), "label": n})
    yticks = []
    ystep = 2 ** max(0, int(math.log2(max(y_max / 5, 1))))
    for b in range(0, int(y_max) + 1, ystep):
        yticks.append({"y": y(b), "label": mib(b)})
    unit = "processes" if z.threaded else "workers"
    current = None
    if s.current_processes:
        current = point(s.current_processes)
        current["label"] = f"now {s.current_processes} {unit}"
    rec = point(r.processes)
    rec["label"] = f"recommended {r.processes} {unit}"
    return {
        "width": width,
        "height": height,
        "x0": x(0),
        "x1": x(x_max),
        "y0": y(0),
        "ytop": y(y_max),
        "line": [point(0), point(x_max)],
        "floor": y(z.reserve + z.shared + capacity.fixed_cost(z)),
        "ram": y(z.ram),
        "ram_label": f"RAM {mib(z.ram)}",
        "recommended": rec,
        "current": current,
        "xticks": ticks,
        "yticks": yticks,
        "xlabel": "child processes" if z.threaded else "MaxRequestWorkers (children)",
    }


def render_html(s: Suggestion) -> str:
    z = s.sizing
    if s.recommendation is None:
        raise ConfigError(f"no recommendation: {s.gathered.declined}")
    return _env.get_template("report.html.j2").render(
        title=f"httpdlint suggest: {z.mpm}, Apache {z.version}",
        settings=s.recommendation.settings,
        current=s.current,
        current_source=s.gathered.current_source,
        explanation=s.explanation(),
        warnings=s.warnings,
        chart=_chart(s),
        conf=render_conf(s),
    )


def render(s: Suggestion, fmt: str) -> str:
    """The suggestion in one of FORMATS."""
    if fmt == "text":
        return render_text(s)
    if fmt == "json":
        return json_text(s.to_json())
    if fmt == "conf":
        return render_conf(s)
    if fmt == "html":
        return render_html(s)
    raise ConfigError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
