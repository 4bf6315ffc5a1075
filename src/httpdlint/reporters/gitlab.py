"""GitLab code quality report: a JSON array of issues, as GitLab documents it (description,
check_name, fingerprint, severity, location.path relative to the repository, without `./`,
and location.lines.begin).

GitLab's severities are info, minor, major, critical and blocker: info stays info, a warning
is minor and an error major, as other linters map them (critical and blocker are left for
what stops the check itself). GitLab has no field for a run that failed, and an empty array
reads as "no issues", so each input error is an issue of its own, check_name
`httpdlint-error`, severity blocker; each rule that could not run is an info issue,
check_name `httpdlint-skipped`, so it shows in the merge request instead of passing unseen.
"""

from __future__ import annotations

import hashlib

from ..fingerprints import fingerprints
from ..output import json_text
from ._common import clean, first_model_file, rel

SEVERITY = {"info": "info", "warning": "minor", "error": "major"}


def _fingerprint(*parts: object) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _issue(description: str, check: str, fingerprint: str, severity: str, path, line) -> dict:
    return {
        "description": clean(description),
        "check_name": check,
        "fingerprint": fingerprint,
        "severity": severity,
        # A path is required; "." (the repository) when the error names no file.
        "location": {"path": clean(path or "."), "lines": {"begin": line or 1}},
    }


def document(report) -> list[dict]:
    root = report.root
    fallback = first_model_file(report)
    issues = []
    prints = fingerprints(report.findings, root)
    for f, fp in zip(report.findings, prints, strict=True):
        httpd = f" [{f.httpd_code}]" if f.httpd_code else ""
        path = rel(f.file or fallback, root)
        issues.append(
            _issue(f"{f.rule} {f.message}{httpd}", f.rule, fp, SEVERITY[f.severity], path, f.line)
        )
    for error in report.errors:
        path = rel(error.file, root)
        fp = _fingerprint("httpdlint-error", path, error.line, error.message)
        issues.append(_issue(str(error), "httpdlint-error", fp, "blocker", path, error.line))
    for s in report.skipped:
        path = rel(s.config or fallback, root)
        fp = _fingerprint("httpdlint-skipped", s.rule, path, s.needs)
        text = f"{s.rule} {s.name} skipped: needs {s.needs}"
        issues.append(_issue(text, "httpdlint-skipped", fp, "info", path, None))
    # GitLab shows one issue per fingerprint: the same error or skipped rule reported for a
    # path given twice is one issue.
    unique = {issue["fingerprint"]: issue for issue in reversed(issues)}
    return [issue for issue in issues if unique.get(issue["fingerprint"]) is issue]


def render(report, colour: bool = False, show_source: bool = False) -> str:
    return json_text(document(report))
