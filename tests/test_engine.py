"""The rule catalog is validated on load: a rule file with an unknown or missing key is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from httpdlint import engine
from httpdlint.errors import ConfigError

GOOD = """\
code = "SEC901"
name = "test-rule"
severity = "warning"
summary = "s"
rationale = "r"
fix = "f"
bad = "b"
good = "g"
[match]
directive = "ServerTokens"
allowed = ["Prod"]
"""


def write(tmp_path: Path, text: str, name: str = "SEC901.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_valid_rule_file_loads(tmp_path: Path) -> None:
    rule = engine.parse_rule(write(tmp_path, GOOD))
    assert rule.code == "SEC901" and rule.match == {
        "directive": "ServerTokens",
        "allowed": ["Prod"],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t + 'colour = "red"\n', "unknown key"),
        (lambda t: t.replace('fix = "f"\n', ""), "lacks fix"),
        (lambda t: t.replace('"warning"', '"fatal"'), "severity"),
        (lambda t: t.replace("[match]", 'check = "x:y"\n[match]'), "unknown key"),
        (lambda t: t.replace('allowed = ["Prod"]', 'allowed = ["Prod"]\nwhen = 1'), "unknown key"),
        (lambda t: t.replace('code = "SEC901"', 'code = "XYZ901"'), "bad rule code"),
    ],
)
def test_invalid_rule_files_are_errors(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        engine.parse_rule(write(tmp_path, change(GOOD)))


def test_file_name_must_match_code(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be SEC901.toml"):
        engine.parse_rule(write(tmp_path, GOOD, "SEC902.toml"))


def test_the_shipped_catalog_is_valid_and_large_enough() -> None:
    rules = engine.catalog()
    assert len(rules) >= 60
    assert {code[:3] for code in rules} == set(engine.CATEGORIES)
    assert len({r.name for r in rules.values()}) == len(rules)


def test_selection_by_code_and_prefix() -> None:
    rules = list(engine.catalog().values())
    settings = engine.Settings(select=["SEC", "CAP001"], ignore=["SEC00"])
    codes = {r.code for r in engine.selected(rules, settings)}
    assert "CAP001" in codes and "CAP002" not in codes
    assert not [c for c in codes if c.startswith("SEC00")]
    assert "SEC010" in codes


def test_every_rule_has_its_logic_and_every_check_function_a_rule(monkeypatch) -> None:
    from httpdlint import registry

    engine.catalog.cache_clear()
    try:
        # A function registered for a rule no file defines.
        monkeypatch.setitem(registry.CHECKS, "SEC999", lambda model, rule, settings: iter(()))
        with pytest.raises(ConfigError, match="registered for SEC999, which no rule file"):
            engine.catalog()
        monkeypatch.delitem(registry.CHECKS, "SEC999")
        # A rule file whose function is gone.
        monkeypatch.delitem(registry.CHECKS, "CAP001")
        with pytest.raises(ConfigError, match="CAP001 needs either a \\[match\\] table or a check"):
            engine.catalog()
    finally:
        monkeypatch.undo()
        engine.catalog.cache_clear()
    assert "CAP001" in engine.catalog()


def test_a_code_cannot_be_bound_twice() -> None:
    from httpdlint.registry import check

    def one(model, rule, settings):
        return iter(())

    def other(model, rule, settings):
        return iter(())

    check("TST001")(one)
    try:
        with pytest.raises(RuntimeError, match="TST001 is bound twice"):
            check("TST001")(other)
    finally:
        from httpdlint.registry import CHECKS

        CHECKS.pop("TST001", None)


# --------------------------------------------------------------------------- benchmarks


def _rule_file(tmp_path, extra: str, code: str = "SEC901") -> Path:
    path = tmp_path / f"{code}.toml"
    path.write_text(
        f'code = "{code}"\nname = "x-{code.lower()}"\nseverity = "warning"\nsummary = "s"\n'
        'rationale = "r"\nfix = "f"\nbad = "b"\ngood = "g"\n' + extra
    )
    return path


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ('benchmarks = ["CIS 5.11"]', "names no known set"),
        ('benchmarks = ["CIS-2.4 "]', "names no known set"),
        ('benchmarks = "CIS-2.4 5.11"', "list of strings"),
        ("policy = true", "names the benchmarks"),
        ('policy = "yes"\nbenchmarks = ["CIS-2.4 9.1"]', "true or false"),
        ("[params]\nabove = 1\n[params.nist]\nabove = 2", "no such profile"),
        ("[params]\nabove = 1\n[params.cis]\nbelow = 2", "no default"),
    ],
)
def test_benchmark_keys_are_checked(tmp_path, extra, error):
    with pytest.raises(ConfigError, match=error):
        engine.parse_rule(_rule_file(tmp_path, extra))


def test_policy_rules_run_under_their_profile_only(tmp_path):
    policy = engine.parse_rule(
        _rule_file(tmp_path, 'policy = true\nbenchmarks = ["STIG AS24-U1-000010"]')
    )
    plain = engine.parse_rule(_rule_file(tmp_path, "", "SEC902"))
    codes = lambda **kw: [r.code for r in engine.selected([policy, plain], engine.Settings(**kw))]  # noqa: E731
    assert codes() == ["SEC902"]
    assert codes(profile="cis") == ["SEC902"]
    assert codes(profile="stig") == ["SEC901", "SEC902"]
    assert codes(select=["SEC"]) == ["SEC902"]  # a prefix does not turn policy on
    assert codes(select=["SEC901"]) == ["SEC901"]
    assert codes(profile="stig", ignore=["SEC901"]) == ["SEC902"]


def test_a_profile_sets_a_rules_threshold(tmp_path):
    rule = engine.parse_rule(
        _rule_file(
            tmp_path, 'benchmarks = ["CIS-2.4 9.1"]\n[params]\nabove = 59\n[params.cis]\nabove = 10'
        )
    )
    assert rule.param("above", engine.Settings()) == 59
    assert rule.param("above", engine.Settings(profile="cis")) == 10
    assert rule.param("above", engine.Settings(profile="stig")) == 59
