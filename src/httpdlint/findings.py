"""Findings: what a rule reports, where, and how bad it is."""

from __future__ import annotations

from dataclasses import dataclass

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
