"""Access control for one request, as httpd 2.4 decides it (and 2.2 where it differs).

mod_authz_core: each section's Require lines form a tree (the section itself is a
<RequireAny>; <RequireAll>, <RequireAny>, <RequireNone> nest; a line inside <Limit> or
<LimitExcept> applies to those methods only), and `merge` follows its merge rule (a section
with authorization replaces what came before unless AuthMerging And/Or combines them).
`evaluate` is `apply_authz_sections` for an anonymous client: granted, denied, "no user"
(a login could change it) or "depends" (on the client's address, a variable, an
expression) when the configuration alone cannot tell.

mod_access_compat (Order, Allow, Deny, Satisfy) has no merge function, so the last section
that uses any of them replaces the whole set; `compat_allows` judges it for a client.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .syntax import Directive

GRANTED, DENIED, NO_USER, NEUTRAL, DEPENDS = "granted", "denied", "no-user", "neutral", "depends"

ALL_METHODS = None  # a mask of every method, as a section outside <Limit> has
_AUTHZ_SECTIONS = {"<requireany": ("or", False), "<requireall": ("and", False)}
_AUTHZ_SECTIONS["<requirenone"] = ("or", True)
_AUTHZ_SECTIONS["<requirenotall"] = ("and", True)
# Providers that need a logged-in user: no credentials means AUTHZ_DENIED_NO_USER.
_USER_PROVIDERS = {"valid-user", "user", "group", "file-owner", "file-group", "dbm-group"}
_USER_PROVIDERS |= {"dbd-group", "ldap-user", "ldap-group", "ldap-dn", "ldap-attribute"}
_USER_PROVIDERS |= {"ldap-filter", "ldap-search"}
_METHODS = "GET PUT POST DELETE CONNECT OPTIONS TRACE PATCH PROPFIND PROPPATCH MKCOL COPY MOVE"
_METHODS += " LOCK UNLOCK VERSION-CONTROL CHECKOUT UNCHECKOUT CHECKIN UPDATE LABEL REPORT"
_ALL_HTTP = frozenset((_METHODS + " MKWORKSPACE MKACTIVITY BASELINE-CONTROL MERGE").split())


@dataclass
class Section:
    """One node of mod_authz_core's tree: a Require line (`provider`) or a container."""

    op: str = "or"
    negate: bool = False
    limited: frozenset[str] | None = ALL_METHODS  # None: every method
    provider: str | None = None
    args: list[str] = field(default_factory=list)
    node: Directive | None = None
    children: list[Section] = field(default_factory=list)

    def applies_to(self, method: str) -> bool:
        return self.limited is None or method.upper() in self.limited


def _union(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None or b is None:
        return None
    return a | b


def _limit_mask(node: Directive) -> frozenset[str]:
    methods = frozenset(m.upper() for m in node.args)
    if "GET" in methods:
        methods |= {"HEAD"}  # <Limit GET> covers HEAD too (core's limit_section)
    if node.lname == "<limitexcept":
        return _ALL_HTTP - methods
    return methods


def build(section: Directive) -> Section | None:
    """The authorization a section's own lines set (None: it sets none, and inherits)."""
    root = Section(limited=frozenset())
    _add(root, section.children or [], ALL_METHODS)
    return root if root.children else None


def _add(parent: Section, nodes: list[Directive], limited) -> None:
    # A container's methods are the union of its children's (add_authz_provider).
    for d in nodes:
        lname = d.lname
        if lname == "require":
            args = list(d.args)
            negate = bool(args) and args[0].lower() == "not"
            if negate:
                args = args[1:]
            provider = args[0].lower() if args else ""
            child = Section(negate=negate, limited=limited, provider=provider, args=args[1:])
            child.node = d
        elif lname in _AUTHZ_SECTIONS:
            op, negate = _AUTHZ_SECTIONS[lname]
            child = Section(op=op, negate=negate, node=d, limited=frozenset())
            _add(child, d.children or [], limited)
            if not child.children:
                continue
        elif lname in ("<limit", "<limitexcept"):
            _add(parent, d.children or [], _limit_mask(d))
            continue
        else:
            continue
        parent.children.append(child)
        parent.limited = _union(parent.limited, child.limited)


@dataclass
class Conf:
    """mod_authz_core's per-directory configuration after merging."""

    section: Section | None = None
    merging: str | None = None  # AuthMerging: None (unset), "off", "and", "or"
    forbidden_on_fail: bool | None = None


def own_conf(section: Directive) -> Conf | None:
    """A section's own mod_authz_core settings, None when it uses none of them (then
    httpd creates no configuration for the module there and the merge keeps the base)."""
    tree = build(section)
    merging = forbidden = None
    touched = tree is not None
    for d in section.children or []:
        if d.lname == "authmerging" and d.args:
            merging, touched = d.args[0].lower(), True
        elif d.lname == "authzsendforbiddenonfailure" and d.args:
            forbidden, touched = d.args[0].lower() == "on", True
    return Conf(tree, merging, forbidden) if touched else None


def merge(base: Conf, new: Conf) -> Conf:
    """`merge_authz_core_dir_config`."""
    if new.merging is None and new.section is None and base.section is not None:
        out = Conf(base.section, base.merging, base.forbidden_on_fail)
    elif new.merging in (None, "off") or not (base.section or new.section):
        out = Conf(new.section, new.merging, new.forbidden_on_fail)
    else:
        if base.section is not None and new.section is not None:
            section = Section(op=new.merging or "or", children=[base.section, new.section])
            section.limited = _union(base.section.limited, new.section.limited)
        else:
            section = base.section or new.section
        out = Conf(section, new.merging)
    out.forbidden_on_fail = (
        base.forbidden_on_fail if new.forbidden_on_fail is None else new.forbidden_on_fail
    )
    return out


def evaluate(section: Section, method: str, client: str | None) -> str:
    """`apply_authz_sections` for an anonymous request from `client` (None: unknown):
    GRANTED, DENIED, NO_USER, NEUTRAL, or DEPENDS when a provider this model cannot judge
    (a host name, a variable, an expression, the client's address when unknown) decides."""
    results = {_apply(section, method, client, "and", assume) for assume in (GRANTED, DENIED)}
    return results.pop() if len(results) == 1 else DEPENDS


def _apply(section: Section, method: str, client: str | None, parent_op: str, assume: str) -> str:
    if not section.applies_to(method):
        return GRANTED if parent_op == "and" else NEUTRAL
    if section.provider is not None:
        result = _provider(section.provider, section.args, method, client)
        if result == DEPENDS:
            result = assume
    else:
        result = NEUTRAL
        for child in section.children:
            r = _apply(child, method, client, section.op, assume)
            if r == NEUTRAL:
                continue
            if section.op == "and":
                if r == DENIED:
                    result = r
                    break
                if (r == NO_USER and result != DENIED) or result == NEUTRAL:
                    result = r
            else:
                if r == GRANTED:
                    result = r
                    break
                if (r == NO_USER and result == DENIED) or result == NEUTRAL:
                    result = r
    if section.negate:
        if result == GRANTED:
            result = DENIED
        elif result in (DENIED, NO_USER):
            result = NEUTRAL
    return result


def _provider(name: str, args: list[str], method: str, client: str | None) -> str:
    words = [a.lower() for a in args]
    if name == "all":
        return GRANTED if words[:1] == ["granted"] else DENIED
    if name == "method":
        return GRANTED if method.upper() in {a.upper() for a in args} else DENIED
    if name in _USER_PROVIDERS:
        return NO_USER
    if name == "local":
        return DEPENDS if client is None else (GRANTED if _is_local(client) else DENIED)
    if name == "ip":
        if client is None:
            return DEPENDS
        return GRANTED if any(ip_matches(a, client) for a in args) else DENIED
    return DEPENDS  # host, forward-dns, env, expr and third-party providers


def _is_local(client: str) -> bool:
    try:
        return ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


def ip_matches(spec: str, client: str) -> bool:
    """Whether a `Require ip` / `Allow from` address, partial address or network holds
    the client (`10.1`, `10.1.0.0/16`, `10.1.0.0/255.255.0.0`, `::1`)."""
    try:
        addr = ipaddress.ip_address(client)
    except ValueError:
        return False
    try:
        if "/" in spec:
            return addr in ipaddress.ip_network(spec, strict=False)
        if spec.count(".") < 3 and ":" not in spec and spec.replace(".", "").isdigit():
            parts = [p for p in spec.split(".") if p]
            prefix = ".".join(parts + ["0"] * (4 - len(parts)))
            return addr in ipaddress.ip_network(f"{prefix}/{8 * len(parts)}", strict=False)
        return addr == ipaddress.ip_address(spec)
    except ValueError:
        return False


# -- mod_access_compat -----------------------------------------------------------------

_COMPAT = {"order", "allow", "deny", "satisfy"}


def compat_nodes(section: Directive) -> list[tuple[Directive, frozenset[str] | None]]:
    """A section's Order/Allow/Deny/Satisfy lines, each with the methods its <Limit> gives."""
    out: list[tuple[Directive, frozenset[str] | None]] = []
    stack: list[tuple[list[Directive], frozenset[str] | None]] = [(section.children or [], None)]
    while stack:
        nodes, limited = stack.pop()
        for d in nodes:
            if d.lname in _COMPAT:
                out.append((d, limited))
            elif d.lname in ("<limit", "<limitexcept"):
                stack.append((d.children or [], _limit_mask(d)))
    return out


def satisfy(nodes: list[tuple[Directive, frozenset[str] | None]], method: str) -> str:
    value = "all"
    for d, limited in nodes:
        if d.lname == "satisfy" and d.args and (limited is None or method.upper() in limited):
            value = d.args[0].lower()
    return value


def compat_allows(
    nodes: list[tuple[Directive, frozenset[str] | None]], method: str, client: str | None
) -> str:
    """`check_dir_access`: GRANTED, DENIED or DEPENDS for this method and client."""
    order = "deny,allow"
    allow: list[str] = []
    deny: list[str] = []
    for d, limited in nodes:
        if limited is not None and method.upper() not in limited:
            continue
        if d.lname == "order":
            order = "".join(d.args).lower()
        elif d.lname == "allow":
            allow += d.args[1:]
        elif d.lname == "deny":
            deny += d.args[1:]
    a, b = _matches(allow, client), _matches(deny, client)
    if DEPENDS in (a, b):
        return DEPENDS
    if order == "allow,deny":
        return GRANTED if a and not b else DENIED
    if order == "mutual-failure":
        return GRANTED if a and not b else DENIED
    return DENIED if b and not a else GRANTED  # deny,allow


def _matches(specs: list[str], client: str | None) -> bool | str:
    hit: bool | str = False
    for spec in specs:
        low = spec.lower()
        if low == "all":
            return True
        if low.startswith("env="):
            hit = DEPENDS
            continue
        if client is None:
            hit = DEPENDS
            continue
        if ip_matches(spec, client):
            return True
        if not any(ch.isdigit() for ch in spec.split("/")[0]) or low == "localhost":
            hit = DEPENDS  # a host name: reverse DNS decides
    return hit
