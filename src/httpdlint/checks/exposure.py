"""What the configuration exposes by mistake: a plain-HTTP twin of an HTTPS site that serves
the site instead of redirecting, and httpd's own run-time files placed where it serves them.

The twin is found on the virtual-host map (vhosts.py) and judged by the merge model: `/` on
the HTTP host is resolved as httpd would map it (merge.resolve), then `outcome.access` says
whether a client gets in; a Redirect, a RewriteRule to https or mod_md's MDRequireHttps
makes it a redirect.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..errors import ConfigError
from ..findings import Finding
from ..merge import Request, docroot, resolve, under
from ..model import VirtualHost
from ..outcome import DENIED, access
from ..registry import check
from ..syntax import Directive
from ..vhosts import split_hostport, vhost_map

_REDIRECTS = ("redirect", "redirectmatch", "redirectpermanent", "redirecttemp", "rewriterule")


def _names(vhost: VirtualHost) -> set[str]:
    """The names a virtual host claims itself (its own ServerName and plain ServerAliases):
    a name inherited from the main server is not a claim that two hosts are one site."""
    out = set()
    node = vhost.own("ServerName")
    if node is not None and node.args:
        value = node.args[0].split("://", 1)[-1]
        out.add(split_hostport(value)[0])
    for alias in vhost.find("ServerAlias"):
        if alias.parent is vhost.node:
            out.update(a.lower() for a in alias.args if not any(c in a for c in "*?"))
    return out


def _tls(model, vhost: VirtualHost) -> bool:
    node = model.effective("SSLEngine", vhost)
    return node is not None and bool(node.args) and node.args[0].lower() == "on"


def _to_https(node: Directive) -> bool:
    """A redirecting line whose target is an https URL (RewriteRule: with an R flag)."""
    args = node.args
    if node.lname == "rewriterule":
        flags = args[2].lower() if len(args) > 2 else ""
        names = {f.split("=", 1)[0].strip() for f in flags.strip("[]").split(",")}
        return (
            len(args) > 1
            and args[1].lower().startswith("https://")
            and bool(names & {"r", "redirect"})
        )
    return any(a.lower().startswith("https://") for a in args[1:])


def _redirects(model, vhost: VirtualHost, port: int, name: str) -> bool:
    """Whether `/` on this host redirects to https, as far as the configuration tells."""
    md = model.effective("MDRequireHttps", vhost)
    if md is not None and md.args and md.args[0].lower() in ("temporary", "permanent"):
        return True
    result = resolve(model, vhost.node, Request(url="/", host=name, port=port))
    sent = [node for _, node in result.undecided if node is not None and node.lname in _REDIRECTS]
    if not sent:
        return False
    # mod_alias or mod_rewrite sends `/` elsewhere: the twin is fine when an https URL is
    # among the host's redirects (conditions such as certbot's RewriteCond only narrow it).
    lines = sent + [d for n in _REDIRECTS for d in vhost.find(n)]
    return any(_to_https(d) for d in lines)


def _ports(model) -> dict[Directive, int]:
    """The port each <VirtualHost> answers on (its first specific one), from the map."""
    out: dict[Directive, int] = {}
    for entry in vhost_map(model).entries:
        for h in entry.hosts:
            if h.port:
                out.setdefault(h.vhost.node, h.port)
    return out


@check("SEC030")
def http_twin_serves_content(model, rule, settings) -> Iterator[Finding]:
    vhosts = model.virtual_hosts()
    secure = {}
    for vhost in vhosts:
        if _tls(model, vhost):
            for name in _names(vhost):
                secure.setdefault(name, vhost)
    if not secure:
        return
    try:
        ports = _ports(model)
    except ConfigError:
        return  # an address httpd refuses: the argument checks report it
    for vhost in vhosts:
        if _tls(model, vhost):
            continue
        shared = sorted(_names(vhost) & set(secure))
        if not shared:
            continue
        name, port = shared[0], ports.get(vhost.node, 80)
        if port == 443 or _redirects(model, vhost, port, name):
            continue
        request = Request(url="/", host=name, port=port)
        result = resolve(model, vhost.node, request)
        if result.undecided or access(model, result, request).access == DENIED:
            continue  # a proxy or an unknown rewrite decides, or nobody gets in
        twin = secure[name].node
        yield rule.finding(
            f"http://{name}:{port}/ serves content while the same name has an HTTPS virtual "
            f"host ({os.path.basename(twin.file)}:{twin.line}): clients and links that use "
            f"http:// get the site unencrypted; redirect it (Redirect permanent / "
            f"https://{name}/)",
            vhost.node,
        )


# Directives that name a file httpd writes while it runs, and how to get its path.
_RUNTIME = ("PidFile", "ScoreBoardFile", "Mutex", "LockFile")


def _runtime_path(model, node: Directive) -> str | None:
    if not node.args:
        return None
    if node.lname == "mutex":
        # `Mutex file:DIR ...`: only the file-based mechanisms put anything on disk.
        kind, _, path = node.args[0].partition(":")
        if kind.lower() not in ("file", "fcntl", "flock") or not path:
            return None
        return os.path.join(model.config.server_root, path)
    return os.path.join(model.config.server_root, node.args[0])


@check("SEC031")
def runtime_file_in_document_root(model, rule, settings) -> Iterator[Finding]:
    nodes = [d for name in _RUNTIME for d in model.top(name)]
    if not nodes:
        return
    roots = {docroot(model, None): None}
    # One root per distinct DocumentRoot line (a host without one maps under the main
    # server's): thousands of hosts mostly share a handful.
    seen: set[str] = set()
    for vhost in model.virtual_hosts():
        own = vhost.own("DocumentRoot")
        if own is not None and own.raw not in seen:
            seen.add(own.raw)
            roots.setdefault(docroot(model, vhost.node), vhost.node)
    for node in nodes:
        path = _runtime_path(model, node)
        if path is None:
            continue
        for root in roots:
            if under(os.path.normpath(path), os.path.normpath(root)):
                yield rule.finding(
                    f"{node.name} puts {path} inside the DocumentRoot {root}: clients can "
                    "fetch it, and whoever may write web content can replace it and stop or "
                    "confuse httpd; keep it under ServerRoot's logs or the run directory",
                    node,
                )
                break
