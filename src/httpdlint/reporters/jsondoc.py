"""JSON, schema 1 (DESIGN.md): configuration, findings with fingerprints, skipped rules,
errors and the counts. `config` is null when no configuration could be read."""

from __future__ import annotations

from .. import __version__
from ..fingerprints import fingerprints
from ..output import json_text
from ._common import summary


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
        "found": model.found.to_json() if model.found is not None else {"how": "given"},
    }


def document(report) -> dict:
    doc: dict = {
        "schema": 1,
        "tool": {"name": "httpdlint", "version": __version__},
        "config": config_json(report.models[0]) if report.models else None,
    }
    if len(report.models) > 1:
        doc["configs"] = [config_json(m) for m in report.models]
    prints = fingerprints(report.findings, report.root)
    catalog = report.catalog
    doc["findings"] = [
        {
            **f.as_json(),
            "macro": f.macro,
            "fingerprint": fp,
            "benchmarks": list(catalog[f.rule].benchmarks) if f.rule in catalog else [],
        }
        for f, fp in zip(report.findings, prints, strict=True)
    ]
    doc["skipped"] = [s.as_json() for s in report.skipped]
    doc["errors"] = [e.as_json() for e in report.errors]
    if report.baseline is not None:
        doc["baseline"] = report.baseline
    doc["summary"] = summary(report.findings)
    return doc


def render(report, colour: bool = False, show_source: bool = False) -> str:
    return json_text(document(report))
