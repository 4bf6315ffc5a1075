"""Host names as httpd handles them: resolved by this machine's resolver (apr), a Host header
read (server/vhost.c fix_hostname, strict_hostname_check) and matched against ServerAlias
patterns (server/util.c ap_is_matchexp, ap_strcasecmp_match)."""

from __future__ import annotations

import functools
import ipaddress
import re
import socket

__all__ = [
    "canonical_ip",
    "fix_hostname",
    "is_wild",
    "local_host",
    "resolve",
    "reverse",
    "wild_re",
]


def is_wild(name: str) -> bool:
    """ap_is_matchexp: a name with `*` or `?` is matched as a pattern."""
    return "*" in name or "?" in name


@functools.lru_cache(maxsize=1024)
def wild_re(pattern: str) -> re.Pattern[str]:
    """ap_strcasecmp_match: `*` any run of characters (dots too), `?` one; no brackets."""
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def fix_hostname(header: str) -> str | None:
    """fix_hostname with the default HttpProtocolOptions Strict: the Host header lowercased,
    without its port and trailing dot; None where httpd answers 400."""
    if header == "":
        return ""
    if header.isdigit():
        return None  # purely numeric
    if header.startswith("["):
        end = header.find("]")
        rest = header[end + 1 :] if end > 0 else "x"
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        literal = header[1:end].lower()
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return None
        return literal
    host, sep, port = header.rpartition(":")
    if not sep:
        host = header
    elif not port.isdigit() or ":" in host:
        return None
    host = host.lower()
    if not host or ".." in host or "/" in host or "\\" in host:
        return None
    host = host[:-1] if host.endswith(".") else host
    return host if _strict_ok(host) else None


def _strict_ok(host: str) -> bool:
    """strict_hostname_check: letters, digits, `-`, `_`, dots; a dotted quad exactly."""
    if not all(c.isascii() and (c.isalnum() or c in "-_.") for c in host):
        return False
    if all(c.isdigit() or c == "." for c in host):
        parts = host.split(".")
        return len(parts) == 4 and all(p and (p == "0" or p[0] != "0") for p in parts)
    tld = host.rsplit(".", 1)[-1] if "." in host else None
    return not tld or tld[0].isalpha()


def canonical_ip(text: str) -> str | None:
    """An IP address in one spelling (IPv4-mapped IPv6 as IPv4), or None for a name."""
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


@functools.lru_cache(maxsize=4096)
def resolve(host: str) -> tuple[str, ...]:
    """apr_sockaddr_info_get(host, APR_UNSPEC): every address, in the resolver's order."""
    ip = canonical_ip(host)
    if ip is not None:
        return (ip,)
    try:
        found = socket.getaddrinfo(host, 0, 0, socket.SOCK_STREAM, 0, socket.AI_ADDRCONFIG)
    except (OSError, UnicodeError):
        return ()  # AH00547: "Could not resolve host name ... -- ignoring!"
    out: list[str] = []
    for item in found:
        ip = canonical_ip(str(item[4][0]))
        if ip is not None and ip not in out:
            out.append(ip)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def reverse(ip: str) -> str | None:
    """apr_getnameinfo(NI_NAMEREQD) of an address, or None."""
    try:
        return socket.getnameinfo((ip, 0), socket.NI_NAMEREQD)[0]
    except (OSError, UnicodeError):
        return None


@functools.lru_cache(maxsize=1)
def local_host() -> str:
    """ap_get_local_host: the name httpd uses when the server has no ServerName."""
    name = socket.gethostname()
    addrs = resolve(name)
    if not addrs:
        return "127.0.0.1"
    full = reverse(addrs[0])
    if full and "." in full:
        return full
    return name if "." in name else addrs[0]
