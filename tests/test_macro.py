"""mod_macro as httpd 2.4 expands it (modules/core/mod_macro.c).

Unit tests read small trees through the loader: `<Macro>` bodies stored unread, `Use`
substituting `$`, `%` and `@` parameters and splicing the result into the text being read,
`UndefMacro`, nesting, recursion and argument counts refused with httpd's words, the warnings
httpd logs, and where an expanded directive is: at its `Use` line in a real file for findings,
and in httpd's own expansion "file" for `dump`.

The differential tests (marked `apache`) run the real apache2 with mod_macro over the trees
in tests/fixtures/macro/: `httpdlint dump` prints exactly what `-D DUMP_CONFIG` prints, as
text and as JSON, the files are `-D DUMP_INCLUDES`', the warnings are the ones httpd logs, and
for each tree in refusals/ both refuse: apache2 exits non-zero, httpdlint exits 2 with one
line on stderr holding httpd's message.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from httpd_real import INFO_SO, apache_env, dump_includes
from test_differential import httpd_nodes, httpdlint, our_nodes

from httpdlint.dump import dump_json, dump_text
from httpdlint.errors import ConfigError
from httpdlint.findings import Finding
from httpdlint.loader import Config, LoadOptions, load
from httpdlint.macro import _get_arguments, _substitute
from httpdlint.syntax import Directive, MacroOrigin, walk

FIXTURES = Path(__file__).parent / "fixtures" / "macro"
MODS = "/usr/lib/apache2/modules"
HEAD = f"""\
LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so
LoadModule macro_module {MODS}/mod_macro.so
ServerName macro.example
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def read(root: Path, text: str, **options) -> Config:
    """The tree whose main file is `text` (after HEAD unless it loads its own modules)."""
    main = text if text.startswith("LoadModule") or options.pop("bare", False) else HEAD + text
    write(root, {"httpd.conf": main})
    options.setdefault("server_root", str(root))
    options.setdefault("env", {})
    return load(str(root / "httpd.conf"), LoadOptions(**options))


def refused(root: Path, text: str, **options) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        read(root, text, **options)
    return exc.value


def nodes(config: Config) -> list[tuple[str, str]]:
    return [(d.name, d.raw) for d in walk(config.tree)]


def warnings(config: Config) -> list[str]:
    return [message for _, _, message in config.notes]


# -- substitution --------------------------------------------------------------------------


def test_parameters_are_replaced_left_to_right_longest_first() -> None:
    assert _substitute("a $x b $x", ["$x"], ["1"], None) == "a 1 b 1"
    # At one place the longest name wins; elsewhere the earliest place.
    assert _substitute("$ab $a", ["$a", "$ab"], ["1", "2"], None) == "2 1"
    # A name inside a word is replaced all the same: mod_macro knows no word boundaries.
    assert _substitute("x$a.y", ["$a"], ["v"], None) == "xv.y"
    assert _substitute("%p and $p", ["%p", "$p"], ["1", "2"], None) == "1 and 2"


def test_at_parameters_are_quoted_and_escaped() -> None:
    assert _substitute("Header set X @c", ["@c"], ['say "hi" \\ x'], None) == (
        'Header set X "say \\"hi\\" \\\\ x"'
    )
    assert _substitute("@c", ["@c"], [""], None) == '""'
    # A value equal to its parameter's name is left alone, unquoted ("hmmm???" in httpd).
    assert _substitute("@c", ["@c"], ["@c"], None) == "@c"


def test_search_goes_on_after_as_many_characters_as_the_value_has() -> None:
    # `$`: the value is skipped whole, a name inside it stays.
    assert _substitute("$x", ["$x", "$y"], ["a$y", "Z"], None) == "a$y"
    # `@`: the quotes and escapes make the text longer than the value, so the search resumes
    # inside it and finds `$y` there.
    assert _substitute("@x", ["@x", "$y"], ['a"$y', "Z"], None) == '"a\\"Z"'


def test_a_line_that_outgrows_the_buffer_is_refused() -> None:
    assert _substitute("$x", ["$x"], ["a" * 8190], None) == "a" * 8190
    assert _substitute("$x", ["$x"], ["a" * 8191], None) is None


def test_use_values_split_like_httpd_words() -> None:
    assert _get_arguments(' a \'b c\'  "d \\" e" f\\g ') == ["a", "b c", 'd " e', "f\\g"]
    assert _get_arguments('"" x') == ["", "x"]
    assert _get_arguments("") == []


def test_used_parameters_are_found_as_substitution_finds_them() -> None:
    used = [False, False]
    _substitute("$ab", ["$a", "$ab"], ["$a", "$ab"], used)
    assert used == [False, True]


# -- expansion -----------------------------------------------------------------------------


def test_expanded_directives_are_at_the_use_line_and_name_the_macro(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<Macro VHost $name %port>\n"  # line 4
        "  <VirtualHost *:%port>\n"
        "    ServerName $name\n"
        "\n"
        "    # a comment: httpd drops it from the body, and keeps the blank line\n"
        "    ServerAlias www.$name\n"
        "  </VirtualHost>\n"
        "</Macro>\n"
        "Use VHost a.example 80\n"  # line 12
        "use vhost b.example 81\n",
    )
    main = str(tmp_path / "httpd.conf")
    vhosts = [d for d in config.tree if d.lname == "<virtualhost"]
    assert [v.args for v in vhosts] == [["*:80"], ["*:81"]]
    assert [(c.name, c.args) for c in vhosts[1].children] == [
        ("ServerName", ["b.example"]),
        ("ServerAlias", ["www.b.example"]),
    ]
    alias = vhosts[0].children[1]
    assert (alias.file, alias.line) == (main, 12)
    where = f'macro \'vhost\' (defined on line 4 of "{main}") used on line 12 of "{main}"'
    assert alias.macro == MacroOrigin("vhost", main, 4, where, 4)
    assert alias.macro.as_json() == {"name": "vhost", "file": main, "line": 4}
    assert alias.parent is vhosts[0]
    assert vhosts[1].line == 13 and vhosts[1].macro.httpd_line == 1
    # Neither the definition nor the Use is a node of the tree, as in DUMP_CONFIG.
    assert not [d for d in walk(config.tree) if d.lname in ("<macro", "use")]
    assert [d.lname for d in config.exec_directives][-3:] == ["<macro", "use", "use"]
    assert [(m.name, m.params, m.uses) for m in config.macros] == [("vhost", ["$name", "%port"], 2)]


def test_nested_expansion_is_at_the_outermost_use_and_names_the_inner_macro(
    tmp_path: Path,
) -> None:
    main = tmp_path / "httpd.conf"
    config = read(
        tmp_path,
        "<Macro Inner $y>\n"  # 4
        "  ServerAlias inner-$y\n"
        "</Macro>\n"
        "<Macro Outer $x>\n"  # 7
        "  ServerAdmin $x@example.org\n"
        "  Use Inner $x-in\n"
        "</Macro>\n"
        "<VirtualHost *:80>\n"
        "  Use Outer q\n"  # 12
        "</VirtualHost>\n",
    )
    admin, alias = config.tree[1].children
    assert (alias.name, alias.args) == ("ServerAlias", ["inner-q-in"])
    assert (admin.file, admin.line, alias.file, alias.line) == (str(main), 12, str(main), 12)
    assert (admin.macro.name, admin.macro.line) == ("outer", 7)
    assert (alias.macro.name, alias.macro.line) == ("inner", 4)
    outer = f'macro \'outer\' (defined on line 7 of "{main}") used on line 12 of "{main}"'
    assert alias.macro.httpd_file == (
        f'macro \'inner\' (defined on line 4 of "{main}") used on line 2 of "{outer}"'
    )


def test_a_section_may_open_in_one_expansion_and_close_in_another(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<Macro Open $path>\n"
        "  <Location $path>\n"
        "</Macro>\n"
        "<Macro Close>\n"
        "  </Location>\n"
        "</Macro>\n"
        "Use Open /status\n"
        "  SetHandler server-status\n"
        "Use Close\n"
        "ServerAdmin after@example.org\n",
    )
    assert [(d.name, d.raw, d.line) for d in config.tree[1:]] == [
        ("<Location", "/status>", 10),
        ("ServerAdmin", "after@example.org", 13),
    ]
    handler = config.tree[1].children[0]
    assert (handler.name, handler.line, handler.macro) == ("SetHandler", 11, None)
    assert any("AH02795: bad cumulated nesting (+1) in macro 'open'" in w for w in warnings(config))


def test_a_body_is_not_read_where_it_is_defined(tmp_path: Path) -> None:
    """Nothing in a macro that is never used is read as configuration: not its includes,
    its macros, its sections, nor its variables."""
    config = read(
        tmp_path,
        "<Macro Never $x>\n"
        "  Include missing/$x.conf\n"
        "  Use Undefined\n"
        "  </Directory>\n"
        "  ServerAdmin ${UNDEFINED_VARIABLE}\n"
        "</Macro>\n",
    )
    assert nodes(config) == [("ServerName", "macro.example")]
    assert config.undefined == []
    assert warnings(config)[-1] == (
        f"macro 'never' (defined on line 4 of \"{tmp_path / 'httpd.conf'}\") is never used: "
        "its body is not checked"
    )


def test_conditions_defines_and_includes_act_where_the_macro_is_used(tmp_path: Path) -> None:
    write(tmp_path, {"conf.d/site.conf": "ServerAlias ${SITE}.alias\n"})
    config = read(
        tmp_path,
        "<Macro H $v>\n"
        "  <IfModule headers_module>\n"
        "    Header set X-V $v\n"
        "  </IfModule>\n"
        "  <IfModule !headers_module>\n"
        "    ServerAdmin $v@example.org\n"
        "  </IfModule>\n"
        "  <IfModule rewrite_module>\n"
        "    Use NoSuchMacro\n"
        "  </IfModule>\n"
        "  Define SITE $v\n"
        "  Include conf.d/site.conf\n"
        "</Macro>\n"
        "Use H early\n"
        f"LoadModule headers_module {MODS}/mod_headers.so\n"
        "Use H late\n"
        "ServerAdmin ${SITE}@example.org\n",
    )
    assert nodes(config)[1:] == [
        ("ServerAdmin", "early@example.org"),
        ("ServerAlias", "early.alias"),
        ("Header", "set X-V late"),
        ("ServerAlias", "late.alias"),
        ("ServerAdmin", "late@example.org"),
    ]
    assert config.files == [str(tmp_path / "httpd.conf"), str(tmp_path / "conf.d/site.conf")]
    # The included file's lines are its own; its Include was read from the expansion.
    alias = [d for d in walk(config.tree) if d.lname == "serveralias"][0]
    assert (alias.file, alias.line, alias.macro) == (str(tmp_path / "conf.d/site.conf"), 1, None)


def test_a_macro_may_define_a_macro(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<Macro MakeAlias $n>\n"
        "  <Macro Alias$n $target>\n"
        "    Alias /$n $target\n"
        "  </Macro>\n"
        "</Macro>\n"
        "Use MakeAlias docs\n"  # 9
        "Use AliasDocs /srv/docs\n",  # 10
    )
    alias = config.tree[-1]
    assert (alias.name, alias.args, alias.line) == ("Alias", ["/docs", "/srv/docs"], 10)
    # The inner macro was defined by the expansion at line 9: that is where it is.
    assert (alias.macro.name, alias.macro.file, alias.macro.line) == (
        "aliasdocs",
        str(tmp_path / "httpd.conf"),
        9,
    )
    assert alias.macro.httpd_file.startswith("macro 'aliasdocs' (defined on line 1 of \"macro")


def test_macro_may_appear_in_any_section_and_macros_are_global(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<VirtualHost *:80>\n"
        "  <Directory /srv>\n"
        "    <Macro Opts $o>\n"
        "      Options $o\n"
        "    </Macro>\n"
        "    Use Opts None\n"
        "  </Directory>\n"
        "</VirtualHost>\n"
        "Use Opts FollowSymLinks\n",
    )
    vhost, options = config.tree[1], config.tree[2]
    assert [(d.name, d.raw) for d in vhost.children[0].children] == [("Options", "None")]
    assert (options.name, options.raw, options.parent) == ("Options", "FollowSymLinks", None)


def test_undefmacro_and_redefinition(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<Macro M $x>\n"
        "  ServerAdmin first-$x\n"
        "</Macro>\n"
        "Use M a\n"
        "UndefMacro m\n"
        "<Macro m $x>\n"
        "  ServerAdmin second-$x\n"
        "</Macro>\n"
        "<Macro M $x>\n"
        "  ServerAdmin third-$x\n"
        "</Macro>\n"
        "Use M b\n",
    )
    assert nodes(config)[1:] == [("ServerAdmin", "first-a"), ("ServerAdmin", "third-b")]
    main = tmp_path / "httpd.conf"
    assert (
        f"AH02802: macro 'm' multiply defined: defined on line 9 of \"{main}\", redefined on "
        f'line 12 of "{main}"'
    ) in warnings(config)
    # The second definition was replaced before any use: httpdlint says so.
    assert [(m.line, m.uses) for m in config.macros] == [(4, 1), (9, 0), (12, 1)]


def test_continuation_and_blank_lines_count_as_httpd_counts_them(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<Macro M $x>\n"
        "  ServerAlias a \\\n"
        "     b-$x\n"
        "\n"
        "# dropped\n"
        "\n"
        "  ServerAdmin $x\n"
        "</Macro>\n"
        "Use M v\n",
    )
    alias, admin = config.tree[1:]
    assert (alias.raw, alias.macro.httpd_line) == ("a      b-v", 1)
    assert (admin.raw, admin.macro.httpd_line) == ("v", 4)


def test_a_value_ending_in_a_backslash_continues_the_line(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        '<Macro M $x>\n  ServerAlias a$x\n  b\n  ServerAdmin c\n</Macro>\nUse M "\\\\"\n',
    )
    assert [(d.name, d.raw, d.macro.httpd_line) for d in config.tree[1:]] == [
        ("ServerAlias", "ab", 2),
        ("ServerAdmin", "c", 3),
    ]


def test_body_lines_longer_than_the_buffer_end_the_body(tmp_path: Path) -> None:
    ok = read(tmp_path, f"<Macro L>\nServerAlias {'a' * 8178}\n</Macro>\nUse L\n")
    assert len(ok.tree[-1].raw) == 8178
    exc = refused(tmp_path, f"<Macro L>\nServerAlias {'a' * 8179}\n</Macro>\nUse L\n")
    assert exc.message.endswith("contents error: expected token not found: </Macro>")


# -- warnings ------------------------------------------------------------------------------


def test_warnings_httpd_logs(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<Macro Unused $a $b>\n"  # 4
        "  ServerAdmin $a\n"
        "</Macro>\n"
        "<Macro Empty>\n"  # 7
        "</Macro>\n"
        "<Macro Pre $a $ab x>\n"  # 9
        "  ServerAdmin $a $ab x\n"
        "</Macro> trailing\n"  # 11
        "<Macro $dollar /Bogus ${NOPE} $(ok)> trailing\n"  # 12
        "  ServerAdmin ${NOPE} $(ok)\n"
        "</Macro>\n"
        "Use Unused '' \"\"\n"  # 15
        "Use $dollar x y\n",
    )
    main = tmp_path / "httpd.conf"

    def at(n: int) -> str:
        return f'defined on line {n} of "{main}"'

    assert warnings(config) == [
        f"AH02800: macro 'unused' ({at(4)}): argument '$b' (#2) never used",
        f"AH02799: macro 'empty' ({at(7)}): empty contents!",
        f"AH02797: macro 'pre' ({at(9)}): argument name prefix conflict ($a #1 and $ab #2), "
        "be careful about your macro definition!",
        f"AH02796: macro 'pre' ({at(9)}) argument name 'x' (#3) without expected prefix, "
        "better prefix argument names with one of '$%@'.",
        f"AH02989: AH02794: non blank chars found after directive closing on line 11 of "
        f"{main}:  trailing",
        f"AH02989: AH02801: non blank chars found after <Macro closing '>' on line 12 of "
        f"{main}:  trailing",
        f"AH02803: macro '$dollar' ({at(12)}) better prefix a macro name with any of '$%@'",
        f"AH02804: macro '$dollar' ({at(12)}): unknown flag '/Bogus'",
        f"AH02805: macro '$dollar' ({at(12)}) argument name '${{NOPE}}' (#1) clashes with "
        "'Define' syntax '${...}', better use '$(...)'.",
        f"AH02798: macro 'unused' ({at(4)}) used on line 15 of \"{main}\": empty argument #1",
        f"AH02798: macro 'unused' ({at(4)}) used on line 15 of \"{main}\": empty argument #2",
        f"macro 'empty' ({at(7)}) is never used: its body is not checked",
        f"macro 'pre' ({at(9)}) is never used: its body is not checked",
    ]
    assert ("NOPE", str(main), 12) in config.undefined  # the <Macro> line itself is resolved
    assert nodes(config)[-1] == ("ServerAdmin", "x y")


def test_empty_values_are_not_warned_about_when_told(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<Macro A /IgnoreEmptyArgs $x>\n  ServerAdmin a$x\n</Macro>\n"
        "<Macro B /ignorebadnesting/IgnoreEmptyArgs $x>\n  ServerAdmin b$x\n</Macro>\n"
        # A redefinition keeps the flags of the macro it replaces (httpd reuses it).
        "<Macro A $x>\n  ServerAdmin c$x\n</Macro>\n"
        'Use A ""\nUse B ""\n',
    )
    assert [w[:8] for w in warnings(config) if w.startswith("AH")] == [
        "AH02804:",  # /IgnoreEmptyArgs right after another flag is an unknown flag
        "AH02802:",
        "AH02798:",  # for B alone: A, redefined without the flag, keeps it
    ]
    assert "macro 'b'" in [w for w in warnings(config) if w.startswith("AH02798")][0]
    config = read(
        tmp_path, 'MacroIgnoreEmptyArgs\n<Macro A $x>\n  ServerAdmin a$x\n</Macro>\nUse A ""\n'
    )
    assert not [w for w in warnings(config) if w.startswith("AH02798")]


# -- refusals ------------------------------------------------------------------------------

REFUSALS = [
    ("Use M\n", 4, "no macro defined before Use"),
    ("UndefMacro M\n", 4, "no macro defined before UndefMacro"),
    ("<Macro M>\nServerAdmin x\n</Macro>\nUse\n", 7, "no macro name specified with Use"),
    ("<Macro M>\nServerAdmin x\n</Macro>\nUse N\n", 7, "macro 'n' undefined"),
    (
        "<Macro M $a $b>\nServerAdmin $a$b\n</Macro>\nUse M 1\n",
        7,
        "macro 'm' (defined on line 4 of \"{main}\") used with 1 arguments instead of 2",
    ),
    (
        "<Macro M>\nServerAdmin x\n</Macro>\nUndefMacro M N\n",
        7,
        "UndefMacro takes one argument, Remove a macro definition.",
    ),
    ("<Macro M>\nServerAdmin x\n</Macro>\nUndefMacro N\n", 7, "cannot remove undefined macro 'n'"),
    ("<Macro M\n</Macro>\n", 4, "<Macro> directive missing closing '>'"),
    ("<Macro>\n</Macro>\n", 4, "<Macro macro definition: empty name"),
    ('<Macro "">\n</Macro>\n', 4, "<Macro macro definition: name not found"),
    (
        '<Macro M "" $x>\n</Macro>\n',
        4,
        "macro 'm' (defined on line 4 of \"{main}\"): empty argument #1 name",
    ),
    (
        "<Macro M $x $x>\n</Macro>\n",
        4,
        "argument name conflict in macro 'm' (defined on line 4 of \"{main}\"): argument '$x': "
        "#1 and #2, change argument names!",
    ),
    (
        "<Macro M>\nServerAdmin x\n",
        4,
        "macro 'm' (defined on line 4 of \"{main}\")\\n\\tcontents error: expected token not "
        "found: </Macro>",
    ),
    # `</Macro >` is not the end token: its first word is `</Macro`.
    (
        "<Macro M>\nServerAdmin x\n</Macro >\n",
        4,
        "macro 'm' (defined on line 4 of \"{main}\")\\n\\tcontents error: expected token not "
        "found: </Macro>",
    ),
    ("</Macro>\n", 4, "</Macro> without matching <Macro> section"),
    (
        "<Macro L $x>\nServerAlias $x\n</Macro>\nUse L " + "a" * 8179 + "\n",
        7,
        'macro \'l\' (defined on line 4 of "{main}") used on line 7 of "{main}" error while '
        "substituting: while processing line 1 of macro 'l' (defined on line 4 of \"{main}\") "
        "cannot substitute, buffer size too small",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), REFUSALS)
def test_refusals(tmp_path: Path, text: str, line: int, message: str) -> None:
    main = tmp_path / "httpd.conf"
    exc = refused(tmp_path, text)
    assert (exc.file, exc.line, exc.message) == (str(main), line, message.format(main=main))


def test_refusals_inside_an_expansion_are_at_the_use_line_with_httpds_place(
    tmp_path: Path,
) -> None:
    main = tmp_path / "httpd.conf"
    exc = refused(
        tmp_path, "<Macro Loop $x>\n  ServerAdmin $x\n  Use Loop $x\n</Macro>\nUse Loop a\n"
    )
    where = f'macro \'loop\' (defined on line 4 of "{main}") used on line 8 of "{main}"'
    assert (exc.file, exc.line) == (str(main), 8)
    assert exc.message == f"recursive use of macro 'loop' is invalid (on line 2 of {where})"
    # A section opened by an expansion and never closed.
    exc = refused(tmp_path, "<Macro Open>\n  <VirtualHost *:80>\n</Macro>\nUse Open\n")
    assert (exc.file, exc.line) == (str(main), 7)
    assert exc.message.startswith("<VirtualHost> was not closed. (on line 1 of macro 'open'")


def test_recursion_is_httpds_test_of_the_expansion_name(tmp_path: Path) -> None:
    """httpd finds recursion by looking for `macro 'x'` in the name of what it reads; a macro
    defined by an expansion of `outer` carries that in its own name, so using `outer` from
    it is refused although nothing recurses."""
    exc = refused(
        tmp_path,
        "<Macro Outer>\n  <Macro Inner>\n    Use Outer\n  </Macro>\n</Macro>\n"
        "Use Outer\nUse Inner\n",
    )
    assert exc.line == 10
    assert exc.message.startswith("recursive use of macro 'outer' is invalid (on line 1 of")


def test_without_mod_macro_its_directives_are_unknown_commands(tmp_path: Path) -> None:
    head = f"LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so\n"
    exc = refused(
        tmp_path, head + "ServerName x\n<Macro M $x>\n  ServerAdmin $x\n</Macro>\nUse M a\n"
    )
    assert (exc.line, exc.message) == (
        3,
        "Invalid command '<Macro', perhaps misspelled or defined by a module not included in "
        "the server configuration",
    )
    # httpd reports an unknown command only once everything is read: an error of reading
    # after it comes first.
    exc = refused(tmp_path, head + "Use M\nInclude missing.conf\n")
    assert exc.line == 3 and exc.message.startswith("Could not open configuration file")
    # With modules named on the command line, none of them mod_macro: the same.
    exc = refused(tmp_path, head + "UndefMacro M\n", modules=("info_module",))
    assert exc.message.startswith("Invalid command 'UndefMacro'")


def test_a_tree_that_loads_no_module_expands_its_macros(tmp_path: Path) -> None:
    """A fragment (its LoadModule lines live elsewhere) is read with mod_macro: that is the
    only reading under which its macros mean anything."""
    config = read(tmp_path, "<Macro M $x>\n  ServerAdmin $x\n</Macro>\nUse M a\n", bare=True)
    assert nodes(config) == [("ServerAdmin", "a")]


def test_perl_sections_are_not_read_for_macros(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        f"LoadModule macro_module {MODS}/mod_macro.so\n"
        f"LoadModule perl_module {MODS}/mod_perl.so\n"
        "<Perl>\nuse strict;\n</Perl>\n",
    )
    assert [d.name for d in walk(config.tree)] == ["<Perl", "use"]
    # Without mod_macro either, `use strict;` is Perl's, not an unknown command of httpd's.
    config = read(
        tmp_path, f"LoadModule perl_module {MODS}/mod_perl.so\n<Perl>\nuse strict;\n</Perl>\n"
    )
    assert [d.name for d in walk(config.tree)] == ["<Perl", "use"]


# -- pragmas, findings, dump ---------------------------------------------------------------


def test_a_pragma_in_the_body_applies_at_each_use(tmp_path: Path) -> None:
    config = read(
        tmp_path,
        "<Macro M $x>\n"
        "  # httpdlint: ignore=SEC001 -- a test server\n"
        "  ServerTokens $x\n"
        "</Macro>\n"
        "# httpdlint: ignore=SEC003\n"
        "Use M Full\n"  # 9
        "Use M OS\n",  # 10
    )
    main = str(tmp_path / "httpd.conf")
    assert [(p.file, p.line, p.codes, p.target) for p in config.pragmas] == [
        (main, 8, ("SEC003",), 9),
        (main, 9, ("SEC001",), 9),
        (main, 10, ("SEC001",), 10),
    ]


def test_check_reports_a_finding_at_the_use_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"httpd.conf": HEAD + "<Macro Tokens $t>\n  ServerTokens $t\n</Macro>\nUse Tokens Full\n"},
    )
    res = httpdlint("check", str(tmp_path / "httpd.conf"), "--select", "SEC001", "-f", "json")
    assert res.returncode == 1, res.stderr
    (finding,) = json.loads(res.stdout)["findings"]
    assert (finding["file"], finding["line"]) == (str(tmp_path / "httpd.conf"), 7)
    assert "macro" in finding
    # The engine fills it from the directive; once it does, it names the definition.
    assert finding["macro"] in (
        None,
        {"name": "tokens", "file": str(tmp_path / "httpd.conf"), "line": 4},
    )


def test_json_findings_carry_the_macro() -> None:
    from httpdlint.report import Report
    from httpdlint.reporters.jsondoc import document

    macro = {"name": "vhost", "file": "/etc/httpd.conf", "line": 4}
    report = Report(root="/etc")
    report.findings = [
        Finding("SEC001", "n", "warning", "m", "/etc/httpd.conf", 9, macro=macro),
        Finding("SEC001", "n", "warning", "m", "/etc/httpd.conf", 10),
    ]
    doc = document(report)
    assert [f["macro"] for f in doc["findings"]] == [macro, None]


def test_dump_prints_httpds_places(tmp_path: Path) -> None:
    write(tmp_path, {"inc.conf": "ServerAlias included\n"})
    config = read(
        tmp_path,
        "<Macro V $n>\n"
        "  <VirtualHost *:80>\n"
        "    ServerName $n\n"
        "    Include inc.conf\n"
        "  </VirtualHost>\n"
        "</Macro>\n"
        "Use V a.example\n",
    )
    main = tmp_path / "httpd.conf"
    where = f'macro \'v\' (defined on line 4 of "{main}") used on line 10 of "{main}"'
    assert dump_text(config.tree) == (
        f"# In file: {main}\n"
        "#   3:\n"
        "ServerName macro.example\n"
        f"# In file: {where}\n"
        "#   1:\n"
        "<VirtualHost *:80>\n"
        "  #   2:\n"
        "  ServerName a.example\n"
        f"# In file: {tmp_path / 'inc.conf'}\n"
        "  #   1:\n"
        "  ServerAlias included\n"
        # mod_info names the section's file again before its close tag.
        f"# In file: {where}\n"
        "</VirtualHost>\n"
    )
    doc = json.loads(dump_json(config))
    assert doc["directives"][2] == {
        "file": where,
        "line": 2,
        "name": "ServerName",
        "args": ["a.example"],
        "section": ["VirtualHost *:80"],
        "parent": 1,
        "macro": {
            "name": "v",
            "file": str(main),
            "line": 4,
            "use": {"file": str(main), "line": 10},
        },
    }
    assert "macro" not in doc["directives"][3]


def test_cli_refusal_is_one_line_and_exit_2(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": HEAD + "<Macro M $x>\n  ServerAdmin $x\n</Macro>\nUse M\n"})
    main = tmp_path / "httpd.conf"
    for command in ("dump", "check"):
        res = httpdlint(command, str(main))
        assert res.returncode == 2
        assert res.stderr == (
            f"{main}:7: macro 'm' (defined on line 4 of \"{main}\") used with 0 arguments "
            "instead of 1\n"
        )


def test_directive_keeps_no_macro_outside_expansions() -> None:
    node = Directive("ServerName", "x", "/f", 1)
    assert node.macro is None


# -- against the real apache2 --------------------------------------------------------------

PRE = (f"LoadModule info_module {INFO_SO}",)
TREES = ["vhosts", "nested", "quoting"]
REFUSAL_FILES = sorted(p.name for p in (FIXTURES / "refusals").glob("*.conf"))


def _copy(tree: str, tmp_path: Path) -> Path:
    root = tmp_path / tree
    shutil.copytree(FIXTURES / tree, root)
    for d in ("logs", "run", "htdocs"):
        (root / d).mkdir(exist_ok=True)
    return root


def _apache(binary: str, root: Path, conf: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, "-d", str(root), "-f", str(conf)]
    for item in PRE:
        cmd += ["-C", item]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=apache_env(), timeout=60
    )


def _httpd_warnings(stderr: str) -> list[str]:
    """mod_macro's warnings as httpd logs them, without the log line's prefix."""
    return [
        re.sub(r"^(\[[^]]*\] ){3}", "", line)
        for line in stderr.splitlines()
        if "[macro:warn]" in line
    ]


@pytest.mark.apache
@pytest.mark.parametrize("tree", TREES)
def test_dump_is_dump_config(tree: str, apache2_bin: str, tmp_path: Path) -> None:
    root = _copy(tree, tmp_path)
    conf = root / "httpd.conf"
    env = apache_env()
    theirs = _apache(apache2_bin, root, conf, "-t", "-D", "DUMP_CONFIG")
    assert theirs.returncode == 0, theirs.stderr
    ours = httpdlint(
        "dump", str(conf), "--server-root", str(root), "--module", "info_module", env=env
    )
    assert ours.returncode == 0, ours.stderr
    # The text itself: the fixtures spell every directive as httpd does.
    assert ours.stdout == theirs.stdout
    doc = json.loads(
        httpdlint(
            "dump", str(conf), "--server-root", str(root), "--module", "info_module",
            "--format", "json", env=env,
        ).stdout
    )  # fmt: skip
    assert our_nodes(doc) == httpd_nodes(theirs.stdout)
    assert doc["files"] == dump_includes(apache2_bin, conf, root, env=env, pre=PRE)
    expanded = [d for d in doc["directives"] if "macro" in d]
    assert expanded and all(d["file"].startswith("macro '") for d in expanded)
    config = load(str(conf), LoadOptions(server_root=str(root), env={}, modules=("info_module",)))
    assert [m for _, _, m in config.notes if m.startswith("AH")] == _httpd_warnings(theirs.stderr)


def _expected_refusal(stderr: str) -> str:
    """The one line httpdlint prints for httpd's refusal: httpd's message at httpd's file and
    line, or, inside an expansion, at the Use line in a real file with httpd's place after."""
    m = re.search(r"Syntax error on line (\d+) of (.+?):(?: |\n)(.*)", stderr)
    assert m, stderr
    line, place, message = int(m.group(1)), m.group(2), m.group(3).strip()
    if not place.startswith("macro '"):
        return f"{place}:{line}: {message}"
    uses = re.findall(r'used on line (\d+) of "(/[^"]*)"', place)
    use_line, use_file = uses[-1]
    return f"{use_file}:{use_line}: {message} (on line {line} of {place})"


@pytest.mark.apache
@pytest.mark.parametrize("name", REFUSAL_FILES)
def test_refusals_are_httpds(name: str, apache2_bin: str, tmp_path: Path) -> None:
    root = _copy("refusals", tmp_path)
    conf = root / name
    theirs = _apache(apache2_bin, root, conf, "-t")
    assert theirs.returncode != 0, theirs.stdout
    expected = _expected_refusal(theirs.stderr)
    for command in ("dump", "check"):
        ours = httpdlint(command, str(conf), "--server-root", str(root), env=apache_env())
        assert ours.returncode == 2, ours.stdout
        assert ours.stderr == expected + "\n"


def test_every_refusal_fixture_is_tested() -> None:
    assert len(REFUSAL_FILES) >= 10


def test_findings_come_from_expansions_only(tmp_path: Path) -> None:
    """A rule sees what httpd applies: the directives of each Use, at the Use line and naming
    the macro; nothing of a macro body where it is defined, nor of a macro never used."""
    import sys

    conf = tmp_path / "httpd.conf"
    conf.write_text(
        "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
        "LoadModule macro_module /usr/lib/apache2/modules/mod_macro.so\n"
        "Listen 80\n"
        "<Macro Unused $x>\n  HostnameLookups On\n</Macro>\n"
        "<Macro Site $d>\n  <VirtualHost *:80>\n    ServerName $d\n"
        "    HostnameLookups On\n  </VirtualHost>\n</Macro>\n"
        "Use Site a.example\n"
        "Use Site b.example\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", str(conf), "--select", "CAP006", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = json.loads(done.stdout)["findings"]
    assert [(f["line"], f["macro"]["name"], f["macro"]["line"]) for f in found] == [
        (13, "site", 7),
        (14, "site", 7),
    ]
