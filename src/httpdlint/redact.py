"""What httpdlint may repeat of a file a configuration points at: no more than httpd does.

httpd quotes the first word of the first line it cannot read ("Invalid command 'X'"); a file
that is not configuration at all (a private key, /etc/shadow, an htpasswd, my.cnf) should
not have each of its lines repeated in every report. `is_foreign` decides which files those
are; `bounded` is the one form any word quoted from a configuration takes in a message."""

from __future__ import annotations

import re

#: Characters of a word quoted from a configuration in a message.
QUOTE_MAX = 40

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----")
_NAME = re.compile(r"[A-Za-z0-9_.<>/-]+")
# A text every line of which is blank, a comment or begins with a name-shaped word (any
# configuration): one C-level match answers for it, without looking at each line in Python.
_ALL_NAMED = re.compile(
    r"(?:[ \t\r\v\f]*(?:#[^\n]*|[A-Za-z0-9_.<>/-]+(?:[ \t][^\n]*)?)?(?:\n|\Z))*"
)


def bounded(word: str, limit: int = QUOTE_MAX) -> str:
    """WORD shortened to LIMIT characters (with `...`), what would not show as itself escaped:
    a byte that was not UTF-8 as \\xNN (the byte), a control or space character other than
    the space as \\xNN or \\uNNNN (a look-alike name must look different)."""
    cut = word if len(word) <= limit else word[:limit] + "..."
    return "".join(map(_shown, cut))


def _shown(c: str) -> str:
    if "\udc80" <= c <= "\udcff":  # surrogateescape: the byte itself
        return f"\\x{ord(c) - 0xDC00:02x}"
    if c == " " or c.isprintable():
        return c
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def is_foreign(text: str) -> bool:
    """Whether a file is not configuration: a PEM block anywhere, or more than half of its
    lines that are neither empty nor comments cannot be directives: their first word is not
    shaped like a name (letters, digits, `_`, `-`, `.`, `<`, `/`, `>`), as `user:hash`
    (htpasswd, shadow), `[client]` or `password=...` (my.cnf) and base64 are not.

    A configuration with misspelt or unknown names stays configuration (each is its COR001);
    a file of two lines with one odd line is judged by its other line."""
    if "-----BEGIN" not in text and _ALL_NAMED.fullmatch(text):
        return False
    words = 0
    strange = 0
    for raw in text.splitlines():
        line = raw.strip()
        if _PEM.search(line):
            return True
        if not line or line.startswith("#"):
            continue
        words += 1
        if not _NAME.fullmatch(line.split(None, 1)[0]):
            strange += 1
    return words > 0 and strange * 2 > words


def foreign_message(path: str) -> str:
    """The one thing said of a file that is not configuration: its name, nothing of it."""
    return (
        f"{path} is not a configuration file (most of its lines are not directives: a key, "
        "password or credentials file?): httpd refuses to start at its first line; nothing "
        "of it is read or shown here"
    )


_QUOTED = re.compile(r"'([^'\n]*)'")
#: Characters of a message of httpd's relayed (`check --pre-restart`, `suggest --apply`).
RELAY_MAX = 400


def relayed(message: str, file: str | None = None) -> str:
    """httpd's own message, as httpdlint repeats it: each quoted word bounded, all of them
    hidden when FILE (the file httpd names) is not configuration, the whole bounded."""
    hide = False
    if file:
        try:
            with open(file, "rb") as fh:
                hide = is_foreign(fh.read(1 << 20).decode("utf-8", "replace"))
        except OSError:
            hide = False

    def one(m: re.Match[str]) -> str:
        return "'(not shown: not a configuration file)'" if hide else f"'{bounded(m.group(1))}'"

    return bounded(_QUOTED.sub(one, message), RELAY_MAX)
