"""Text for a terminal: `file:line: severity RULE message`, then notes and the summary.

Each finding names its severity, so a log read without colour still says which lines fail
the run; with colour, only the severity word is coloured (everything else is sanitized
here, so the colour codes are the only escapes `emit` lets through). `--show-source` prints
the lines of the file the finding is about, read from the file as it is now.
"""

from __future__ import annotations

import os

from ..output import sanitize
from ._common import source_lines, summary_line, unique_skipped

_COLOUR = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_RESET = "\033[0m"


def _line(text: str) -> str:
    """Configuration text on one line: a newline in a file name cannot forge a finding."""
    return sanitize(text, keep="\t")


def _display(path: str | None) -> str:
    """A path relative to the working directory when it lies below it, as linters print."""
    if not path:
        return "-"
    cwd = os.getcwd().rstrip(os.sep) + os.sep
    return path[len(cwd) :] if path.startswith(cwd) else path


def render(report, colour: bool = False, show_source: bool = False) -> str:
    lines = []
    cache: dict = {}
    for f in report.findings:
        where = f"{_display(f.file)}:{f.line}" if f.line else _display(f.file)
        severity = f"{_COLOUR.get(f.severity, '')}{f.severity}{_RESET}" if colour else f.severity
        httpd = f" [{f.httpd_code}]" if f.httpd_code else ""
        # Sanitized here, around the colour codes: `emit` keeps only those.
        lines.append(f"{_line(where)}: {severity} {_line(f'{f.rule} {f.message}{httpd}')}")
        # A finding about what is absent (no directive, placed at line 1) has no line to show.
        if show_source and (f.source or f.line != 1):
            shown = source_lines(f.file, f.line, cache)
            width = len(str(shown[-1][0])) if shown else 0
            lines.extend(f"  {n:>{width}} | {sanitize(text)}" for n, text in shown)
    several = len(report.models) > 1
    for s in unique_skipped(report):
        config = f" ({_display(s.config)})" if several and s.config else ""
        lines.append(_line(f"{s.rule} skipped: needs {s.needs}{config}"))
    lines.extend(_line(str(error)) for error in report.errors)
    for model in report.models:  # a PATH given needs no word on where it came from
        if model.found is not None and model.found.how != "given":
            from ..discover import provenance_line

            lines.append(_line(provenance_line(model)))
            lines.extend(_line(f"configuration note: {note}") for note in model.found.notes)
    if report.baseline:
        b = report.baseline
        lines.append(sanitize(f"{b['known']} finding(s) in the baseline {b['file']}"))
        lines.extend(sanitize(f"fixed since the baseline: {entry}") for entry in b["fixed"])
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
