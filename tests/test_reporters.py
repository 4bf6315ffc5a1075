"""Output formats CI systems read, checked against what those systems check.

SARIF against the official 2.1.0 schema (tests/fixtures/sarif, OASIS) with format checking,
so URIs are really URIs; JUnit against Jenkins' junit-10.xsd and Windy Road's JUnit.xsd
(tests/fixtures/junit); GitHub annotations through a parser that reads workflow commands as
the Actions runner does. Each on three trees: the outage example, a tree whose path has a
space, a comma and a colon, and a tree that does not parse, because a configuration that
cannot be read must still give a valid document, never an empty passing one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urljoin

import jsonschema
import pytest
import xmlschema

from httpdlint import engine, reporters
from httpdlint.errors import ConfigError
from httpdlint.findings import Finding
from httpdlint.fingerprints import fingerprints
from httpdlint.model import load_model
from httpdlint.report import Report, Skipped, ToolError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outage" / "conf" / "httpd.conf"
FIXTURES = Path(__file__).parent / "fixtures"
SARIF_SCHEMA = FIXTURES / "sarif" / "sarif-schema-2.1.0.json"
JUNIT_SCHEMAS = [FIXTURES / "junit" / "junit-10.xsd", FIXTURES / "junit" / "JUnit.xsd"]
#: A directory name that breaks naive writers: a space and a comma for URIs and properties,
#: a colon for workflow commands (and for a relative URI, where it would read as a scheme).
AWKWARD = "site conf, v2:prod"

SPACED_CONF = """\
# A small tree in a directory with an awkward name.
ServerRoot "{root}"
Listen 80
LoadModule mpm_prefork_module modules/mod_mpm_prefork.so
ServerTokens Full
Timeout \\
    300
<IfModule mpm_prefork_module>
    MaxRequestWorkers 32
</IfModule>
<VirtualHost *:80>
    ServerName a.example
    SSLProtocol all
</VirtualHost>
<VirtualHost *:80>
    ServerName b.example
    SSLProtocol all
</VirtualHost>
"""


def build(conf: Path, root: Path) -> Report:
    """The report `check` makes of one configuration: findings and skipped rules, or the
    error that stopped it from being read."""
    report = Report(catalog=engine.catalog(), root=str(root))
    settings = engine.Settings()
    try:
        model = load_model(str(conf))
    except ConfigError as exc:
        report.errors.append(ToolError(exc.message, exc.file, exc.line))
        return report
    report.models.append(model)
    report.findings.extend(engine.run(model, settings))
    report.skipped.extend(engine.skipped(model, settings))
    return report


def spaced_tree(base: Path, prefix: str = "") -> Path:
    directory = base / AWKWARD
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "httpd.conf"
    conf.write_text(prefix + SPACED_CONF.format(root=directory))
    return conf


def broken_tree(base: Path) -> Path:
    directory = base / "broken tree"
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "httpd.conf"
    conf.write_text("Listen 80\n<Directory /srv>\n    Require all granted\n</Location>\n")
    return conf


@pytest.fixture(params=["outage", "spaced", "broken"])
def case(request, tmp_path: Path) -> tuple[str, Report]:
    if request.param == "outage":
        return "outage", build(EXAMPLE, ROOT)
    if request.param == "spaced":
        return "spaced", build(spaced_tree(tmp_path), tmp_path)
    return "broken", build(broken_tree(tmp_path), tmp_path)


# -- SARIF ---------------------------------------------------------------------------------


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SARIF_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    # The schema is draft-04, whose own format checker knows no `uri-reference` (a draft-06
    # name) and would skip the format of every artifact URI: the full checker checks them.
    return cls(schema, format_checker=jsonschema.FormatChecker())


def sarif(report: Report) -> dict:
    return json.loads(reporters.render("sarif", report))


def test_the_vendored_schema_is_the_official_one() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text())
    official = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
    assert schema["id"] == official + "sarif-schema-2.1.0.json"
    assert len(schema["definitions"]) > 50
    assert (SARIF_SCHEMA.parent / "LICENSE").read_text().strip()


def test_sarif_validates_against_the_official_schema(case: tuple[str, Report]) -> None:
    name, report = case
    doc = sarif(report)
    sarif_validator().validate(doc)
    assert doc["$schema"] == json.loads(SARIF_SCHEMA.read_text())["id"]
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    assert len(run["results"]) == len(report.findings)
    assert run["invocations"][0]["executionSuccessful"] is (name != "broken")
    if name == "outage":
        ids = [r["id"] for r in rules]
        assert "CAP001" in ids and "SEC001" in ids
        assert {"CAP001", "CAP002"} <= {r["ruleId"] for r in run["results"]}
        assert rules[ids.index("CAP001")]["help"]["text"]


def test_uri_formats_are_really_checked() -> None:
    checker = jsonschema.FormatChecker()
    assert {"uri", "uri-reference"} <= set(checker.checkers)
    validator = sarif_validator()
    report = Report(
        findings=[Finding("SEC001", "server-tokens-not-prod", "warning", "m", "/r/a/x.conf", 3)],
        catalog=engine.catalog(),
        root="/r",
    )
    good = sarif(report)
    validator.validate(good)
    location = good["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    location["artifactLocation"]["uri"] = "conf dir/httpd.conf"  # a space, not encoded
    assert not validator.is_valid(good)
    location["artifactLocation"]["uri"] = "conf%20dir/httpd.conf"
    assert validator.is_valid(good)
    good["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] = "file:///r r/"
    assert not validator.is_valid(good)


def test_the_schema_rejects_what_sarif_forbids() -> None:
    validator = sarif_validator()
    good = sarif(build(EXAMPLE, ROOT))
    validator.validate(good)
    bad = json.loads(json.dumps(good))
    bad["runs"][0]["results"][0]["level"] = "fatal"
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(good))
    del bad["runs"][0]["tool"]["driver"]["name"]
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(good))
    bad["version"] = "2.0.0"
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(good))
    del bad["runs"][0]["invocations"][0]["executionSuccessful"]
    assert not validator.is_valid(bad)


def test_sarif_uris_are_relative_to_the_root_and_percent_encoded(tmp_path: Path) -> None:
    conf = spaced_tree(tmp_path)
    run = sarif(build(conf, tmp_path))["runs"][0]
    base = run["originalUriBaseIds"]["SRCROOT"]["uri"]
    assert base == tmp_path.as_uri() + "/"
    for result in run["results"]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "SRCROOT"
        assert artifact["uri"] == "site%20conf%2C%20v2%3Aprod/httpd.conf"
        assert unquote(artifact["uri"]) == f"{AWKWARD}/httpd.conf"
        assert urljoin(base, artifact["uri"]) == conf.as_uri()


def test_sarif_file_outside_the_root_is_an_absolute_file_uri(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    conf = spaced_tree(tmp_path / "elsewhere")
    doc = sarif(build(conf, tmp_path / "repo"))
    sarif_validator().validate(doc)
    for result in doc["runs"][0]["results"]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert "uriBaseId" not in artifact
        assert artifact["uri"] == conf.as_uri()
        assert "%20" in artifact["uri"] and " " not in artifact["uri"]


def test_fingerprints_survive_moved_lines_and_tell_identical_lines_apart(tmp_path: Path) -> None:
    conf = spaced_tree(tmp_path)
    before = sarif(build(conf, tmp_path))["runs"][0]["results"]
    spaced_tree(tmp_path, prefix="# two lines\n# inserted above everything\n")
    after = sarif(build(conf, tmp_path))["runs"][0]["results"]

    def prints(results: list[dict]) -> list[str]:
        return [r["partialFingerprints"]["httpdlint/v1"] for r in results]

    def lines(results: list[dict]) -> list[int]:
        return [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results]

    assert prints(before) == prints(after)
    moved = [(b, a) for b, a in zip(lines(before), lines(after), strict=True) if b != a]
    assert moved and all(a == b + 2 for b, a in moved)
    # The two identical `SSLProtocol all` lines, in the same file and the same section.
    twins = [r for r in before if r["ruleId"] == "COR003"]
    assert len(twins) == 2
    assert len(set(prints(twins))) == 2
    assert len(set(prints(before))) == len(before)


def test_security_rules_carry_security_severity_and_tags() -> None:
    rules = sarif(build(EXAMPLE, ROOT))["runs"][0]["tool"]["driver"]["rules"]
    assert {r["id"][:3] for r in rules} >= {"SEC", "TLS", "CAP"}
    for rule in rules:
        props = rule["properties"]
        assert props["tags"]
        if rule["id"].startswith(("SEC", "TLS")):
            assert "security" in props["tags"]
            assert 0.0 < float(props["security-severity"]) <= 10.0
        else:
            assert "security-severity" not in props and "security" not in props["tags"]
        if "helpUri" in rule:
            assert rule["helpUri"].startswith("https://")


def test_sarif_invocation_records_errors_and_skipped_rules(tmp_path: Path) -> None:
    conf = broken_tree(tmp_path)
    invocation = sarif(build(conf, tmp_path))["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert "Expected </Directory> but saw </Location>" in note["message"]["text"]
    where = note["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"] == "broken%20tree/httpd.conf"
    assert where["region"]["startLine"] == 4

    report = build(EXAMPLE, ROOT)
    assert report.skipped
    run = sarif(report)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    notes = invocation["toolExecutionNotifications"]
    assert len(notes) == len(report.skipped)
    for note, skipped in zip(notes, report.skipped, strict=True):
        assert note["level"] == "warning"
        assert rules[note["associatedRule"]["index"]]["id"] == skipped.rule
        assert skipped.needs in note["message"]["text"]


# -- JUnit ---------------------------------------------------------------------------------


@pytest.mark.parametrize("xsd", JUNIT_SCHEMAS, ids=lambda p: p.name)
def test_junit_validates_against_both_schemas(case: tuple[str, Report], xsd: Path) -> None:
    name, report = case
    text = reporters.render("junit", report)
    xmlschema.XMLSchema(str(xsd)).validate(text)
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None
    assert int(suite.get("failures", "-1")) == len(report.findings)
    assert len(suite.findall("testcase/failure")) == len(report.findings)
    assert int(suite.get("errors", "-1")) == len(suite.findall("testcase/error"))
    assert len(suite.findall("testcase/skipped")) == int(suite.get("skipped", "-1"))
    assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))
    if name == "broken":
        (error,) = suite.findall("testcase/error")
        assert "Expected </Directory> but saw </Location>" in error.get("message", "")
        assert suite.get("errors") == "1"
    else:
        assert suite.get("errors") == "0"
    if name == "outage":
        skipped = [
            c.get("name", "") for c in suite.findall("testcase") if c.find("skipped") is not None
        ]
        assert any(n.startswith("CAP009 ") for n in skipped)


def test_junit_survives_bytes_that_are_not_xml() -> None:
    odd = Finding("COR003", "x", "error", "bad \udcff byte \x01 and <tag> & ]]>", "/r/a.conf", 2)
    report = Report(findings=[odd], catalog=engine.catalog(), root="/r")
    text = reporters.render("junit", report)
    for xsd in JUNIT_SCHEMAS:
        xmlschema.XMLSchema(str(xsd)).validate(text)
    failure = ET.fromstring(text).find("testsuite/testcase/failure")
    assert failure is not None and "<tag> & ]]>" in failure.get("message", "")


# -- GitHub workflow commands ----------------------------------------------------------------

# The runner's unescaping, in its order (actions/runner src/Runner.Common/ActionCommand.cs).
_DATA = [("\r", "%0D"), ("\n", "%0A"), ("%", "%25")]
_PROPERTY = [("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25")]


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """`::name key=value,key=value::data` read the way the Actions runner reads it."""
    line = line.lstrip()
    assert line.startswith("::"), line
    end = line.index("::", 2)
    info = line[2:end]
    name, _, props = info.partition(" ")
    properties = {}
    for item in props.strip().split(","):
        pair = [p for p in item.split("=", 1) if p]
        if len(pair) == 2:
            value = pair[1]
            for token, escaped in _PROPERTY:
                value = value.replace(escaped, token)
            properties[pair[0]] = value
    data = line[end + 2 :]
    for token, escaped in _DATA:
        data = data.replace(escaped, token)
    return name, properties, data


def test_github_round_trips_a_path_with_comma_and_colon(tmp_path: Path) -> None:
    conf = spaced_tree(tmp_path)
    report = build(conf, tmp_path)
    tricky = "100% sure: a, b\nsecond line\r%0A stays"
    report.findings.append(Finding("COR003", "x", "error", tricky, str(conf), 9))
    report.errors.append(ToolError("cannot read: Permission denied", str(conf), 3))
    report.skipped.append(Skipped("CAP009", "memory-overcommit", "--ram, or a: b", str(conf)))
    commands = [parse_command(line) for line in reporters.render("github", report).splitlines()]
    assert len(commands) == len(report.findings) + len(report.errors) + len(report.skipped)
    rel = f"{AWKWARD}/httpd.conf"
    for name, props, _ in commands:
        assert name in ("error", "warning", "notice")
        assert props["file"] == rel
    findings = commands[: len(report.findings)]
    for (_, props, data), f in zip(findings, report.findings, strict=True):
        assert props["line"] == str(f.line)
        assert props["title"] == f"{f.rule} {f.name}"
        assert data == f"{f.rule} {f.message}" + (f" [{f.httpd_code}]" if f.httpd_code else "")
    assert findings[-1][2] == f"COR003 {tricky}"
    error = commands[len(report.findings)]
    assert error == ("error", {"file": rel, "line": "3"}, "cannot read: Permission denied")
    name, props, data = commands[-1]
    assert name == "notice" and data == "CAP009 skipped: needs --ram, or a: b"


# -- text ------------------------------------------------------------------------------------


def test_text_names_the_severity_and_shows_the_source(tmp_path: Path) -> None:
    conf = spaced_tree(tmp_path)
    report = build(conf, tmp_path)
    report.skipped.append(Skipped("CAP009", "memory-overcommit", "--ram and --child-size"))
    text = reporters.render("text", report, show_source=True)
    lines = text.splitlines()
    timeout = next(i for i, line in enumerate(lines) if " CAP005 " in line)
    # httpd numbers a continued directive by its last line; both lines are shown, as written.
    assert lines[timeout].startswith(f"{conf}:7: warning CAP005 Timeout 300")
    assert lines[timeout + 1 : timeout + 3] == ["  6 | Timeout \\", "  7 |     300"]
    assert "CAP009 skipped: needs --ram and --child-size" in lines
    assert lines[-1].startswith("Found ")
    assert lines[-1].endswith(f"; {len(report.skipped)} rules skipped.")
    for f in report.findings:
        assert f"{conf}:{f.line}: {f.severity} {f.rule} " in text
    assert "  6 | " not in reporters.render("text", report)


def test_text_colours_the_severity_word_only() -> None:
    report = build(EXAMPLE, ROOT)
    lines = reporters.render("text", report, colour=True).splitlines()
    coloured = re.compile(r"[^\033]*: \033\[3\dm(\w+)\033\[0m (\w+) [^\033]*")
    for f, line in zip(report.findings, lines, strict=False):
        match = coloured.fullmatch(line)
        assert match and match.groups() == (f.severity, f.rule), line
    assert all("\033" not in line for line in lines[len(report.findings) :])


def test_text_of_a_tree_that_cannot_be_read(tmp_path: Path) -> None:
    conf = broken_tree(tmp_path)
    lines = reporters.render("text", build(conf, tmp_path)).splitlines()
    assert lines == [
        f"{conf}:4: Expected </Directory> but saw </Location>",
        "1 input error; nothing was checked.",
    ]
    # Without the error (the CLI prints errors on stderr) it still does not read as a pass.
    assert reporters.render("text", Report()) == "Nothing was checked.\n"


# -- JSON and GitLab ---------------------------------------------------------------------------


def test_json_has_fingerprints_skipped_rules_and_errors(case: tuple[str, Report]) -> None:
    name, report = case
    doc = json.loads(reporters.render("json", report))
    assert doc["schema"] == 1
    assert [f["fingerprint"] for f in doc["findings"]] == fingerprints(report.findings, report.root)
    assert doc["skipped"] == [s.as_json() for s in report.skipped]
    assert doc["errors"] == [e.as_json() for e in report.errors]
    assert sum(doc["summary"].values()) == len(report.findings)
    if name == "broken":
        assert doc["config"] is None and doc["findings"] == []
        assert doc["errors"][0]["line"] == 4
    else:
        assert doc["config"]["root"] == report.models[0].config.root


def test_gitlab_code_quality(case: tuple[str, Report]) -> None:
    name, report = case
    issues = json.loads(reporters.render("gitlab", report))
    assert isinstance(issues, list)
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        path = issue["location"]["path"]
        assert path and not path.startswith(("./", "/"))
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    if name == "broken":
        (error,) = issues
        assert error["check_name"] == "httpdlint-error" and error["severity"] == "blocker"
        assert error["location"] == {"path": "broken tree/httpd.conf", "lines": {"begin": 4}}
    else:
        checks = [i["check_name"] for i in issues]
        assert checks[: len(report.findings)] == [f.rule for f in report.findings]
    if name == "spaced":
        assert issues[0]["location"]["path"] == f"{AWKWARD}/httpd.conf"


# -- every outcome in every format ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", reporters.FORMATS)
def test_every_format_gives_a_document_when_nothing_could_be_read(fmt: str, tmp_path: Path) -> None:
    report = build(broken_tree(tmp_path), tmp_path)
    text = reporters.render(fmt, report)
    if fmt == "junit":  # escaped in the XML text: read it back
        error = ET.fromstring(text).find("testsuite/testcase/error")
        text = error.get("message", "") if error is not None else ""
    assert "Expected </Directory> but saw </Location>" in text
    if fmt in ("json", "gitlab"):
        json.loads(text)
    elif fmt == "sarif":
        sarif_validator().validate(json.loads(text))
    elif fmt == "junit":
        for xsd in JUNIT_SCHEMAS:
            xmlschema.XMLSchema(str(xsd)).validate(reporters.render(fmt, report))
    elif fmt == "github":
        (command,) = [parse_command(line) for line in text.splitlines()]
        assert command[0] == "error" and command[1]["line"] == "4"


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        reporters.render("xml", Report())


@pytest.mark.parametrize("fmt", reporters.FORMATS)
def test_output_file_is_written_whole(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    out.write_text("old")
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", str(EXAMPLE), "--exit-zero"]
        + ["-f", fmt, "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert out.read_text() != "old" and out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_output_dash_is_standard_output_and_a_link_keeps_pointing(tmp_path: Path) -> None:
    """`-o -` prints (no file named `-`); `-o LINK` writes the link's target and keeps the
    link."""
    base = [sys.executable, "-m", "httpdlint", "check", str(EXAMPLE), "--exit-zero", "-f", "json"]
    res = subprocess.run([*base, "-o", "-"], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0 and json.loads(res.stdout)["schema"] == 1
    assert not (tmp_path / "-").exists()
    target = tmp_path / "reports" / "lint.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "lint.json"
    link.symlink_to(target)
    res = subprocess.run([*base, "-o", str(link)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert link.is_symlink() and json.loads(target.read_text())["schema"] == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["lint.json"]
