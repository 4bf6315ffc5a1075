"""httpd's reading rules: logical lines, words, ${VAR} expansion, and the node type of the tree.

Follows `ap_cfg_getline` (continuation, trimming), `ap_getword_conf` (quotes, escapes) and
`ap_resolve_env` (variables) in httpd 2.4's server/util.c and server/core.c, so a line means
here exactly what it means to httpd. Nothing in this module knows about files or includes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

# apr_isspace: the C locale's isspace. Python's own str.split() and str.isspace() also take
# \x1c-\x1f, \x85, U+00A0 and other Unicode spaces, which httpd does not.
_SPACE = " \t\n\v\f\r"
_SPACE_RUN = re.compile("[ \t\n\v\f\r]+")
_ODD_ASCII_SPACE = re.compile("[\x1c-\x1f]")  # the ASCII that str.split() alone splits at
# ap_str_tolower and ap_cstr_casecmp fold ASCII letters only (str.lower() also folds
# "\u212a", the Kelvin sign, to "k").
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# httpd grows its line buffer to at most this (VARBUF_MAX_LEN in server/config.c).
MAX_LINE = 16 * 1024 * 1024


class LineTooLong(Exception):
    """A logical line longer than httpd's 16 MiB buffer."""

    def __init__(self, line: int):
        super().__init__(f"line {line} is longer than httpd's {MAX_LINE} byte limit")
        self.line = line


def ascii_lower(s: str) -> str:
    """Lowercase as httpd compares directive names: ASCII letters only."""
    return s.lower() if s.isascii() else s.translate(_ASCII_LOWER)


def decode(data: bytes) -> str:
    """Bytes to text without rejecting anything: httpd reads bytes, not UTF-8."""
    return data.decode("utf-8", "surrogateescape")


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, trimmed logical line) as `ap_varbuf_cfg_getline` returns them.

    A backslash right before the newline (optionally before CR LF) joins the next physical
    line; the number is that of the last physical line read, as httpd reports it. httpd looks
    for that backslash at the end of everything read so far, so an empty physical line after
    a continuation can continue again, and a continuation at the end of the file counts one
    more line. A NUL ends the physical line for httpd's C strings; no continuation follows.
    """
    if "\\\n" not in text and "\\\r\n" not in text and "\0" not in text and len(text) <= MAX_LINE:
        # No continuation and no NUL: every physical line is a logical line.
        physical = text.split("\n")
        if not physical[-1]:
            physical.pop()  # what follows the final newline is no line
        for number, raw in enumerate(physical, 1):
            yield number, raw.strip(_SPACE)
        return
    lines = text.split("\n")
    n = len(lines)
    physical = n - 1 if lines[-1] == "" else n
    lineno = 0
    i = 0
    while i < physical:
        acc = ""
        while True:
            raw = lines[i]
            i += 1
            lineno += 1
            nul = raw.find("\0")
            if nul >= 0:
                acc += raw[:nul]
                break
            s = acc + raw if acc else raw
            if i < n:  # this physical line ended with a newline
                t = s[:-1] if s.endswith("\r") else s
                if t.endswith("\\"):
                    acc = t[:-1]
                    if len(acc) > MAX_LINE:
                        raise LineTooLong(lineno)
                    if i >= physical:
                        lineno += 1
                        break
                    continue
            acc = s
            break
        if len(acc) > MAX_LINE:
            raise LineTooLong(lineno)
        yield lineno, acc.strip(_SPACE)


# One word as ap_getword_conf reads it: a double- or single-quoted string (a backslash
# escapes the quote or a backslash; an unclosed quote runs to the end; a backslash that ends
# the text belongs to the word), or a run of anything but C whitespace.
_TOKEN = re.compile(r'"((?:[^"\\]|\\.|\\$)*)"?|\'((?:[^\'\\]|\\.|\\$)*)\'?|([^ \t\n\v\f\r]+)', re.S)
_SKIP = re.compile("[ \t\n\v\f\r]*").match
_DQ_ESCAPE = re.compile(r'\\([\\"])')
_SQ_ESCAPE = re.compile(r"\\([\\'])")


def _word(m: re.Match[str]) -> str:
    """The text of a token, unescaped as `substring_conf` does."""
    dq, sq, plain = m.groups()
    if dq is not None:
        return _DQ_ESCAPE.sub(r"\1", dq) if "\\" in dq else dq
    if sq is not None:
        return _SQ_ESCAPE.sub(r"\1", sq) if "\\" in sq else sq
    return plain.replace("\\\\", "\\") if "\\" in plain else plain


def getword_conf(s: str, pos: int = 0) -> tuple[str, int]:
    """One word of a directive line from `pos`, as `ap_getword_conf`; returns (word, new pos).

    Double or single quotes group a word; inside them a backslash escapes the quote or a
    backslash. Outside quotes only a doubled backslash is collapsed. Whitespace after the word
    is skipped, so the new position is at the next word or the end.
    """
    pos = _SKIP(s, pos).end()
    if pos >= len(s):
        return "", len(s)
    m = _TOKEN.match(s, pos)
    return _word(m), _SKIP(s, m.end()).end()  # type: ignore[arg-type]


def split_args(s: str) -> list[str]:
    """All words of an argument string (`ap_getword_conf` until the string is used up)."""
    if not s:
        return []
    if '"' not in s and "'" not in s and "\\" not in s:
        if s.isascii() and not _ODD_ASCII_SPACE.search(s):
            return s.split()
        return [w for w in _SPACE_RUN.split(s) if w]
    return [_word(m) for m in _TOKEN.finditer(s)]


class ExpansionTooLong(Exception):
    """`${VAR}` expansion made a line longer than `resolve_env`'s limit."""


def resolve_env(
    line: str, lookup: Callable[[str], str | None], limit: int | None = None
) -> tuple[str, list[str]]:
    """Expand `${NAME}` as `ap_resolve_env`: returns (text, names that were not defined).

    An undefined variable stays literally in the text (httpd warns, AH00111); names with a
    colon are left alone without a warning, as httpd does for expression syntax. With
    `limit`, ExpansionTooLong as soon as the text would pass that many characters (httpd
    has no limit here: see loader.MAX_EXPANDED_LINE), before it is built.
    """
    if "${" not in line:
        return line, []
    out: list[str] = []
    undefined: list[str] = []
    pos = 0
    size = 0
    while True:
        start = line.find("${", pos)
        if start < 0:
            break
        end = line.find("}", start + 2)
        if end < 0:
            break
        name = line[start + 2 : end]
        value = lookup(name)
        out.append(line[pos:start])
        if value is None:
            if ":" not in name:
                undefined.append(name)
            out.append(line[start : end + 1])
        else:
            out.append(value)
        if limit is not None:
            size += start - pos + (end + 1 - start if value is None else len(value))
            if size > limit:
                raise ExpansionTooLong(limit)
        pos = end + 1
    out.append(line[pos:])
    if limit is not None and size + len(line) - pos > limit:
        raise ExpansionTooLong(limit)
    return "".join(out), undefined


class MacroOrigin(NamedTuple):
    """Where a directive that mod_macro expanded comes from (immutable: a tuple, which a
    tree of a hundred thousand expanded directives makes fastest).

    `name` (lowercase, as httpd names it), `file` and `line` are the macro's definition, the
    `<Macro>` line. httpd records the directive in a file of its own making, which
    `DUMP_CONFIG` prints: `macro 'vhost' (defined on line 9 of "/etc/httpd.conf") used on
    line 16 of "/etc/httpd.conf"`, and the line inside that expansion: `httpd_file` and
    `httpd_line`. The directive's own file and line are the `Use` line in a real file, where
    findings point.
    """

    name: str
    file: str
    line: int
    httpd_file: str
    httpd_line: int

    def as_json(self) -> dict:
        """`{"name", "file", "line"}`: the macro and its definition, as findings carry it."""
        return {"name": self.name, "file": self.file, "line": self.line}


class Directive:
    """One node of the evaluated tree: a directive, or a section with children.

    `name` is spelled as in the file; a section's name keeps httpd's leading "<"
    (`<VirtualHost`). `raw` is the argument text httpd keeps (after ${VAR} expansion; for a
    section it ends with ">"), and `args` its words, split when first asked for: a large
    tree has hundreds of thousands of nodes and rules read the words of few of them.
    `macro` is None, or the MacroOrigin of a directive that came from a `Use`.
    """

    __slots__ = ("name", "lname", "raw", "file", "line", "_args", "children", "parent", "macro")

    def __init__(
        self,
        name: str,
        raw: str,
        file: str,
        line: int,
        args: list[str] | None = None,
        children: list[Directive] | None = None,
        parent: Directive | None = None,
        lname: str | None = None,
    ):
        self.name = name
        self.lname = lname if lname is not None else ascii_lower(name)
        self.raw = raw
        self.file = file
        self.line = line
        self._args = args
        self.children = children
        self.parent = parent
        self.macro: MacroOrigin | None = None

    @property
    def args(self) -> list[str]:
        if self._args is None:
            self._args = (
                section_args(self.raw) if self.children is not None else split_args(self.raw)
            )
        return self._args

    @args.setter
    def args(self, value: list[str]) -> None:
        self._args = value

    def __repr__(self) -> str:
        return f"Directive({self.name!r}, {self.raw!r}, {self.file!r}, {self.line})"

    def vhost(self) -> Directive | None:
        """The `<VirtualHost>` this node is inside, or None at server level."""
        parent = self.parent
        while parent is not None:
            if parent.lname == "<virtualhost":
                return parent
            parent = parent.parent
        return None

    @property
    def is_section(self) -> bool:
        return self.children is not None

    def section_label(self) -> str:
        """`VirtualHost *:80`, as a section is named in paths and messages."""
        return " ".join([self.name.lstrip("<"), *self.args])

    def section_path(self) -> list[str]:
        path = []
        node = self.parent
        while node is not None:
            path.append(node.section_label())
            node = node.parent
        path.reverse()
        return path

    def walk(self) -> Iterator[Directive]:
        """This node and all below it, in file order (depth first, without recursion: httpd
        accepts sections nested deeper than Python's call stack)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            if node.children:
                stack.extend(reversed(node.children))


def section_args(raw: str) -> list[str]:
    """The words of a section's argument text, up to its closing `>`."""
    end = raw.rfind(">")
    return split_args(raw[:end] if end >= 0 else raw)


def walk(nodes: list[Directive]) -> Iterator[Directive]:
    """Every node of a forest, in file order (depth first)."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        if node.children:
            stack.extend(reversed(node.children))
