"""TLS checks: protocols, cipher suites and the mod_ssl settings around them.

mod_ssl's semantics are followed from its source (modules/ssl/ssl_engine_config.c):
SSLProtocol starts from nothing, a bare word replaces the set, `+`/`-` add and remove, and
`all` is every protocol the build knows; SSLCipherSuite strings are OpenSSL cipher lists to
which mod_ssl (2.2.30+, 2.4.7+) always appends `:!aNULL:!eNULL:!EXP`, so those families can
never be enabled and are not reported. A virtual host without its own setting uses the
server-level one, else mod_ssl's default.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..findings import Finding
from ..registry import check
from ..scopes import PARENT
from ..syntax import Directive

NODE = operator.attrgetter("node")

# ---------------------------------------------------------------------------------------
# Where TLS is on


def effective(model, name: str, vhost=None) -> Directive | None:
    """`model.effective`: a virtual host's own setting, else the server-level one."""
    return model.effective(name, vhost)


def server_scope(model) -> Iterator[Directive]:
    """Every directive outside `<VirtualHost>` sections: what all virtual hosts inherit."""
    stack = list(reversed(model.config.tree))
    while stack:
        node = stack.pop()
        if node.lname == "<virtualhost":
            continue
        yield node
        if node.children:
            stack.extend(reversed(node.children))


@dataclass
class TlsHost:
    """A server that speaks TLS: a virtual host, or the main server when there is none."""

    label: str
    vhost: object | None  # model.VirtualHost
    anchor: Directive  # where a finding about a missing setting points
    engine: Directive  # the effective SSLEngine line


def tls_hosts(model, *, https_only: bool = False) -> list[TlsHost]:
    """Hosts whose effective SSLEngine is on (or optional, unless `https_only`).

    A virtual host without SSLEngine inherits the server-level one. The main server counts
    only when there is no virtual host (otherwise its settings reach clients through them).
    mod_ssl's implicit enabling (a `Listen ... https` port and a certificate, no SSLEngine)
    is not assumed: it depends on how the listener's address compares with the vhost's.
    """
    key = ("tls_hosts", https_only)
    cache = model.cache
    if key not in cache:
        cache[key] = _tls_hosts(model, https_only)
    return cache[key]


def _tls_hosts(model, https_only: bool) -> list[TlsHost]:
    wanted = {"on"} if https_only else {"on", "optional"}
    hosts: list[TlsHost] = []
    engines = model.find("SSLEngine")
    if not engines:
        return hosts
    vhosts = model.virtual_hosts()
    server = model.server_directive("SSLEngine")
    if server is None or not server.args or server.args[0].lower() not in wanted:
        # Only a virtual host's own SSLEngine can turn TLS on: look at those that have one.
        owners = set(map(PARENT, engines))
        vhosts = list(itertools.compress(vhosts, map(owners.__contains__, map(NODE, vhosts))))
    for vhost in vhosts:
        engine = effective(model, "SSLEngine", vhost)
        if engine is not None and engine.args and engine.args[0].lower() in wanted:
            label = "<VirtualHost " + " ".join(vhost.addresses) + ">"
            hosts.append(TlsHost(label, vhost, vhost.node, engine))
    if not model.virtual_hosts():
        engine = model.server_directive("SSLEngine")
        if engine is not None and engine.args and engine.args[0].lower() in wanted:
            hosts.append(TlsHost("the main server", None, engine, engine))
    return hosts


def _where(node: Directive) -> str:
    """`at server level`, or the sections around it: `in <VirtualHost *:80> <Location />`."""
    path = node.section_path()
    if not path:
        return "at server level"
    return "in " + " ".join(f"<{label}>" for label in path)


# ---------------------------------------------------------------------------------------
# SSLProtocol as mod_ssl evaluates it

PROTOCOLS_24 = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
PROTOCOLS_22 = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2")
DEFAULT_PROTOCOL = {"2.4": ["all", "-SSLv3"], "2.2": ["all"]}


@dataclass
class ProtocolSet:
    """The protocols a directive enables, each with how: "named", "all" or "default"."""

    enabled: dict[str, str] = field(default_factory=dict)
    refused: str | None = None  # httpd's own error for the line, when it refuses it


def evaluate_protocols(args: list[str], version: str, how_all: str = "all") -> ProtocolSet:
    """`ssl_cmd_protocol_parse`: start from none; bare word replaces, +/- add and remove."""
    known = PROTOCOLS_22 if version == "2.2" else PROTOCOLS_24
    by_lower = {p.lower(): p for p in known}
    result = ProtocolSet()
    enabled = result.enabled
    for word in args:
        action = ""
        if word.startswith(("+", "-")):  # "" is a word too, not an action
            action, word = word[0], word[1:]
        low = word.lower()
        if low == "sslv2" and version != "2.2":
            if action != "-":
                result.refused = "SSLProtocol: SSLv2 is no longer supported"
            continue
        if low == "all":
            these = {p: how_all for p in known}
        elif low in by_lower:
            these = {by_lower[low]: "named"}
        else:
            continue  # an illegal protocol: httpd refuses the line; not this rule's concern
        if action == "-":
            for p in these:
                enabled.pop(p, None)
        elif action == "+":
            enabled.update(these)
        else:
            enabled.clear()
            enabled.update(these)
    return result


def _protocol_directives(model) -> Iterator[Directive]:
    """The SSLProtocol and SSLProxyProtocol lines httpd applies: mod_ssl keeps the last one
    at server level and the last one in each virtual host, so an earlier line replaced by a
    later one in the same place never reaches a client."""
    for name in ("sslprotocol", "sslproxyprotocol"):
        last: dict[Directive | None, Directive] = {}
        for node in model.find(name):
            last[node.vhost()] = node
        yield from sorted(last.values(), key=lambda d: (d.file, d.line))


def _address_key(vhost) -> tuple[str, ...]:
    return tuple(sorted(a.lower() for a in vhost.addresses))


def _base_vhost_protocol(model) -> dict[tuple[str, ...], Directive | None]:
    """The own SSLProtocol of the first virtual host on each address list.

    Without a global SSLProtocol, a name-based virtual host without its own uses the base
    (first) virtual host's of its IP:port, not the default (mod_ssl manual, SSLProtocol).
    """
    base: dict[tuple[str, ...], Directive | None] = {}
    for vhost in model.virtual_hosts():
        base.setdefault(_address_key(vhost), vhost.own("SSLProtocol"))
    return base


def _protocol_cases(model) -> list[tuple[ProtocolSet, dict]]:
    """Each explicit SSLProtocol/SSLProxyProtocol, then each TLS host left to the default
    (computed once per model for the three rules that read them)."""
    found = model.cache.get("tls.protocol_cases")
    if found is None:
        found = model.cache["tls.protocol_cases"] = list(_compute_protocol_cases(model))
    return found


def _compute_protocol_cases(model) -> Iterator[tuple[ProtocolSet, dict]]:
    by_raw: dict[str, ProtocolSet] = {}  # a line's protocols follow from its text alone
    for node in _protocol_directives(model):
        result = by_raw.get(node.raw)
        if result is None:
            result = by_raw[node.raw] = evaluate_protocols(node.args, model.version)
        yield result, {"at": node, "node": node}
    default = DEFAULT_PROTOCOL.get(model.version, DEFAULT_PROTOCOL["2.4"])
    base_protocol = None
    for host in tls_hosts(model):
        if effective(model, "SSLProtocol", host.vhost) is not None:
            continue
        if host.vhost is not None:
            if base_protocol is None:
                base_protocol = _base_vhost_protocol(model)
            if base_protocol.get(_address_key(host.vhost)) is not None:
                continue  # name-based: the base virtual host's SSLProtocol applies (reported there)
        yield (
            evaluate_protocols(default, model.version, how_all="default"),
            {"at": host.anchor, "host": host},
        )


def _subject(case: dict, model) -> str:
    node = case.get("node")
    if node is not None:
        what = "connections to backends" if node.lname == "sslproxyprotocol" else "clients"
        return f"{node.name} {' '.join(node.args)} ({_where(node)}, for {what})"
    default = " ".join(DEFAULT_PROTOCOL.get(model.version, DEFAULT_PROTOCOL["2.4"]))
    return (
        f"{case['host'].label} has no SSLProtocol, here or at server level, so httpd "
        f"{model.version}'s default `SSLProtocol {default}` applies and it"
    )


def _advice(case: dict, model) -> str:
    node = case.get("node")
    name = node.name if node is not None else "SSLProtocol"
    value = "-all +TLSv1.2" if model.version == "2.2" else "-all +TLSv1.2 +TLSv1.3"
    return f"`{name} {value}`"


_WHY = {"SSLv2": "SSLv2 is broken outright (DROWN)", "SSLv3": "SSLv3 falls to POODLE"}


@check("TLS001")
def ssl_protocol_ssl(model, rule, settings) -> Iterator[Finding]:
    """SSLv2 or SSLv3 enabled (or SSLv2 named, which httpd 2.4 refuses)."""
    for result, case in _protocol_cases(model):
        subject = _subject(case, model)
        if result.refused:
            yield rule.finding(
                f"{subject}: httpd {model.version} refuses to start "
                f'("{result.refused}"); SSLv2 is broken (DROWN) and no client needs it; '
                f"use {_advice(case, model)}",
                case["at"],
            )
            continue
        bad = [p for p in ("SSLv2", "SSLv3") if p in result.enabled]
        if not bad:
            continue
        named = [p for p in bad if result.enabled[p] == "named"]
        why = " and ".join(_WHY[p] for p in bad)
        if named or model.version == "2.2":
            extra = ""
            if len(named) < len(bad):
                extra = (
                    " (in httpd 2.2, `all` means SSLv2, SSLv3 and every TLS version of the "
                    "OpenSSL build; only a build without SSLv2 or SSLv3 leaves them out)"
                )
            yield rule.finding(
                f"{subject} enables {' and '.join(bad)}{extra}: {why}; use {_advice(case, model)}",
                case["at"],
            )
        else:
            yield rule.finding(
                f"{subject} enables SSLv3 through `all`, as far as mod_ssl is concerned: "
                "OpenSSL 1.1.0 and later are normally built without SSLv3 (then `all` leaves "
                "it out), but with an OpenSSL that has it SSLv3 is offered and falls to "
                f"POODLE; add -SSLv3, or better use {_advice(case, model)}",
                case["at"],
                severity="warning",
            )


@check("TLS002")
def ssl_protocol_legacy_tls_named(model, rule, settings) -> Iterator[Finding]:
    """TLSv1 or TLSv1.1 enabled by name (`+TLSv1`, `TLSv1.1`)."""
    for result, case in _protocol_cases(model):
        named = [p for p in ("TLSv1", "TLSv1.1") if result.enabled.get(p) == "named"]
        if not named or result.refused:
            continue
        which = " and ".join(named)
        verb = "are" if len(named) > 1 else "is"
        yield rule.finding(
            f"{_subject(case, model)} enables {which} by name: {which} {verb} deprecated "
            "(RFC 8996) and current browsers no longer use TLS 1.0 or 1.1; OpenSSL 3 refuses "
            "them at its default security level unless the cipher string lowers it, so the "
            f"line also misstates what is offered; use {_advice(case, model)}",
            case["at"],
        )


@check("TLS003")
def ssl_protocol_legacy_tls_all(model, rule, settings) -> Iterator[Finding]:
    """TLSv1 or TLSv1.1 enabled through `all` or through the default."""
    for result, case in _protocol_cases(model):
        via = [p for p in ("TLSv1", "TLSv1.1") if result.enabled.get(p) in ("all", "default")]
        named = [p for p in ("TLSv1", "TLSv1.1") if result.enabled.get(p) == "named"]
        if not via or named or result.refused:
            continue
        which = " and ".join(via)
        if model.version == "2.2":
            yield rule.finding(
                f"{_subject(case, model)} enables {which} through `all`: httpd 2.2 runs "
                "with OpenSSL before 1.1.0, which offers them, and both are deprecated "
                f"(RFC 8996); use {_advice(case, model)}",
                case["at"],
                severity="warning",
            )
            continue
        yield rule.finding(
            f"{_subject(case, model)} enables {which} through `all`: mod_ssl asks OpenSSL "
            "for them, and the OpenSSL build or its configuration decides (OpenSSL 3 at its "
            "default security level, or a distribution's MinProtocol, refuses them; OpenSSL "
            "1.0.x and 1.1.x at security level 1 offer them); say what is meant: "
            f"{_advice(case, model)}",
            case["at"],
        )


# ---------------------------------------------------------------------------------------
# SSLCipherSuite as OpenSSL reads a cipher list

# How sure a family is there: named outright; held by a broad alias in every OpenSSL before
# 1.1.0 (which is what httpd 2.2 builds with); or held by a broad alias in some builds only.
EXPLICIT, OLD, VARIES = "explicit", "old", "varies"

# Aliases that name a weak family outright.
_EXPLICIT = {
    "RC4": {"RC4"},
    "DES": {"DES"},
    "LOW": {"DES"},
    "3DES": {"3DES"},
    "MD5": {"MD5"},
}
# Broad aliases: before 1.1.0 ALL and MEDIUM held RC4 (with RC4-MD5) and ALL held single DES;
# 3DES was in HIGH until the 2016 SWEET32 releases and in MEDIUM after, and many current
# builds have none. HIGH is only read this way for httpd 2.2: 2.4 runs with newer builds.
_BROAD = {
    "ALL": {"RC4": OLD, "DES": OLD, "3DES": OLD, "MD5": OLD},
    "MEDIUM": {"RC4": OLD, "3DES": VARIES, "MD5": OLD},
}
_BROAD_22 = {"HIGH": {"3DES": VARIES}}
# Removing one of these removes the whole family.
_KILL = {
    "RC4": {"RC4"},
    "DES": {"DES"},
    "LOW": {"DES"},
    "3DES": {"3DES"},
    "MD5": {"MD5"},
    "ALL": {"RC4", "DES", "3DES", "MD5"},
}
_FAMILY_TEXT = {
    "RC4": "RC4 (broken stream cipher, RFC 7465 forbids it)",
    "DES": "single DES (56-bit keys)",
    "3DES": "3DES (64-bit blocks: SWEET32)",
    "MD5": "MD5-based suites",
}
_RANK = {VARIES: 0, OLD: 1, EXPLICIT: 2}


def _separators(spec: str) -> list[str]:
    out, cur = [], ""
    for ch in spec:
        if ch in ": ,;":
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def _named_cipher(name: str) -> set[str] | None:
    """Families of one cipher suite named outright (OpenSSL or IANA spelling), or None."""
    if "-" in name:
        parts = name.split("-")
    elif name.startswith(("TLS_", "SSL_")):
        parts = name.split("_")
    else:
        return None
    upper = [p.upper() for p in parts]
    if upper[0].startswith("EXP") or upper[0] in ("ADH", "AECDH"):
        return set()  # export and anonymous suites: mod_ssl removes them
    if {"NULL", "ANON", "EXPORT", "EXPORT40"} & set(upper):
        return set()  # null, anonymous, export (IANA spelling): removed as well
    fams = set()
    if "RC4" in upper:
        fams.add("RC4")
    if "CBC3" in upper or "3DES" in upper or "DES3" in upper:
        fams.add("3DES")
    for i, p in enumerate(upper[:-1]):
        if p == "DES" and upper[i + 1] == "CBC":
            fams.add("DES")
    if upper[-1] == "MD5":
        fams.add("MD5")
    return fams


def _component(word: str, version: str) -> dict[str, str] | None:
    """Families one alias or cipher name adds, with how sure; None for anything else."""
    if word in _EXPLICIT:
        return {f: EXPLICIT for f in _EXPLICIT[word]}
    broad = dict(_BROAD)
    if version == "2.2":
        broad.update(_BROAD_22)
    if word in broad:
        return broad[word]
    named = _named_cipher(word)
    if named is not None:
        return {f: EXPLICIT for f in named}
    return None


def _token(body: str, version: str) -> dict[str, str]:
    """An `A+B+C` token adds the suites that are in every one of its components."""
    comps = [_component(c, version) for c in body.split("+") if c]
    known = [c for c in comps if c is not None]
    if not known:
        return {}
    if len(known) != len(comps) and not any(EXPLICIT in c.values() for c in known):
        return {}  # a broad alias narrowed by something unknown: can't tell
    fams = set.intersection(*(set(c) for c in known))
    return {f: max((c[f] for c in known), key=_RANK.__getitem__) for f in fams}


def evaluate_ciphers(
    spec: str,
    version: str,
    token: Callable[[str, str], dict[str, str]] | None = None,
    kill: dict[str, set[str]] | None = None,
) -> dict[str, tuple[str, list[str]]]:
    """Weak families a cipher list leaves enabled: family -> (how sure, adding tokens).

    `!X` deletes for good, `-X` deletes what is there now, `+X` only reorders, a bare
    token adds. Removal by a combined token (`!RC4+RSA`) removes part of a family, so it
    only cancels the same token added elsewhere. `token` (what an `A+B` token adds) and
    `kill` (which words remove a whole family) default to the weak-cipher families; other
    families (key exchange, checks/ciphers.py) bring their own and share this algebra.
    """
    token = token or _token
    kill = _KILL if kill is None else kill
    killed: set[str] = set()
    adds: dict[str, list[tuple[str, str]]] = {}
    for item in _separators(spec):
        prefix = item[0] if item[0] in "!-+" else ""
        body = item[len(prefix) :]
        if not body or body.startswith("@"):
            continue
        if prefix in ("!", "-"):
            fams = kill.get(body, set()) if "+" not in body else set()
            for fam in fams:
                adds.pop(fam, None)
                if prefix == "!":
                    killed.add(fam)
            for fam, lst in adds.items():
                adds[fam] = [(t, k) for t, k in lst if t != body]
            continue
        if prefix == "+":
            continue
        for fam, how in token(body, version).items():
            if fam not in killed:
                adds.setdefault(fam, []).append((body, how))
    out = {}
    for fam, lst in adds.items():
        if not lst:
            continue
        how = max((k for _, k in lst), key=_RANK.__getitem__)
        tokens = [t for t, k in lst if k == how]
        out[fam] = (how, list(dict.fromkeys(tokens)))
    return out


def _cipher_directives(model) -> Iterator[tuple[Directive, str]]:
    for name in ("SSLCipherSuite", "SSLProxyCipherSuite"):
        for node in model.find(name):
            if not node.args:
                continue
            if len(node.args) >= 2:
                if node.args[0] != "SSL":
                    continue  # TLSv1.3 suites: none of them is weak
                yield node, node.args[1]
            else:
                yield node, node.args[0]


_BUILD_NOTE = {
    "RC4": "RC4 is only in OpenSSL before 1.1.0 or built with enable-weak-ssl-ciphers",
    "DES": "single DES is only in OpenSSL before 1.1.0",
    "MD5": "the MD5 suites are only in OpenSSL before 1.1.0",
    "3DES": "which OpenSSL alias holds 3DES has changed: HIGH until the 2016 SWEET32 "
    "releases, MEDIUM after, and many current builds have none",
}


def _describe(hits: dict[str, tuple[str, list[str]]]) -> str:
    by_tokens: dict[tuple[str, ...], list[str]] = {}
    for fam, (_, tokens) in hits.items():
        by_tokens.setdefault(tuple(tokens), []).append(_FAMILY_TEXT[fam])
    return "; ".join(
        f"{' and '.join(fams)} through {', '.join(tokens)}" for tokens, fams in by_tokens.items()
    )


def _weak_cipher_findings(model, rule, families: tuple[str, ...]) -> Iterator[Finding]:
    sure = {EXPLICIT, OLD} if model.version == "2.2" else {EXPLICIT}
    by_spec: dict[str, dict[str, tuple[str, list[str]]]] = {}  # many lines share a list
    for node, spec in _cipher_directives(model):
        found = by_spec.get(spec)
        if found is None:
            found = by_spec[spec] = evaluate_ciphers(spec, model.version)
        hits = {f: found[f] for f in families if f in found}
        if not hits:
            continue
        certain = {f: v for f, v in hits.items() if v[0] in sure}
        maybe = {f: v for f, v in hits.items() if v[0] not in sure}
        what = "connections to backends" if node.lname == "sslproxyciphersuite" else "clients"
        head = f"{node.name} {_where(node)} (for {what})"
        removal = ":".join("!" + f for f in hits)
        if certain:
            text = _describe(certain)
            if any(v[0] == OLD for v in certain.values()):
                text += " (httpd 2.2 runs with OpenSSL before 1.1.0, whose broad aliases hold them)"
            if maybe:
                text += f", and with OpenSSL builds that have them {_describe(maybe)}"
            yield rule.finding(f"{head} enables {text}; remove that and add {removal}", node)
        else:
            notes = "; ".join(_BUILD_NOTE[f] for f in maybe)
            yield rule.finding(
                f"{head} enables {_describe(maybe)} whenever the OpenSSL build has them "
                f"({notes}); add {removal} so the list does not depend on the build",
                node,
                severity="info",
            )


@check("TLS004")
def weak_ciphers(model, rule, settings) -> Iterator[Finding]:
    yield from _weak_cipher_findings(model, rule, ("RC4", "DES", "MD5"))


@check("TLS005")
def triple_des_ciphers(model, rule, settings) -> Iterator[Finding]:
    yield from _weak_cipher_findings(model, rule, ("3DES",))


# ---------------------------------------------------------------------------------------
# HSTS, session tickets, chain file

_SETTING_ACTIONS = {"set", "add", "append", "merge", "setifempty"}


def sets_hsts(node: Directive) -> bool:
    """`Header [always|onsuccess] set|add|append|merge|setifempty Strict-Transport-Security`."""
    args = node.args
    i = 1 if args and args[0].lower() in ("always", "onsuccess") else 0
    if len(args) < i + 2:
        return False
    return (
        args[i].lower() in _SETTING_ACTIONS and args[i + 1].lower() == "strict-transport-security"
    )


@check("TLS008")
def https_without_hsts(model, rule, settings) -> Iterator[Finding]:
    hosts = tls_hosts(model, https_only=True)
    if not hosts:
        return
    server_hsts = any(d.lname == "header" and sets_hsts(d) for d in server_scope(model))
    if server_hsts:
        return
    for host in hosts:
        if host.vhost is not None and any(sets_hsts(d) for d in host.vhost.find("Header")):
            continue
        yield rule.finding(
            f"{host.label} serves HTTPS (SSLEngine on) but sends no Strict-Transport-"
            "Security header, here or from server level: a browser that types the name or "
            "follows an http:// link can be kept on plain HTTP by an attacker; add `Header "
            'always set Strict-Transport-Security "max-age=63072000"` (unless the '
            "application behind it already sends the header)",
            host.anchor,
        )


@check("TLS010")
def session_tickets(model, rule, settings) -> Iterator[Finding]:
    for node in model.find("SSLSessionTickets"):
        if node.args and node.args[0].lower() == "on":
            yield rule.finding(
                f"SSLSessionTickets on {_where(node)}: every session of a server's lifetime is "
                "protected by the same ticket key, so whoever obtains it can decrypt recorded "
                "traffic (no forward secrecy) until httpd restarts; restart daily or set "
                "SSLSessionTickets off",
                node,
            )
    for host in tls_hosts(model):
        if effective(model, "SSLSessionTicketKeyFile", host.vhost) is not None:
            continue  # keys the admin manages (and, one hopes, rotates)
        if effective(model, "SSLSessionTickets", host.vhost) is None:
            yield rule.finding(
                f"{host.label} leaves SSLSessionTickets at its default, on: the ticket key "
                "lives as long as the server, so it undoes forward secrecy unless httpd "
                "restarts often (daily); set SSLSessionTickets off, or rotate keys",
                host.anchor,
            )


@check("TLS009")
def certificate_chain_file(model, rule, settings) -> Iterator[Finding]:
    for node in model.find("SSLCertificateChainFile"):
        yield rule.finding(
            f"SSLCertificateChainFile {_where(node)} is deprecated since httpd 2.4.8: while "
            "it is set, mod_ssl reads only the first certificate of each SSLCertificateFile "
            "and sends this one chain for every certificate (wrong for an RSA and ECDSA "
            "pair); append the intermediates to SSLCertificateFile and drop the directive",
            node,
        )
