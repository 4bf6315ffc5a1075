"""Property tests of reading and writing configurations (hypothesis).

1. Configurations generated from a grammar (directive names, words that need quotes or
   escapes, nested sections with matching close tags in any case, comments, blank lines,
   continuations, CR LF ends, bytes that are not UTF-8) read back as the tree they were made
   from; `render` of that tree reads back the same, and renders the same text again.
2. Arbitrary bytes, read as a configuration file, raise nothing but ConfigError (loader
   API, many examples), and through the command line exit 0, 1 or 2 without a traceback.
"""

from __future__ import annotations

import contextlib
import string
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_differential import httpdlint

from httpdlint.errors import ConfigError
from httpdlint.loader import _CORE_EXEC, _MODULE_EXEC, LoadOptions, load
from httpdlint.render import render
from httpdlint.syntax import Directive

SPACE = " \t\v\f\r"
EXEC = set(_CORE_EXEC) | set(_MODULE_EXEC)

# -- the grammar -----------------------------------------------------------------------------


@dataclass
class Node:
    """A generated directive or section: what the file should read back as."""

    name: str
    args: list[str]
    children: list[Node] | None = None
    close: str = ""  # the close tag's spelling of the name (any case)
    seps: list[str] = field(default_factory=list)  # whitespace after each word
    quoting: list[int] = field(default_factory=list)  # a style per argument


def _name_ok(name: str) -> bool:
    return name.lower() not in EXEC and "<" + name.lower() not in EXEC


names = (
    st.text(string.ascii_letters, min_size=1, max_size=1)
    .flatmap(
        lambda first: st.text(string.ascii_letters + string.digits + "_-.", max_size=12).map(
            lambda rest: first + rest
        )
    )
    .filter(_name_ok)
)

# Characters that make quoting matter, C-locale whitespace and lookalikes, bytes that are not
# UTF-8 (read as lone surrogates), and anything else but NUL and newline.
specials = st.sampled_from(
    list(" \t\v\f\r\"'\\#<>${}") + ["\xa0", "\x1c", "\x85", "\u2003", "\udce9", "\udcff", "é"]
)
chars = st.one_of(
    specials,
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\0"),
)
words = st.text(chars, max_size=10)
seps = st.text(" \t", min_size=1, max_size=3)


def leaf() -> st.SearchStrategy[Node]:
    return st.builds(
        lambda name, args, s, q: Node(name, args, None, "", s, q),
        names,
        st.lists(words, max_size=5),
        st.lists(seps, min_size=6, max_size=6),
        st.lists(st.integers(0, 3), min_size=5, max_size=5),
    )


def section(children: st.SearchStrategy[list[Node]]) -> st.SearchStrategy[Node]:
    def make(name, args, kids, case, s, q):
        close = "".join(
            c.upper() if flip else c.lower() for c, flip in zip(name, case, strict=False)
        )
        return Node("<" + name, args, kids, close, s, q)

    return st.builds(
        make,
        names,
        st.lists(words, max_size=3),
        children,
        st.lists(st.booleans(), min_size=14, max_size=14),
        st.lists(seps, min_size=4, max_size=4),
        st.lists(st.integers(0, 3), min_size=3, max_size=3),
    )


trees = st.recursive(
    st.lists(leaf(), max_size=4),
    lambda kids: st.lists(st.one_of(leaf(), section(kids)), max_size=4),
    max_leaves=12,
)

comments = st.text(chars, max_size=20).filter(
    # A backslash at its end (before one CR at most) would swallow the next line.
    lambda c: not (c.endswith("\\") or c.endswith("\\\r"))
)


def quoted(word: str, style: int) -> str:
    """A word written so ap_getword_conf gives it back, in one of several valid styles:
    bare where that is safe, double or single quotes escaping all backslashes, or escaping
    only the backslashes that need it."""
    bare_ok = (
        word
        and word[0] not in "\"'"
        and "\\\\" not in word
        and not word.endswith("\\")
        and not any(c in SPACE for c in word)
    )
    if style == 0 and bare_ok:
        return word
    quote = "'" if style in (1, 3) else '"'
    if style >= 2:  # minimal: a backslash is literal unless a quote or backslash follows
        out = []
        for i, c in enumerate(word):
            nxt = word[i + 1] if i + 1 < len(word) else quote
            if c == "\\" and nxt in (quote, "\\"):
                out.append("\\\\")
            elif c == quote:
                out.append("\\" + quote)
            else:
                out.append(c)
        return quote + "".join(out) + quote
    return quote + word.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


@st.composite
def layouts(draw: st.DrawFn) -> dict:
    """How the text around the nodes looks: comments, blank lines, continuations, ends."""
    return {
        "comment": draw(st.lists(st.one_of(st.none(), comments), min_size=8, max_size=8)),
        "blank": draw(st.lists(st.sampled_from(["", " ", "\t \f"]), min_size=4, max_size=4)),
        "continue": draw(st.lists(st.booleans(), min_size=8, max_size=8)),
        "crlf": draw(st.booleans()),
        "indent": draw(st.sampled_from(["", "  ", "\t"])),
        "final_newline": draw(st.booleans()),
    }


def write_config(nodes: list[Node], layout: dict) -> str:
    """The text of a generated tree, with the layout's comments, blanks and continuations."""
    lines: list[str] = []
    counter = [0]

    def pick(key: str):
        seq = layout[key]
        counter[0] += 1
        return seq[counter[0] % len(seq)]

    def join(parts: list[str], gaps: list[str]) -> str:
        text = parts[0]
        for i, part in enumerate(parts[1:]):
            gap = gaps[i % len(gaps)]
            if pick("continue"):
                gap = gap + "\\\n" + gap  # a continuation between words
            text += gap + part
        return text

    def emit(items: list[Node], level: int) -> None:
        pad = layout["indent"] * level
        for node in items:
            comment = pick("comment")
            if comment is not None:
                lines.append(pad + "#" + comment)
            if pick("continue"):
                lines.append(pick("blank"))
            args = [quoted(a, node.quoting[i % len(node.quoting)]) for i, a in enumerate(node.args)]
            if node.children is None:
                lines.append(pad + join([node.name, *args], node.seps))
                continue
            head = join([node.name, *args], node.seps)
            lines.append(pad + head + (">" if not args or pick("continue") else " >"))
            emit(node.children, level + 1)
            lines.append(pad + "</" + node.close + ">")

    emit(nodes, 0)
    end = "\r\n" if layout["crlf"] else "\n"
    text = end.join(line.replace("\n", end) for line in lines)
    return text + end if layout["final_newline"] or not lines else text


# -- reading ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hypothesis")


def read_text(text: str, workdir: Path) -> list[Directive]:
    path = workdir / "httpd.conf"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return load(str(path), LoadOptions(server_root=str(workdir), env={})).tree


def shape(nodes) -> list:
    """Names as spelled, arguments and nesting: comparable between Node and Directive."""
    out = []
    for n in nodes:
        kids = n.children
        out.append((n.name, list(n.args), None if kids is None else shape(kids)))
    return out


# The loaded profile decides how many examples (conftest: 100 by default, 3000 "thorough").
SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(nodes=trees, layout=layouts())
def test_generated_config_reads_back_as_its_tree(nodes: list[Node], layout: dict, workdir) -> None:
    text = write_config(nodes, layout)
    assert shape(read_text(text, workdir)) == shape(nodes)


@SETTINGS
@given(nodes=trees, layout=layouts())
def test_render_parse_render_is_unchanged(nodes: list[Node], layout: dict, workdir) -> None:
    first = read_text(write_config(nodes, layout), workdir)
    text = render(first)
    second = read_text(text, workdir)
    assert shape(second) == shape(first)
    assert render(second) == text


@SETTINGS
@given(args=st.lists(words, min_size=1, max_size=6))
def test_render_quotes_any_word(args: list[str], workdir) -> None:
    node = Directive("SetEnv", "", "f", 1, args)
    (back,) = read_text(render([node]), workdir)
    assert back.args == args


# -- arbitrary bytes -------------------------------------------------------------------------

# Pieces of configuration syntax mixed into random bytes, so that the fuzzing reaches sections,
# conditions, includes and variables, not only "Invalid command". No "/" among them: an
# Include must stay inside the scratch directory.
FRAGMENTS = [
    b"\n",
    b"\r\n",
    b"\\\n",
    b" ",
    b"\t",
    b"#",
    b'"',
    b"'",
    b"\\",
    b"<",
    b">",
    b"</",
    b"<VirtualHost *:80>",
    b"</VirtualHost>",
    b"<Directory x>",
    b"</Directory>",
    b"<IfModule mod_so.c>",
    b"<IfModule !nope>",
    b"<IfModule nope>",
    b"</IfModule>",
    b"<IfDefine X>",
    b"</IfDefine>",
    b"<IfVersion >= 2.4>",
    b"<IfVersion",
    b"</IfVersion>",
    b"Define X y",
    b"UnDefine X",
    b"${X}",
    b"${",
    b"Include ",
    b"IncludeOptional ",
    b"*",
    b"[",
    b"x.conf",
    b"httpd.conf",
    b"LoadModule a_module b.so",
    b"ServerRoot ",
    b"\x00",
    b"\xff\xfe",
    b"\xc3\xa9",
]

config_bytes = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=8)), max_size=80).map(
        b"".join
    ),
)


def load_bytes(data: bytes, workdir: Path) -> None:
    path = workdir / "httpd.conf"
    path.write_bytes(data)
    opts = LoadOptions(server_root=str(workdir), env={}, max_files=50, max_bytes=1 << 20)
    with contextlib.suppress(ConfigError):
        load(str(path), opts)


@settings(
    max_examples=max(settings.default.max_examples * 3, 1000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=config_bytes)
def test_arbitrary_bytes_raise_only_config_error(data: bytes, workdir) -> None:
    load_bytes(data, workdir)


@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(batch=st.lists(config_bytes, min_size=3, max_size=3))
def test_arbitrary_bytes_through_the_cli(batch: list[bytes], tmp_path_factory) -> None:
    """A few files per example, `check` and `dump` on each, run side by side (each run
    starts a Python)."""
    jobs = []
    for data in batch:
        root = tmp_path_factory.mktemp("cli")
        (root / "httpd.conf").write_bytes(data)
        for command in ("check", "dump"):
            jobs.append([command, str(root / "httpd.conf"), "--server-root", str(root)])
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda args: httpdlint(*args), jobs))
    for args, res in zip(jobs, results, strict=True):
        assert res.returncode in (0, 1, 2), (args, res.stderr)
        assert "Traceback" not in res.stderr, (args, res.stderr)
        if res.returncode == 2:
            assert res.stderr.count("\n") == 1, (args, res.stderr)


@pytest.mark.parametrize(
    "data",
    [
        b"<IfModule nope>\n" + b"<a>\n" * 3000 + b"</a>\n" * 3000 + b"</IfModule>\n",
        b"<a>\n" * 3000 + b"X\n" + b"</a>\n" * 3000,
        b"<IfModule mod_so.c>\n" * 500,
        b"\\\n" * 5000,
        b"x" * 100_000,
    ],
    ids=["deep-skipped", "deep-sections", "deep-conditions", "continuations", "long-line"],
)
def test_deep_and_long_input(data: bytes, workdir: Path) -> None:
    load_bytes(data, workdir)
