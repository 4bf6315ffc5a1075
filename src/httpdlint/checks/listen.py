"""Listen and virtual-host checks: overlapping or missing Listen lines, a virtual host on a port
httpd does not listen on, duplicate server names, 2.2's name-based virtual hosts."""

from __future__ import annotations

import collections
import functools
import ipaddress
import itertools
import operator
import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..facts import SYNTAX_ERROR
from ..findings import Finding
from ..registry import check
from ..scopes import PARENT, RAW, context_pass, direct, unique, vhost_nodes
from ..syntax import Directive
from ..vhosts import split_hostport


@dataclass
class ListenAddr:
    host: str | None  # None: every address (Listen 80, Listen *:80)
    port: int
    node: Directive

    @property
    def family(self) -> str | None:
        """'any' (both families), 'v4', 'v6', or None for a host name."""
        if self.host is None:
            return "any"
        try:
            ip = ipaddress.ip_address(self.host.split("%")[0])
        except ValueError:
            return None
        return "v4" if ip.version == 4 else "v6"

    @property
    def wildcard(self) -> bool:
        if self.host is None:
            return True
        try:
            return ipaddress.ip_address(self.host.split("%")[0]).is_unspecified
        except ValueError:
            return False

    def label(self) -> str:
        """The address as written in the Listen line."""
        return self.node.args[0]

    def bound(self) -> str:
        """The address as httpd reports it when binding fails."""
        if self.host is None:
            return f"[::]:{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_listen(node: Directive) -> ListenAddr | None:
    if not node.args:
        return None
    text = node.args[0]
    host: str | None
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            return None
        host, port_text = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    else:
        host, port_text = None, text
    if host == "*":
        host = None
    try:
        port = int(port_text)
    except ValueError:
        return None
    return ListenAddr(host.lower() if host else None, port, node)


def listeners(model) -> list[ListenAddr]:
    out = []
    for node in model.top("listen"):
        parsed = parse_listen(node)
        if parsed is not None:
            out.append(parsed)
    return out


def _conflict(a: ListenAddr, b: ListenAddr) -> str | None:
    """Why b cannot be bound once a is: 'same' (httpd -t refuses), 'bind' (fails at start)."""
    if a.port != b.port:
        return None
    if a.host == b.host:
        return "same"
    fa, fb = a.family, b.family
    if fa is None or fb is None:
        return None
    # `Listen 80` binds [::]:80, which also takes IPv4; httpd then skips 0.0.0.0:80.
    pair = {a.host, b.host}
    if None in pair and "0.0.0.0" in pair:
        return None
    if pair == {"::", "0.0.0.0"}:
        return None
    if a.wildcard and b.wildcard:
        return "bind"  # `80` and `[::]:80`: the same socket twice
    wild, spec = (a, b) if a.wildcard else (b, a) if b.wildcard else (None, None)
    if wild is None or spec is None:
        return None
    covers = {"any": {"v4", "v6"}, "v6": {"v4", "v6"}, "v4": {"v4"}}[wild.family or "v4"]
    return "bind" if spec.family in covers else None


@unique
@check("COR005")
def overlapping_listen(model, rule, settings) -> Iterator[Finding]:
    seen: list[ListenAddr] = []
    for cur in listeners(model):
        for prev in seen:
            why = _conflict(prev, cur)
            if why is None:
                continue
            at = f"{os.path.basename(prev.node.file)}:{prev.node.line}"
            if why == "same" and model.version == "2.4":
                yield rule.finding(
                    f"Listen {cur.label()} repeats Listen {prev.label()} ({at}): httpd refuses "
                    'to start: "Cannot define multiple Listeners on the same IP:port"',
                    cur.node,
                    httpd_code=SYNTAX_ERROR,
                )
            else:
                yield rule.finding(
                    f"Listen {cur.label()} overlaps Listen {prev.label()} ({at}): the first "
                    'socket already holds the port, so httpd fails to start with "(98)Address '
                    f'already in use: make_sock: could not bind to address {cur.bound()}"',
                    cur.node,
                    httpd_code="AH00072",
                )
            break
        seen.append(cur)


def vhost_addresses(vhost) -> list[str]:
    """Normalised `host:port` strings of a virtual host (`*:80`, `_default_:443`, `*`)."""
    return [_norm_addr(arg) for arg in vhost.addresses]


def _server_name(value: str) -> str:
    """The host part of a ServerName or ServerAlias value, as name matching compares it."""
    v = value.strip().lower()
    if "://" in v:
        v = v.split("://", 1)[1]
    host, _ = split_hostport(v)
    return host.rstrip(".")


def _main_name(model) -> str:
    """The name a virtual host without ServerName takes: the server's."""
    main = model.server_directive("ServerName")
    if main is not None and main.args:
        return _server_name(main.args[0])
    return "(this machine's host name)"


def _names(
    vhost, main_name: str, server_names: dict, aliases: dict
) -> list[tuple[str, Directive | None, bool]]:
    """(name, directive, inherited) for every name a virtual host answers to."""
    out: list[tuple[str, Directive | None, bool]] = []
    own = server_names.get(vhost.node)
    if own and own[-1].args:
        out.append((_server_name(own[-1].args[0]), own[-1], False))
    else:
        out.append((main_name, None, True))
    for d in aliases.get(vhost.node, ()):
        for a in d.args:
            out.append((_server_name(a), d, False))
    return out


def _name_based_22(model) -> set[str]:
    return {_norm_addr(d.args[0]) for d in model.top("namevirtualhost") if d.args}


@functools.lru_cache(maxsize=4096)
def _norm_addr(text: str) -> str:
    host, port = split_hostport(text)
    return f"{host}:{port}" if port else host


def _names_may_repeat(model, main_name: str) -> bool:
    """Whether two virtual hosts may answer to one name: a test on all ServerName and
    ServerAlias words at once that may say yes wrongly, never no wrongly. It gives up
    (yes) on anything but plain words without a port."""
    vhosts = vhost_nodes(model)
    by_name = context_pass(model).by_name
    names = by_name.get("servername", [])
    raws = list(map(RAW, names))
    raws += map(RAW, by_name.get("serveralias", ()))
    text = "\n".join(raws).lower()
    if any(c in text for c in "\"'\\:[\x1c\x1d\x1e\x1f") or not text.isascii():
        return True
    # Each word is a whole argument; without ":" or "[", a name is the word, lowercase,
    # without trailing dots. Every name a host answers to is among the words of its own
    # lines (words of lines elsewhere only add candidates).
    words = text.split()
    if ".\n" in "\n".join(words) + "\n":
        words = [w.rstrip(".") for w in words]
    # Hosts without a ServerName (or with an empty one) take the server's name.
    lacking = len(vhosts) - len(vhosts.intersection(map(PARENT, names)))
    words += [main_name] * (lacking + raws.count(""))
    if len(set(words)) == len(words):
        return False
    # The server's own ServerName and ServerAlias lines name no virtual host.
    top = model.top("servername") + model.top("serveralias")
    if not top or model.has_module("perl_module"):
        return True  # (with mod_perl, some server-level lines may be POD, not read)
    counts = collections.Counter(words)
    for word in " ".join(node.raw for node in top).lower().split():
        counts[word.rstrip(".")] -= 1
    return any(n > 1 for n in counts.values())


@unique
@check("COR006")
def duplicate_server_name(model, rule, settings) -> Iterator[Finding]:
    if len(model.virtual_hosts()) < 2:
        return
    main_name = _main_name(model)
    if not _names_may_repeat(model, main_name):
        return
    named_22 = _name_based_22(model) if model.version == "2.2" else None
    claimed: dict[tuple[str, str], tuple[object, Directive | None]] = {}
    server_names = direct(model, "ServerName")
    aliases = direct(model, "ServerAlias")
    for vhost in model.virtual_hosts():
        reported: set[str] = set()
        names = _names(vhost, main_name, server_names, aliases)
        for addr in vhost_addresses(vhost):
            if named_22 is not None and addr not in named_22:
                continue  # 2.2 without NameVirtualHost: COR014's case
            for name, node, inherited in names:
                key = (addr, name)
                first = claimed.get(key)
                if first is None:
                    claimed[key] = (vhost, node)
                    continue
                if first[0] is vhost or name in reported:
                    continue
                reported.add(name)
                other = first[0].node  # type: ignore[attr-defined]
                how = " (it has no ServerName, so it takes the server's)" if inherited else ""
                yield rule.finding(
                    f"{name} on {addr} is already claimed by the <VirtualHost> at "
                    f"{os.path.basename(other.file)}:{other.line}{how}: requests for it always "
                    "go to that first one, never to this one",
                    node or vhost.node,
                )


@unique
@check("COR014")
def vhost_overlap_22(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.2":
        return
    named = _name_based_22(model)
    first: dict[str, Directive] = {}
    for vhost in model.virtual_hosts():
        for addr in vhost_addresses(vhost):
            if addr in named:
                continue
            prev = first.get(addr)
            if prev is None:
                first[addr] = vhost.node
                continue
            yield rule.finding(
                f"VirtualHost {addr} overlaps with the one at {os.path.basename(prev.file)}:"
                f"{prev.line} and there is no NameVirtualHost {addr}: httpd 2.2 warns that the "
                "first has precedence, and this one never receives a request",
                vhost.node,
            )


@unique
@check("COR016")
def vhost_port_not_listening(model, rule, settings) -> Iterator[Finding]:
    ls = listeners(model)
    if not ls:
        return  # COR017
    vhosts = model.virtual_hosts()
    # Judge each distinct address once; look at the hosts only when one receives nothing.
    addresses = set(itertools.chain.from_iterable(map(ADDRESSES, vhosts)))
    verdicts = {arg: _unheard(arg, ls) for arg in addresses}
    if not any(verdicts.values()):
        return
    for vhost in vhosts:
        for arg in vhost.addresses:
            message = verdicts[arg]
            if message is not None:
                yield rule.finding(message, vhost.node)


ADDRESSES = operator.attrgetter("addresses")


def _unheard(arg: str, ls: list[ListenAddr]) -> str | None:
    """Why a virtual host address receives nothing from these listeners, or None."""
    host, port_text = split_hostport(arg)
    if not port_text or port_text == "*":
        return None
    try:
        port = int(port_text)
    except ValueError:
        return None
    on_port = [x for x in ls if x.port == port]
    if not on_port:
        return f"<VirtualHost {arg}> never receives a request: no Listen on port {port}"
    bare = host.strip("[]")
    if host in ("*", "_default_") or any(x.wildcard for x in on_port):
        return None
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return None  # a host name: its addresses are not known here
    if any(x.host == bare for x in on_port):
        return None
    listening = ", ".join(x.label() for x in on_port)
    return (
        f"<VirtualHost {arg}> never receives a request: httpd listens on port {port} only "
        f"at {listening}"
    )


@unique
@check("COR017")
def no_listen(model, rule, settings) -> Iterator[Finding]:
    if model.top("listen"):
        return
    yield rule.finding(
        "No Listen directive: httpd starts with no listening sockets available and shuts down",
        model=model,
    )
