"""Output formats CI systems read: SARIF 2.1.0 (validated against its schema), GitHub, JUnit."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outage" / "conf" / "httpd.conf"
SCHEMA = Path(__file__).parent / "fixtures" / "sarif" / "sarif-2.1.0-subset.schema.json"


def run(*args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", str(EXAMPLE), "--exit-zero", *args],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_sarif_validates_against_the_schema() -> None:
    doc = json.loads(run("-f", "sarif", "--ram", "1G", "--child-size", "25M"))
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)
    run0 = doc["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert "CAP001" in ids and "SEC001" in ids
    for result in run0["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    cap009 = next(r for r in run0["results"] if r["ruleId"] == "CAP009")
    assert cap009["level"] == "error"
    assert rules[ids.index("CAP001")]["help"]["text"]


def test_the_schema_rejects_what_sarif_forbids() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    good = json.loads(run("-f", "sarif"))
    bad = json.loads(json.dumps(good))
    bad["runs"][0]["results"][0]["level"] = "fatal"
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(good))
    del bad["runs"][0]["tool"]["driver"]["name"]
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(good))
    bad["version"] = "2.0.0"
    assert not validator.is_valid(bad)


def test_github_annotations_one_per_finding() -> None:
    text = run("-f", "github", "--select", "CAP")
    lines = text.splitlines()
    assert lines and all(line.startswith(("::warning ", "::error ", "::notice ")) for line in lines)
    assert any(f"file={EXAMPLE},line=" in line and "CAP001" in line for line in lines)


def test_junit_is_well_formed_with_a_failure_per_finding() -> None:
    findings = json.loads(run("-f", "json"))["findings"]
    root = ET.fromstring(run("-f", "junit"))
    suite = root.find("testsuite")
    assert suite is not None
    assert int(suite.get("failures", "0")) == len(findings)
    assert len(suite.findall("testcase/failure")) == len(findings)


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "github", "text"])
def test_output_file_is_written_whole(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    out.write_text("old")
    run("-f", fmt, "-o", str(out))
    assert out.read_text() != "old" and out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
