"""`httpdlint audit`: one benchmark set, control by control, on one configuration.

The tree is read as `check` reads it, and the engine runs the rules that answer the set's
controls (their `benchmarks` keys, controls.mapping) under the set's profile, so its policy
rules run and its thresholds apply. Each control then gets one status:

- fail: a rule that answers it has a finding (evidence: each finding's file:line and message);
- skipped: a rule that answers it applies but could not run (what it needs, engine.missing);
- pass: its rules ran and found nothing (evidence: the rules that ran);
- not-applicable: none of its rules applies, because the tree does not load the module or is
  for the other Apache version the rule is about (evidence: which);
- manual: no rule answers it (not decidable from the configuration, not implemented, or left
  to people by the benchmark): the control data's reason is the evidence.

A control its rules answer only in part says so (`partial`): a pass there is a pass of that
part. Suppression comments (`# httpdlint: ignore=`) apply as they do for `check`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import __version__, controls, engine
from .controls import BenchmarkSet, Control
from .findings import Finding
from .output import json_text

__all__ = ["Audit", "Evidence", "Verdict", "run", "render_json", "render_text"]

PASS, FAIL, NOT_APPLICABLE, MANUAL, SKIPPED = "pass", "fail", "not-applicable", "manual", "skipped"
#: The order statuses are counted in.
STATUSES = (FAIL, SKIPPED, PASS, NOT_APPLICABLE, MANUAL)
_REASON = {
    "not-decidable": "not decidable from configuration: needs ",
    "not-implemented": "not implemented: ",
    "manual": "manual: ",
}


@dataclass(frozen=True)
class Evidence:
    """What a status rests on: a finding (rule, file, line, message) or a sentence."""

    text: str
    rule: str | None = None
    file: str | None = None
    line: int | None = None

    def as_json(self) -> dict:
        return {"rule": self.rule, "file": self.file, "line": self.line, "text": self.text}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else ""
        return f"{where}{self.rule + ' ' if self.rule else ''}{self.text}"


@dataclass
class Verdict:
    control: Control
    status: str
    rules: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    def as_json(self) -> dict:
        c = self.control
        return {
            "id": c.id,
            "title": c.title,
            "status": self.status,
            "rules": self.rules,
            "partial": c.partial or None,
            "evidence": [e.as_json() for e in self.evidence],
        }


@dataclass
class Audit:
    bench: BenchmarkSet
    #: The configuration audited: its main file and Apache version.
    root: str
    version: str
    verdicts: list[Verdict]

    def summary(self) -> dict[str, int]:
        counts = {"controls": len(self.verdicts), **dict.fromkeys(STATUSES, 0)}
        for verdict in self.verdicts:
            counts[verdict.status] += 1
        return counts

    @property
    def failed(self) -> bool:
        return any(v.status == FAIL for v in self.verdicts)


def run(
    model,
    bench: BenchmarkSet,
    settings: engine.Settings | None = None,
    *,
    named: dict[str, list[str]] | None = None,
) -> Audit:
    """Audit `model` against `bench`. `settings` says how rules may run (filesystem, sizing);
    selection and profile are the set's. `named` (control ID -> rule codes) defaults to the
    rule files' `benchmarks` keys."""
    catalog = engine.catalog()
    if named is None:
        named = controls.mapping(catalog.values())
    codes = sorted({code for c in bench.controls for code in named.get(c.full_id, [])})
    base = settings or engine.Settings()
    settings = dataclasses.replace(base, select=codes, ignore=[], profile=bench.profile)
    found: dict[str, list[Finding]] = {}
    for finding in engine.run(model, settings) if codes else []:
        found.setdefault(finding.rule, []).append(finding)
    verdicts = [
        _verdict(c, named.get(c.full_id, []), model, settings, found, catalog)
        for c in bench.controls
    ]
    return Audit(bench, model.config.root, model.version, verdicts)


def _verdict(control, codes, model, settings, found, catalog) -> Verdict:
    if control.status is not None or not codes:
        reason = _REASON.get(control.status or "", "") + (control.reason or "no rule answers it")
        return Verdict(control, MANUAL, [], [Evidence(reason)])
    failed, skipped, passed, inapplicable = [], [], [], []
    for code in codes:
        rule = catalog[code]
        if not engine.applies(rule, model):
            inapplicable.append(Evidence(f"does not apply: {_why_not(rule, model)}", code))
        elif not engine.needs_met(rule, model, settings):
            need = engine.missing(rule, settings) or _turned_off(rule)
            skipped.append(Evidence(f"could not run: needs {need}", code))
        elif code in found:
            failed += [Evidence(f.message, f.rule, f.file, f.line) for f in found[code]]
        else:
            passed.append(Evidence(f"{rule.name} ran: no finding", code))
    if failed:
        status, evidence = FAIL, failed + skipped
    elif skipped:
        status, evidence = SKIPPED, skipped + passed
    elif passed:
        status, evidence = PASS, passed + inapplicable
    else:
        status, evidence = NOT_APPLICABLE, inapplicable
    return Verdict(control, status, list(codes), evidence)


def _why_not(rule, model) -> str:
    for need in rule.needs:
        if need.startswith("module:") and not model.has_module(need[7:]):
            return f"the tree does not load {need[7:]}"
        if need.startswith("version:") and model.version != need[8:]:
            return f"the rule is for Apache {need[8:]}, the tree for {model.version}"
    return "its needs are not met"


def _turned_off(rule) -> str:
    if "filesystem" in rule.needs:
        return "the tree's files on disk (turned off)"
    if "httpd" in rule.needs:
        return "httpd's own syntax check (`check --pre-restart`)"
    return ", ".join(rule.needs)


# ---------------------------------------------------------------------------------------
# Rendering


def _label(status: str) -> str:
    return status.replace("-", " ")


def render_text(result: Audit) -> str:
    bench = result.bench
    lines = [
        f"{bench.name} {bench.version} <{bench.source}>",
        f"audit of {result.root} (Apache {result.version})",
        "",
    ]
    width = max(len(v.control.id) for v in result.verdicts)
    for verdict in result.verdicts:
        c = verdict.control
        mark = "*" if c.partial and verdict.status in (PASS, FAIL) else ""
        lines.append(f"{_label(verdict.status) + mark:<15} {c.id:<{width}}  {c.title}")
        lines += [f"    {e}" for e in verdict.evidence]
        if mark:
            lines.append(f"    * partly answered: {c.partial}")
    counts = result.summary()
    parts = ", ".join(f"{counts[s]} {_label(s)}" for s in STATUSES)
    lines += ["", f"{counts['controls']} controls: {parts}."]
    return "\n".join(lines) + "\n"


def document(bench: BenchmarkSet, result: Audit | None, errors: Iterable = ()) -> dict:
    """The JSON document (schema 1); with `errors` (ToolError) and no result when the tree
    could not be read."""
    verdicts = result.verdicts if result is not None else []
    return {
        "schema": 1,
        "tool": {"name": "httpdlint", "version": __version__},
        "benchmark": {"name": bench.name, "version": bench.version, "source": bench.source},
        "config": {"root": result.root, "apache_version": result.version} if result else None,
        "controls": [v.as_json() for v in verdicts],
        "errors": [e.as_json() for e in errors],
        "summary": result.summary() if result else {"controls": 0, **dict.fromkeys(STATUSES, 0)},
    }


def render_json(result: Audit) -> str:
    return json_text(document(result.bench, result))
