"""Checks on the virtual-host map (httpdlint.vhosts): which host httpd makes the default."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..errors import ConfigError
from ..findings import Finding
from ..registry import check
from ..scopes import RAW, context_pass
from ..vhosts import AddressEntry, HostEntry, split_hostport, vhost_map


def _catch_alls(model) -> set:
    """The <VirtualHost> nodes meant to catch every request: a `_default_` address, or a
    `ServerAlias *` (any alias made of stars only). One scan of the text first: most trees
    have neither."""
    found = set()
    vhosts = model.top("<VirtualHost")
    if "_default_" in "\n".join(map(RAW, vhosts)).lower():
        found = {
            node for node in vhosts if any(split_hostport(a)[0] == "_default_" for a in node.args)
        }
    aliases = context_pass(model).by_name.get("serveralias", ())
    if "*" in "".join(map(RAW, aliases)):
        for node in aliases:
            star = "*" in node.raw and node.parent is not None
            if star and any(not a.strip("*") for a in node.args):
                found.add(node.parent)
    return found


def _at(h: HostEntry) -> str:
    return f"{h.name} at {os.path.basename(h.file)}:{h.line}"


def _message(entry: AddressEntry, h: HostEntry) -> str:
    default = entry.default
    if h.virthost == "_default_":
        return (
            f"<VirtualHost _default_:{h.port or '*'}> is meant to catch requests no other host "
            f"claims, but in httpd 2.4 _default_ is the same address as *, and the first virtual "
            f"host read on {entry.address} is its default server: unknown Host headers go to "
            f"{_at(default)} (httpd -S: default server)"
        )
    later = entry.hosts[entry.hosts.index(h) + 1 :]
    shadowed = [x for x in later if x.vhost is not h.vhost]
    tail = ""
    if shadowed:
        tail = f"; and its `*` claims every name of the hosts read after it ({_at(shadowed[0])}"
        tail += f" and {len(shadowed) - 1} more)" if len(shadowed) > 1 else ")"
    return (
        f"ServerAlias * makes this virtual host a catch-all, but it is not the default server "
        f"on {entry.address}: requests without a Host header (or with a malformed one) go to "
        f"{_at(default)} (httpd -S: default server){tail}"
    )


@check("COR022")
def catch_all_not_default(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.4":
        return  # 2.2 keeps _default_ apart from *: another map
    wanted = _catch_alls(model)
    if not wanted:
        return
    try:
        vmap = vhost_map(model)
    except ConfigError:
        return  # an address httpd refuses: the argument checks report it
    for entry in vmap.entries:
        if not entry.name_based:
            continue
        reported = set()
        for h in entry.hosts:
            node = h.vhost.node
            if node not in wanted or h.vhost is entry.default.vhost or node in reported:
                continue
            if h.virthost != "_default_" and not any(not a.strip("*") for a in h.aliases):
                continue  # a catch-all by its _default_ address on another port only
            reported.add(node)
            yield rule.finding(_message(entry, h), node)
