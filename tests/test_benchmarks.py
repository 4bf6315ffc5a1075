"""The benchmark map (issue 15, must show 1): the rule files' `benchmarks` IDs, the control data
(src/httpdlint/controls) and docs/benchmarks.md agree.

Every ID a rule file names is a control of the data, and so a row of docs/benchmarks.md; every
control is mapped or says why not (with its reason); every mapped row names an existing rule;
each set's distinct IDs are counted (and printed, for the issue's note); the committed
document is what scripts/benchmarks_doc.py generates.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from httpdlint import controls, engine
from httpdlint.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC = REPO_ROOT / "docs" / "benchmarks.md"
SCRIPT = REPO_ROOT / "scripts" / "benchmarks_doc.py"

#: Every set's distinct control IDs: the published lists (the control files' notes say where
#: each comes from).
COUNTS = {"cis": 87, "stig": 74, "dev-sec": 14, "mozilla": 32, "lintian": 3, "lynis": 17}


def _script():
    spec = importlib.util.spec_from_file_location("benchmarks_doc", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows() -> dict[str, dict[str, str]]:
    """docs/benchmarks.md's table rows: set key -> control id -> the httpdlint column."""
    rows: dict[str, dict[str, str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        anchor = re.fullmatch(r'<a id="([^"]+)"></a>', line)
        if anchor:
            current = rows.setdefault(anchor.group(1), {})
        elif current is not None and line.startswith("| ") and not line.startswith("| ID "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            current[cells[0]] = cells[2]
    return rows


def test_the_rule_files_and_the_control_data_agree():
    assert controls.problems(engine.catalog().values()) == []


def test_every_benchmarks_id_is_a_control_and_a_row_of_the_document():
    known = {c.full_id: c for b in controls.sets().values() for c in b.controls}
    rows = _rows()
    for rule in engine.catalog().values():
        for ident in rule.benchmarks:
            assert ident in known, f"{rule.code} names {ident!r}, which is no control"
            control = known[ident]
            assert rule.code in rows[control.set][control.id], (rule.code, ident)


def test_every_control_is_mapped_or_says_why_not():
    named = controls.mapping(engine.catalog().values())
    for bench in controls.sets().values():
        for control in bench.controls:
            if control.status is None:
                assert named.get(control.full_id), control.full_id
            else:
                assert control.status in controls.STATUSES and control.reason, control.full_id
                assert control.full_id not in named, control.full_id


def test_every_mapped_row_names_an_existing_rule_and_every_other_row_its_reason():
    catalog = engine.catalog()
    rows = _rows()
    sets = controls.sets()
    assert set(rows) == set(sets)
    for key, bench in sets.items():
        assert [c.id for c in bench.controls] == list(rows[key])
        for control in bench.controls:
            text = rows[key][control.id]
            if control.status is None:
                codes = re.findall(r"\b([A-Z]{3}\d{3})\b", text.split(" (partly:")[0])
                assert codes and all(code in catalog for code in codes), (control.full_id, text)
            else:
                lead = {
                    "not-decidable": "not decidable from configuration: needs ",
                    "not-implemented": "not implemented: ",
                    "manual": "manual: ",
                }[control.status]
                assert text.startswith(lead) and len(text) > len(lead) + 5, text


def test_each_sets_distinct_ids_are_counted(capsys):
    sets = controls.sets()
    found = {key: len({c.id for c in bench.controls}) for key, bench in sets.items()}
    named = controls.mapping(engine.catalog().values())
    with capsys.disabled():
        for key, bench in sets.items():
            mapped = sum(c.status is None for c in bench.controls)
            partly = sum(c.status is None and bool(c.partial) for c in bench.controls)
            rule_ids = {c.full_id for c in bench.controls if c.full_id in named}
            print(
                f"\n{key}: {found[key]} distinct controls ({bench.name} {bench.version}); "
                f"{mapped} mapped ({partly} partly), {len(rule_ids)} named by rule files"
            )
    assert found == COUNTS
    assert all(len(b.controls) == found[k] for k, b in sets.items())  # no ID twice
    cis = [c.id for c in sets["cis"].controls]
    sections = {int(i.split(".")[0]) for i in cis}
    assert sections == set(range(1, 13)) and cis[0] == "1.1" and cis[-1] == "12.3"
    stig = [c.id for c in sets["stig"].controls]
    assert sum(i.startswith("AS24-U1-") for i in stig) == 47
    assert sum(i.startswith("AS24-U2-") for i in stig) == 27
    assert [c.id for c in sets["dev-sec"].controls] == [f"apache-{n:02d}" for n in range(1, 15)]


def test_every_set_names_its_version_and_public_source_in_the_document():
    text = DOC.read_text(encoding="utf-8")
    for bench in controls.sets().values():
        assert bench.version and bench.source.startswith("https://")
        assert f"## {bench.name} {bench.version}" in text
        assert f"<{bench.source}>" in text


def test_the_committed_document_is_current():
    assert DOC.read_text(encoding="utf-8") == _script().render(), (
        "docs/benchmarks.md is out of date: run python3 scripts/benchmarks_doc.py"
    )


def test_the_profiles_have_their_sets():
    for profile in engine.PROFILES:
        bench = controls.for_profile(profile)
        assert all(c.full_id.startswith(engine.PROFILES[profile]) for c in bench.controls)
    with pytest.raises(ConfigError, match="unknown benchmark 'nist': one of cis, dev-sec"):
        controls.for_profile("nist")


# ----------------------------------------------------------------------- the data's checks


def _set(body: str) -> str:
    return f'name = "X"\nversion = "1"\nsource = "https://x"\nprefix = "lynis "\n{body}'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (_set('[[controls]]\nid = "A"\ntitle = "t"\nstatus = "later"\nwhy = "w"'), "status must"),
        (_set('[[controls]]\nid = "A"\ntitle = "t"\nstatus = "not-decidable"'), "needs must"),
        (
            _set('[[controls]]\nid = "A"\ntitle = "t"\nstatus = "manual"\nneeds = "x"\nwhy = "w"'),
            "needs goes with",
        ),  # fmt: skip
        (_set('[[controls]]\nid = "A"\ntitle = "t"\nwhy = "w"'), "why goes with"),
        (
            _set(
                '[[controls]]\nid = "A"\ntitle = "t"\nstatus = "manual"\nwhy = "w"\npartial = "p"'
            ),
            "partial is for",
        ),  # fmt: skip
        (_set('[[controls]]\nid = "A"\ntitle = "t"\n[[controls]]\nid = "A"\ntitle = "u"'), "twice"),
        (_set('[[controls]]\nid = "A"\ntitle = ""'), "title must"),
        (_set('[[controls]]\nid = "A"\ntitle = "t"\nrule = "SEC001"'), "unknown key"),
        (_set(""), "no \\[\\[controls\\]\\]"),
        (_set('profile = "cis"\n[[controls]]\nid = "A"\ntitle = "t"'), "does not take IDs"),
        ('name = "X"\nversion = "1"\nsource = "s"\nprefix = "NIST "\n', "prefix 'NIST '"),
        ("name = [", "invalid control file"),
    ],
)
def test_bad_control_data_is_one_line_naming_the_file(text, error):
    with pytest.raises(ConfigError, match=error) as caught:
        controls.parse_set("x", text, "controls/x.toml")
    assert "controls/x.toml" in str(caught.value) and "\n" not in str(caught.value)


def test_problems_name_each_disagreement(monkeypatch):
    fake = controls.parse_set(
        "lynis",
        _set(
            '[[controls]]\nid = "A"\ntitle = "unmapped"\n'
            '[[controls]]\nid = "B"\ntitle = "both"\nstatus = "manual"\nwhy = "w"'
        ),
        "controls/lynis.toml",
    )
    monkeypatch.setattr(controls, "sets", lambda: {"lynis": fake})

    class Rule:
        def __init__(self, code, ids):
            self.code, self.benchmarks = code, ids

    found = controls.problems([Rule("SEC001", ["lynis B", "lynis Z"])])
    assert found == [
        "SEC001: 'lynis Z' is no control of the data in controls/",
        "lynis A: no rule's benchmarks name it; give it a status (not-decidable, "
        "not-implemented, manual) and its reason in controls/lynis.toml",
        "lynis B: SEC001 answer it, but controls/lynis.toml says manual: drop the status "
        "(and give `partial` if the rules answer only part of it)",
    ]


def test_the_control_data_ships_in_the_wheel_config():
    """Inside the package directory, so the wheel (and the single file built from it) holds
    it as it holds data/*.json; rules/ is force-included from the repository root."""
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'packages = ["src/httpdlint"]' in pyproject
    assert sorted(p.name for p in (REPO_ROOT / "src/httpdlint/controls").glob("*.toml")) == sorted(
        f"{k}.toml" for k in COUNTS
    )
