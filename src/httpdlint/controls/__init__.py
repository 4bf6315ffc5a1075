"""The security benchmarks admins are audited against, control by control.

One TOML file here per set (cis.toml, stig.toml, dev-sec.toml, mozilla.toml, lynis.toml,
lintian.toml) names the set, its exact version and public source, the prefix its IDs carry in
the rule files' `benchmarks` keys (`CIS-2.4 ` + `8.1`), the `check --profile` that turns its
policy rules on, and lists every control: an id, a short title in our own words, and either

- nothing more: a rule answers it, and that rule's `benchmarks` key names it (the mapping from
  control to rule lives only there), with `partial` saying what the rule leaves undecided when
  it answers only part of the control; or
- `status = "not-decidable"` and `needs`: what the configuration cannot tell (the OS, a
  running server, the SIEM);
- `status = "not-implemented"` and `why`: decidable from the configuration, no rule does yet;
- `status = "manual"` and `why`: a judgement the benchmark leaves to people.

`problems` is what does not add up between the two homes (an ID no control has, a control
neither mapped nor explained, a status on a control a rule answers); the test suite requires
none, and docs/benchmarks.md is generated from both (scripts/benchmarks_doc.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from ..engine import BENCHMARK_PREFIXES, PROFILES
from ..errors import ConfigError
from ..project import TOMLDecodeError, parse_toml

__all__ = ["BenchmarkSet", "Control", "STATUSES", "mapping", "problems", "sets", "for_profile"]

#: Each status and the key that gives its reason.
STATUSES = {"not-decidable": "needs", "not-implemented": "why", "manual": "why"}
SET_KEYS = {"name", "version", "source", "prefix", "profile", "note", "controls"}
CONTROL_KEYS = {"id", "title", "status", "needs", "why", "partial"}


@dataclass(frozen=True)
class Control:
    """One control of a set: mapped (no status) or explained (a status and its reason)."""

    set: str
    id: str
    title: str
    #: The ID as rule files write it: the set's prefix and the id ("CIS-2.4 8.1").
    full_id: str
    #: None when a rule answers it; else one of STATUSES.
    status: str | None = None
    #: What it needs (not-decidable) or why it has no rule (not-implemented, manual).
    reason: str = ""
    #: For a mapped control that its rules answer only in part: what they leave out.
    partial: str = ""


@dataclass(frozen=True)
class BenchmarkSet:
    key: str
    name: str
    version: str
    source: str
    prefix: str
    #: The `check --profile` / `audit --benchmark` name, or None (Lynis, lintian).
    profile: str | None
    note: str
    controls: tuple[Control, ...]


def _text(data: dict, key: str, where: str, *, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"{key} must be a non-empty string", where)
    return " ".join(value.split())


def parse_set(key: str, text: str, where: str) -> BenchmarkSet:
    """One set file, validated; ConfigError (one line, exit 2) for anything amiss."""
    try:
        data = parse_toml(text)
    except TOMLDecodeError as exc:
        raise ConfigError(f"invalid control file: {exc}", where) from None
    unknown = set(data) - SET_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(sorted(unknown))}", where)
    prefix = data.get("prefix", "")
    if prefix not in BENCHMARK_PREFIXES:
        raise ConfigError(
            f"prefix {prefix!r} is none of {', '.join(repr(p) for p in BENCHMARK_PREFIXES)}",
            where,
        )
    profile = data.get("profile")
    if profile is not None and prefix not in PROFILES.get(profile, ()):
        raise ConfigError(f"profile {profile!r} does not take IDs starting {prefix!r}", where)
    raw = data.get("controls")
    if not isinstance(raw, list) or not raw:
        raise ConfigError("no [[controls]]", where)
    controls = []
    seen: set[str] = set()
    for item in raw:
        controls.append(_control(key, prefix, item, where))
        if controls[-1].id in seen:
            raise ConfigError(f"control {controls[-1].id} is listed twice", where)
        seen.add(controls[-1].id)
    return BenchmarkSet(
        key=key,
        name=_text(data, "name", where),
        version=_text(data, "version", where),
        source=_text(data, "source", where),
        prefix=prefix,
        profile=profile,
        note=_text(data, "note", where, required=False),
        controls=tuple(controls),
    )


def _control(key: str, prefix: str, item, where: str) -> Control:
    if not isinstance(item, dict):
        raise ConfigError("each [[controls]] entry is a table", where)
    ident = _text(item, "id", where)
    here = f"{where}: control {ident}"
    unknown = set(item) - CONTROL_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(sorted(unknown))}", here)
    status = item.get("status")
    reason = ""
    if status is not None:
        if status not in STATUSES:
            raise ConfigError(f"status must be one of {', '.join(STATUSES)}", here)
        reason = _text(item, STATUSES[status], here)
        if "partial" in item:
            raise ConfigError(
                "partial is for a control a rule answers, not one with a status", here
            )
    stray = {"needs", "why"} - {STATUSES.get(status or "", "")}
    if stray & set(item):
        raise ConfigError(
            f"{', '.join(sorted(stray & set(item)))} goes with a status that takes it", here
        )
    return Control(
        set=key,
        id=ident,
        title=_text(item, "title", here),
        full_id=prefix + ident,
        status=status,
        reason=reason,
        partial=_text(item, "partial", here, required=False),
    )


@functools.cache
def sets() -> dict[str, BenchmarkSet]:
    """Every set, by key (its file's name), the profiles' sets first, in PROFILES order."""
    found = {}
    files = (f for f in resources.files(__package__).iterdir() if f.name.endswith(".toml"))
    for path in files:
        key = path.name[: -len(".toml")]
        found[key] = parse_set(key, path.read_text(encoding="utf-8"), f"controls/{path.name}")
    order = list(PROFILES)
    return {
        k: found[k]
        for k in sorted(found, key=lambda k: (order.index(k) if k in order else len(order), k))
    }


def for_profile(profile: str) -> BenchmarkSet:
    """The set a profile (`audit --benchmark`) names; ConfigError for an unknown one."""
    for bench in sets().values():
        if bench.profile == profile:
            return bench
    named = sorted(b.profile for b in sets().values() if b.profile)
    raise ConfigError(f"unknown benchmark {profile!r}: one of {', '.join(named)}")


def mapping(rules: Iterable) -> dict[str, list[str]]:
    """Full control ID -> the codes of the rules whose `benchmarks` name it, in code order."""
    out: dict[str, list[str]] = {}
    for rule in sorted(rules, key=lambda r: r.code):
        for ident in rule.benchmarks:
            out.setdefault(ident, []).append(rule.code)
    return out


def problems(rules: Iterable) -> list[str]:
    """Where the rule files and the control data disagree, one line each (none: they agree)."""
    rules = list(rules)
    known = {c.full_id: c for bench in sets().values() for c in bench.controls}
    named = mapping(rules)
    out = []
    for ident, codes in sorted(named.items()):
        if ident not in known:
            out.append(f"{', '.join(codes)}: {ident!r} is no control of the data in controls/")
    for bench in sets().values():
        for control in bench.controls:
            codes = named.get(control.full_id, [])
            if control.status is None and not codes:
                out.append(
                    f"{control.full_id}: no rule's benchmarks name it; give it a status "
                    f"({', '.join(STATUSES)}) and its reason in controls/{bench.key}.toml"
                )
            elif control.status is not None and codes:
                out.append(
                    f"{control.full_id}: {', '.join(codes)} answer it, but controls/"
                    f"{bench.key}.toml says {control.status}: drop the status (and give "
                    "`partial` if the rules answer only part of it)"
                )
    return out
