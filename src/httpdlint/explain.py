"""`httpdlint explain URL`: which server answers a request, what applies to it, and the result.

The virtual host comes from the map `vhosts` builds (as `httpd -S` shows it and vhost.c
chooses at run time), the rest from `merge.resolve` and `outcome.decide`. Text for a person,
JSON (schema 1) for tools: the same facts in both.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ConfigError
from .merge import Request, Result, resolve
from .outcome import Outcome, decide
from .output import json_text
from .syntax import Directive
from .vhosts import vhost_map

_TLS = ("SSLEngine", "SSLProtocol", "SSLCipherSuite", "SSLHonorCipherOrder", "SSLCertificateFile")
_OPTION_NAMES = (
    ("indexes", "Indexes"),
    ("inc_exec", "Includes"),
    ("symlinks", "FollowSymLinks"),
    ("symowner", "SymLinksIfOwnerMatch"),
    ("execcgi", "ExecCGI"),
    ("multi", "MultiViews"),
)


@dataclass
class Explanation:
    """A request, the server chosen and why, the merged configuration and the outcome."""

    request: Request
    address: str
    server: Directive | None
    server_why: str
    result: Result
    outcome: Outcome
    tls: list[Directive]


def parse_url(url: str, method: str, client: str | None) -> Request:
    """A request from `http://host[:port]/path` (or a bare `/path`: Host unset, port 80)."""
    parts = urlsplit(url if "://" in url or url.startswith("/") else "http://" + url)
    scheme = (parts.scheme or "http").lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"explain: {url!r} is not an http:// or https:// URL")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"explain: bad port in {url!r}") from None
    if client is not None:
        try:
            ipaddress.ip_address(client)
        except ValueError:
            raise ConfigError(f"explain: --client {client!r} is not an IP address") from None
    path = parts.path or "/"
    return Request(path, method.upper(), parts.hostname, port, scheme, client)


def explain(model, request: Request, address: str | None = None) -> Explanation:
    """Choose the server for the request (on local `address`; default: the URL's host when
    it is an address, else one no IP-based <VirtualHost> names) and merge what applies."""
    if address is None:
        address = request.host if _is_ip(request.host) else "*"
    vhost, why = vhost_map(model).select(address, request.port, request.host)
    node = vhost.node if vhost is not None else None
    result = resolve(model, node, request)
    tls = []
    if request.scheme == "https":
        # Server-wide mod_ssl settings: the virtual host's last line, else the server's last.
        tls = [d for n in _TLS if (d := model.effective(n, vhost)) is not None]
    return Explanation(request, address, node, why, result, decide(model, result, request), tls)


def _is_ip(text: str | None) -> bool:
    try:
        ipaddress.ip_address(text or "")
        return True
    except ValueError:
        return False


def _place(node: Directive) -> str:
    return f"{node.file}:{node.line}"


def _options(result: Result) -> list[str]:
    names = [word for bit, word in _OPTION_NAMES if bit in result.options]
    if "includes" in result.options and "inc_exec" not in result.options:
        names.insert(1, "IncludesNOEXEC")
    return names


def _server_label(e: Explanation) -> str:
    if e.server is None:
        return "the main server"
    return f"<{e.server.section_label()}> at {_place(e.server)}"


def render_text(e: Explanation) -> str:
    r, res, out = e.request, e.result, e.outcome
    host = r.host or "(no Host header)"
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, as a URL writes it
    client = r.client or "unknown"
    lines = [
        f"request:  {r.method} {r.scheme}://{host}:{r.port}{r.url} (client {client})",
        f"server:   {_server_label(e)}",
        f"          {e.server_why}",
    ]
    if res.filename is not None:
        how = f" ({_show(res.mapped_by)} at {_place(res.mapped_by)})" if res.mapped_by else ""
        lines.append(f"file:     {res.filename}{how}")
    lines.append("applies, in httpd's merge order:")
    for step in res.applied:
        if step.section is None or step.kind == "vhost":
            if not step.lines:
                continue
            title = "server level" if step.section is None else "virtual host level"
        else:
            mark = " (conditional: not decided by the request)" if step.kind == "if?" else ""
            title = f"<{step.section.section_label()}> {_place(step.section)}{mark}"
        lines.append(f"  {title}")
        for d in step.lines:
            lines.append(f"    {_place(d)}  {_show(d)}")
    for d in e.tls:
        lines.append(f"tls:      {_show(d)} ({_place(d)})")
    lines.append(f"options:  {' '.join(_options(res)) or 'None'}")
    if res.htaccess:
        lines.append(f".htaccess may change this (AllowOverride): {', '.join(res.htaccess)}")
    for section in res.conditional:
        lines.append(f"conditional: <{section.section_label()}> at {_place(section)}")
    lines.append(f"access:   {out.access}: {out.why}")
    lines.append(f"status:   {out.status if out.status is not None else 'not claimed'}")
    return "\n".join(lines) + "\n"


def _show(node: Directive) -> str:
    if node.children is not None:
        return f"<{node.section_label()}>"
    return " ".join([node.name, *node.args])


def _line_json(d: Directive) -> dict:
    return {"file": d.file, "line": d.line, "name": d.name, "args": d.args}


def render_json(e: Explanation) -> str:
    r, res, out = e.request, e.result, e.outcome
    doc = {
        "schema": 1,
        "request": {
            "method": r.method,
            "scheme": r.scheme,
            "host": r.host,
            "port": r.port,
            "url": r.url,
            "client": r.client,
            "address": e.address,
        },
        "server": {
            "virtual_host": _line_json(e.server) if e.server is not None else None,
            "why": e.server_why,
        },
        "file": res.filename,
        "mapped_by": _line_json(res.mapped_by) if res.mapped_by is not None else None,
        "applies": [
            {
                "kind": "conditional" if step.kind == "if?" else step.kind,
                "section": None if step.section is None else _line_json(step.section),
                "directives": [_line_json(d) for d in step.lines],
            }
            for step in res.applied
        ],
        "tls": [_line_json(d) for d in e.tls],
        "options": _options(res),
        "htaccess": res.htaccess,
        "access": out.access,
        "status": out.status,
        "why": out.why,
        "deciding": _line_json(out.deciding) if out.deciding is not None else None,
    }
    return json_text(doc, indent=1)
