"""The lines httpd's reader hands the builder: one file, or one macro expansion spliced into
it, with the `# httpdlint:` pragmas found on the way and the `<Macro>` definitions it reads.

A small layer under loader.py (the builder) and macro.py (mod_macro): both read through a
`_Reader`, and a file's lines come from `_reader`, which drops blank lines and comments in one
pass where nothing needs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .bounds import ENVVARS_MAX_BYTES, NotRegular, TooLarge, read_regular
from .errors import ConfigError
from .syntax import (
    MAX_LINE,
    decode,
    logical_lines,
)

_PRAGMA_START = re.compile(r"#\s*httpdlint\s*:")


_PRAGMA = re.compile(
    r"#\s*httpdlint:\s*(ignore|ignore-file)\s*=\s*([A-Za-z0-9_,\s]+?)\s*(?:--\s*(.*))?$"
)


@dataclass
class Pragma:
    """A `# httpdlint: ignore=...` comment and the line it applies to."""

    file: str
    line: int
    codes: tuple[str, ...]
    reason: str | None
    whole_file: bool
    target: int | None = None
    used: bool = False
    #: Why the comment could not be read as a pragma (a typo such as `ignroe=`), or None.
    error: str | None = None


@dataclass
class MacroDefinition:
    """One `<Macro>` as mod_macro keeps it: lowercase name, parameters, body lines unread."""

    name: str
    params: list[str]
    #: The body's lines as httpd stores them: logical lines, trimmed, blank ones kept,
    #: comment lines dropped (their numbers inside an expansion count as httpd's do).
    body: list[str]
    #: httpd's own words for it, `defined on line 9 of "/etc/httpd.conf"`, in every message.
    location: str
    #: The `<Macro>` line in a real file (the `Use` line when a macro defines it).
    file: str
    line: int
    ignore_empty: bool = False
    ignore_bad_nesting: bool = False
    #: How many times `Use` expanded it.
    uses: int = 0
    #: For each body line, whether no parameter occurs in it (a Use copies it as it is).
    fixed: list[bool] = field(default_factory=list)
    #: `# httpdlint: ignore=...` comments in the body: they apply to each expansion.
    pragmas: list[Pragma] = field(default_factory=list)


@dataclass
class _Expansion:
    """One `Use`: httpd's name for the text it reads (`macro 'x' (defined ...) used on line N
    of "F"`), the Use line in a real file, and the macro's definition."""

    where: str
    file: str
    line: int
    macro: MacroDefinition


@dataclass
class _Reader:
    """Lines of one open file, shared by the nested builders reading it."""

    path: str
    lines: Iterator[tuple[int, str]]
    pending: list[Pragma] = field(default_factory=list)
    #: ASCII without the control characters Python's str.split() takes for spaces, so
    #: str.split() cuts words exactly where httpd's C isspace() does.
    plain: bool = False
    #: `lines` leaves blank lines and comments out (`_reader`'s fast path). A macro body
    #: keeps its blank lines, which httpd counts: `physical` reads them back.
    sparse: bool = False
    #: The `Use` whose expansion is being read (None: the file itself), and the sources each
    #: expansion interrupted, innermost last. Like mod_macro's array_getstr, an expansion
    #: is read in place of the rest of the file until it runs out, then the file goes on.
    expansion: _Expansion | None = None
    outer: list[tuple[str, Iterator[tuple[int, str]], bool, _Expansion | None]] = field(
        default_factory=list
    )
    _physical: list[str] | None = None

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self.stream()

    def stream(self) -> Iterator[tuple[int, str]]:
        """Every line to the end of the file, through expansions (for soak and macro bodies:
        the builder's hot loop reads `lines` itself). A plain for loop, not `yield from`:
        closing this generator must not close the file's own."""
        while True:
            for item in self.lines:  # noqa: UP028 (see above: not `yield from`)
                yield item
            if not self.outer:
                return
            self.pop()

    def push(self, expansion: _Expansion, lines: Iterator[tuple[int, str]], plain: bool) -> None:
        self.outer.append((self.path, self.lines, self.plain, self.expansion))
        self.path = expansion.where
        self.lines = lines
        self.plain = plain
        self.expansion = expansion

    def pop(self) -> None:
        self.path, self.lines, self.plain, self.expansion = self.outer.pop()

    def physical(self) -> list[str]:
        """The file's physical lines, read again (while the file itself is being read): only
        a file that defines a macro pays for them."""
        if self._physical is None:
            try:
                with open(self.path, "rb") as fh:
                    self._physical = decode(fh.read()).split("\n")
            except OSError:
                self._physical = []
        return self._physical


def _reader(path: str, text: str) -> _Reader:
    """The lines of a file for the builder.

    Without continuations or NULs (nearly every file) each physical line is a logical one,
    and blank lines and comments (but httpdlint's own) are dropped here, in one pass.
    """
    # Substring tests run at memchr speed; a regex scan of a large file costs 20 ms more.
    plain = text.isascii() and not any(c in text for c in "\x1c\x1d\x1e\x1f")
    joined = "\\" in text and ("\\\n" in text or "\\\r\n" in text)
    if joined or "\0" in text or len(text) > MAX_LINE:
        return _Reader(path, logical_lines(text), plain=plain)
    physical = text.split("\n")
    if plain:
        # Python's whitespace is C's here (no \x1c-\x1f, no non-ASCII): the C-level strip.
        stripped = map(str.strip, physical)
    else:
        stripped = (raw.strip(" \t\n\v\f\r") for raw in physical)
    kept = [
        (number, line)
        for number, line in enumerate(stripped, 1)
        if line and (line[0] != "#" or "httpdlint" in line)
    ]
    return _Reader(path, iter(kept), plain=plain, sparse=True)


_C_SPACE = " \t\n\v\f\r"  # apr_isspace

# ${VAR} expansion. httpd bounds it by nothing but memory: ap_resolve_env (server/core.c)
# sums the lengths of the pieces into `outlen` and apr_palloc()s that much, unchecked; a
# line's length is bounded only as read (VARBUF_MAX_LEN, 16 MiB, in ap_build_config,
# server/config.c), before expansion. Doubling Defines (`Define a1 ${a0}${a0}`, ...) make
# `apache2 -t` take 1.5 GB at 27 levels, and at 29 it stops with "Memory allocation failed,
# aborting process." (exit 134). No bound can agree with that everywhere, since httpd's
# depends on the machine's memory: an expanded line is held to the 16 MiB httpd allows a
# line read from a file (so any line accepted is one httpd could have been given literally,
# and dump still equals DUMP_CONFIG on it), and all expansions together to 64 MiB, four such
# lines. The doubling chain from `Define a0 xx` passes to 22 levels (8 MiB), not 23 (16 MiB).
MAX_EXPANDED_LINE = MAX_LINE
MAX_EXPANDED_TOTAL = 4 * MAX_LINE


def expansion_error(total: bool = False) -> str:
    """The message for a line whose ${VAR} expansion passes a bound (see above)."""
    if total:
        return (
            f"${{VAR}} expansion adds more than {MAX_EXPANDED_TOTAL} bytes to the "
            "configuration (httpdlint's bound: httpd's own is its memory)"
        )
    return (
        f"${{VAR}} expansion makes this line longer than {MAX_EXPANDED_LINE} bytes, "
        "httpd's limit on a line it reads (VARBUF_MAX_LEN; httpd itself expands without "
        "a bound until memory runs out)"
    )


def read_envvars(path: str) -> dict[str, str]:
    """Debian's `envvars`, read as data: `export NAME=value` lines, never executed.

    Assignments inside if/else blocks apply in order, so the last branch (Debian's default
    for /etc/apache2) wins. `$NAME` and `${NAME}` expand from earlier assignments.
    """
    values: dict[str, str] = {}
    try:
        text = decode(read_regular(path, ENVVARS_MAX_BYTES))
    except TooLarge:
        raise ConfigError(
            f"envvars is larger than {ENVVARS_MAX_BYTES} bytes: not read (a shell script "
            "apache2ctl sources; httpdlint reads its assignments as data)",
            path,
        ) from None
    except NotRegular:
        raise ConfigError("envvars is not a regular file: not read", path) from None
    except OSError:
        return values
    total = 0
    assign = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
    ref = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)")
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        m = assign.match(line)
        if not m:
            continue
        value = m.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quoted = value[0]
            value = value[1:-1]
            if quoted == "'":
                values[m.group(1)] = value
                continue
        expanded = ref.sub(lambda r: values.get(r.group(1) or r.group(2), ""), value)
        # The shell expands without a bound; a file of 1 MiB doubling a variable per line
        # would make gigabytes. All values together stay within the file's own cap.
        total += len(expanded)
        if total > ENVVARS_MAX_BYTES:
            raise ConfigError(
                f"envvars expands to more than {ENVVARS_MAX_BYTES} bytes of values",
                path,
                number,
            )
        values[m.group(1)] = expanded
    return values


# <RequireAll>/<RequireAny>/<RequireNone> inside one another: mod_authz_core and the rules
# that follow its logic (access.py, authz.py) recurse through them, one Python call per
# level. httpd (C, recursive as well) reads on; real trees nest two or three.
AUTHZ_SECTIONS = frozenset(("<requireall", "<requireany", "<requirenone"))
MAX_AUTHZ_DEPTH = 64


def authz_depth(parent, path: str, lineno: int) -> None:
    """ConfigError when an authz section opened under `parent` nests past MAX_AUTHZ_DEPTH."""
    depth = 1
    while parent is not None and parent.lname in AUTHZ_SECTIONS:
        depth += 1
        if depth > MAX_AUTHZ_DEPTH:
            raise ConfigError(
                f"Require sections nest more than {MAX_AUTHZ_DEPTH} deep; httpdlint stops "
                "here (httpd would read on)",
                path,
                lineno,
            )
        parent = parent.parent
