"""`httpdlint audit --benchmark B [PATH]`: per control pass, fail, not applicable, manual or
skipped, with the evidence, as text and JSON, on fixture trees and on Debian's stock tree read
in place; exit 0 when no control fails, 1 when one does, 2 for errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from httpdlint import audit, controls, engine
from httpdlint.model import load_model

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
HARDENED = FIXTURES / "hardened.conf"
WEAK = FIXTURES / "weak.conf"
PLAIN = FIXTURES / "plain.conf"
STATUSES = {"pass", "fail", "not-applicable", "manual", "skipped"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "audit", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in res.stderr, res.stderr
    return res


def audited(*args: str) -> tuple[int, dict]:
    res = cli(*args, "--format", "json")
    return res.returncode, json.loads(res.stdout)


def by_id(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for c in doc["controls"]}


def line_of(path: Path, text: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {path}")


def check_document(doc: dict, key: str) -> None:
    """The document's shape: every control of the set, in order, each with a known status,
    its rules and evidence; the summary counts them."""
    bench = controls.sets()[key]
    assert doc["schema"] == 1
    assert doc["benchmark"] == {
        "name": bench.name,
        "version": bench.version,
        "source": bench.source,
    }
    assert [c["id"] for c in doc["controls"]] == [c.id for c in bench.controls]
    named = controls.mapping(engine.catalog().values())
    for control, row in zip(bench.controls, doc["controls"], strict=True):
        assert row["title"] == control.title and row["status"] in STATUSES
        assert row["rules"] == (named.get(control.full_id, []) if control.status is None else [])
        assert row["evidence"] and all(
            set(e) == {"rule", "file", "line", "text"} for e in row["evidence"]
        )
        assert row["partial"] == (control.partial or None)
        if control.status is not None:
            assert row["status"] == "manual" and row["evidence"][0]["text"].endswith(control.reason)
    summary = doc["summary"]
    assert summary["controls"] == len(bench.controls) == sum(summary[s] for s in STATUSES)
    for status in STATUSES:
        assert summary[status] == sum(c["status"] == status for c in doc["controls"])


# ---------------------------------------------------------------------------- the statuses


def test_a_hardened_tree_passes_every_cis_control_a_rule_answers():
    code, doc = audited("--benchmark", "cis", str(HARDENED))
    assert code == 0
    check_document(doc, "cis")
    rows = by_id(doc)
    mapped = [c for c in controls.sets()["cis"].controls if c.status is None]
    assert {rows[c.id]["status"] for c in mapped} == {"pass", "not-applicable", "skipped"}
    # Skipped only where a rule needs the files on disk (certificates, a fixture's paths).
    for c in mapped:
        if rows[c.id]["status"] == "skipped":
            texts = [e["text"] for e in rows[c.id]["evidence"]]
            assert any(t.startswith("could not run: needs the tree") for t in texts), c.id
    # The evidence of a pass: the rules that ran.
    assert rows["8.1"]["evidence"] == [
        {
            "rule": "SEC001",
            "file": None,
            "line": None,
            "text": "server-tokens-not-prod ran: no finding",
        }
    ]
    assert [e["rule"] for e in rows["7.4"]["evidence"]] == ["TLS001", "TLS002", "TLS003"]
    # Not applicable: mod_include is not loaded, so nothing can enable server-side includes.
    assert rows["5.3"]["status"] == "not-applicable"
    assert (
        rows["5.3"]["evidence"][0]["text"]
        == "does not apply: the tree does not load include_module"
    )
    # Manual: no rule answers it; the data's reason is the evidence.
    assert rows["6.4"]["status"] == "manual"
    assert rows["6.4"]["evidence"][0]["text"].startswith("not decidable from configuration: needs")
    assert rows["2.2"]["evidence"][0]["text"].startswith("not implemented: ")
    assert rows["1.1"]["evidence"][0]["text"].startswith("manual: ")


def test_a_weak_tree_fails_with_each_findings_file_and_line():
    code, doc = audited("--benchmark", "cis", str(WEAK))
    assert code == 1
    check_document(doc, "cis")
    rows = by_id(doc)
    expected = {
        "8.1": ("SEC001", "ServerTokens Full"),
        "5.8": ("SEC003", "TraceEnable On"),
        "7.5": ("TLS004", "SSLCipherSuite HIGH:RC4"),
        "7.7": ("TLS006", "SSLCompression on"),
        "9.1": ("CAP005", "Timeout 20"),  # CIS's 10 s under its profile; check's default is 60
    }
    for ident, (rule, text) in expected.items():
        assert rows[ident]["status"] == "fail", ident
        evidence = rows[ident]["evidence"]
        assert (rule, str(WEAK), line_of(WEAK, text)) in {
            (e["rule"], e["file"], e["line"]) for e in evidence
        }, ident
    assert {e["rule"] for e in rows["7.4"]["evidence"]} == {"TLS001", "TLS003"}
    assert rows["7.11"]["status"] == "fail" and rows["7.11"]["partial"]  # partly answered
    assert rows["8.2"]["status"] == "pass"
    failed = sum(c["status"] == "fail" for c in doc["controls"])
    assert doc["summary"]["fail"] == failed >= len(expected) + 2  # and 7.4, 7.11


def test_the_tls_controls_do_not_apply_without_mod_ssl():
    code, doc = audited("--benchmark", "cis", str(PLAIN))
    assert code == (1 if doc["summary"]["fail"] else 0)
    rows = by_id(doc)
    for ident in ("7.4", "7.5", "7.6", "7.7", "7.8", "7.11"):
        assert rows[ident]["status"] == "not-applicable", ident
        assert {e["text"] for e in rows[ident]["evidence"]} == {
            "does not apply: the tree does not load ssl_module"
        }


def test_a_rule_that_cannot_run_makes_its_control_skipped_and_says_what_it_needs():
    model = load_model(str(PLAIN))
    bench = controls.sets()["cis"]
    # COR007 needs the tree on the machine that serves it: say it answered 8.1 alone.
    named = {"CIS-2.4 8.1": ["COR007"], "CIS-2.4 8.2": ["COR007", "SEC002"]}
    result = audit.run(model, bench, engine.Settings(), named=named)
    rows = {v.control.id: v for v in result.verdicts}
    assert rows["8.1"].status == "skipped"
    (evidence,) = rows["8.1"].evidence
    assert evidence.rule == "COR007" and evidence.text.startswith("could not run: needs the tree")
    # One rule passing does not make the control pass while another could not run.
    assert rows["8.2"].status == "skipped"
    assert [e.rule for e in rows["8.2"].evidence] == ["COR007", "SEC002"]
    off = audit.run(model, bench, engine.Settings(filesystem_off=True), named=named)
    assert off.verdicts[[c.id for c in bench.controls].index("8.1")].evidence[0].text == (
        "could not run: needs the tree's files on disk (turned off)"
    )
    assert result.summary()["skipped"] == 2 and not result.failed


def test_the_benchmarks_policy_rules_run_and_others_do_not(tmp_path, monkeypatch):
    """A policy rule (off in `check`) answers its control under the set's profile."""
    rule_file = tmp_path / "SEC950.toml"
    rule_file.write_text(
        'code = "SEC950"\nname = "keepalive-off"\nseverity = "warning"\nsummary = "s"\n'
        'rationale = "r"\nfix = "f"\nbad = "b"\ngood = "g"\npolicy = true\n'
        'benchmarks = ["CIS-2.4 9.2"]\n'
        '[match]\ndirective = "KeepAlive"\nscope = "server"\nallowed = ["On"]\ndefault = "On"\n'
    )
    policy = engine.parse_rule(rule_file)
    catalog = {**engine.catalog(), "SEC950": policy}
    monkeypatch.setattr(engine, "catalog", lambda: catalog)
    model = load_model(str(PLAIN))
    assert not [f for f in engine.run(model, engine.Settings()) if f.rule == "SEC950"]
    # The set as it reads once the rule exists: 9.2 mapped, without a status.
    bench = controls.parse_set(
        "cis",
        'name = "CIS"\nversion = "1"\nsource = "https://x"\nprefix = "CIS-2.4 "\n'
        'profile = "cis"\n[[controls]]\nid = "9.2"\ntitle = "KeepAlive is on"\n',
        "controls/cis.toml",
    )
    (verdict,) = audit.run(model, bench).verdicts
    assert verdict.status == "fail"
    assert (verdict.evidence[0].file, verdict.evidence[0].line) == (
        str(PLAIN),
        line_of(PLAIN, "KeepAlive Off"),
    )


def test_text_names_the_set_each_control_and_the_counts():
    res = cli("--benchmark", "cis", str(WEAK))
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert lines[0] == (
        "CIS Apache HTTP Server 2.4 Benchmark v2.3.0 "
        "<https://www.cisecurity.org/benchmark/apache_http_server>"
    )
    assert lines[1] == f"audit of {WEAK} (Apache 2.4)"
    assert "fail            8.1   ServerTokens is Prod or ProductOnly" in lines
    at = lines.index("fail            8.1   ServerTokens is Prod or ProductOnly")
    assert lines[at + 1].startswith(f"    {WEAK}:{line_of(WEAK, 'ServerTokens Full')}: SEC001 ")
    assert "pass            8.2   ServerSignature is off" in lines
    assert "    SEC002 server-signature-on ran: no finding" in lines
    assert "fail*           7.11  HSTS is sent" in lines
    assert any(line.startswith("    * partly answered: HTTPS hosts") for line in lines)
    assert "manual          6.4   Logs are rotated and kept for 13 weeks" in lines
    _, doc = audited("--benchmark", "cis", str(WEAK))
    n = doc["summary"]
    assert lines[-1] == (
        f"87 controls: {n['fail']} fail, {n['skipped']} skipped, {n['pass']} pass, "
        f"{n['not-applicable']} not applicable, {n['manual']} manual."
    )


@pytest.mark.parametrize("profile", sorted(engine.PROFILES))
@pytest.mark.parametrize("tree", [HARDENED, WEAK, PLAIN], ids=lambda p: p.stem)
def test_every_benchmark_audits_every_tree(profile, tree):
    code, doc = audited("-b", profile, str(tree))
    check_document(doc, profile)
    assert code == (1 if doc["summary"]["fail"] else 0)


def test_debians_stock_tree_read_in_place(debian_conf: Path):
    code, doc = audited("--benchmark", "cis", str(debian_conf))
    check_document(doc, "cis")
    assert code == 1
    rows = by_id(doc)
    security = debian_conf.parent / "conf-enabled" / "security.conf"
    tokens = next(e for e in rows["8.1"]["evidence"] if e["rule"] == "SEC001")
    # Debian ships ServerTokens OS and ServerSignature On, and Timeout 300 in apache2.conf.
    assert rows["8.1"]["status"] == rows["8.2"]["status"] == rows["9.1"]["status"] == "fail"
    assert (tokens["file"], tokens["line"]) == (
        str(security),
        line_of(security, "ServerTokens OS"),
    )
    timeout = rows["9.1"]["evidence"][0]
    assert (timeout["file"], timeout["line"]) == (
        str(debian_conf),
        line_of(debian_conf, "Timeout 300"),
    )
    # It denies the filesystem root, .ht files and TRACE; it loads no mod_ssl.
    assert rows["4.1"]["status"] == rows["5.10"]["status"] == rows["5.8"]["status"] == "pass"
    assert rows["7.4"]["status"] == "not-applicable"
    for profile in ("stig", "dev-sec", "mozilla"):
        check_document(audited("-b", profile, str(debian_conf))[1], profile)


# ---------------------------------------------------------------------------- errors


def test_an_unknown_benchmark_or_format_is_one_line_and_exit_2():
    res = cli("--benchmark", "nist", str(PLAIN))
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == "unknown benchmark 'nist': one of cis, dev-sec, mozilla, stig\n"
    res = cli("--benchmark", "cis", "--format", "sarif", str(PLAIN))
    assert (res.returncode, res.stderr) == (2, "unknown format 'sarif': text or json\n")
    res = cli(str(PLAIN))  # --benchmark is required
    assert res.returncode == 2 and "--benchmark" in res.stderr


def test_an_unreadable_tree_is_exit_2_and_the_document_records_it(tmp_path):
    missing = tmp_path / "none.conf"
    res = cli("--benchmark", "cis", str(missing))
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr.startswith(f"{missing}: ") and res.stderr.count("\n") == 1
    res = cli("--benchmark", "cis", str(missing), "--format", "json")
    assert res.returncode == 2
    doc = json.loads(res.stdout)
    assert doc["controls"] == [] and doc["config"] is None
    assert doc["errors"][0]["file"] == str(missing)
    assert doc["summary"] == {"controls": 0, **dict.fromkeys(STATUSES, 0)}


def test_output_goes_to_a_file(tmp_path):
    target = tmp_path / "audit.json"
    res = cli("-b", "dev-sec", str(HARDENED), "-f", "json", "-o", str(target))
    # dev-sec wants SSLHonorCipherOrder on, where the hardened tree follows Mozilla (off).
    assert (res.returncode, res.stdout) == (1, "")
    check_document(json.loads(target.read_text()), "dev-sec")
