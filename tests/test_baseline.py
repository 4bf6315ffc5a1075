"""Baselines as the issue asks: a baseline written today makes `check` pass; one new finding
fails it even after unrelated lines are inserted above it; a second identical line is a new
finding; fixing a baselined finding is reported; a laptop and CI (two checkouts) agree; a bad
baseline file is one clear error."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from httpdlint import __version__, baseline, engine
from httpdlint.errors import ConfigError
from httpdlint.fingerprints import key
from httpdlint.model import load_model
from httpdlint.report import Report, Skipped, ToolError

MAIN = """Listen 80
ServerTokens Full
<VirtualHost *:80>
    ServerName a.example
    ServerSignature On
</VirtualHost>
Include conf.d/*.conf
"""
LEGACY = "ServerSignature On\n"
VHOST_SIGNATURE = "    ServerSignature On\n"


def make_tree(root: Path, main: str = MAIN) -> Path:
    (root / "conf.d").mkdir(parents=True, exist_ok=True)
    (root / "httpd.conf").write_text(main)
    (root / "conf.d" / "legacy.conf").write_text(LEGACY)
    return root


def report(root: Path, config: Path | None = None) -> Report:
    model = load_model(str(config or root))
    findings = engine.run(model, engine.Settings())
    return Report(models=[model], findings=findings, catalog=engine.catalog(), root=str(root))


def where(findings) -> list[tuple]:
    return [(f.rule, os.path.basename(f.file or ""), f.line, f.source) for f in findings]


def written(tmp_path: Path, rep: Report) -> baseline.Baseline:
    path = tmp_path / "baseline.json"
    baseline.write(rep, str(path))
    return baseline.load(str(path))


def test_a_baseline_written_today_makes_check_pass(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    rep = report(root)
    assert len(rep.findings) > 5  # a legacy tree: plenty to baseline
    path = tmp_path / "baseline.json"
    n = baseline.write(rep, str(path))
    applied = baseline.apply(baseline.load(str(path)), rep)
    assert applied.new == []
    assert applied.known == rep.findings
    assert applied.fixed == []
    doc = json.loads(path.read_text())
    assert doc["schema"] == 1 and doc["version"] == __version__
    assert len(doc["findings"]) == n == len({key(f, str(root)) for f in rep.findings})
    assert sum(e["count"] for e in doc["findings"]) == len(rep.findings)
    # Root-relative, sorted, one key per line: readable in a diff, the same in every checkout.
    assert str(root) not in path.read_text()
    files = [e["file"] for e in doc["findings"]]
    assert files == sorted(files) and set(files) == {"conf.d/legacy.conf", "httpd.conf"}
    assert path.read_text().endswith("}\n")
    assert list(doc["findings"][0]) == list(baseline.ENTRY_KEYS)


def test_one_new_finding_fails_even_after_lines_inserted_above(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    before = report(root)
    base = written(tmp_path, before)
    # Unrelated lines above every finding, in both files, and one new finding in the vhost.
    main = "# Managed by the web team\n\nServerAdmin webmaster@example.com\n\n" + MAIN
    main = main.replace(VHOST_SIGNATURE, "\n    # legacy\n" + VHOST_SIGNATURE)
    main = main.replace("</VirtualHost>", "    ServerSignature EMail\n</VirtualHost>")
    (root / "httpd.conf").write_text(main)
    (root / "conf.d" / "legacy.conf").write_text("# old\n# stuff\n" + LEGACY)
    after = report(root)
    applied = baseline.apply(base, after)
    assert where(applied.new) == [("SEC002", "httpd.conf", 12, "ServerSignature EMail")]
    assert applied.fixed == []
    assert len(applied.known) == len(before.findings)
    # The known findings really moved: matching is not by line number.
    moved = {(f.rule, f.source): f.line for f in applied.known if f.source}
    old = {(f.rule, f.source): f.line for f in before.findings if f.source}
    assert moved.keys() == old.keys() and all(moved[k] != old[k] for k in old)


def test_a_second_identical_line_is_a_new_finding(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    base = written(tmp_path, report(root))
    (root / "httpd.conf").write_text(MAIN.replace(VHOST_SIGNATURE, VHOST_SIGNATURE * 2))
    applied = baseline.apply(base, report(root))
    # The first in file order is the baselined one, the copy below it is new.
    assert where(applied.new) == [("SEC002", "httpd.conf", 6, "ServerSignature On")]
    assert ("SEC002", "httpd.conf", 5, "ServerSignature On") in where(applied.known)
    assert applied.fixed == []


def test_the_same_line_in_another_section_or_file_is_new(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    base = written(tmp_path, report(root))
    (root / "conf.d" / "other.conf").write_text(LEGACY)
    applied = baseline.apply(base, report(root))
    assert where(applied.new) == [("SEC002", "other.conf", 1, "ServerSignature On")]


def test_fixing_a_baselined_finding_is_reported(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    base = written(tmp_path, report(root))
    (root / "httpd.conf").write_text(MAIN.replace(VHOST_SIGNATURE, ""))
    applied = baseline.apply(base, report(root))
    assert applied.new == []
    assert len(applied.fixed) == 1
    fixed = applied.fixed[0]
    assert (fixed.rule, fixed.file, fixed.section, fixed.source, fixed.count) == (
        "SEC002",
        "httpd.conf",
        ("VirtualHost *:80",),
        "ServerSignature On",
        1,
    )
    assert "ServerSignature On in <VirtualHost *:80>" in fixed.message
    assert str(fixed) == "httpd.conf <VirtualHost *:80>: SEC002 ServerSignature On"


def test_fixing_one_of_two_identical_lines_reports_one_fixed(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo", MAIN.replace(VHOST_SIGNATURE, VHOST_SIGNATURE * 2))
    path = tmp_path / "baseline.json"
    baseline.write(report(root), str(path))
    entry = next(e for e in json.loads(path.read_text())["findings"] if e["section"])
    assert (entry["source"], entry["count"]) == ("ServerSignature On", 2)
    (root / "httpd.conf").write_text(MAIN)
    applied = baseline.apply(baseline.load(str(path)), report(root))
    assert applied.new == []
    assert [(e.rule, e.file, e.count) for e in applied.fixed] == [("SEC002", "httpd.conf", 1)]


def test_a_laptop_and_ci_agree(tmp_path: Path) -> None:
    # The same tree in two checkouts at different absolute paths.
    laptop = make_tree(tmp_path / "home" / "me" / "src" / "web")
    ci = tmp_path / "builds" / "1234" / "web"
    shutil.copytree(laptop, ci)
    on_laptop, in_ci = report(laptop), report(ci)
    # A finding about what is absent is identified by its message, and this one names the
    # checkout's absolute path: the baseline must not.
    log = [f for f in on_laptop.findings if f.rule == "LOG002"]
    assert log and str(laptop) in log[0].message and not log[0].source
    path = tmp_path / "baseline.json"
    baseline.write(on_laptop, str(path))
    applied = baseline.apply(baseline.load(str(path)), in_ci)
    assert applied.new == [] and applied.fixed == []
    assert applied.known == in_ci.findings
    # Byte for byte the same file from either checkout: committing it again changes nothing.
    again = tmp_path / "again.json"
    baseline.write(in_ci, str(again))
    assert again.read_bytes() == path.read_bytes()
    assert str(laptop) not in path.read_text() and str(ci) not in path.read_text()


def test_a_checkout_reached_through_a_symlink(tmp_path: Path) -> None:
    # project_root resolves symlinks, configuration paths are only made absolute (macOS:
    # /tmp is /private/tmp): the files must still be relative to the root.
    real = make_tree(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    base = written(tmp_path, report(real))
    through = report(real, config=link)
    assert through.findings[0].file.startswith(str(link))
    applied = baseline.apply(base, through)
    assert applied.new == [] and applied.fixed == []


def test_baseline_keys_are_the_fingerprint_keys(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    rep = report(root)
    for f in rep.findings:
        if str(root) not in f.message:
            entry = baseline._entry(f, str(root))
            assert baseline._key(entry, str(root)) == key(f, str(root))


def test_bytes_that_are_not_utf8_round_trip(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    (root / "httpd.conf").write_bytes(MAIN.replace("*:80", "caf\xe9.example:80").encode("latin-1"))
    rep = report(root)
    assert any("\udce9" in "".join(f.section) + f.source for f in rep.findings)
    path = tmp_path / "baseline.json"
    baseline.write(rep, str(path))
    path.read_bytes().decode("utf-8")  # the file itself is valid UTF-8
    applied = baseline.apply(baseline.load(str(path)), rep)
    assert applied.new == [] and applied.fixed == []


def test_entries_of_one_key_add_up(tmp_path: Path) -> None:
    # Two branches' baselines merged by hand: the counts of a key add up.
    root = make_tree(tmp_path / "repo", MAIN.replace(VHOST_SIGNATURE, VHOST_SIGNATURE * 2))
    rep = report(root)
    path = tmp_path / "baseline.json"
    baseline.write(rep, str(path))
    doc = json.loads(path.read_text())
    entry = next(e for e in doc["findings"] if e["section"])
    doc["findings"].append(dict(entry, count=1))
    entry["count"] = 1
    path.write_text(json.dumps(doc))
    applied = baseline.apply(baseline.load(str(path)), rep)
    assert applied.new == [] and applied.fixed == []


def test_skipped_rules_and_unreadable_configurations_fix_nothing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    rep = report(root)
    base = written(tmp_path, rep)
    # A rule that could not run this time (say, no RAM given in CI): its entries are unchecked.
    skipped = Report(
        findings=[f for f in rep.findings if f.rule != "SEC002"],
        skipped=[Skipped("SEC002", "server-signature", "sizing")],
        root=str(root),
    )
    applied = baseline.apply(base, skipped)
    assert applied.fixed == [] and applied.new == []
    assert {(e.rule, e.count) for e in applied.unchecked} == {("SEC002", 1)}
    assert len(applied.unchecked) == 2
    # A configuration that could not be read: nothing was looked at, nothing is fixed...
    broken = Report(errors=[ToolError("Syntax error", str(root / "httpd.conf"), 3)], root=str(root))
    assert baseline.apply(base, broken).fixed == []
    # ...and its findings are not today's findings to baseline.
    with pytest.raises(ConfigError, match="not writing a baseline: .*httpd.conf:3: Syntax error"):
        baseline.write(broken, str(tmp_path / "partial.json"))
    assert not (tmp_path / "partial.json").exists()


def test_write_is_atomic_and_reports_an_unwritable_path(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo")
    out = tmp_path / "out"
    out.mkdir()
    (out / "baseline.json").write_text("old")
    baseline.write(report(root), str(out / "baseline.json"))
    assert os.listdir(out) == ["baseline.json"]  # no temporary file left beside it
    with pytest.raises(ConfigError, match="cannot write"):
        baseline.write(report(root), str(tmp_path / "missing" / "baseline.json"))


def test_an_empty_report_writes_an_empty_baseline(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    assert baseline.write(Report(root=str(tmp_path)), str(path)) == 0
    assert baseline.load(str(path)).entries == []


ENTRY = {
    "rule": "SEC001",
    "file": "httpd.conf",
    "section": [],
    "source": "ServerTokens Full",
    "message": "ServerTokens Full: ...",
    "count": 1,
}


def doc(**changes) -> str:
    d = {"schema": 1, "version": "0.1.0", "findings": [ENTRY]}
    d.update(changes)
    return json.dumps(d, indent=2)


def entry(**changes) -> str:
    return doc(findings=[{k: v for k, v in dict(ENTRY, **changes).items() if v is not ...}])


@pytest.mark.parametrize(
    "text, message",
    [
        ('{\n  "schema": 1,\n  "findings": [\n}', r":4: not a baseline: invalid JSON"),
        ("", r": not a baseline: invalid JSON"),
        ("[]", r"expected a JSON object, found a list"),
        (doc(schema=2), r"schema 2 is not one httpdlint .* reads \(it reads schema 1\)"),
        (doc(schema="1"), r'"schema" must be a number, not the string "1"'),
        (doc(schema=True), r'"schema" must be a number, not a boolean'),
        (doc(extra=1), r'unknown key "extra" \(expected schema, version, findings\)'),
        ('{"schema": 1, "findings": []}', r'missing "version"'),
        (doc(version=1), r'"version" must be a string, not the number 1'),
        (doc(findings={}), r'"findings" must be a list, not an object'),
        (doc(findings=["SEC001"]), r'entry 1: expected a JSON object, found the string "SEC001"'),
        (entry(line=3), r'entry 1: unknown key "line"'),
        (entry(count=...), r'entry 1: missing "count"'),
        (entry(count=0), r'entry 1: "count" must be a whole number of at least 1, not the nu'),
        (entry(count=1.5), r'"count" must be a whole number of at least 1, not the number 1.5'),
        (entry(count=True), r'"count" must be a whole number of at least 1, not a boolean'),
        (entry(rule=None), r'entry 1: "rule" must be a string, not null'),
        (entry(rule=""), r'entry 1: "rule" is empty'),
        (entry(file=3), r'entry 1: "file" must be a path or null, not the number 3'),
        (entry(section="VirtualHost *:80"), r'"section" must be a list of strings, not the str'),
        (entry(section=[1]), r'"section" must be a list of strings, and holds the number 1'),
        ('{"schema": 1, "schema": 1}', r'key "schema" appears twice in one object'),
    ],
)
def test_a_bad_baseline_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        baseline.load(str(path))
    shown = str(info.value)
    assert shown.startswith(str(path)) and "\n" not in shown
    assert info.value.file == str(path)
    assert re.search(message, shown), shown


def test_an_unreadable_baseline_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.json: cannot read baseline: No such file"):
        baseline.load(str(tmp_path / "missing.json"))
    (tmp_path / "latin1.json").write_bytes(b'{"version": "caf\xe9"}')
    with pytest.raises(ConfigError, match=r"latin1.json: not a baseline: not UTF-8"):
        baseline.load(str(tmp_path / "latin1.json"))


def test_a_baseline_from_a_newer_httpdlint_of_the_same_schema_reads(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(doc(version="9.9.9"))
    read = baseline.load(str(path))
    assert read.version == "9.9.9"
    assert read.entries == [
        baseline.Entry("SEC001", "httpd.conf", (), "ServerTokens Full", "ServerTokens Full: ...")
    ]
