"""Every regular expression a configuration holds is compiled and matched here, with a bound.

httpd compiles them with PCRE2 and matches with PCRE2's match limit (10,000,000 steps by
default; util_pcre.c turns "match limit exceeded" into "no match"). Python's `re` has no such
limit, and its C matcher holds the GIL and ignores signals, so `^/(a|aa)+$` against a
46-character URL would run for minutes with no way to stop it.

Engine: the `pcre2` bindings when they can be imported (`pip install httpdlint[pcre2]`):
httpd's own library, so which patterns are valid and what they match is httpd's verdict, and
a match over the limit stops in a few hundredths of a second. They are compiled code (wheels
per Python version), so the one-file build cannot carry them; without them `re` is used with
a bound decided before matching: the pattern's parse tree is read, and a subject longer than
the pattern can search in about a million steps is not matched at all. Nested repetition
(`(a+)+`, `(a|aa)+`) is exponential: only subjects of a few characters are tried; k unbounded
repetitions in sequence are polynomial (n^k): the subject may be up to 10^(6/k) characters.

A match that is not tried, or that PCRE2 stops, raises `Undecided`: the caller claims nothing
from it (a section whose pattern is undecided makes the merged result undecided; a rule does
not fire on it)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .redact import bounded

try:  # Python 3.11 renamed the parser; 3.10 has only the deprecated top-level module.
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]

try:
    import pcre2 as _pcre2  # type: ignore[import-not-found]
except ImportError:  # the one-file build, or not installed
    _pcre2 = None

ENGINE = "pcre2" if _pcre2 is not None else "re"
IGNORECASE = 1

#: Steps a `re` match may be expected to take before it is declared undecided.
_STEPS = 1_000_000
#: Subject length for a pattern with nested repetition: 2^12 steps at worst.
_NESTED_MAX = 12
#: Subject length for a pattern with at most one unbounded repetition (linear).
_LINEAR_MAX = 65536


class Undecided(Exception):
    """A match too costly to decide (PCRE2's match limit, or the bound `re` is given)."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.pattern = pattern
        self.node: Any = None  # the line the pattern is on, when the caller knows it

    def describe(self) -> str:
        return f"the regular expression '{bounded(self.pattern)}' is too costly to match"


class Invalid(Exception):
    """A pattern the engine refuses to compile."""


class Pattern:
    """A compiled configuration pattern; `search` returns the groups of a match or None."""

    def __init__(self, pattern: str, flags: int) -> None:
        self.pattern = pattern
        self.icase = bool(flags & IGNORECASE)
        if _pcre2 is not None:
            try:
                self._compiled = _pcre2.compile(pattern, _pcre2.I if self.icase else 0)
            except _pcre2.LibraryError as exc:
                raise Invalid(str(exc)) from None
            self._limit = _LINEAR_MAX * 16  # PCRE2's own match limit bounds the time
            return
        try:
            self._compiled = re.compile(pattern, re.IGNORECASE if self.icase else 0)
            tree = _sre_parse.parse(pattern, re.IGNORECASE if self.icase else 0)
        except (re.error, RecursionError, OverflowError) as exc:
            raise Invalid(str(exc)) from None
        self._limit = _subject_limit(tree)

    def search(self, text: str) -> tuple[str, ...] | None:
        """The match's text and groups ("" for a group that took no part), or None."""
        if len(text) > self._limit:
            raise Undecided(self.pattern)
        if _pcre2 is not None:
            try:
                m = self._compiled.search(text)
            except _pcre2.LibraryError:  # match limit, depth limit, heap limit
                raise Undecided(self.pattern) from None
        else:
            m = self._compiled.search(text)
        if m is None:
            return None
        return tuple(m.group(i) or "" for i in range(self._compiled.groups + 1))


@lru_cache(maxsize=4096)
def compile(pattern: str, flags: int = 0) -> Pattern:  # noqa: A001 - as re.compile
    """The compiled pattern (cached); `Invalid` when the engine refuses it."""
    return Pattern(pattern, flags)


def search(pattern: str, text: str, flags: int = 0) -> tuple[str, ...] | None:
    """Search TEXT; `Invalid` for a bad pattern, `Undecided` when it is too costly."""
    return compile(pattern, flags).search(text)


def matches(pattern: str, text: str, flags: int = 0) -> bool | None:
    """Whether the pattern is found in TEXT: None when undecided, False when invalid."""
    try:
        return search(pattern, text, flags) is not None
    except Invalid:
        return False
    except Undecided:
        return None


def expand(template: str, groups: tuple[str, ...]) -> str:
    """httpd's ap_pregsub (regsub_core in server/util.c): `$0`-`$9` become the groups, a
    backslash makes the next character literal."""
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        if c == "$" and i + 1 < len(template) and template[i + 1].isdigit():
            n = int(template[i + 1])
            out.append(groups[n] if n < len(groups) else "")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# -- the bound for `re` ------------------------------------------------------------------

_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def _subject_limit(tree: Any) -> int:
    nested, unbounded = _scan(tree, inside_repeat=False)
    if nested:
        return _NESTED_MAX
    if unbounded <= 1:
        return _LINEAR_MAX
    return int(_STEPS ** (1 / unbounded))


def _scan(items: Any, inside_repeat: bool) -> tuple[bool, int]:
    """(whether a repetition holds another repetition or an alternation, the number of
    repetitions that may take more than a few characters)."""
    nested, unbounded = False, 0
    for op, arg in items:
        name = str(op)
        children: list[Any] = []
        if name in _REPEATS:
            low, high, body = arg
            many = high is _sre_parse.MAXREPEAT or high > 16
            if inside_repeat and (many or high > 1):
                nested = True
            if many:
                unbounded += 1
            if (many or high > 1) and _has_choice(body):
                nested = True
            n, u = _scan(body, inside_repeat or many or high > 1)
            nested, unbounded = nested or n, unbounded + u
            continue
        if name == "SUBPATTERN":
            children = [arg[-1]]
        elif name == "BRANCH":
            children = list(arg[1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            children = [arg[1]]
        elif name == "GROUPREF_EXISTS":
            children = [c for c in arg[1:] if c is not None]
        elif name == "ATOMIC_GROUP":
            children = [arg]
        for child in children:
            n, u = _scan(child, inside_repeat)
            nested, unbounded = nested or n, unbounded + u
    return nested, unbounded


def _has_choice(items: Any) -> bool:
    for op, arg in items:
        name = str(op)
        if name == "BRANCH":
            return True
        if name == "SUBPATTERN" and _has_choice(arg[-1]):
            return True
    return False
