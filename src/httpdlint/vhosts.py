"""The virtual-host map as httpd builds it (server/vhost.c), and which host answers a request.

httpd reads the `<VirtualHost>` sections into a list in reverse file order, then files each
address into one of two tables (`ap_fini_vhost_config`): specific IP addresses, hashed by the
XOR of the address's last four bytes, and the wildcard list (`*`, `_default_` and `0.0.0.0`
are the same wildcard in 2.4). Hosts that share an address:port become a name-based set whose
first host in file order is the default server. `apache2 -S` prints the hash buckets in order,
then the wildcard list; within each, an address comes where its last virtual host in the file
puts it. At run time (`ap_update_vhost_given_ip`, `update_server_from_aliases`) the local
address picks an exact ip:port, else the wildcard set for the port, else the main server; then
the Host header picks by ServerName, then ServerAlias (`*` and `?` wildcards, no case), in file
order, with the port in the header ignored.

Host names in `<VirtualHost>` lines are resolved as httpd resolves them, by this machine's
resolver, and a virtual host without ServerName takes a name the way httpd does (the main
server's, or the reverse DNS of its first address): the map describes what httpd on this
machine would build.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from .dump import httpd_place
from .errors import ConfigError
from .hostnames import canonical_ip, fix_hostname, is_wild, local_host, resolve, reverse, wild_re
from .model import Model, VirtualHost
from .output import json_text
from .syntax import Directive

__all__ = [
    "AddressEntry",
    "HostEntry",
    "VhostMap",
    "render_json",
    "render_text",
    "split_hostport",
    "vhost_map",
]

_CACHE_KEY = "vhosts.map"


def split_hostport(text: str) -> tuple[str, str | None]:
    """`host:port` split as name matching compares it: lowercase, IPv6 kept in brackets."""
    text = text.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        host = text[: end + 1]
        rest = text[end + 1 :]
        return host, rest[1:] if rest.startswith(":") else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


@dataclass
class HostEntry:
    """One virtual host on one address, as `apache2 -S` lists it."""

    vhost: VirtualHost
    name: str  # ServerName as httpd prints it (inherited when the vhost has none)
    aliases: list[str]  # plain ServerAlias names, then the wildcard ones (-S order)
    file: str
    line: int
    port: int  # the address's port; 0 is any port (-S prints `*`)
    virthost: str = ""  # the host word of the <VirtualHost> address (a Host fallback)
    alias_at: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)


@dataclass
class AddressEntry:
    """An address:port httpd keeps apart, with its default server and its hosts."""

    address: str  # as -S prints it: `*:80`, `127.0.0.1:8080`, `[::1]:443`, `*:*`
    ip: str  # `*` for the wildcard
    port: int  # 0: any port
    default: HostEntry
    hosts: list[HostEntry]  # name-based: every host, default first; else the one host
    name_based: bool


@dataclass
class _Sar:
    """One resolved address of a virtual host (httpd's server_addr_rec)."""

    ip: str | None  # None: the wildcard
    port: int
    virthost: str


class _Chain:
    """httpd's ipaddr_chain: one address, its server and (if shared) its name chain."""

    def __init__(self, sar: _Sar, server: int) -> None:
        self.sar = sar
        self.server = server
        self.names: list[tuple[int, _Sar]] | None = None
        self.initial: list[tuple[int, _Sar]] | None = None

    def add(self, server: int, sar: _Sar) -> None:
        """add_name_vhost_config: hosts come in reverse, so each becomes the default."""
        self.server = server
        if self.names is None:
            if self.initial is None:
                self.initial = [(server, sar)]
            else:
                self.names = [(server, sar), *self.initial]
                self.initial = None
        else:
            self.names.insert(0, (server, sar))


@dataclass
class VhostMap:
    """The address table of `apache2 -S` and the run-time choice of a virtual host."""

    entries: list[AddressEntry]

    def _find(self, ip: str, port: int) -> AddressEntry | None:
        """find_ipaddr (ip given) or find_default_server (ip `*`): the exact port, else the
        first entry on any port."""
        wild = None
        for e in self.entries:
            if e.ip == ip:
                if e.port == port:
                    return e
                if wild is None and e.port == 0:
                    wild = e
        return wild

    def select(self, ip: str, port: int, host: str | None) -> tuple[VirtualHost | None, str]:
        """The virtual host that answers a connection to local ip:port with this Host header
        (None: the main server), and why, in one line."""
        addr = canonical_ip(ip) or ip.lower()
        entry = self._find(addr, port) or self._find("*", port)
        if entry is None:
            return None, f"no <VirtualHost> matches {_label(addr, port)}: the main server answers"
        first = entry.default
        if not entry.name_based:
            return first.vhost, (
                f"the only virtual host on {entry.address} ({_at(first.file, first.line)}): "
                "the Host header is not looked at"
            )
        if not host:  # an empty Host header leaves the name unset, as none does
            return first.vhost, f"first virtual host on {entry.address} (no Host header)"
        name = fix_hostname(host)
        if name is None:
            return first.vhost, (
                f"first virtual host on {entry.address} answers 400 Bad Request "
                f"(malformed Host header {host!r})"
            )
        return _by_name(entry, port, name)


def _by_name(entry: AddressEntry, port: int, name: str) -> tuple[VirtualHost, str]:
    """update_server_from_aliases over one name-based set."""
    fallback: HostEntry | None = None
    last = None
    for h in entry.hosts:
        if h.port and h.port != port:
            continue
        if h.vhost is not last:
            why = _matches(h, name)
            if why is not None:
                return h.vhost, why
        if fallback is None and name == h.virthost.lower():
            fallback = h
        last = h.vhost
    if fallback is not None:
        return fallback.vhost, (
            f"Host {name} is the address of the <VirtualHost> at "
            f"{_at(fallback.file, fallback.line)}"
        )
    first = entry.default
    return first.vhost, f"first virtual host on {entry.address} (no name matched {name})"


def _matches(h: HostEntry, name: str) -> str | None:
    """matches_aliases: ServerName, the plain aliases, then the wildcard ones."""
    if name == h.name.lower():
        return f"ServerName {h.name} at {_at(h.file, h.line)}"
    for alias in h.aliases:
        if is_wild(alias):
            continue
        if name == alias.lower():
            return f"ServerAlias {alias} at {_at(*h.alias_at[alias])}"
    for alias in h.aliases:
        if is_wild(alias) and wild_re(alias).fullmatch(name):
            return f"ServerAlias {alias} at {_at(*h.alias_at[alias])}"
    return None


def _at(file: str, line: int) -> str:
    return f"{os.path.basename(file)}:{line}"


def _label(ip: str | None, port: int) -> str:
    """The address as -S prints it (`%pI`, `*:%u`, port 0 as `*`)."""
    host = "*" if ip is None or ip == "*" else f"[{ip}]" if ":" in ip else ip
    return f"{host}:{port or '*'}"


def _hostname(value: str) -> tuple[str, int]:
    """ServerName's host as httpd keeps it (scheme and port cut off, case kept), and port."""
    part = value.split("://", 1)[1] if "://" in value else value
    host, sep, port = part.partition(":")
    return host, (int(port) if sep and port.isdigit() else 0)


def _addresses(node: Directive, default_port: int) -> list[_Sar]:
    """get_addresses for each word of a <VirtualHost> line; ConfigError where httpd fails."""
    out: list[_Sar] = []
    file, line = httpd_place(node)
    for word in node.args:
        wild_port = word == "*" or word.endswith(":*")
        text = word[:-2] if word.endswith(":*") else word
        if text.isdigit():
            raise ConfigError("Missing address for VirtualHost", file, line)
        host, port_text = split_hostport(text)
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            continue  # apr reads `::1` as host ":" and port 1: AH00547, ignored
        elif port_text is not None and not port_text.isdigit():
            host, port_text = text.lower(), None  # apr: the whole word is a host name
        port = int(port_text) if port_text is not None else 0
        if port_text is not None and not 0 < port < 65536:
            raise ConfigError("The address or port is invalid", file, line)
        if port_text is None and not wild_port:
            port = default_port
        if host in ("*", "_default_"):
            out.append(_Sar(None, port, host))
            continue
        for ip in resolve(host):
            zero = ipaddress.ip_address(ip).is_unspecified
            out.append(_Sar(None if zero else ip, port, host))
    return out


def _bucket(ip: str) -> int:
    """hash_addr: the XOR of the address's last four bytes (IPHASH_TABLE_SIZE 256)."""
    packed = ipaddress.ip_address(ip).packed[-4:]
    return packed[0] ^ packed[1] ^ packed[2] ^ packed[3]


def vhost_map(model: Model) -> VhostMap:
    """The virtual-host map of this model, built once (kept in `model.cache`)."""
    found = model.cache.get(_CACHE_KEY)
    if found is None:
        found = model.cache[_CACHE_KEY] = _build(model)
    return found


def _build(model: Model) -> VhostMap:
    vhosts = model.virtual_hosts()
    main_name, sars = _read(model, vhosts)
    buckets: dict[int, list[_Chain]] = {}
    defaults: list[_Chain] = []
    for i in reversed(range(len(vhosts))):  # httpd's server list runs backwards
        prev: _Sar | None = None
        for sar in sars[i]:
            if sar.ip is None:
                # find_default_server; a set on any port (*:*) takes no other port's hosts
                ic = next((c for c in defaults if c.sar.port == sar.port), None)
                if ic is not None:
                    if prev is None or prev.ip is not None or prev.port != sar.port:
                        ic.add(i, sar)
                else:
                    ic = _Chain(sar, i)
                    defaults.insert(0, ic)
                    ic.add(i, sar)
            else:
                chain = buckets.setdefault(_bucket(sar.ip), [])
                ic = next((c for c in chain if c.sar.ip == sar.ip and c.sar.port == sar.port), None)
                if ic is None:
                    ic = _Chain(sar, i)
                    chain.insert(0, ic)
                ic.add(i, sar)
            prev = sar
    names = [_vhost_name(model, vhosts[i], sars[i], main_name) for i in range(len(vhosts))]
    chains = [c for b in sorted(buckets) for c in buckets[b]] + defaults
    return VhostMap([_entry(c, vhosts, names) for c in chains])


def _read(model: Model, vhosts: list[VirtualHost]) -> tuple[str, list[list[_Sar]]]:
    """The main server's name and each virtual host's addresses, with the default port a
    <VirtualHost> takes: the port of the server's ServerName read before it (else any)."""
    main_name = ""
    port = 0
    sars: list[list[_Sar]] = []
    for node in model.config.tree:
        if node.lname == "servername" and node.args:
            main_name, port = _hostname(node.args[0])
        elif node.lname == "<virtualhost":
            sars.append(_addresses(node, port))
    return main_name or local_host(), sars


def _vhost_name(model: Model, vhost: VirtualHost, sars: list[_Sar], main_name: str) -> str:
    """The vhost's ServerName, else what ap_fini_vhost_config gives it."""
    own = vhost.own("ServerName")
    if own is not None and own.args:
        return _hostname(own.args[0])[0]
    if any(s.ip is None for s in sars):
        return main_name
    if not sars:
        return "bogus_host_without_forward_dns"
    return reverse(sars[0].ip or "") or "bogus_host_without_reverse_dns"


def _host(vhost: VirtualHost, name: str, sar: _Sar) -> HostEntry:
    plain: list[str] = []
    wild: list[str] = []
    alias_at: dict[str, tuple[str, int]] = {}
    for d in vhost.directives:
        if d.lname == "serveralias":
            for a in d.args:
                (wild if is_wild(a) else plain).append(a)
                alias_at.setdefault(a, (d.file, d.line))
    file, line = httpd_place(vhost.node)
    return HostEntry(vhost, name, plain + wild, file, line, sar.port, sar.virthost, alias_at)


def _entry(c: _Chain, vhosts: list[VirtualHost], names: list[str]) -> AddressEntry:
    label = _label(c.sar.ip, c.sar.port)
    ip = c.sar.ip or "*"
    if c.names is None:
        only = _host(vhosts[c.server], names[c.server], c.sar)
        return AddressEntry(label, ip, c.sar.port, only, [only], False)
    hosts = [_host(vhosts[i], names[i], sar) for i, sar in c.names]
    return AddressEntry(label, ip, c.sar.port, hosts[0], hosts, True)


def render_text(vmap: VhostMap) -> str:
    """The "VirtualHost configuration:" section of `apache2 -S`, line for line."""
    out = ["VirtualHost configuration:"]
    for e in vmap.entries:
        d = e.default
        if not e.name_based:
            out.append(f"{e.address:<22} {d.name} ({d.file}:{d.line})")
            continue
        out.append(f"{e.address:<22} is a NameVirtualHost")
        out.append(f"{'':8} default server {d.name} ({d.file}:{d.line})")
        for h in e.hosts:
            out.append(f"{'':8} port {h.port or '*'} namevhost {h.name} ({h.file}:{h.line})")
            for a in h.aliases:
                out.append(f"{'':16} {'wild alias' if is_wild(a) else 'alias'} {a}")
    return "\n".join(out) + "\n"


def _host_json(h: HostEntry) -> dict:
    return {"name": h.name, "aliases": h.aliases, "file": h.file, "line": h.line, "port": h.port}


def render_json(vmap: VhostMap) -> str:
    """The same map as a document: `port` 0 is any port (`*` in -S)."""
    addresses = [
        {
            "address": e.address,
            "name_based": e.name_based,
            "default": _host_json(e.default),
            "hosts": [_host_json(h) for h in e.hosts],
        }
        for e in vmap.entries
    ]
    return json_text({"schema": 1, "addresses": addresses}, indent=1)
