"""A CI gate that never passes by mistake: each silent pass of the issue, through the CLI.

Unknown codes and settings are errors (exit 2, with "did you mean"), a pragma typo is a
finding, a rule that cannot run is said to be skipped (and fails the run with
--fail-on-skipped), an unreadable tree still gives a valid document in every format, one
unreadable PATH hides none of the others, text names the severity on each line, and a baseline
lets a legacy tree fail only on new findings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "outage" / "conf" / "httpd.conf"


def run(*args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--select", "CAP099"], "--select: unknown rule code 'CAP099'; did you mean CAP009?"),
        (["--select", "XYZ"], "--select: unknown rule code 'XYZ'"),
        (["--ignore", "SEC9"], "--ignore: unknown rule code 'SEC9'"),
    ],
)
def test_unknown_codes_on_the_command_line_are_errors(args: list[str], message: str) -> None:
    done = run("check", str(EXAMPLE), *args)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr and len(done.stderr.splitlines()) == 1
    assert done.stdout == "" and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('select = ["XYZ"]\n', "select: unknown rule code 'XYZ'"),
        ('select = "SEC001"\n', "select must be a list of strings, not str 'SEC001'"),
        ('[severity]\nCAP099 = "info"\n', "severity: unknown rule code 'CAP099'"),
        ('[per-file-ignores]\n"*.conf" = ["SEC99"]\n', "per-file-ignores '*.conf'"),
        ("slect = []\n", "unknown httpdlint setting 'slect'; did you mean select?"),
        ("fail-on-skipped = 1\n", "fail-on-skipped must be a boolean"),
    ],
)
def test_bad_project_settings_are_errors_naming_the_file(
    tmp_path: Path, settings: str, message: str
) -> None:
    (tmp_path / ".httpdlint.toml").write_text(settings)
    conf = tmp_path / "httpd.conf"
    conf.write_text(EXAMPLE.read_text())
    done = run("check", str(conf), "-f", "json", cwd=tmp_path)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr and ".httpdlint.toml" in done.stderr
    doc = json.loads(done.stdout)  # a document that records the error, not an empty page
    assert doc["findings"] == [] and message in doc["errors"][0]["message"]


def test_a_pragma_typo_is_a_finding_at_its_line(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\n"
        "# httpdlint: ignroe=CAP005 -- slow clients are fine here\n"
        "Timeout 300\n"
    )
    done = run("check", str(conf), "--select", "CAP005", "-f", "json")
    doc = json.loads(done.stdout)
    found = {(f["rule"], f["line"]) for f in doc["findings"]}
    assert ("COR098", 2) in found and ("CAP005", 3) in found
    assert done.returncode == 1


def test_a_rule_that_cannot_run_is_skipped_and_said_so() -> None:
    done = run("check", str(EXAMPLE), "--select", "CAP009")
    assert done.returncode == 0
    assert "CAP009 skipped: needs --ram and --child-size" in done.stdout
    doc = json.loads(run("check", str(EXAMPLE), "--select", "CAP009", "-f", "json").stdout)
    assert [s["rule"] for s in doc["skipped"]] == ["CAP009"]
    strict = run("check", str(EXAMPLE), "--select", "CAP009", "--fail-on-skipped")
    assert strict.returncode == 1


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "github", "gitlab"])
def test_an_unreadable_tree_is_a_valid_document_and_exit_2(tmp_path: Path, fmt: str) -> None:
    bad = tmp_path / "httpd.conf"
    bad.write_text("<VirtualHost *:80>\nServerName x\n</Location>\n")
    done = run("check", str(bad), "-f", fmt)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Expected </VirtualHost> but saw </Location>" in (
        done.stderr
    )
    # Recorded in the document itself (XML escapes the angle brackets).
    assert "Expected </VirtualHost>" in done.stdout.replace("&lt;", "<").replace("&gt;", ">")
    if fmt in ("json", "sarif", "gitlab"):
        json.loads(done.stdout)
    if fmt == "junit":
        import xml.etree.ElementTree as ET

        ET.fromstring(done.stdout)


def test_one_unreadable_path_hides_none_of_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "broken.conf"
    bad.write_text("<Directory /x>\n")
    done = run("check", str(bad), str(EXAMPLE), "-f", "json")
    assert done.returncode == 2
    doc = json.loads(done.stdout)
    assert doc["errors"] and doc["findings"]
    assert {Path(f["file"]).name for f in doc["findings"]} == {"httpd.conf"}


def test_text_names_the_severity_and_shows_the_source() -> None:
    done = run("check", str(EXAMPLE), "--show-source", env={"NO_COLOR": "1"})
    lines = done.stdout.splitlines()
    assert any(": warning CAP002 MaxRequestsPerChild 0" in line for line in lines)
    at = next(i for i, line in enumerate(lines) if " CAP002 " in line)
    assert "| MaxRequestsPerChild" in lines[at + 1]
    assert "\033[" not in done.stdout
    forced = run("check", str(EXAMPLE), env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\033[33mwarning\033[0m CAP002" in forced.stdout


def test_a_baseline_lets_a_legacy_tree_fail_only_on_new_findings(tmp_path: Path) -> None:
    import shutil

    (tmp_path / ".git").mkdir()
    shutil.copytree(EXAMPLE.parents[1], tmp_path / "outage")
    conf = tmp_path / "outage" / "conf" / "httpd.conf"
    legacy = conf.read_text() + "HostnameLookups On\n"
    conf.write_text(legacy)
    baseline = tmp_path / "baseline.json"

    def check(*args: str):
        done = run("check", str(conf), "--baseline", str(baseline), "-f", "json", *args)
        return done.returncode, [f["rule"] for f in json.loads(done.stdout)["findings"]]

    wrote = run("check", str(conf), "--write-baseline", str(baseline), cwd=tmp_path)
    assert wrote.returncode == 0 and baseline.exists(), wrote.stderr
    assert check() == (0, [])
    # Unrelated lines above every finding, and one new finding: only the new one fails.
    conf.write_text("# a comment\nServerName www.example.org\n" + legacy + "ServerSignature On\n")
    assert check() == (1, ["SEC002"])
    # A second identical line of a baselined finding is a new finding.
    conf.write_text(legacy + "HostnameLookups On\n")
    assert check() == (1, ["CAP006"])
    # Fixing a baselined finding is reported.
    conf.write_text(legacy.replace("HostnameLookups On\n", ""))
    fixed = run("check", str(conf), "--baseline", str(baseline))
    assert fixed.returncode == 0
    assert "fixed since the baseline:" in fixed.stdout and "CAP006" in fixed.stdout
