"""The loader against DESIGN.md's parser contract: files, includes, variables, conditions, guards.

Each test writes a small tree into tmp_path and reads it through `httpdlint.loader`. The
errors are also checked through the real command line (`httpdlint check` and `httpdlint
dump`: one `file:line: message` line on stderr, exit 2, no traceback), and, marked `apache`,
against the message `apache2 -t` prints for the same input.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_differential import httpdlint

from httpdlint.errors import ConfigError
from httpdlint.loader import Config, LoadOptions, load
from httpdlint.pathmatch import fnmatch, fnmatch_test
from httpdlint.syntax import walk

MODS = "/usr/lib/apache2/modules"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create files under root (parents too); returns root."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def read(root: Path, main: str = "httpd.conf", **options) -> Config:
    options.setdefault("server_root", str(root))
    options.setdefault("env", {})
    return load(str(root / main), LoadOptions(**options))


def flat(config: Config) -> list[tuple[str, list[str]]]:
    return [(d.name, d.args) for d in walk(config.tree)]


def setenv(config: Config) -> list[str]:
    """The names given to SetEnv, in reading order: the fixtures' way of saying "read"."""
    return [d.args[0] for d in walk(config.tree) if d.lname == "setenv"]


def error(root: Path, main: str = "httpd.conf", **options) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        read(root, main, **options)
    return exc.value


# -- lines, comments, names, sections --------------------------------------------------------


def test_hash_starts_a_comment_only_at_line_start(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "# SetEnv NO 1\n  # SetEnv NO 2\nSetEnv A #b c#d\n"})
    assert flat(read(tmp_path)) == [("SetEnv", ["A", "#b", "c#d"])]


def test_continuation_and_crlf(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"httpd.conf": b"SetEnv A \\\r\n  b\r\n# c \\\nSetEnv HIDDEN 1\nSetEnv LAST \\\n"},
    )
    config = read(tmp_path)
    assert [(d.line, d.args) for d in config.tree] == [(2, ["A", "b"]), (6, ["LAST"])]


def test_quotes_and_escapes(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "SetEnv A \"x \\\" y\" 'it\\'s' a\\\\b\n"})
    assert flat(read(tmp_path)) == [("SetEnv", ["A", 'x " y', "it's", "a\\b"])]


def test_names_are_case_insensitive(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "define FLAG\n"
                "<ifdefine flag>\nSetEnv WRONG_CASE 1\n</IFDEFINE>\n"
                "<IFDEFINE FLAG>\nSetEnv DEFINED 1\n</ifdefine>\n"
                "INCLUDE other.conf\n"
                "<directory />\nSetEnv IN_DIR 1\n</DIRECTORY>\n"
            ),
            "other.conf": "SetEnv INCLUDED 1\n",
        },
    )
    config = read(tmp_path)
    # Names fold case; define names and arguments do not.
    assert setenv(config) == ["DEFINED", "INCLUDED", "IN_DIR"]
    assert config.tree[-1].name == "<directory"


def test_sections_nest_and_keep_their_arguments(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "<VirtualHost *:80 [::1]:80>\n"
                '  <Directory "/srv/a b" >\n'
                "    Require all granted\n"
                "  </Directory>\n"
                "  <Location>\n  </Location>\n"
                "</VirtualHost>\n"
            )
        },
    )
    (vhost,) = read(tmp_path).tree
    assert vhost.args == ["*:80", "[::1]:80"]
    directory, location = vhost.children
    assert directory.args == ["/srv/a b"] and directory.raw == '"/srv/a b" >'
    assert location.args == [] and location.raw == ">" and location.children == []
    assert directory.children[0].section_path() == [
        "VirtualHost *:80 [::1]:80",
        "Directory /srv/a b",
    ]


def test_mismatched_close_tag(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "<Directory />\n</Location>\n"})
    exc = error(tmp_path)
    assert (exc.message, exc.file, exc.line) == (
        "Expected </Directory> but saw </Location>",
        str(tmp_path / "httpd.conf"),
        2,
    )


def test_mismatch_names_the_section_as_httpd_spells_it(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "<directory />\n</location>\n"})
    assert error(tmp_path).message == "Expected </Directory> but saw </location>"


def test_close_tag_without_section_or_bracket(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "</VirtualHost>\n"})
    assert error(tmp_path).message == "</VirtualHost> without matching <VirtualHost> section"
    write(tmp_path, {"httpd.conf": "<Directory />\n</Directory\n"})
    assert error(tmp_path).message == "</Directory> directive missing closing '>'"


def test_unclosed_section(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "SetEnv A 1\n<VirtualHost *:80>\n"})
    exc = error(tmp_path)
    assert (exc.message, exc.line) == ("<VirtualHost> was not closed.", 2)
    write(tmp_path, {"httpd.conf": "<VirtualHost *:80>\n<Directory />\n"})
    exc = error(tmp_path)
    assert (exc.message, exc.line) == (
        "<Directory> was not closed (inside <VirtualHost> of line 1).",
        2,
    )


def test_a_section_cannot_close_in_another_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": "<VirtualHost *:80>\nInclude close.conf\n",
            "close.conf": "</VirtualHost>\n",
        },
    )
    exc = error(tmp_path)
    assert exc.message == "</VirtualHost> without matching <VirtualHost> section"
    assert exc.file == str(tmp_path / "close.conf")


def test_line_with_empty_first_word_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": '"" SetEnv X\n${EMPTY}\nSetEnv A 1\n'})
    assert flat(read(tmp_path, env={"EMPTY": ""})) == [("SetEnv", ["A", "1"])]


def test_non_utf8_bytes(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": b"# \xff\xfe\nSetEnv LATIN1 caf\xe9\nSetEnv NBSP a\xc2\xa0b\n"})
    assert flat(read(tmp_path)) == [
        ("SetEnv", ["LATIN1", "caf\udce9"]),
        ("SetEnv", ["NBSP", "a\xa0b"]),
    ]


# -- Include and IncludeOptional -------------------------------------------------------------


def test_glob_at_the_end_sorts_bytewise_and_skips_dotfiles(tmp_path: Path) -> None:
    names = ["b.conf", "B.conf", "a.conf", "b-x.conf", "b_x.conf", ".hidden.conf", "notes.txt"]
    write(tmp_path, {"httpd.conf": "Include conf.d/*.conf\n"})
    write(tmp_path, {f"conf.d/{n}": f"SetEnv {n}\n" for n in names})
    # strcmp order: "B" < "a"; "-" < "." < "_".
    assert setenv(read(tmp_path)) == ["B.conf", "a.conf", "b-x.conf", "b.conf", "b_x.conf"]


def test_glob_in_the_middle(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": "Include sites/*/conf/*.conf\n",
            "sites/b/conf/x.conf": "SetEnv B\n",
            "sites/a/conf/y.conf": "SetEnv A_Y\n",
            "sites/a/conf/x.conf": "SetEnv A_X\n",
            "sites/README": "a file where a directory is wanted: skipped\n",
            "sites/.off/conf/x.conf": "SetEnv DOT_DIRECTORY\n",
            "elsewhere/conf/x.conf": "SetEnv THROUGH_A_LINK\n",
        },
    )
    os.symlink("../elsewhere", tmp_path / "sites" / "link")
    config = read(tmp_path)
    # A symbolic link to a directory inside the path is skipped: httpd goes by readdir's type.
    assert setenv(config) == ["A_X", "A_Y", "B"]
    assert config.files[1:] == [
        str(tmp_path / "sites/a/conf/x.conf"),
        str(tmp_path / "sites/a/conf/y.conf"),
        str(tmp_path / "sites/b/conf/x.conf"),
    ]


def test_glob_in_the_middle_needs_every_directory_to_have_the_rest(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": "Include sites/*/conf/*.conf\n",
            "sites/a/conf/x.conf": "",
            "sites/b/other": "",
        },
    )
    exc = error(tmp_path)
    assert exc.message == (
        f"Include/IncludeOptional: Could not open directory {tmp_path}/sites/b/conf: "
        "No such file or directory"
    )
    write(tmp_path, {"httpd.conf": "IncludeOptional sites/*/conf/*.conf\n"})
    assert read(tmp_path).files[1:] == [str(tmp_path / "sites/a/conf/x.conf")]


def test_directory_is_read_recursively_sorted_with_dotfiles(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": "Include conf.d\n",
            "conf.d/b.conf": "SetEnv B\n",
            "conf.d/a": "SetEnv A_NO_SUFFIX\n",
            "conf.d/.dot": "SetEnv DOTFILE\n",
            "conf.d/sub/z.conf": "SetEnv SUB_Z\n",
            "conf.d/sub/a.conf": "SetEnv SUB_A\n",
            "conf.d/sub~": "SetEnv AFTER_SUB\n",
        },
    )
    assert setenv(read(tmp_path)) == ["DOTFILE", "A_NO_SUFFIX", "B", "SUB_A", "SUB_Z", "AFTER_SUB"]


def test_glob_that_matches_a_directory_reads_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"httpd.conf": "Include d*\n", "dir/x.conf": "SetEnv X\n", "dull.conf": "SetEnv D\n"},
    )
    assert setenv(read(tmp_path)) == ["X", "D"]


def test_empty_directory_is_no_error(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "Include empty\n"})
    (tmp_path / "empty").mkdir()
    assert read(tmp_path).files == [str(tmp_path / "httpd.conf")]


def test_paths_are_relative_to_server_root(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "conf/httpd.conf": "Include conf.d/*.conf\n",
            "conf.d/root.conf": "SetEnv SERVER_ROOT_RELATIVE\n",
            "conf/conf.d/beside.conf": "SetEnv BESIDE_THE_FILE\n",
        },
    )
    assert setenv(read(tmp_path, "conf/httpd.conf")) == ["SERVER_ROOT_RELATIVE"]
    # Without -d, a main file in conf/ means the directory above (httpd's compiled-in root).
    assert setenv(read(tmp_path, "conf/httpd.conf", server_root=None)) == ["SERVER_ROOT_RELATIVE"]


def test_server_root_directive_moves_relative_paths(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": "ServerRoot other\nInclude x.conf\n",
            "other/x.conf": "SetEnv OTHER\n",
            "x.conf": "SetEnv FIRST_ROOT\n",
        },
    )
    assert setenv(read(tmp_path, server_root=None)) == ["OTHER"]
    # --server-root wins over the file, for reading a tree away from its home.
    assert setenv(read(tmp_path)) == ["FIRST_ROOT"]


def test_include_of_a_missing_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "SetEnv A\nInclude missing.conf\n"})
    exc = error(tmp_path)
    assert (exc.message, exc.file, exc.line) == (
        f"Could not open configuration file {tmp_path}/missing.conf: No such file or directory",
        str(tmp_path / "httpd.conf"),
        2,
    )


def test_include_of_a_wildcard_without_match_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "Include conf.d/*.conf\n", "conf.d/README": ""})
    assert error(tmp_path).message == (
        f"Include/IncludeOptional: No matches for the wildcard '*.conf' in '{tmp_path}/conf.d', "
        "failing"
    )
    write(tmp_path, {"httpd.conf": "Include nowhere/*.conf\n"})
    assert error(tmp_path).message == (
        f"Include/IncludeOptional: Could not open directory {tmp_path}/nowhere: "
        "No such file or directory"
    )


def test_include_optional_of_nothing_is_not_an_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "IncludeOptional missing.conf\n"
                "IncludeOptional conf.d/*.conf\n"
                "IncludeOptional nowhere/*.conf\n"
                "IncludeOptional nowhere/*/x.conf\n"
                "SetEnv DONE\n"
            ),
            "conf.d/README": "",
        },
    )
    config = read(tmp_path)
    assert setenv(config) == ["DONE"] and config.files == [str(tmp_path / "httpd.conf")]


def test_include_optional_through_a_file_is_still_an_error(tmp_path: Path) -> None:
    # ENOTDIR is not "nothing there": httpd fails even for IncludeOptional.
    write(tmp_path, {"httpd.conf": "IncludeOptional file.conf/*.conf\n", "file.conf": ""})
    assert error(tmp_path).message.endswith(f"{tmp_path}/file.conf: Not a directory")


def test_include_needs_one_non_empty_argument(tmp_path: Path) -> None:
    for line in ('Include ""\n', "Include\n", "Include a b\n"):
        write(tmp_path, {"httpd.conf": line})
        assert error(tmp_path).message == "Include takes one argument"


def test_includes_inside_a_false_ifmodule_are_not_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "<IfModule rewrite_module>\n"
                "  Include missing.conf\n"
                "  Include exists.conf\n"
                "</IfModule>\n"
                "<IfModule mod_so.c>\n  Include exists.conf\n</IfModule>\n"
            ),
            "exists.conf": "SetEnv READ\n",
        },
    )
    config = read(tmp_path)
    assert setenv(config) == ["READ"]
    assert config.files == [str(tmp_path / "httpd.conf"), str(tmp_path / "exists.conf")]
    assert config.tree[0].line == 1 and config.tree[0].file == str(tmp_path / "exists.conf")


def test_include_inside_a_virtual_host_nests_the_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": "<VirtualHost *:80>\n  Include a.conf\n</VirtualHost>\nInclude a.conf\n",
            "a.conf": "Include b.conf\n",
            "b.conf": "<Location />\nSetEnv DEEP\n</Location>\n",
        },
    )
    config = read(tmp_path)
    deep = [d for d in walk(config.tree) if d.lname == "setenv"]
    assert [d.section_path() for d in deep] == [["VirtualHost *:80", "Location /"], ["Location /"]]
    # Read twice, listed once, in first-read order.
    assert config.files == [str(tmp_path / n) for n in ("httpd.conf", "a.conf", "b.conf")]


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    write(tmp_path, {"httpd.conf": "Include fifo\n"})
    exc = error(tmp_path)  # and no hang on open()
    assert exc.message == f"Access to file {tmp_path}/fifo denied by server: not a regular file"
    write(tmp_path, {"httpd.conf": "Include /dev/null\nSetEnv AFTER\n"})
    assert setenv(read(tmp_path)) == ["AFTER"]


@pytest.mark.parametrize(
    ("pattern", "is_glob"),
    [
        ("*.conf", True),
        ("a?c", True),
        ("a[bc]", True),
        ("a[bc", False),  # '[' is a wildcard only with a ']' after it
        ("a]b", False),
        ("a\\*b", False),  # a backslash hides the next character
        ("a\\[b]", False),
        ("a\\[b][c]", True),
        ("plain/path.conf", False),
        ("trailing\\", False),
    ],
)
def test_fnmatch_test_like_apr(pattern: str, is_glob: bool) -> None:
    assert fnmatch_test(pattern) is is_glob


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*.conf", "a.conf", True),
        ("*.conf", ".a.conf", False),  # a leading dot needs a literal dot
        (".*.conf", ".a.conf", True),
        ("\\.*", ".a", True),
        ("?a", ".a", False),
        ("[.]a", ".a", False),
        ("*", "a.b.c", True),
        ("[!a]*", "b", True),
        ("[^a]*", "b", True),  # apr takes ^ for negation too
        ("[^a]*", "a", False),
        ("[a-c]", "b", True),
        ("[c-a]", "b", False),
        ("[]a]", "]", True),  # a leading ] is an ordinary character
        ("a[b", "a[b", True),  # an unclosed [ is an ordinary character
        ("*\\[1.conf", "a[1.conf", True),
        ("x\\*", "x*", True),
        ("x\\*", "xy", False),
        ("[a\\]]", "]", True),
        ("*", "", True),
    ],
)
def test_fnmatch_like_apr(pattern: str, name: str, matches: bool) -> None:
    assert fnmatch(pattern, name) is matches


# -- Define and ${VAR} -----------------------------------------------------------------------


def test_define_and_variables(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "Define DIR conf.d\n"
                "Define PORT 8080\n"
                'Define GREETING "hello world"\n'
                "Define NAME SetEnv\n"
                "Include ${DIR}/*.conf\n"
                '<VirtualHost *:${PORT}>\n  SetEnv G "${GREETING}"\n</VirtualHost>\n'
                "${NAME} BY_VARIABLE_NAME\n"
            ),
            "conf.d/x.conf": "SetEnv FROM_${DIR}\n",
        },
    )
    config = read(tmp_path)
    assert flat(config) == [
        ("SetEnv", ["FROM_conf.d"]),
        ("<VirtualHost", ["*:8080"]),
        ("SetEnv", ["G", "hello world"]),
        ("SetEnv", ["BY_VARIABLE_NAME"]),
    ]
    assert config.variables == {
        "DIR": "conf.d",
        "PORT": "8080",
        "GREETING": "hello world",
        "NAME": "SetEnv",
    }


def test_undefined_variable_stays_literal_and_is_recorded(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "SetEnv A\nSetEnv B ${NOPE} ${x:y}\n"})
    config = read(tmp_path)
    assert flat(config)[1] == ("SetEnv", ["B", "${NOPE}", "${x:y}"])
    assert config.undefined == [("NOPE", str(tmp_path / "httpd.conf"), 2)]


def test_environment_variables_and_define_first(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"httpd.conf": "SetEnv A ${FROM_ENV}\nDefine FROM_ENV defined\nSetEnv B ${FROM_ENV}\n"},
    )
    config = read(tmp_path, env={"FROM_ENV": "environment"})
    assert flat(config) == [("SetEnv", ["A", "environment"]), ("SetEnv", ["B", "defined"])]


def test_undefine(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "Define V value\n"
                "UnDefine V\n"
                "UnDefine NEVER_DEFINED\n"
                "SetEnv AFTER ${V}\n"
                "<IfDefine V>\nSetEnv NOT_READ\n</IfDefine>\n"
                "<IfDefine !V>\nSetEnv UNDEFINED\n</IfDefine>\n"
            )
        },
    )
    config = read(tmp_path)
    assert flat(config) == [("SetEnv", ["AFTER", "${V}"]), ("SetEnv", ["UNDEFINED"])]
    assert config.undefined == [("V", str(tmp_path / "httpd.conf"), 4)]
    # A -D define can be undefined too.
    write(tmp_path, {"httpd.conf": "UnDefine SSL\n<IfDefine SSL>\nSetEnv NO\n</IfDefine>\n"})
    assert flat(read(tmp_path, defines=("SSL",))) == []


def test_define_with_empty_value_defines_no_value(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": 'Define E ""\n<IfDefine E>\nSetEnv E ${E}\n</IfDefine>\n'})
    config = read(tmp_path)
    assert flat(config) == [("SetEnv", ["E", "${E}"])]
    assert "E" in config.defines and "E" not in config.variables


def test_define_name_must_not_hold_a_colon(tmp_path: Path) -> None:
    # httpd refuses to start, but what follows reads as before: a refusal, not the end.
    write(tmp_path, {"httpd.conf": "Define a:b 1\nServerName x\n"})
    config = read(tmp_path)
    assert config.refusals == [
        (str(tmp_path / "httpd.conf"), 1, "Variable name must not contain ':'")
    ]
    assert [d.name for d in config.tree][-1] == "ServerName"


# -- conditions ------------------------------------------------------------------------------

LOADS = (
    f"LoadModule alias_module {MODS}/mod_alias.so\n"
    f"LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so\n"
    f"LoadModule ldap_module {MODS}/mod_ldap.so\n"
)


@pytest.mark.parametrize(
    ("condition", "true"),
    [
        ("alias_module", True),
        ("mod_alias.c", True),
        ("!mod_alias.c", False),
        ("!alias_module", False),
        ("rewrite_module", False),
        ("!rewrite_module", True),
        ("! mod_rewrite.c", True),
        ("mpm_prefork_module", True),
        ("prefork.c", True),  # an MPM's source file is prefork.c ...
        ("mod_mpm_prefork.c", False),  # ... not mod_mpm_prefork.c
        ("util_ldap.c", True),  # mod_ldap's source file
        ("mod_ldap.c", False),
        ("core.c", True),  # compiled into Debian's apache2 (apache2 -l)
        ("mod_so.c", True),
        ("so_module", True),
        ("version_module", True),
        ("mod_version.c", True),
        ("http_core.c", True),
        ("mod_alias.c extra-words-are-ignored", True),
        ('"!mod_alias.c"', False),  # quoted: a module named "!mod_alias.c"
    ],
)
def test_ifmodule(condition: str, true: bool, tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": LOADS + f"<IfModule {condition}>\nSetEnv READ\n</IfModule>\n"})
    assert setenv(read(tmp_path)) == (["READ"] if true else [])


def test_ifmodule_with_module_option(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "<IfModule mod_ssl.c>\nSetEnv SRC\n</IfModule>\n"
                "<IfModule ssl_module>\nSetEnv ID\n</IfModule>\n"
            )
        },
    )
    assert setenv(read(tmp_path, modules=("ssl_module",))) == ["SRC", "ID"]
    assert setenv(read(tmp_path, modules=("mod_ssl.c",))) == ["SRC", "ID"]
    assert setenv(read(tmp_path)) == []


def test_ifmodule_argument_errors(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "<IfModule>\n</IfModule>\n"})
    assert error(tmp_path).message == "<IfModule> directive requires additional arguments"
    write(tmp_path, {"httpd.conf": "<IfModule mod_so.c\n</IfModule>\n"})
    assert error(tmp_path).message == "<IfModule> directive missing closing '>'"


def test_true_ifmodule_left_open_at_end_of_file_is_accepted(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": "Include open.conf\nSetEnv AFTER\n",
            "open.conf": "<IfModule mod_so.c>\nSetEnv INSIDE\n<VirtualHost *:80>\nSetEnv VH\n",
        },
    )
    config = read(tmp_path)
    assert setenv(config) == ["INSIDE", "VH", "AFTER"]
    assert any("not closed" in note for _, _, note in config.notes)


def test_false_ifmodule_left_open_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "SetEnv A\n<IfModule nope>\n<Directory />\n"})
    exc = error(tmp_path)
    # httpd names the innermost open section and reports the line of the condition.
    assert (exc.message, exc.line) == ("Expected </Directory> before end of configuration", 2)


def test_false_condition_is_skipped_whole(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "<IfModule nope>\n"
                "  ${NOT_RESOLVED}\n"
                "  Define NOT_DEFINED\n"
                "  <Directory />\n    <IfModule also_nope>\n    </IfModule>\n  </Directory>\n"
                "  LoadModule x_module x.so\n"
                "</IfModule>\n"
                "<IfDefine NOT_DEFINED>\nSetEnv NO\n</IfDefine>\n"
            )
        },
    )
    config = read(tmp_path)
    assert flat(config) == [] and config.undefined == [] and "x_module" not in config.modules


def test_false_condition_still_checks_close_tags(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "<IfModule nope>\n<Directory />\n</Location>\n</IfModule>\n"})
    assert error(tmp_path).message == "Expected </Directory> but saw </Location>"


def test_conditional_close_tag_must_stand_alone(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "<IfModule mod_so.c>\n</IfModule> trailing\n"})
    exc = error(tmp_path)
    assert (exc.message, exc.line) == ("</IfModule> without matching <IfModule> section", 2)


def test_ifdefine(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                "<IfDefine SSL>\nSetEnv SSL\n</IfDefine>\n"
                "<IfDefine !SSL>\nSetEnv NO_SSL\n</IfDefine>\n"
                "Define LATER\n<IfDefine LATER>\nSetEnv LATER\n</IfDefine>\n"
                "<IfDefine ssl>\nSetEnv CASE_MATTERS\n</IfDefine>\n"
            )
        },
    )
    assert setenv(read(tmp_path)) == ["NO_SSL", "LATER"]
    assert setenv(read(tmp_path, defines=("SSL",))) == ["SSL", "LATER"]


@pytest.mark.parametrize(
    ("test", "true"),
    [
        ("2.4", False),  # missing parts are 0: 2.4 means 2.4.0
        ("= 2.4", False),
        ("> 2.4", True),
        ("<= 2.4", False),
        ("!= 2.4", True),
        ("> 2", True),
        (">= 2.4.71", True),
        ("== 2.4.71", True),
        ("< 2.4.72", True),
        (">= 2.5", False),
        ("~ ^2\\.4", True),
        ("/^2\\.4/", True),
        ("= /^2\\.2/", False),
        ("!~ ^2\\.2", True),
        ("~ /2/", False),  # with ~ the slashes are part of the regex
        ('"2.4.71" ', True),  # a quoted version and a lone ">"
        (">= 2.4 ", True),
        ('"2.4" ', False),
    ],
)
def test_ifversion(test: str, true: bool, tmp_path: Path) -> None:
    # Known release of the 2.4 line: 2.4.71, the version of the apache2 these tests run.
    write(tmp_path, {"httpd.conf": f"<IfVersion {test}>\nSetEnv READ\n</IfVersion>\n"})
    assert setenv(read(tmp_path)) == (["READ"] if true else [])


def test_ifversion_errors(tmp_path: Path) -> None:
    for test, message in [
        ("=~ 2", "unrecognized operator '=~'"),
        ("2.4x", "Version appears to be invalid."),
        ("= /2", "Missing delimiting / of regular expression."),
        ("> 2.4 extra", "<IfVersion> directive missing closing '>'"),
    ]:
        write(tmp_path, {"httpd.conf": f"<IfVersion {test}>\n</IfVersion>\n"})
        assert error(tmp_path).message.startswith(message), test


def test_ifversion_for_22(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": (
                f"LoadModule version_module {MODS}/mod_version.so\n"
                "<IfVersion < 2.4>\nSetEnv OLD\n</IfVersion>\n"
            )
        },
    )
    assert setenv(read(tmp_path, apache_version="2.2")) == ["OLD"]
    assert setenv(read(tmp_path)) == []


# -- guards ----------------------------------------------------------------------------------


def test_include_cycle_names_the_chain(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "httpd.conf": "SetEnv A\nInclude a.conf\n",
            "a.conf": "Include b.conf\n",
            "b.conf": "\nInclude a.conf\n",
        },
    )
    exc = error(tmp_path)
    t = str(tmp_path)
    # From the first reading of the repeated file: a.conf line 1 reads b.conf, whose line 2
    # reads a.conf again.
    assert exc.message == f"Include cycle: {t}/a.conf:1 -> {t}/b.conf:2 -> {t}/a.conf"
    assert (exc.file, exc.line) == (f"{t}/b.conf", 2)


def test_file_including_itself(tmp_path: Path) -> None:
    write(tmp_path, {"httpd.conf": "Include httpd.conf\n"})
    t = str(tmp_path)
    assert error(tmp_path).message == f"Include cycle: {t}/httpd.conf:1 -> {t}/httpd.conf"


def test_include_depth_is_bounded_like_httpd(tmp_path: Path) -> None:
    # httpd allows 128 nested Include directives (AP_MAX_INCLUDE_DEPTH).
    files = {"httpd.conf": "Include f1.conf\n"}
    files.update({f"f{i}.conf": f"Include f{i + 1}.conf\n" for i in range(1, 129)})
    files["f129.conf"] = "SetEnv DEEPEST\n"
    write(tmp_path, files)
    exc = error(tmp_path)
    assert (exc.message, exc.file) == (
        "Exceeded maximum include depth of 128",
        str(tmp_path / "f128.conf"),
    )
    write(tmp_path, {"f128.conf": "SetEnv DEEPEST\n"})
    assert setenv(read(tmp_path)) == ["DEEPEST"]


def test_total_files_and_bytes_are_bounded(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"httpd.conf": "Include conf.d\n", **{f"conf.d/{i}.conf": "SetEnv X\n" for i in range(5)}},
    )
    assert error(tmp_path, max_files=3).message == "configuration exceeds 3 files"
    assert error(tmp_path, max_bytes=30).message == "configuration exceeds 30 bytes"
    assert len(read(tmp_path, max_files=6).files) == 6


def test_nesting_deeper_than_the_python_stack(tmp_path: Path) -> None:
    # httpd nests sections and skipped sections as deep as its C stack allows; reading and
    # walking them must not recurse in Python.
    skipped = "<IfModule nope>\n" + "<a>\n" * 3000 + "</a>\n" * 3000 + "</IfModule>\n"
    nested = "<a>\n" * 3000 + "SetEnv DEEP\n" + "</a>\n" * 3000
    write(tmp_path, {"httpd.conf": skipped + nested})
    config = read(tmp_path)
    assert setenv(config) == ["DEEP"]
    assert len(list(walk(config.tree))) == 3001


def test_true_conditions_nest_up_to_a_bound(tmp_path: Path) -> None:
    ok = "<IfModule mod_so.c>\n" * 100 + "SetEnv IN\n" + "</IfModule>\n" * 100
    write(tmp_path, {"httpd.conf": ok})
    assert setenv(read(tmp_path)) == ["IN"]
    write(tmp_path, {"httpd.conf": "<IfModule mod_so.c>\n" * 101})
    exc = error(tmp_path)
    assert exc.line == 101 and exc.message.startswith("conditional sections nest more than 100")


# -- through the command line ------------------------------------------------------------------

CLI_ERRORS = {
    "mismatched-close": (
        {"httpd.conf": "<Directory />\n  Require all granted\n</Location>\n"},
        "httpd.conf",
        3,
        "Expected </Directory> but saw </Location>",
    ),
    "unclosed-section": (
        {"httpd.conf": "ServerName x\n<VirtualHost *:80>\n  ServerName y\n"},
        "httpd.conf",
        2,
        "<VirtualHost> was not closed.",
    ),
    "missing-include": (
        {"httpd.conf": "ServerName x\nInclude conf.d/missing.conf\n"},
        "httpd.conf",
        2,
        "Could not open configuration file {root}/conf.d/missing.conf: No such file or directory",
    ),
    "include-cycle": (
        {"httpd.conf": "Include a.conf\n", "a.conf": "Include httpd.conf\n"},
        "a.conf",
        1,
        "Include cycle: {root}/httpd.conf:1 -> {root}/a.conf:1 -> {root}/httpd.conf",
    ),
}


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every error case through `httpdlint check` and `httpdlint dump`, run side by side."""
    jobs = {}
    for case, (files, *_rest) in CLI_ERRORS.items():
        root = write(tmp_path_factory.mktemp(case), files)
        for command in ("check", "dump"):
            jobs[case, command] = (
                root,
                [command, str(root / "httpd.conf"), "--server-root", str(root)],
            )
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {key: pool.submit(httpdlint, *args) for key, (_, args) in jobs.items()}
        return {key: (jobs[key][0], f.result()) for key, f in futures.items()}


@pytest.mark.parametrize("command", ["check", "dump"])
@pytest.mark.parametrize("case", sorted(CLI_ERRORS))
def test_cli_reports_one_line_and_exit_2(case: str, command: str, cli_results: dict) -> None:
    root, res = cli_results[case, command]
    _, file, line, message = CLI_ERRORS[case]
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.endswith("\n") and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr == f"{root}/{file}:{line}: {message.format(root=root)}\n"
    assert res.stdout == ""


# -- against the real binary -----------------------------------------------------------------

# (files, how our message compares: "same" message, file and line; "prefix" when httpd appends
# its usage text; "first" for unclosed sections, which httpd reports one "file:line: <X> was
# not closed." per level and we in one line, at the innermost).
HTTPD_ERRORS = {
    "mismatched-close": ({"httpd.conf": "<Directory />\n</Location>\n"}, "same"),
    "mismatched-close-in-include": (
        {"httpd.conf": "Include inc.conf\n", "inc.conf": "\n<Location />\n</Directory>\n"},
        "same",
    ),
    "without-matching": ({"httpd.conf": "\n</VirtualHost>\n"}, "same"),
    "close-missing-bracket": ({"httpd.conf": "<Directory />\n</Directory\n"}, "same"),
    "unclosed": ({"httpd.conf": "<VirtualHost *:80>\n"}, "first"),
    "unclosed-nested": ({"httpd.conf": "<VirtualHost *:80>\n<Directory />\n"}, "first"),
    "missing-include": ({"httpd.conf": "\nInclude missing.conf\n"}, "same"),
    "no-wildcard-match": ({"httpd.conf": "Include conf.d/*.conf\n", "conf.d/README": ""}, "same"),
    "missing-directory": ({"httpd.conf": "Include nowhere/*.conf\n"}, "same"),
    "false-ifmodule-open": ({"httpd.conf": "\n<IfModule nope>\n<Directory />\n"}, "same"),
    "false-ifmodule-open-lowercase": ({"httpd.conf": "<ifmodule nope>\n"}, "same"),
    "ifmodule-no-argument": ({"httpd.conf": "<IfModule>\n</IfModule>\n"}, "same"),
    "ifmodule-no-bracket": ({"httpd.conf": "<IfModule mod_so.c\n</IfModule>\n"}, "same"),
    "conditional-close-not-alone": (
        {"httpd.conf": "<IfModule mod_so.c>\n</IfModule> trailing\n"},
        "same",
    ),
    "include-empty": ({"httpd.conf": 'Include ""\n'}, "prefix"),
    "ifversion-operator": ({"httpd.conf": "<IfVersion =~ 2>\n</IfVersion>\n"}, "same"),
}


def httpd_error(binary: str, root: Path) -> tuple[str, int, str]:
    """(file, line, message) of the innermost "Syntax error on line N of F:" httpd prints."""
    res = subprocess.run(
        [binary, "-d", str(root), "-f", str(root / "httpd.conf"), "-t"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode != 0, res.stderr
    found = list(re.finditer(r"Syntax error on line (\d+) of (.+?):\s", res.stderr))
    assert found, res.stderr
    last = found[-1]
    return last.group(2), int(last.group(1)), res.stderr[last.end() :].strip()


@pytest.mark.apache
@pytest.mark.parametrize("case", sorted(HTTPD_ERRORS))
def test_messages_match_httpd(case: str, apache2_bin: str, tmp_path: Path) -> None:
    files, how = HTTPD_ERRORS[case]
    write(tmp_path, files)
    exc = error(tmp_path)
    file, line, message = httpd_error(apache2_bin, tmp_path)
    if how == "same":
        assert (exc.message, exc.file, exc.line) == (message, file, line)
    elif how == "prefix":
        assert message.startswith(exc.message) and (exc.file, exc.line) == (file, line)
    else:
        # httpd: "F:2: <Directory> was not closed.\nF:1: <VirtualHost> was not closed." (the
        # newline printed as \n); we say it in one line, at the innermost section.
        first = message.split("\\n")[0]
        where, _, text = first.rpartition(": ")
        assert where == f"{exc.file}:{exc.line}"
        assert exc.message.split(" (inside ")[0].rstrip(".") + "." == text


@pytest.mark.apache
@pytest.mark.parametrize(
    "text",
    ["Define a:b\n", "Define\n", "UnDefine a b\n", "LoadModule foo_module\n", "ServerRoot\n"],
)
def test_refusals_read_past_match_httpd(text: str, apache2_bin: str, tmp_path: Path) -> None:
    """What httpd refuses while reading but a reader can go past: httpd's message and line,
    recorded for COR019 instead of ending the run."""
    write(tmp_path, {"httpd.conf": "ServerName x\n" + text})
    (refusal,) = read(tmp_path).refusals
    assert refusal == httpd_error(apache2_bin, tmp_path)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory with a short path: httpd nests 128 "Syntax error on line N of FILE:"
    prefixes in a depth error and cuts the message at 8 KiB, so long paths lose its end."""
    path = Path(tempfile.mkdtemp(prefix="hl", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.apache
def test_httpd_refuses_a_cycle_too(apache2_bin: str, short_tmp: Path) -> None:
    """httpd finds a cycle only at its depth limit; we name the chain at once."""
    tmp_path = short_tmp
    write(tmp_path, {"httpd.conf": "Include a.conf\n", "a.conf": "Include httpd.conf\n"})
    assert error(tmp_path).message.startswith("Include cycle: ")
    _, _, message = httpd_error(apache2_bin, tmp_path)
    assert message == "Exceeded maximum include depth of 128, There appears to be a recursion."


@pytest.mark.apache
def test_depth_limit_matches_httpd(apache2_bin: str, short_tmp: Path) -> None:
    tmp_path = short_tmp
    files = {"httpd.conf": "Include f1.conf\n"}
    files.update({f"f{i}.conf": f"Include f{i + 1}.conf\n" for i in range(1, 129)})
    files["f129.conf"] = "\n"
    write(tmp_path, files)
    exc = error(tmp_path)
    file, line, message = httpd_error(apache2_bin, tmp_path)
    assert (exc.file, exc.line) == (file, line)
    assert message.startswith(exc.message)
