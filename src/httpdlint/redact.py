"""What httpdlint may repeat of a file a configuration points at: no more than httpd does.

httpd quotes the first word of the first line it cannot read ("Invalid command 'X'"); a file
that is not configuration at all (a private key, /etc/shadow, an htpasswd, my.cnf) should
not have each of its lines repeated in every report. `is_foreign` decides which files those
are; `bounded` is the one form any word quoted from a configuration takes in a message."""

from __future__ import annotations

import re
from collections.abc import Callable

#: Characters of a word quoted from a configuration in a message.
QUOTE_MAX = 40

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----")
# user:hash (htpasswd: $apr1$, $2y$, {SHA}; shadow: user:$6$...:19000:0:99999:7:::).
_CREDENTIAL = re.compile(r"[^\s:#]+:(\$[0-9a-z]+\$|\{SHA\}|[*!]|[A-Za-z0-9./]{13}\b)[^\s]*$")


def bounded(word: str, limit: int = QUOTE_MAX) -> str:
    """WORD shortened to LIMIT characters (with `...`), control characters as \\xNN."""
    cut = word if len(word) <= limit else word[:limit] + "..."
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in cut)


def is_foreign(text: str) -> bool:
    """Whether a file is not configuration (`looks_foreign`), by the names the rules know."""
    from .checks.directives import _is_known_anywhere  # noqa: PLC0415 - the rules' home

    return looks_foreign(text.splitlines(), _is_known_anywhere)


def looks_foreign(lines: list[str], known: Callable[[str], bool]) -> bool:
    """Whether text is not configuration: a PEM block anywhere, or more than half of its
    lines that are neither empty nor comments look like credentials (`user:hash`) or do not
    start with a directive name (KNOWN: whether a lower-case name, a section with its `<`,
    is one).

    A configuration with a few misspelt names stays configuration (each is its COR001); a
    file of two lines with one unknown name is judged by its other line."""
    words = 0
    strange = 0
    for raw in lines:
        line = raw.strip()
        if _PEM.search(line):
            return True
        if not line or line.startswith("#"):
            continue
        words += 1
        first = line.split(None, 1)[0].lower().rstrip(">")
        if first.startswith("</"):
            first = "<" + first[2:]
        if _CREDENTIAL.match(line) or not known(first):
            strange += 1
    return words > 0 and strange * 2 > words


def foreign_message(path: str) -> str:
    """The one thing said of a file that is not configuration: its name, nothing of it."""
    return (
        f"{path} is not a configuration file (most of its lines are not directives: a key, "
        "password or credentials file?): httpd refuses to start at its first line; nothing "
        "of it is read or shown here"
    )
