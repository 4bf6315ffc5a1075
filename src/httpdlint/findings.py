"""Findings: what a rule reports, where, and how bad it is."""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("info", "warning", "error")
RANK = {name: i for i, name in enumerate(SEVERITIES)}


@dataclass
class Finding:
    rule: str
    name: str
    severity: str
    message: str
    file: str | None
    line: int | None
    httpd_code: str | None = None
    #: The sections that enclose the directive, outermost first ("VirtualHost *:443"), and the
    #: directive as written, whitespace collapsed: with the rule and the file, what identifies a
    #: finding when lines move (fingerprints.py). Empty for a finding about what is absent.
    section: tuple[str, ...] = field(default=(), compare=False)
    source: str = field(default="", compare=False)
    #: For a directive a mod_macro expansion gave (the finding is at its `Use` line): the
    #: macro, `{"name", "file", "line"}` of its definition; else None.
    macro: dict | None = field(default=None, compare=False)

    def sort_key(self) -> tuple:
        return (self.file or "", self.line or 0, self.rule, self.message)

    def as_json(self) -> dict:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "httpd_code": self.httpd_code,
        }
