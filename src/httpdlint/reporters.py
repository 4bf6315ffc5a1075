"""Output formats for findings: text, json (schema 1), sarif 2.1.0, github annotations, junit."""

from __future__ import annotations

import json
import os
from collections import Counter

from . import __version__
from .findings import SEVERITIES, Finding

FORMATS = ("text", "json", "sarif", "github", "junit")
_COLOUR = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
_RESET = "\033[0m"


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in reversed(SEVERITIES)}


def _display(path: str | None) -> str:
    """A path relative to the working directory when it lies below it, as linters print."""
    if not path:
        return "-"
    cwd = os.getcwd() + os.sep
    return path[len(cwd) :] if path.startswith(cwd) else path


def text(findings: list[Finding], colour: bool = False) -> str:
    lines = []
    for f in findings:
        where = f"{_display(f.file)}:{f.line}" if f.line else _display(f.file)
        code = f"{_COLOUR[f.severity]}{f.rule}{_RESET}" if colour else f.rule
        httpd = f" [{f.httpd_code}]" if f.httpd_code else ""
        lines.append(f"{where}: {code} {f.message}{httpd}")
    counts = summary(findings)
    if findings:
        parts = [f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n]
        lines.append(
            f"Found {len(findings)} finding{'s' if len(findings) != 1 else ''}: "
            + ", ".join(parts)
            + "."
        )
    else:
        lines.append("No findings.")
    return "\n".join(lines) + "\n"


def config_json(model) -> dict:
    config = model.config
    mpm = None
    if model.mpm_name:
        mpm = {
            "name": model.mpm_name,
            "source": model.mpm_source,
            "effective": dict(getattr(model.mpm, "effective", {}) or {}),
        }
    return {
        "root": config.root,
        "server_root": config.server_root,
        "files": config.files,
        "apache_version": model.version,
        "modules": sorted(config.modules),
        "mpm": mpm,
    }


def as_json(models: list, findings: list[Finding]) -> str:
    doc = {
        "schema": 1,
        "tool": {"name": "httpdlint", "version": __version__},
        "config": config_json(models[0]) if models else None,
    }
    if len(models) > 1:
        doc["configs"] = [config_json(m) for m in models]
    doc["findings"] = [f.as_json() for f in findings]
    doc["summary"] = summary(findings)
    return json.dumps(doc, indent=2) + "\n"


def github(findings: list[Finding]) -> str:
    level = {"error": "error", "warning": "warning", "info": "notice"}
    out = []
    for f in findings:
        msg = f"{f.rule} {f.message}".replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        loc = f"file={f.file}" + (f",line={f.line}" if f.line else "")
        out.append(f"::{level[f.severity]} {loc},title={f.rule} {f.name}::{msg}")
    return "\n".join(out) + ("\n" if out else "")


def sarif(findings: list[Finding], rules: dict) -> str:
    used = sorted({f.rule for f in findings} | set(rules))
    index = {code: i for i, code in enumerate(used)}
    level = {"error": "error", "warning": "warning", "info": "note"}
    descriptors = []
    for code in used:
        rule = rules.get(code)
        if rule is None:
            descriptors.append({"id": code})
            continue
        descriptors.append(
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": " ".join(rule.rationale.split())},
                "help": {
                    "text": f"{' '.join(rule.fix.split())}\n\nBad:\n{rule.bad}\nGood:\n{rule.good}",
                    "markdown": f"{rule.fix.strip()}\n\nBad:\n```apache\n{rule.bad.strip()}\n```"
                    f"\n\nGood:\n```apache\n{rule.good.strip()}\n```",
                },
                "helpUri": rule.references[0] if rule.references else None,
                "defaultConfiguration": {"level": level[rule.severity]},
            }
        )
        if descriptors[-1]["helpUri"] is None:
            del descriptors[-1]["helpUri"]
    results = []
    for f in findings:
        result = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": level[f.severity],
            "message": {"text": f.message},
        }
        if f.file:
            region = {"startLine": f.line} if f.line else None
            physical = {"artifactLocation": {"uri": "file://" + f.file}}
            if region:
                physical["region"] = region
            result["locations"] = [{"physicalLocation": physical}]
        if f.httpd_code:
            result["properties"] = {"httpd_code": f.httpd_code}
        results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "httpdlint",
                        "version": __version__,
                        "informationUri": "https://github.com/httpdlint/httpdlint",
                        "rules": descriptors,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def junit(findings: list[Finding], rules: dict) -> str:
    from xml.sax.saxutils import escape, quoteattr  # costs 20 ms of imports: only here

    failures = [f for f in findings]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="httpdlint" tests="{max(len(failures), 1)}" failures="{len(failures)}">',
        f'<testsuite name="httpdlint" tests="{max(len(failures), 1)}" failures="{len(failures)}">',
    ]
    if not failures:
        lines.append('<testcase classname="httpdlint" name="configuration"/>')
    for f in failures:
        name = f"{f.rule} {f.file}:{f.line}"
        lines.append(f"<testcase classname={quoteattr(f.rule)} name={quoteattr(name)}>")
        lines.append(
            f"<failure type={quoteattr(f.severity)} message={quoteattr(f.message)}>"
            f"{escape(f.file or '')}:{f.line}: {escape(f.message)}</failure>"
        )
        lines.append("</testcase>")
    lines += ["</testsuite>", "</testsuites>"]
    return "\n".join(lines) + "\n"


def render(fmt: str, models: list, findings: list[Finding], rules: dict, colour: bool) -> str:
    if fmt == "text":
        return text(findings, colour)
    if fmt == "json":
        return as_json(models, findings)
    if fmt == "github":
        return github(findings)
    if fmt == "sarif":
        return sarif(findings, rules)
    if fmt == "junit":
        return junit(findings, rules)
    raise ValueError(fmt)
