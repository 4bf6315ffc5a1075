"""One run of `check`, whatever its outcome: what every output format renders.

A report holds the configurations read, the findings, the rules that could not run (with what
they need), and the errors that stopped a configuration from being read. A run whose
configuration cannot be read is still a report (exit 2): every format writes a valid document
that records the error, so a CI system shows it instead of an empty page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .findings import Finding

__all__ = ["Skipped", "ToolError", "Report"]


@dataclass(frozen=True)
class Skipped:
    """A rule that could not run on a configuration, and what it needs to."""

    rule: str
    name: str
    needs: str
    config: str | None = None

    def as_json(self) -> dict:
        return {"rule": self.rule, "name": self.name, "needs": self.needs, "config": self.config}


@dataclass(frozen=True)
class ToolError:
    """Input httpdlint could not read: `file:line: message`, as on stderr."""

    message: str
    file: str | None = None
    line: int | None = None

    def as_json(self) -> dict:
        return {"message": self.message, "file": self.file, "line": self.line}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else ""
        where = where or (f"{self.file}: " if self.file else "")
        return f"{where}{self.message}"


@dataclass
class Report:
    """Everything a format needs: configurations, findings, skipped rules, errors."""

    models: list = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[ToolError] = field(default_factory=list)
    #: The rule catalog by code (rule metadata for SARIF and JUnit).
    catalog: dict = field(default_factory=dict)
    #: The repository root: SARIF URIs, baselines and GitLab paths are relative to it.
    root: str = "."
    #: With --baseline: {"file", "known": N, "fixed": [entry text], "unchecked": [...]}.
    baseline: dict | None = None
