"""SARIF 2.1.0 as GitHub code scanning reads it.

- Locations: URIs relative to the repository root, with `uriBaseId` SRCROOT defined in
  `originalUriBaseIds` (an absolute `file:` URI ending in `/`); a file outside the root is an
  absolute `file:` URI. Every path is percent-encoded, so a space, `,`, `:` or `#` in a path
  is still a valid URI reference.
- `partialFingerprints`: rule, file relative to the root, enclosing sections, directive text
  and occurrence index (fingerprints.py): an alert survives lines inserted above it, and two
  identical lines in one file stay two alerts.
- Rules: the whole catalog, SEC and TLS rules with `security-severity` (GitHub ranks them
  critical/high/medium/low by it) and the `security` tag.
- The invocation records what happened: `executionSuccessful` is false when a configuration
  could not be read, each error a notification with its location; each rule that could not
  run a warning notification, so a skipped rule is never a silent pass.
"""

from __future__ import annotations

import os

from .. import __version__
from ..fingerprints import fingerprints
from ..output import json_text
from ._common import CATEGORY, SECURITY, clean, file_uri, first_model_file, rel, uri_path

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/httpdlint/httpdlint"
BASE = "SRCROOT"
#: The key of httpdlint's fingerprint in `partialFingerprints`, versioned as SARIF advises:
#: a change of what the fingerprint hashes is a new key, not a silent re-keying of alerts.
FINGERPRINT = "httpdlint/v1"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
#: GitHub's scale: 9.0 and over critical, 7.0-8.9 high, 4.0-6.9 medium, under 4.0 low.
SECURITY_SEVERITY = {"error": "7.5", "warning": "5.0", "info": "2.0"}
#: Notification descriptors (tool.driver.notifications), referenced by index.
NOTIFICATIONS = (
    ("input-error", "The configuration could not be read; nothing in it was checked."),
    ("rule-skipped", "A rule could not run: it needs input this run did not have."),
)


def _artifact(path: str, root: str) -> dict:
    where = rel(path, root) or path
    if os.path.isabs(where):
        return {"uri": file_uri(where)}
    return {"uri": uri_path(where), "uriBaseId": BASE}


def _location(path: str | None, line: int | None, root: str) -> list[dict]:
    if not path:
        return []
    # GitHub needs a line to place an alert; a finding about a whole file is shown at its top.
    physical = {"artifactLocation": _artifact(path, root), "region": {"startLine": line or 1}}
    return [{"physicalLocation": physical}]


def _http(references: list[str]) -> str | None:
    """The first reference that is a web address (the others name benchmark controls)."""
    return next((r for r in references if r.startswith(("https://", "http://"))), None)


def _descriptor(code: str, rule) -> dict:
    if rule is None:
        return {"id": code}
    tags = [CATEGORY.get(code[:3], code[:3].lower())]
    properties: dict = {}
    if code[:3] in SECURITY:
        tags = ["security", *(t for t in tags if t != "security")]
        properties["security-severity"] = SECURITY_SEVERITY[rule.severity]
    # Benchmark controls as tags too: code scanning filters by tag ("CIS-2.4 5.11").
    properties["tags"] = tags + list(rule.benchmarks)
    if rule.benchmarks:
        properties["benchmarks"] = list(rule.benchmarks)
    if rule.policy:
        properties["policy"] = True
    refs = "".join(f"\n- {r}" for r in rule.references)
    descriptor = {
        "id": code,
        "name": rule.name,
        "shortDescription": {"text": clean(rule.summary)},
        "fullDescription": {"text": clean(" ".join(rule.rationale.split()))},
        "help": {
            "text": clean(
                f"{' '.join(rule.fix.split())}\n\nBad:\n{rule.bad.strip()}\n\n"
                f"Good:\n{rule.good.strip()}" + (f"\n\nReferences:{refs}" if refs else "")
            ),
            "markdown": clean(
                f"{rule.fix.strip()}\n\nBad:\n```apache\n{rule.bad.strip()}\n```\n\n"
                f"Good:\n```apache\n{rule.good.strip()}\n```"
                + (f"\n\nReferences:{refs}" if refs else "")
            ),
        },
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": properties,
    }
    help_uri = _http(rule.references)
    if help_uri:
        descriptor["helpUri"] = help_uri
    return descriptor


def _root_uri(root: str) -> str:
    uri = file_uri(root)
    return uri if uri.endswith("/") else uri + "/"


def document(report) -> dict:
    root = report.root
    catalog = report.catalog
    codes = sorted(
        set(catalog) | {f.rule for f in report.findings} | {s.rule for s in report.skipped}
    )
    index = {code: i for i, code in enumerate(codes)}
    fallback = first_model_file(report)
    results = []
    prints = fingerprints(report.findings, root)
    for f, fp in zip(report.findings, prints, strict=True):
        result: dict = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": LEVEL[f.severity],
            "message": {"text": clean(f.message)},
            "locations": _location(f.file or fallback, f.line if f.file else None, root),
            "partialFingerprints": {FINGERPRINT: fp},
        }
        if not result["locations"]:
            del result["locations"]
        if f.httpd_code:
            result["properties"] = {"httpd_code": f.httpd_code}
        results.append(result)

    notifications = []
    for error in report.errors:
        note = {
            "level": "error",
            "message": {"text": clean(error.message)},
            "descriptor": {"id": NOTIFICATIONS[0][0], "index": 0},
        }
        where = _location(error.file, error.line, root)
        if where:
            note["locations"] = where
        notifications.append(note)
    for s in report.skipped:
        notifications.append(
            {
                "level": "warning",
                "message": {"text": clean(f"{s.rule} skipped: needs {s.needs}")},
                "descriptor": {"id": NOTIFICATIONS[1][0], "index": 1},
                "associatedRule": {"id": s.rule, "index": index[s.rule]},
                **({"locations": _location(s.config, None, root)} if s.config else {}),
            }
        )
    invocation: dict = {"executionSuccessful": not report.errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    driver = {
        "name": "httpdlint",
        "version": __version__,
        "semanticVersion": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [_descriptor(code, catalog.get(code)) for code in codes],
        "notifications": [
            {"id": ident, "shortDescription": {"text": text}} for ident, text in NOTIFICATIONS
        ],
    }
    run = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "originalUriBaseIds": {
            BASE: {"uri": _root_uri(root), "description": {"text": "The repository root."}}
        },
        "results": results,
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def render(report, colour: bool = False, show_source: bool = False) -> str:
    return json_text(document(report))
