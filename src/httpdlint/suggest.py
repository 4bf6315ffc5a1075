"""`httpdlint suggest`: gather the sizing's inputs, explain the arithmetic, render the result.

Every input is either given on the command line, read from the configuration (PATH), measured
on the live system (measure.py) or a documented default, and the output says which. The
arithmetic itself is capacity.py's; this module decides where the numbers come from, compares
the result with what httpd runs with now, and renders text, a config snippet (jinja2), JSON or
a self-contained HTML page with an SVG chart.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2

from httpdlint import capacity
from httpdlint.capacity import CapacityError, Recommendation, Sizing, mib
from httpdlint.errors import ConfigError
from httpdlint.measure import Measurement, Notice
from httpdlint.output import atomic_write as write_atomic
from httpdlint.sizes import format_size

__all__ = [
    "FORMATS",
    "SuggestOptions",
    "Input",
    "Suggestion",
    "suggest",
    "render",
    "write_atomic",
    "mpm_adjustments",
]

FORMATS = ("text", "json", "conf", "html")

_MODULE_NAMES = {
    "2.4": {
        "prefork": "mpm_prefork_module",
        "worker": "mpm_worker_module",
        "event": "mpm_event_module",
    },
    "2.2": {"prefork": "prefork.c", "worker": "worker.c", "event": "event.c"},
}
_INTERPRETER_MODULES = ("perl_module", "php_module", "php5_module", "php7_module", "php8_module")


@dataclass
class SuggestOptions:
    """What the user gave; None means "find out" (configuration, measurement or default)."""

    ram: int | None = None
    child: int | None = None
    shared: int | None = None
    reserve: int | None = None
    margin: float | None = None
    mpm: str | None = None
    apache_version: str | None = None
    threads_per_child: int | None = None
    thread_overhead: int | None = None
    process_overhead: int | None = None
    config: str | None = None
    server_root: str | None = None
    defines: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    pid: int | None = None
    #: Look at the live system for what is not given (tests switch it off).
    live: bool = True
    #: Read error and kernel logs for warnings.
    logs: bool = True


@dataclass(frozen=True)
class Input:
    """One number of the sizing and where it came from."""

    value: Any
    source: str  # given | config | measured | default | assumed
    note: str = ""

    def origin(self) -> str:
        return f"{self.source}: {self.note}" if self.note else self.source


@dataclass
class Suggestion:
    """The recommendation with its inputs, comparison and warnings."""

    recommendation: Recommendation
    inputs: dict[str, Input]
    current: dict[str, int] | None
    current_source: str | None
    current_processes: int | None
    measurement: Measurement | None
    warnings: list[Notice] = field(default_factory=list)

    @property
    def sizing(self) -> Sizing:
        return self.recommendation.sizing

    def input_rows(self) -> list[tuple[str, str, str]]:
        """(what, value, where it came from) for each input of the sizing."""
        s = self.sizing
        i = self.inputs
        rows = [
            ("RAM", mib(s.ram), i["ram"].origin()),
            ("reserve", mib(s.reserve), i["reserve"].origin()),
            ("shared", mib(s.shared), i["shared"].origin()),
            ("child", mib(s.child), i["child"].origin()),
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
        return rows

    def input_lines(self) -> list[str]:
        return [f"{what} {value} ({origin})" for what, value, origin in self.input_rows()]

    def current_lines(self) -> list[str]:
        s = self.sizing
        r = self.recommendation
        key = capacity.workers_directive(s.version)
        lines: list[str] = []
        if self.current and self.current_processes is not None and key in self.current:
            worst = capacity.memory_at(s, self.current_processes)
            how = "by default" if self.current_source == "default" else "in the configuration"
            procs = f" ({self.current_processes} processes)" if s.threaded else ""
            verdict = (
                f"{worst / s.ram:.1f}x RAM" if worst > s.ram else f"{worst / s.ram:.0%} of RAM"
            )
            lines.append(
                f"now {key} {self.current[key]}{procs} {how}: worst case {mib(worst)} on "
                f"{mib(s.ram)} RAM ({verdict}); recommended {r.workers}"
            )
        tree = self.measurement.tree if self.measurement else None
        if tree is not None and tree.children:
            n = len(tree.children)
            lines.append(
                f"running now: {n} children: parent RSS + {n} x child USS = "
                f"{mib(tree.parent.rss)} + {n} x {mib(tree.largest_child.uss)} = "
                f"{mib(tree.predicted_bytes())} (their PSS sum: {mib(tree.pss_total())})"
            )
        return lines

    def explanation(self) -> list[str]:
        return self.input_lines() + list(self.recommendation.steps) + self.current_lines()

    def to_json(self) -> dict:
        s = self.sizing
        r = self.recommendation
        tree = self.measurement.tree if self.measurement else None
        data: dict[str, Any] = {
            "schema": 1,
            "mpm": s.mpm,
            "apache_version": s.version,
            "ram_bytes": s.ram,
            "reserved_bytes": s.reserve,
            "shared_bytes": s.shared,
            "child_bytes": s.child,
            "margin": s.margin,
            # The child size decides the sizing: "given" when the user gave it.
            "source": "given" if self.inputs["child"].source == "given" else "measured",
            "sources": {name: inp.source for name, inp in self.inputs.items()},
            "threads_per_child": s.threads_per_child if s.threaded else None,
            "process_overhead_bytes": s.process_overhead,
            "thread_overhead_bytes": s.thread_overhead if s.threaded else None,
            "budget_bytes": r.budget,
            "per_process_bytes": r.per_process_cost,
            "processes": r.processes,
            "worst_case_bytes": r.memory_at(r.processes),
            "recommended": dict(r.settings),
            "current": self.current,
            "current_source": self.current_source,
            "current_worst_case_bytes": (
                capacity.memory_at(s, self.current_processes)
                if self.current_processes is not None
                else None
            ),
            "running": None,
            "explanation": self.explanation(),
            "warnings": [w.to_json() for w in self.warnings],
        }
        if tree is not None:
            data["running"] = {
                "parent": tree.parent.pid,
                "children": len(tree.children),
                "parent_rss": tree.parent.rss,
                "largest_child_uss": tree.largest_child.uss if tree.largest_child else None,
                "predicted_bytes": tree.predicted_bytes(),
                "pss_total_bytes": tree.pss_total(),
            }
        return data


# --------------------------------------------------------------------------- gathering


def _load_model(opts: SuggestOptions):
    """The evaluated configuration, imported lazily: only a PATH needs the loader."""
    from httpdlint.model import load_model

    return load_model(
        [opts.config],
        server_root=opts.server_root,
        defines=opts.defines,
        modules=opts.modules,
        apache_version=opts.apache_version,
    )


def _config_path(model, value: str | None) -> str | None:
    """A path from the configuration, relative to ServerRoot as httpd reads it."""
    if not value:
        return None
    if os.path.isabs(value):
        return value
    root = getattr(model, "server_root", None) or getattr(model.config, "server_root", "")
    return os.path.join(root or "", value)


def _evaluate(mpm: str, version: str, settings: Iterable[tuple[str, int]] = ()):
    """The MPM model on `settings`, or None while the model is not installed."""
    try:
        from httpdlint.mpm import Setting, evaluate_mpm
    except ImportError:
        return None
    return evaluate_mpm(mpm, version, [Setting(name, (str(value),)) for name, value in settings])


def mpm_adjustments(mpm: str, version: str, settings: dict[str, int]) -> list | None:
    """What httpd would change in `settings` at startup (ideally nothing); None if unknown."""
    result = _evaluate(mpm, version, settings.items())
    return None if result is None else list(result.adjustments)


def _processes_needed(result, mpm: str) -> int | None:
    if result is None:
        return None
    method = getattr(result, "processes_needed", None)
    if callable(method):
        return int(method())
    return capacity.processes_for_settings(mpm, result.effective)


def _measure(opts: SuggestOptions, model) -> Measurement:
    from httpdlint import measure as m

    pids = None
    if opts.pid is not None:
        pids = [opts.pid]
    elif model is not None:
        pid_file = _config_path(model, (model.server_values("PidFile") or [None])[0])
        if pid_file and os.path.exists(pid_file):
            with contextlib.suppress(ConfigError):
                pid = m.read_pid_file(pid_file)
                if os.path.exists(f"/proc/{pid}"):
                    pids = [pid]
    return m.measure(pids)


def _log_warnings(opts: SuggestOptions, model, measured: Measurement | None) -> list[Notice]:
    from httpdlint import measure as m

    paths: list[str] = []
    if model is not None:
        path = _config_path(model, (model.server_values("ErrorLog") or [None])[0])
        if path and not path.startswith("|") and not path.startswith("syslog"):
            paths.append(path)
    if measured is not None:
        for tree in measured.trees:
            paths.extend(m.open_error_logs(tree.parent.pid))
    if not paths:
        paths.extend(p for p in m.DEFAULT_ERROR_LOGS if os.path.exists(p))
    return m.error_log_warnings(paths) + m.kernel_log_warnings()


def suggest(opts: SuggestOptions, measured: Measurement | None = None) -> Suggestion:
    """Gather the inputs and size the server. Raises ConfigError for input no sizing fits."""
    model = _load_model(opts) if opts.config else None
    needs_live = opts.pid is not None or any(
        v is None for v in (opts.ram, opts.child, opts.shared, opts.reserve)
    )
    if measured is None and opts.live and needs_live:
        measured = _measure(opts, model)
    tree = measured.tree if measured else None
    inputs: dict[str, Input] = {}
    # The measurement's warnings that concern a number this sizing uses.
    wanted = {"young-children", "no-permission", "several-httpd", "pid-is-child", "pid-not-httpd"}
    if opts.reserve is None:
        wanted.add("no-permission-others")
    warnings = [w for w in (measured.warnings if measured else []) if w.code in wanted]

    # RAM: given, else the smaller of physical memory and the cgroup limit.
    if opts.ram is not None:
        inputs["ram"] = Input(opts.ram, "given")
    elif measured is not None:
        note = f"physical {mib(measured.physical_bytes)}"
        if measured.cgroup_limit_bytes:
            note += f", cgroup limit {mib(measured.cgroup_limit_bytes)}"
        inputs["ram"] = Input(measured.ram_bytes, "measured", note)
    else:
        raise ConfigError("give --ram: nothing measured")

    # Child: given, else the largest child's USS (RSS when USS could not be read).
    if opts.child is not None:
        inputs["child"] = Input(opts.child, "given")
    elif tree is not None and tree.largest_child is not None:
        child = tree.largest_child
        what = "USS" if child.exact else "RSS: no permission to read USS"
        inputs["child"] = Input(
            child.uss,
            "measured",
            f"{what} of the largest of {len(tree.children)} children, PID {child.pid}",
        )
    elif tree is not None:
        raise ConfigError(f"httpd {tree.parent.pid} has no children to measure: give --child-size")
    else:
        raise ConfigError("no running httpd to measure the child size: give --child-size or --pid")

    # Shared: given, else the parent's RSS (what children share copy-on-write, counted once).
    if opts.shared is not None:
        inputs["shared"] = Input(opts.shared, "given")
    elif tree is not None:
        inputs["shared"] = Input(tree.parent.rss, "measured", f"RSS of parent {tree.parent.pid}")
    else:
        inputs["shared"] = Input(
            0, "assumed", "no running httpd to measure; give --shared for the parent's RSS"
        )

    # Reserve: given, else the PSS of every other process.
    if opts.reserve is not None:
        inputs["reserve"] = Input(opts.reserve, "given")
    elif measured is not None:
        top = ", ".join(
            f"{p.name} {mib(p.pss)}" for p in measured.others[:3] if p.pss >= 1024 * 1024
        )
        inputs["reserve"] = Input(
            measured.others_pss_bytes,
            "measured",
            "PSS of all other processes" + (f", largest: {top}" if top else ""),
        )
    else:
        raise ConfigError("give --reserve: nothing measured")

    inputs["margin"] = (
        Input(opts.margin, "given")
        if opts.margin is not None
        else Input(capacity.DEFAULT_MARGIN, "default")
    )

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
    if mpm not in capacity.MPMS:
        raise ConfigError(f"unknown MPM {mpm!r}: expected prefork, worker or event")
    if version not in capacity.VERSIONS:
        raise ConfigError(f"unknown Apache version {version!r}: expected 2.2 or 2.4")

    # What httpd runs with now: the configuration's effective settings, else the defaults.
    current_result = None
    current_source = None
    if model is not None and model.mpm is not None and model.mpm_name == mpm:
        # A configuration that does not set the limit runs with httpd's default.
        limit = capacity.workers_directive(version)
        current_result = model.mpm
        current_source = "config" if limit in model.mpm.explicit else "default"
    else:
        current_result = _evaluate(mpm, version)
        current_source = "default" if current_result is not None else None
    current = dict(current_result.effective) if current_result is not None else None

    if opts.threads_per_child is not None:
        inputs["threads_per_child"] = Input(opts.threads_per_child, "given")
    elif model is not None and current_result is model.mpm and current.get("ThreadsPerChild"):
        inputs["threads_per_child"] = Input(current["ThreadsPerChild"], "config")
    else:
        inputs["threads_per_child"] = Input(capacity.DEFAULT_THREADS_PER_CHILD, "default")
    inputs["thread_overhead"] = (
        Input(opts.thread_overhead, "given")
        if opts.thread_overhead is not None
        else Input(capacity.THREAD_OVERHEAD, "default")
    )
    inputs["process_overhead"] = (
        Input(opts.process_overhead, "given")
        if opts.process_overhead is not None
        else Input(capacity.PROCESS_OVERHEAD, "default")
    )

    # Interpreters leak: with mod_perl or mod_php loaded, children should be recycled.
    loaded: list[str] = []
    source = "default"
    if model is not None:
        loaded = sorted(
            m for m in model.modules if m in _INTERPRETER_MODULES or m.startswith("php")
        )
        source = "config"
    if not loaded and tree is not None and tree.interpreters:
        loaded, source = tree.interpreters, "measured"
    inputs["recycle"] = Input(bool(loaded), source, ", ".join(loaded) + " loaded" if loaded else "")

    sizing = Sizing(
        ram=inputs["ram"].value,
        reserve=inputs["reserve"].value,
        shared=inputs["shared"].value,
        child=inputs["child"].value,
        margin=inputs["margin"].value,
        mpm=mpm,
        version=version,
        threads_per_child=inputs["threads_per_child"].value,
        process_overhead=inputs["process_overhead"].value,
        thread_overhead=inputs["thread_overhead"].value,
        recycle=bool(loaded),
    )
    try:
        recommendation = capacity.recommend(sizing)
    except CapacityError as exc:
        raise ConfigError(str(exc)) from None

    adjustments = mpm_adjustments(mpm, version, recommendation.settings)
    for adj in adjustments or ():
        # A bug of ours, not the user's: say so rather than hand out a snippet httpd rewrites.
        warnings.append(
            Notice("httpd-adjusts", f"httpd would adjust the recommendation: {adj.message}")
        )

    if opts.logs:
        warnings.extend(_log_warnings(opts, model, measured))

    return Suggestion(
        recommendation=recommendation,
        inputs=inputs,
        current=current,
        current_source=current_source,
        current_processes=_processes_needed(current_result, mpm),
        measurement=measured,
        warnings=warnings,
    )


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
    width = max(len(k) for k in r.settings)
    out = [f"Recommended for {z.mpm} on Apache {z.version}:", ""]
    out += [f"    {name:<{width}}  {value:>6}" for name, value in r.settings.items()]
    out += ["", "Inputs:"]
    rows = s.input_rows()
    w1 = max(len(row[0]) for row in rows)
    w2 = max(len(row[1]) for row in rows)
    out += [f"  {what:<{w1}}  {value:>{w2}}  {origin}" for what, value, origin in rows]
    out += ["", "Arithmetic:"]
    out += ["  " + line for line in r.steps]
    current = s.current_lines()
    if current:
        out += ["", "Now:"]
        out += ["  " + line for line in current]
    if s.warnings:
        out += ["", "Warnings:"]
        out += [f"  {w.code}: {w.message}" for w in s.warnings]
    return "\n".join(out) + "\n"


def render_conf(s: Suggestion) -> str:
    z = s.sizing
    r = s.recommendation
    width = max(len(k) for k in r.settings)
    return _env.get_template("mpm.conf.j2").render(
        module=_MODULE_NAMES[z.version][z.mpm],
        settings=[(f"{k:<{width}}", v) for k, v in r.settings.items()],
        summary=(
            f"{mib(z.ram)} RAM, {mib(z.reserve)} reserve, {mib(z.shared)} shared, "
            f"{mib(z.child)} per child + {z.margin * 100:g} % margin"
        ),
        mpm=z.mpm,
        version=z.version,
    )


def _chart(s: Suggestion) -> dict:
    """Coordinates for the SVG: memory against processes, RAM line, current and recommended."""
    z = s.sizing
    r = s.recommendation
    width, height, left, bottom, top, right = 640, 360, 70, 40, 20, 20
    marks = [r.processes] + ([s.current_processes] if s.current_processes else [])
    x_max = max(max(marks) * 1.15, 1)
    y_max = max(capacity.memory_at(z, math.ceil(x_max)), z.ram) * 1.1

    def x(n: float) -> float:
        return round(left + (width - left - right) * n / x_max, 1)

    def y(b: float) -> float:
        return round(height - bottom - (height - top - bottom) * b / y_max, 1)

    def point(n: float) -> dict:
        return {"x": x(n), "y": y(capacity.memory_at(z, n)), "n": n}

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
        "floor": y(z.reserve + z.shared),
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
    return _env.get_template("report.html.j2").render(
        title=f"httpdlint suggest: {z.mpm}, Apache {z.version}",
        settings=s.recommendation.settings,
        current=s.current,
        current_source=s.current_source,
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
        return json.dumps(s.to_json(), indent=2) + "\n"
    if fmt == "conf":
        return render_conf(s)
    if fmt == "html":
        return render_html(s)
    raise ConfigError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
