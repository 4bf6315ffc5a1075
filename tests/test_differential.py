"""httpdlint against the real apache2: the same files, in the same order, and the same directives.

For Debian's stock configuration and for each fixture tree under `tests/fixtures/trees/`, the
real binary is the judge: `apache2 -t -D DUMP_INCLUDES` gives the files in the order httpd
reads them, and mod_info's `-t -D DUMP_CONFIG` every directive httpd keeps, with its file,
line, nesting and argument text. `httpdlint dump --format json`, run as a subprocess, must say
exactly the same. Each tree is copied to a temporary directory first and passed to both as
the server root (`-d`), so relative paths resolve inside the copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from httpd_real import INFO_SO, apache_env, dump_includes

from httpdlint.output import sanitize

pytestmark = pytest.mark.apache

TREES = Path(__file__).parent / "fixtures" / "trees"
DEBIAN = Path("/etc/apache2")

# mod_info is loaded with -C for DUMP_CONFIG; httpdlint is told the same with --module, and
# DUMP_INCLUDES runs with the same -C, so both sides evaluate <IfModule> alike.
PRE = (f"LoadModule info_module {INFO_SO}",)


@dataclass(frozen=True)
class Case:
    """One run: a tree, its main file, the -D flags and extra environment."""

    tree: str
    main: str
    defines: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return "-".join([self.tree, *self.defines]) if self.defines else self.tree


CASES = [
    Case("rhel", "conf/httpd.conf"),
    Case("gentoo", "httpd.conf"),
    Case("gentoo", "httpd.conf", ("SSL", "INFO")),
    Case(
        "gentoo",
        "httpd.conf",
        ("DEFAULT_VHOST", "SSL", "SSL_DEFAULT_VHOST", "INFO", "STATUS", "USERDIR"),
    ),
    Case(
        "defines",
        "httpd.conf",
        env={"HTTPDLINT_FIXTURE_HOST": "fixture.example.org", "HTTPDLINT_FIXTURE_EMPTY": ""},
    ),
    Case(
        "defines",
        "httpd.conf",
        ("EXTRA",),
        env={"HTTPDLINT_FIXTURE_HOST": "env.example.org", "HTTPDLINT_FIXTURE_EMPTY": ""},
    ),
    Case("nested", "httpd.conf"),
    Case("globs", "httpd.conf"),
    Case("legacy22", "conf/httpd.conf"),
    Case("syntax", "httpd.conf"),
]


# -- what httpd says -----------------------------------------------------------------------


def getword_conf(s: str) -> list[str]:
    """httpd's ap_getword_conf applied until the text is used up: the judge's own splitter,
    written apart from httpdlint's so the comparison is not circular."""
    space = " \t\n\v\f\r"
    words = []
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in space:
            i += 1
        if i >= n:
            return words
        quote = s[i] if s[i] in "\"'" else ""
        start = i + 1 if quote else i
        j = start
        while j < n and (s[j] != quote if quote else s[j] not in space):
            if quote and s[j] == "\\" and j + 1 < n and s[j + 1] in (quote, "\\"):
                j += 2
            else:
                j += 1
        word, k = [], start
        while k < j:
            if s[k] == "\\" and k + 1 < j and (s[k + 1] == "\\" or (quote and s[k + 1] == quote)):
                k += 1
            word.append(s[k])
            k += 1
        words.append("".join(word))
        i = j + 1 if quote and j < n else j


def _args(name: str, text: str) -> list[str]:
    if name.startswith("<"):
        end = text.rfind(">")
        text = text[:end] if end >= 0 else text
    return getword_conf(text)


def _label(name: str, args: list[str]) -> str:
    return " ".join([name.lstrip("<").lower(), *args])


def httpd_nodes(stdout: str) -> list[tuple[str, int, str, list[str], list[str]]]:
    """(file, line, lowercase name, args, section path) for each node mod_info prints.

    mod_info prints a section before its first child, two spaces of indent per level, and a
    `#  NN:` line before every node; the close tags carry no line number and are skipped.
    httpd spells known directives its own way (`KeepAlive` for `keepalive`), so names
    compare in lowercase.
    """
    nodes = []
    stack: list[str] = []
    current = None
    lineno = None
    # split("\n"), not splitlines(): an argument may hold a CR or \x1c, which splitlines()
    # would take for line ends.
    for line in stdout.split("\n"):
        if line.startswith("# In file: "):
            current = line[len("# In file: ") :]
            continue
        m = re.match(r"^\s*#\s*(\d+):$", line)
        if m:
            lineno = int(m.group(1))
            continue
        if lineno is None or current is None:
            continue
        text = line.lstrip(" ")
        level = (len(line) - len(text)) // 2
        name, _, rest = text.partition(" ")
        args = _args(name, rest)
        del stack[level:]
        nodes.append((current, lineno, name.lower(), args, list(stack)))
        if name.startswith("<"):
            stack.append(_label(name, args))
        lineno = None
    return nodes


def httpd_dump_config(binary: str, conf: Path, root: Path, case: Case, env: dict) -> list:
    # Bytes, not text=True: universal newlines would turn a CR inside an argument into a line
    # end (run_apache reads text).
    cmd = [binary, "-d", str(root), "-f", str(conf)]
    for item in PRE:
        cmd += ["-C", item]
    for d in case.defines:
        cmd += ["-D", d]
    res = subprocess.run(
        [*cmd, "-t", "-D", "DUMP_CONFIG"], capture_output=True, env=env, timeout=60
    )
    stderr = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 0, f"apache2 -t failed:\n{stderr}"
    return httpd_nodes(res.stdout.decode("utf-8", "surrogateescape"))


# -- what httpdlint says -------------------------------------------------------------------


def httpdlint(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The installed command line, as a user runs it."""
    exe = shutil.which("httpdlint", path=str(Path(sys.executable).parent)) or shutil.which(
        "httpdlint"
    )
    cmd = [exe] if exe else [sys.executable, "-c", "from httpdlint.cli import main; main()"]
    return subprocess.run(
        [*cmd, *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        env=env,
        timeout=60,
    )


def ours(conf: Path, root: Path, case: Case, env: dict) -> dict:
    args = ["dump", str(conf), "--server-root", str(root), "--format", "json"]
    args += ["--module", "info_module"]
    for d in case.defines:
        args += ["-D", d]
    res = httpdlint(*args, env=env)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout)


def our_nodes(doc: dict) -> list[tuple[str, int, str, list[str], list[str]]]:
    out = []
    for d in doc["directives"]:
        section = []
        for label in d["section"]:
            head, sep, tail = label.partition(" ")
            section.append(head.lower() + sep + tail)
        out.append((d["file"], d["line"], d["name"].lower(), d["args"], section))
    return out


# -- the comparison ------------------------------------------------------------------------


def shown(nodes: list) -> list:
    """httpd's nodes as httpdlint writes every document: bytes that are not UTF-8 and control
    characters as \\xNN (output.sanitize, the one function every format uses)."""
    return [
        (sanitize(f), n, sanitize(name), [sanitize(a) for a in args], [sanitize(x) for x in sec])
        for f, n, name, args, sec in nodes
    ]


def compare(binary: str, conf: Path, root: Path, case: Case, env: dict) -> None:
    doc = ours(conf, root, case, env)
    files = dump_includes(binary, conf, root, env=env, defines=case.defines, pre=PRE)
    assert doc["files"] == [sanitize(f) for f in files]

    theirs = shown(httpd_dump_config(binary, conf, root, case, env))
    mine = our_nodes(doc)
    assert theirs, "mod_info printed nothing"
    missing = [n for n in theirs if n not in mine]
    extra = [n for n in mine if n not in theirs]
    assert not missing, f"httpd keeps these, httpdlint does not: {missing[:10]}"
    assert not extra, f"httpdlint keeps these, httpd does not: {extra[:10]}"
    assert mine == theirs  # and in the same order


def _copy(tree: str, tmp_path: Path) -> Path:
    root = tmp_path / tree
    shutil.copytree(TREES / tree, root, symlinks=True)
    for d in ("logs", "run", "htdocs", "cgi-bin"):
        (root / d).mkdir(exist_ok=True)
    return root


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fixture_tree(case: Case, apache2_bin: str, tmp_path: Path) -> None:
    root = _copy(case.tree, tmp_path)
    env = {**apache_env(), **case.env}
    compare(apache2_bin, root / case.main, root, case, env)


def test_debian_stock(apache2_bin: str, debian_conf: Path) -> None:
    """/etc/apache2 in place, with the environment apache2ctl builds from envvars."""
    conf = debian_conf
    env = apache_env(DEBIAN / "envvars")
    compare(apache2_bin, conf, DEBIAN, Case("debian", str(conf)), env)


def test_debian_stock_copy(apache2_bin: str, debian_conf: Path, tmp_path: Path) -> None:
    """The same configuration copied elsewhere: envvars and every path follow the copy."""
    root = tmp_path / "apache2"
    shutil.copytree(debian_conf.parent, root, symlinks=True)
    # sites-enabled and mods-enabled hold absolute links into /etc/apache2; keep them pointing
    # into the copy so both readers see the copied files.
    for link in root.rglob("*"):
        if link.is_symlink():
            target = os.readlink(link)
            if target.startswith(str(DEBIAN) + "/"):
                link.unlink()
                link.symlink_to(root / target[len(str(DEBIAN)) + 1 :])
    env = apache_env(root / "envvars")
    compare(apache2_bin, root / "apache2.conf", root, Case("debian-copy", "apache2.conf"), env)


def test_judge_splits_like_httpd() -> None:
    """The judge's splitter on the cases the comparison relies on."""
    assert getword_conf('a "b c"  d') == ["a", "b c", "d"]
    assert getword_conf(r'"q\"uote" \'s\\\' x') == ['q"uote', "\\'s\\\\'", "x"]
    assert getword_conf(r"'it\'s' e\\f g\"h") == ["it's", "e\\f", 'g\\"h']
    assert getword_conf('"x"y') == ["x", "y"]
    assert getword_conf('"open') == ["open"]
    assert getword_conf("") == []
