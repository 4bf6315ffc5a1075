"""The `<If>` expressions a request decides by itself (ap_expr, a small part of it).

Comparisons of the request's method, Host, URL, scheme, port and the client's address with a
string, a list or a regular expression, `-ipmatch`, `true`/`false`, and `&&`, `||`, `!`
over those. Anything else (headers the request does not fix, environment variables, files,
functions) is undecided: None, and the merge model shows the section as conditional.
"""

from __future__ import annotations

import ipaddress
import re

from . import confregex

_VARS = {
    "request_method": lambda r: r.method.upper(),
    "http_host": lambda r: r.host,
    "server_name": lambda r: r.host,
    "request_uri": lambda r: r.url,
    "request_scheme": lambda r: r.scheme,
    "https": lambda r: "on" if r.scheme == "https" else "off",
    "server_port": lambda r: str(r.port),
    "remote_addr": lambda r: r.client,
}
_VAR = r"%\{(?:HTTP:)?([A-Za-z_]+)\}|req\(\s*'([^']*)'\s*\)"
_STR = r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\""
_REGEX = r"/((?:[^/\\]|\\.)*)/(i?)|m#((?:[^#\\]|\\.)*)#(i?)"
_COMPARE = re.compile(
    rf"^\s*(?:{_VAR})\s*(==|!=|=~|!~|-ipmatch|in)\s*(.*?)\s*$", re.IGNORECASE | re.DOTALL
)


def decide_expr(text: str, request) -> bool | None:
    """True or False when the request alone decides the expression, else None."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return _expr(text, request)


def _split(text: str, op: str) -> list[str]:
    """Split at `op` outside quotes, regular expressions and parentheses."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and text.startswith(op, i):
            parts.append(text[start:i])
            i += len(op)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _expr(text: str, request) -> bool | None:
    text = text.strip()
    for op, combine in (("||", any), ("&&", all)):
        parts = _split(text, op)
        if len(parts) > 1:
            values = [_expr(p, request) for p in parts]
            if combine is any and True in values:
                return True
            if combine is all and False in values:
                return False
            return None if None in values else combine(values)
    if text.startswith("!"):
        inner = _expr(text[1:], request)
        return None if inner is None else not inner
    if text.startswith("(") and text.endswith(")"):
        return _expr(text[1:-1], request)
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    m = _COMPARE.match(text)
    if m is None:
        return None
    name = (m.group(1) or "").lower() or "http_" + (m.group(2) or "").lower().replace("-", "_")
    getter = _VARS.get(name)
    value = getter(request) if getter else None
    if value is None:
        return None
    op, rhs = m.group(3).lower(), m.group(4)
    if op in ("==", "!="):
        s = re.fullmatch(_STR, rhs)
        if s is None:
            return None
        equal = value == (s.group(1) if s.group(1) is not None else s.group(2))
        return equal if op == "==" else not equal
    if op in ("=~", "!~"):
        r = re.fullmatch(_REGEX, rhs)
        if r is None:
            return None
        pattern = r.group(1) if r.group(1) is not None else r.group(3)
        flags = confregex.IGNORECASE if (r.group(2) or r.group(4)) else 0
        try:
            found = confregex.search(pattern, value, flags) is not None
        except (confregex.Invalid, confregex.Undecided):
            return None
        return found if op == "=~" else not found
    if op == "in":
        items = re.findall(_STR, rhs.strip().strip("{}"))
        if not items:
            return None
        return value in {a or b for a, b in items}
    s = re.fullmatch(_STR, rhs)  # -ipmatch
    if s is None:
        return None
    try:
        net = ipaddress.ip_network(s.group(1) or s.group(2), strict=False)
        return ipaddress.ip_address(value) in net
    except ValueError:
        return None
