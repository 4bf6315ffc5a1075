"""Every rule has must-fire and must-not-fire fixtures, run through the CLI in-process, and a
complete page.

Layout: tests/fixtures/rules/<CODE>/bad*.conf and good*.conf (or bad*/ and good*/ directories
holding httpd.conf): any number of each, at least one. In a bad fixture a comment
`# expect: <CODE>` stands right above the line the finding must point at (`# expect: <CODE>
line=N` names the line instead, and `file=NAME` another file of the fixture). A first line
`# args: ...` passes options to check.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from httpdlint import engine

RULES = Path(__file__).parent / "fixtures" / "rules"
CODES = sorted(engine.catalog())


def main_file(case: Path) -> Path:
    if case.is_dir():
        return case / "httpd.conf"
    return case


def fixtures(kind: str) -> list:
    """(code, case) for every fixture of this kind, every rule having at least one."""
    out = []
    for code in CODES:
        cases = sorted(
            p
            for p in (RULES / code).glob(f"{kind}*")
            if p.suffix == ".conf" or (p.is_dir() and (p / "httpd.conf").exists())
        )
        if not cases:
            cases = [RULES / code / f"{kind}.conf"]  # fails below: no fixture
        out.extend(pytest.param(code, case, id=f"{code}-{case.name}") for case in cases)
    return out


def extra_args(main: Path) -> list[str]:
    first = main.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    if first and first[0].startswith("# args:"):
        return shlex.split(first[0][len("# args:") :])
    return []


def expected(case: Path, code: str) -> set[tuple[str, int]]:
    """(file, line) pairs the bad fixture marks for this rule."""
    out = set()
    files = [case] if case.is_file() else sorted(p for p in case.rglob("*") if p.is_file())
    marker = re.compile(rf"#\s*expect:\s*{code}\b(.*)$")
    for path in files:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for i, line in enumerate(lines):
            m = marker.search(line)
            if not m:
                continue
            opts = dict(kv.split("=", 1) for kv in m.group(1).split())
            target = path if "file" not in opts else case / opts["file"]
            if "line" in opts:
                out.add((str(target.resolve()), int(opts["line"])))
                continue
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j].lstrip().startswith("#")):
                j += 1
            out.add((str(path.resolve()), j + 1))
    return out


def run_check(main: Path, code: str) -> tuple[int, list[dict], str]:
    """`httpdlint check MAIN --select CODE -f json ARGS`, in this process."""
    from typer.testing import CliRunner

    from httpdlint.cli import app

    args = ["check", str(main), "--select", code, "-f", "json", *extra_args(main)]
    res = CliRunner().invoke(app, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code in (0, 1), res.stderr
    doc = json.loads(res.stdout)
    return res.exit_code, [f for f in doc["findings"] if f["rule"] == code], res.stderr


@pytest.mark.parametrize(("code", "case"), fixtures("bad"))
def test_bad_fixture_reports_rule_at_marked_line(code: str, case: Path) -> None:
    assert case.exists(), f"rule {code} has no must-fire fixture under {RULES / code}"
    want = expected(case, code)
    assert want, f"{case} marks no `# expect: {code}` line"
    _, found, _ = run_check(main_file(case), code)
    got = {(f["file"], f["line"]) for f in found}
    assert want <= got, f"{code}: expected findings at {sorted(want)}, got {sorted(got)}"


@pytest.mark.parametrize(("code", "case"), fixtures("good"))
def test_good_fixture_is_clean(code: str, case: Path) -> None:
    assert case.exists(), f"rule {code} has no must-not-fire fixture under {RULES / code}"
    _, found, _ = run_check(main_file(case), code)
    assert not found, f"{code} fired on its good fixture {case.name}: {found}"


@pytest.mark.parametrize("code", CODES)
def test_rule_page_is_complete(code: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "rule", code], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    page = res.stdout
    rule = engine.catalog()[code]
    for heading in ("Why", "Fix", "Bad", "Good"):
        assert f"\n{heading}\n" in page, f"{code} page lacks {heading}"
    assert rule.summary in page
    for text in (rule.rationale, rule.fix, rule.bad, rule.good):
        assert text.strip(), f"{code} has an empty section"
