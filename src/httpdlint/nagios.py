"""`measure --format nagios`: one status line with performance data and the exit code of its
state, as the Monitoring Plugins development guidelines define them (Nagios, Icinga, Naemon,
Zabbix's and Checkmk's plugin runners all read this format).

Pure rendering and threshold logic; the CLI hands in what was measured as `Reading`s:

* each reading is a use of a limit (busy workers of MaxRequestWorkers, the worst case of the
  memory limit that binds, busy processes of a pool's pm.max_children), judged as a percentage
  of that limit against the warning and critical ranges (`-w`/`-c`, guideline range syntax);
* limit messages written since the parent started (AH00161 and its kin, PHP-FPM's "reached
  pm.max_children") are CRITICAL whatever the thresholds: requests already waited.

The performance data give each reading in its own unit, with the thresholds scaled to it, so a
graph of busy workers shows the warning line at 90 % of MaxRequestWorkers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "OK",
    "WARNING",
    "CRITICAL",
    "UNKNOWN",
    "STATES",
    "DEFAULT_WARNING",
    "DEFAULT_CRITICAL",
    "Range",
    "Reading",
    "evaluate",
    "unknown",
]

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
SERVICE = "HTTPD"

#: At least 90 % of a limit warns (the issue's "at least": `@90:` alerts inside [90, inf));
#: more than 100 % (a worst case past the binding limit) is critical.
DEFAULT_WARNING = "@90:"
DEFAULT_CRITICAL = "100"

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"^(@)?(?:(~|{_NUMBER})?:)?({_NUMBER})?$")


@dataclass(frozen=True)
class Range:
    """A threshold range: alert outside [start, end], or inside it with `@`."""

    start: float
    end: float
    inside: bool = False

    @classmethod
    def parse(cls, text: str) -> Range:
        """`10`, `10:`, `~:10`, `10:20`, `@10:20`; ValueError for anything else."""
        match = _RANGE.match(text.strip())
        if not text.strip() or match is None or (match.group(3) is None and ":" not in text):
            raise ValueError(
                f"invalid threshold range {text!r}: expected e.g. 90, 80:, ~:90, 10:20 or @90:"
            )
        inside, start_text, end_text = match.groups()
        if ":" not in text:
            start = 0.0
        elif start_text == "~":
            start = -math.inf
        else:
            start = float(start_text) if start_text else 0.0
        end = float(end_text) if end_text is not None else math.inf
        if start > end:
            raise ValueError(f"invalid threshold range {text!r}: start above end")
        return cls(start, end, bool(inside))

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def scaled(self, factor: float) -> Range:
        """The range with its ends multiplied: a percentage range in the reading's unit."""
        return Range(self.start * factor, self.end * factor, self.inside)

    def __str__(self) -> str:
        if self.start == -math.inf:
            text = f"~:{_num(self.end)}" if self.end != math.inf else "~:"
        elif self.end == math.inf:
            text = f"{_num(self.start)}:"
        elif self.start == 0:
            text = _num(self.end)
        else:
            text = f"{_num(self.start)}:{_num(self.end)}"
        return ("@" if self.inside else "") + text


def _num(value: float) -> str:
    """A plain decimal (no exponent: the guidelines' value is [-0-9.])."""
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Reading:
    """One use of a limit: `value` of `limit` (both in `uom`), with how to say it."""

    label: str
    value: float
    limit: float
    uom: str
    text: str

    @property
    def percent(self) -> float:
        return 100.0 * self.value / self.limit if self.limit > 0 else math.inf

    def perfdata(self, warning: Range, critical: Range) -> str:
        factor = self.limit / 100.0
        return (
            f"{_label(self.label)}={_num(self.value)}{self.uom};{warning.scaled(factor)};"
            f"{critical.scaled(factor)};0;{_num(self.limit)}"
        )


def _label(label: str) -> str:
    # Labels may hold any character but '=' and a single quote; quoted when they hold spaces.
    label = label.replace("=", "_").replace("'", "_")
    return f"'{label}'" if " " in label else label


def evaluate(
    readings: list[Reading],
    messages: int,
    *,
    warning: Range,
    critical: Range,
    notes: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> tuple[int, str]:
    """(state, the plugin's output line) for the readings and limit messages.

    `notes` are appended to the text (what could not be read); `extra` are performance data
    that carry no threshold (children, PSS).
    """
    state = OK
    why: list[str] = []
    for r in readings:
        if critical.alerts(r.percent):
            state = max(state, CRITICAL)
            why.append(f"{r.text} ({r.percent:.0f} %)")
        elif warning.alerts(r.percent):
            state = max(state, WARNING)
            why.append(f"{r.text} ({r.percent:.0f} %)")
    if messages:
        state = CRITICAL
        why.insert(0, f"{messages} limit message(s) since the parent started")
    shown = why or [f"{r.text} ({r.percent:.0f} %)" for r in readings] or ["nothing to judge"]
    text = "; ".join([*shown, *notes])
    perf = [r.perfdata(warning, critical) for r in readings]
    perf.append(f"limit_messages={messages};;0;0;")
    perf.extend(extra)
    return state, f"{SERVICE} {STATES[state]}: {_clean(text)} | {' '.join(perf)}"


def unknown(message: str) -> str:
    """The line for a check that could not run."""
    return f"{SERVICE} UNKNOWN: {_clean(message)}"


def _clean(text: str) -> str:
    # One line, and no '|': the first '|' starts the performance data.
    return " ".join(text.replace("|", "/").split())
