"""Memory sizes as people write them (`1G`, `512M`, `25MB`, `1.5GiB`) and as the tool prints them.

Every unit is binary, the way `free`, `top` and httpd's own documentation count: `1G`, `1GB` and
`1GiB` all mean 1024 MiB. A bare number is bytes. Mixing decimal and binary readings of "MB" is
the classic way a sizing is off by 5 %, so there is only one reading.
"""

from __future__ import annotations

import math
import re

__all__ = ["UNITS", "parse_size", "format_size"]

# Exponent of 1024 for each unit letter; "" is bytes.
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}

#: Units in increasing order, as printed by format_size.
UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")

_SIZE_RE = re.compile(
    r"""^\s*
    (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)   # 25, 1.5, .5, 1e3
    \s*
    (?:(?P<unit>[kmgtp])(?:i?b)?|b)?                    # K, KB, KiB, kib, B or nothing
    \s*$""",
    re.IGNORECASE | re.VERBOSE,
)

# Sizes beyond this are typos, not machines (and would overflow C longs in httpd's world anyway).
_MAX_BYTES = 2**63 - 1


def parse_size(text: str) -> int:
    """Return the number of bytes `text` names; all units are binary (1K = 1024).

    Accepts an optional space between number and unit, a unit letter K/M/G/T/P in any case,
    optionally followed by `B` or `iB`, and decimal fractions (`1.5G`). A fraction of a byte
    is rounded to the nearest byte. Raises ValueError with a message that names the input.
    """
    if not isinstance(text, str):
        raise ValueError(f"size must be text such as 512M, not {text!r}")
    match = _SIZE_RE.match(text)
    if match is None:
        raise ValueError(
            f"invalid size {text!r}: expected a number and an optional unit "
            "(B, K, M, G, T; KB/KiB alike, all binary), e.g. 512M or 1.5GiB"
        )
    value = float(match.group("number"))
    power = _POWERS[(match.group("unit") or "").lower()]
    result = value * 1024**power
    if not math.isfinite(result) or result > _MAX_BYTES:
        raise ValueError(f"invalid size {text!r}: too large")
    return int(round(result))


def format_size(n: int, unit: str | None = None) -> str:
    """Print `n` bytes with a binary unit: `25 MiB`, `1.5 GiB`, `27.75 MiB`, `0 B`.

    Without `unit` the largest unit that keeps the number at least 1 is used; with `unit`
    (one of UNITS) that one is forced, which keeps the lines of an explanation comparable.
    At most two decimals are shown, trailing zeros dropped, so parse_size(format_size(n))
    is within 0.5 % of the unit of n.
    """
    n = int(n)
    sign = "-" if n < 0 else ""
    magnitude = abs(n)
    if unit is None:
        index = 0
        while index + 1 < len(UNITS) and magnitude >= 1024 ** (index + 1):
            index += 1
    else:
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}: expected one of {', '.join(UNITS)}")
        index = UNITS.index(unit)
    if index == 0:
        return f"{sign}{magnitude} B"
    value = magnitude / 1024**index
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{sign}{text} {UNITS[index]}"
