"""Write a tree of directives back as configuration text that httpd reads the same way.

`render` is the inverse of reading for what a tree can hold: each node becomes one line,
sections get their close tag, and every word is quoted only when `ap_getword_conf` would
otherwise not give it back (it is empty, holds whitespace, starts with a quote, or holds a
backslash, which unquoted could collapse (`\\\\`) or join the next line at the end of one).
Inside double quotes a backslash and a double quote are escaped; nothing else needs it.

Reading `render(nodes)` gives nodes with the same names, arguments and nesting. What cannot
come back is refused with ValueError: a NUL or a newline in a word (httpd's lines end
there), an empty name (httpd skips such a line), a name ending in `>` (httpd drops it) or
starting with `</` (a close tag). Comments and blank lines are not part of
a tree. `${NAME}` is written as it is; httpd expands it when reading, quoted or not.
"""

from __future__ import annotations

from collections.abc import Iterable

from .syntax import Directive

__all__ = ["render", "render_line", "quote"]

_SPACE = frozenset(" \t\n\v\f\r")  # apr_isspace in the C locale, as syntax reads words
INDENT = "    "


def quote(word: str) -> str:
    """One word as `ap_getword_conf` reads it back: bare when that is safe, else in "..."."""
    if "\0" in word or "\n" in word:
        raise ValueError(f"a word cannot hold a NUL or a newline: {word!r}")
    if word and word[0] not in "\"'" and "\\" not in word and not any(c in _SPACE for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_line(node: Directive) -> str:
    """The line that opens `node`: its name and its quoted arguments (a section's with `>`)."""
    name = node.name
    if not name:
        raise ValueError("a directive needs a name; httpd skips a line whose first word is empty")
    if name.endswith(">") or name.startswith("</"):
        raise ValueError(f"httpd reads {name!r} as a close tag or drops its '>'")
    if name.startswith("<"):
        head = quote(name)
        if not node.args:
            return head + ">"
        return " ".join([head, *(quote(a) for a in node.args)]) + ">"
    return " ".join([quote(name), *(quote(a) for a in node.args)])


def _close(node: Directive) -> str:
    return quote("</" + node.name[1:] + ">")


def _emit(nodes: Iterable[Directive], level: int, out: list[str]) -> None:
    pad = INDENT * level
    for node in nodes:
        out.append(pad + render_line(node))
        if node.name.startswith("<"):
            _emit(node.children or (), level + 1, out)
            out.append(pad + _close(node))


def render(nodes: list[Directive]) -> str:
    """Configuration text for a forest of directives, four spaces of indent per level.

    A node whose name starts with `<` is a section and gets a close tag, children or not.
    """
    out: list[str] = []
    _emit(nodes, 0, out)
    return "".join(line + "\n" for line in out)
