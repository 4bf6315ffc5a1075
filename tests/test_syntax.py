"""The reading rules of DESIGN.md's parser contract, one edge case at a time (syntax.py, render.py).

Each rule has a plain unit test with the value httpd gives; the tests marked `apache` feed the
same bytes to the real apache2 and compare what mod_info's DUMP_CONFIG prints with what
`logical_lines` and `split_args` make of them, so the expected values are httpd's, not ours.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from httpd_real import INFO_SO
from test_differential import httpd_nodes

from httpdlint.render import quote, render, render_line
from httpdlint.syntax import (
    MAX_LINE,
    Directive,
    LineTooLong,
    ascii_lower,
    decode,
    getword_conf,
    logical_lines,
    resolve_env,
    section_args,
    split_args,
)


def lines(text: str) -> list[tuple[int, str]]:
    return list(logical_lines(text))


# -- logical lines (ap_cfg_getline) --------------------------------------------------------


def test_lines_are_numbered_and_trimmed() -> None:
    assert lines("A 1\n\n  B 2 \t\n\v\fC 3\f\n") == [(1, "A 1"), (2, ""), (3, "B 2"), (4, "C 3")]


def test_last_line_without_newline() -> None:
    assert lines("A\nB") == [(1, "A"), (2, "B")]
    assert lines("") == []
    assert lines("\n") == [(1, "")]


def test_continuation_joins_lines_and_takes_the_last_number() -> None:
    assert lines("SetEnv A \\\n    b\nNext\n") == [(2, "SetEnv A     b"), (3, "Next")]
    assert lines("Set\\\nEnv A b\n") == [(2, "SetEnv A b")]
    assert lines("A \\\n B \\\n C\n") == [(3, "A  B  C")]


def test_continuation_with_crlf() -> None:
    assert lines("SetEnv A \\\r\n  b\r\nNext\r\n") == [(2, "SetEnv A   b"), (3, "Next")]
    # A CR that does not end a line is kept (and is whitespace to the word splitter).
    assert lines("A b\rc\r\n") == [(1, "A b\rc")]


def test_continuation_in_a_comment_joins_the_next_line_into_it() -> None:
    assert lines("# comment \\\nServerName hidden\nServerName shown\n") == [
        (2, "# comment ServerName hidden"),
        (3, "ServerName shown"),
    ]


def test_continuation_at_end_of_file_counts_one_more_line() -> None:
    assert lines("A\nB \\\n") == [(1, "A"), (3, "B")]
    # Without the newline the backslash is an ordinary character.
    assert lines("A\nB \\") == [(1, "A"), (2, "B \\")]


def test_continuation_looks_at_everything_read_so_far() -> None:
    # httpd removes one backslash, then checks the buffer again after each physical line:
    # "a\\" + empty line continues once more; "c\\" + "d" does not.
    assert lines("a\\\\\n\nb\n") == [(3, "ab")]
    assert lines("c\\\\\nd\n") == [(2, "c\\d")]
    assert lines("e\\\n\\\nf\n") == [(3, "ef")]


def test_backslash_inside_a_line_is_no_continuation() -> None:
    assert lines("A b\\ c\n") == [(1, "A b\\ c")]


def test_nul_ends_the_physical_line() -> None:
    assert lines("A b\0c d\nE\n") == [(1, "A b"), (2, "E")]
    assert lines("A \\\nb\0\\\nC\n") == [(2, "A b"), (3, "C")]


def test_line_longer_than_httpd_buffer() -> None:
    with pytest.raises(LineTooLong) as exc:
        lines("A\n" + "x" * (MAX_LINE + 2) + "\n")
    assert exc.value.line == 2


# -- words (ap_getword_conf) ---------------------------------------------------------------


def test_hash_is_a_comment_only_at_line_start() -> None:
    # Comments are the reader's decision on the trimmed line; a # later is part of a word.
    assert [line for _, line in lines("  # comment\nA b#c #d\n")] == ["# comment", "A b#c #d"]
    assert split_args("b#c #d") == ["b#c", "#d"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"a b" c', ["a b", "c"]),
        ("'a b' c", ["a b", "c"]),
        (r'"say \"hi\""', ['say "hi"']),
        (r"'it\'s'", ["it's"]),
        (r'"single \' stays"', ["single \\' stays"]),
        (r"'double \" stays'", ['double \\" stays']),
        (r'"back\\slash"', ["back\\slash"]),
        (r'"\n and \t stay"', ["\\n and \\t stay"]),
        (r"un\\quoted", ["un\\quoted"]),  # outside quotes only \\ collapses
        (r"a\"b", ['a\\"b']),
        (r"a\b", ["a\\b"]),
        ('""', [""]),
        ("'' x", ["", "x"]),
        ('"x"y', ["x", "y"]),
        ('x"y z"', ['x"y', 'z"']),
        ('"unterminated runs to the end', ["unterminated runs to the end"]),
        ("\t a \v b\f", ["a", "b"]),
        ('"tab\tinside"', ["tab\tinside"]),
        ("a\\", ["a\\"]),
        ('"a\\', ["a\\"]),
    ],
)
def test_split_args_like_getword_conf(text: str, words: list[str]) -> None:
    assert split_args(text) == words


def test_only_c_locale_whitespace_separates_words() -> None:
    # str.split() would also split at these; httpd's apr_isspace does not.
    for odd in ("\xa0", "\x1c", "\x1f", "\x85", "\u2003", "\u3000"):
        assert split_args(f"a{odd}b c") == [f"a{odd}b", "c"]
    assert split_args("a\vb\fc\rd") == ["a", "b", "c", "d"]


def test_getword_conf_returns_position_of_next_word() -> None:
    line = 'SetEnv  "A B"   c'
    word, pos = getword_conf(line)
    assert (word, line[pos:]) == ("SetEnv", '"A B"   c')
    word, pos = getword_conf(line, pos)
    assert (word, line[pos:]) == ("A B", "c")
    assert getword_conf("   ") == ("", 3)


def test_section_args_stop_at_the_last_bracket() -> None:
    assert section_args("*:80>") == ["*:80"]
    assert section_args('"/srv/a b" >') == ["/srv/a b"]
    assert section_args('"a>b">') == ["a>b"]
    assert section_args(">") == []
    assert section_args("no-bracket") == ["no-bracket"]


def test_names_compare_in_ascii_lowercase() -> None:
    assert Directive("KeepAlive", "On", "f", 1).lname == "keepalive"
    assert ascii_lower("<IfModule") == "<ifmodule"
    # The Kelvin sign is no "k" to httpd, whatever str.lower() says.
    assert ascii_lower("\u212aeepAlive") == "\u212aeepalive"


def test_non_utf8_bytes_are_read_not_rejected() -> None:
    data = b"# caf\xe9 \xff\xfe\nSetEnv A caf\xe9\n"
    text = decode(data)
    assert text.encode("utf-8", "surrogateescape") == data
    (_, comment), (_, line) = lines(text)
    assert comment.startswith("#")
    assert split_args(line) == ["SetEnv", "A", "caf\udce9"]


# -- variables (ap_resolve_env) --------------------------------------------------------------


def test_resolve_env() -> None:
    values = {"A": "1", "EMPTY": "", "B": "${A}"}
    get = values.get
    assert resolve_env("x ${A} y", get) == ("x 1 y", [])
    assert resolve_env("${EMPTY}", get) == ("", [])
    assert resolve_env("${B}", get) == ("${A}", [])  # values are not expanded again
    assert resolve_env("${NOPE}/${A}", get) == ("${NOPE}/1", ["NOPE"])
    assert resolve_env("${req:Host}", get) == ("${req:Host}", [])  # a colon: no warning
    assert resolve_env("$${A}$ $A {A}", get) == ("$1$ $A {A}", [])
    assert resolve_env("${A", get) == ("${A", [])
    assert resolve_env("${}", get) == ("${}", [""])
    assert resolve_env("no variables", get) == ("no variables", [])


# -- Directive -----------------------------------------------------------------------------


def test_directive_sections_and_paths() -> None:
    vhost = Directive("<VirtualHost", "*:80>", "f", 1, ["*:80"], [])
    d = Directive("<Directory", "/srv>", "f", 2, ["/srv"], [], parent=vhost)
    leaf = Directive("Require", "all granted", "f", 3, ["all", "granted"], parent=d)
    vhost.children.append(d)
    d.children.append(leaf)
    assert vhost.is_section and not leaf.is_section
    assert leaf.section_path() == ["VirtualHost *:80", "Directory /srv"]
    assert [n.name for n in vhost.walk()] == ["<VirtualHost", "<Directory", "Require"]


# -- render --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("plain", "plain"),
        ("a#b", "a#b"),
        ('mid"quote', 'mid"quote'),
        ("", '""'),
        ("a b", '"a b"'),
        ('"lead', '"\\"lead"'),
        ("'lead", '"\'lead"'),
        ("back\\slash", '"back\\\\slash"'),
        ("end\\", '"end\\\\"'),
        ("tab\there", '"tab\there"'),
        ("\xa0nbsp", "\xa0nbsp"),
    ],
)
def test_quote_gives_the_word_back(word: str, text: str) -> None:
    assert quote(word) == text
    assert split_args(text) == [word]


def test_quote_refuses_what_a_line_cannot_hold() -> None:
    for bad in ("a\nb", "a\0b"):
        with pytest.raises(ValueError):
            quote(bad)
    with pytest.raises(ValueError):
        render_line(Directive("", "", "f", 1))
    with pytest.raises(ValueError):
        render_line(Directive("Name>", "", "f", 1))


def test_render_sections() -> None:
    loc = Directive("<Location", "/a b>", "f", 2, ["/a b"], [])
    loc.children.append(Directive("Require", "all granted", "f", 3, ["all", "granted"]))
    nodes = [
        Directive("<Directory", ">", "f", 1, [], []),
        loc,
        Directive("SetEnv", 'A ""', "f", 5, ["A", ""]),
    ]
    assert render(nodes) == (
        "<Directory>\n"
        "</Directory>\n"
        '<Location "/a b">\n'
        "    Require all granted\n"
        "</Location>\n"
        'SetEnv A ""\n'
    )


# -- against the real binary ---------------------------------------------------------------

HEADER = (
    b"LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\n"
    b"LoadModule env_module /usr/lib/apache2/modules/mod_env.so\n"
    b"ErrorLog /dev/null\n"
    b"ServerName syntax.test\n"
)

# UnsetEnv takes any number of words, so every line below is one httpd accepts.
SNIPPETS = {
    "continuations": (
        b"UnsetEnv a\\\\\n\nb\n"
        b"UnsetEnv c\\\\\nd\n"
        b"#x \\\nUnsetEnv hidden-by-comment\n"
        b"UnsetEnv e\\\n\\\nf\n"
        b"UnsetEnv split \\\n   across \\\n lines\n"
        b"UnsetEnv k\\ l\n"
    ),
    "crlf": b"UnsetEnv g\\\r\nh\r\nUnsetEnv i \\\r\n  j\r\nUnsetEnv mid\rcr\r\n",
    "comments-and-space": (
        b"   \t UnsetEnv indented\t \n"
        b"  # an indented comment\n"
        b"UnsetEnv a#b #c\n"
        b"UnsetEnv vt\x0bsplit ff\x0csplit\n"
        b"unsetenv lower\nUNSETENV upper\n"
    ),
    "quotes": (
        b'UnsetEnv "q \\" q" \'s \\\' s\' "\\\\" \\\\ \\" \n'
        b"UnsetEnv \"x\"y 'a b'c \"\" ''\n"
        b'UnsetEnv "unterminated to the end\n'
        b'UnsetEnv "\\n \\t \\a" \'\\"\'\n'
    ),
    "bytes": (
        b"# \xff\xfe not UTF-8 in a comment\n"
        b"UnsetEnv caf\xe9 \xc3\x28 ok\n"
        b"UnsetEnv a\xc2\xa0b c\x1cd e\x85f\n"
        b"UnsetEnv nul\x00 rest is dropped\nUnsetEnv after-nul\n"
    ),
    "eof-continuation": b"UnsetEnv before\nUnsetEnv at-eof \\\n",
    "eof-no-newline": b"UnsetEnv before\nUnsetEnv no-newline \\",
}


def ours(data: bytes) -> list[tuple[int, str, list[str]]]:
    out = []
    for lineno, line in logical_lines(decode(data)):
        if not line or line[0] == "#":
            continue
        name, pos = getword_conf(line)
        if name:
            out.append((lineno, ascii_lower(name), split_args(line[pos:])))
    return out


@pytest.mark.apache
@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_lines_and_words_match_httpd(name: str, apache2_bin: str, tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    body = SNIPPETS[name]
    conf.write_bytes(HEADER + body)
    res = subprocess.run(
        [
            apache2_bin,
            "-d",
            str(tmp_path),
            "-f",
            str(conf),
            "-C",
            f"LoadModule info_module {INFO_SO}",
        ]
        + ["-t", "-D", "DUMP_CONFIG"],
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr.decode("utf-8", "replace")
    header_lines = HEADER.count(b"\n")
    theirs = [
        (line - header_lines, lname, args)
        for _, line, lname, args, _ in httpd_nodes(res.stdout.decode("utf-8", "surrogateescape"))
        if lname == "unsetenv"
    ]
    assert theirs == ours(body)
