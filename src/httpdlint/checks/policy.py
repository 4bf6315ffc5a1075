"""Benchmark preferences (policy rules, off unless a profile or --select names them): request
read timeouts, keep-alive, request size limits, symbolic links, cookie flags and the fields
of the access log.

Thresholds come from each rule's `[params]`, overridden per profile (`[params.cis]`), so one
rule answers every benchmark that sets its own number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..findings import Finding
from ..registry import check
from ..syntax import Directive


def _int(node: Directive) -> int | None:
    try:
        return int(node.args[0])
    except (IndexError, ValueError):
        return None


def _wants(rule, settings) -> str:
    """Who asks for the threshold: the active profile when it names the rule."""
    if settings.profile and rule.in_profile(settings.profile):
        return f"the {settings.profile} profile"
    return "this rule"


# -- mod_reqtimeout ----------------------------------------------------------------------


def _stages(node: Directive) -> Iterator[tuple[str, str, int | None, int | None]]:
    """(stage, its text, longest timeout in seconds or None, MinRate or None) for each
    `stage=timeout[-max][,MinRate=rate]` word of a RequestReadTimeout line."""
    for word in node.args:
        stage, _, rest = word.partition("=")
        parts = rest.split(",")
        timeout = parts[0].split("-")[-1]
        rate = None
        for part in parts[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "minrate" and value.strip().isdigit():
                rate = int(value)
        longest = int(timeout) if timeout.isdigit() else None
        yield stage.lower(), word, longest, rate


@check("SEC032")
def request_read_timeout_weak(model, rule, settings) -> Iterator[Finding]:
    limits = {stage: rule.param(f"{stage}_max", settings) for stage in ("header", "body")}
    min_rate = rule.param("min_rate", settings)
    for node in model.each_scope("RequestReadTimeout"):
        for stage, word, longest, rate in _stages(node):
            if stage not in limits:
                continue
            if longest == 0:
                problem = (
                    f"turns the {stage} timeout off: a client may send it as slowly as it wants"
                )
            elif longest is not None and longest > limits[stage]:
                problem = f"allows {longest} s for the request {stage}, above {limits[stage]} s"
            elif rate is not None and rate < min_rate:
                problem = f"accepts a {stage} trickling at {rate} bytes/s, below {min_rate}"
            else:
                continue
            yield rule.finding(
                f"RequestReadTimeout {word} {problem} ({_wants(rule, settings)}): slow "
                "clients hold connections for longer; mod_reqtimeout's defaults are "
                "header=20-40,MinRate=500 body=20,MinRate=500",
                node,
            )


# -- keep-alive --------------------------------------------------------------------------


@check("SEC033")
def keepalive_off(model, rule, settings) -> Iterator[Finding]:
    for node in model.each_scope("KeepAlive"):
        if node.args and node.args[0].lower() == "off":
            yield rule.finding(
                "KeepAlive Off: every request of a page opens a new TCP (and TLS) connection, "
                "which costs the server more per page and makes it easier to overwhelm; "
                "turn it on with a short KeepAliveTimeout",
                node,
            )


@check("SEC034")
def max_keepalive_requests_low(model, rule, settings) -> Iterator[Finding]:
    least = rule.param("min", settings)
    for node in model.each_scope("MaxKeepAliveRequests"):
        value = _int(node)
        if value == 0:
            why = "0 lets one connection make requests without end"
        elif value is not None and value < least:
            wants = _wants(rule, settings)
            why = f"{value} closes busy connections early (at least {least}, {wants})"
        else:
            continue
        yield rule.finding(f"MaxKeepAliveRequests {why}; httpd's default is 100", node)


# -- request size limits -----------------------------------------------------------------


@check("SEC035")
def limit_request_body_unlimited(model, rule, settings) -> Iterator[Finding]:
    most = rule.param("max", settings)  # 0: only `LimitRequestBody 0` is reported
    nodes = model.find("LimitRequestBody")
    for node in nodes:
        value = _int(node)
        if value == 0:
            yield rule.finding(
                "LimitRequestBody 0 lifts the limit on request bodies: any client may upload "
                "without end to every URL under it (httpd 2.4.54 and later default to 1 GiB); "
                "set the largest upload the site needs",
                node,
            )
        elif value is not None and most and value > most:
            yield rule.finding(
                f"LimitRequestBody {value} is above {most} bytes ({_wants(rule, settings)})",
                node,
            )
    if most and not any(n.parent is None for n in nodes):
        yield rule.finding(
            f"LimitRequestBody is not set at server level, so httpd's default applies (1 GiB "
            f"since 2.4.54, no limit before); {_wants(rule, settings)} wants {most} bytes or "
            "less",
            model=model,
        )


def _size_limit(model, rule, settings, name: str, default: int) -> Iterator[Finding]:
    """A server or virtual-host limit above the rule's maximum; unset counts as httpd's
    compiled default. 0 means unlimited only for LimitRequestFields."""
    most = rule.param("max", settings)
    found = False
    for node in model.each_scope(name):
        found = found or node.parent is None
        value = _int(node)
        if value is None:
            continue
        if value == 0 and name == "LimitRequestFields":
            yield rule.finding(f"{name} 0 accepts any number of request header fields", node)
        elif value > most:
            yield rule.finding(
                f"{name} {value} is above {most} ({_wants(rule, settings)}; httpd's default "
                f"is {default}): larger requests reach every module and application",
                node,
            )
    if not found and default > most:
        yield rule.finding(
            f"{name} is not set, so httpd's default {default} applies, above {most} "
            f"({_wants(rule, settings)})",
            model=model,
        )


@check("SEC036")
def limit_request_line_large(model, rule, settings) -> Iterator[Finding]:
    yield from _size_limit(model, rule, settings, "LimitRequestLine", 8190)


@check("SEC037")
def limit_request_fields_many(model, rule, settings) -> Iterator[Finding]:
    yield from _size_limit(model, rule, settings, "LimitRequestFields", 100)


@check("SEC038")
def limit_request_field_size_large(model, rule, settings) -> Iterator[Finding]:
    yield from _size_limit(model, rule, settings, "LimitRequestFieldSize", 8190)


# -- symbolic links ----------------------------------------------------------------------


@check("SEC039")
def follow_symlinks(model, rule, settings) -> Iterator[Finding]:
    for node in model.find("Options"):
        words = [a.lower() for a in node.args]
        if any(w.lstrip("+") == "symlinksifownermatch" for w in words):
            continue
        turned_on = [w for w in words if w.lstrip("+") in ("followsymlinks", "all")]
        if turned_on:
            yield rule.finding(
                f"Options {' '.join(node.args)} follows every symbolic link: whoever can "
                "create a link in the served tree can publish any file httpd may read; "
                "SymLinksIfOwnerMatch follows only links owned like their target",
                node,
            )


# -- cookies -----------------------------------------------------------------------------


def _cookie_edits(model) -> list[Directive]:
    """`Header [always] edit[*] Set-Cookie ...` lines."""
    out = []
    for node in model.find("Header"):
        words = [a.lower() for a in node.args]
        if words and words[0] in ("always", "onsuccess"):
            words = words[1:]
        if len(words) >= 2 and words[0] in ("edit", "edit*") and words[1] == "set-cookie":
            out.append(node)
    return out


@check("SEC040")
def set_cookie_flags_missing(model, rule, settings) -> Iterator[Finding]:
    edits = _cookie_edits(model)
    complete = False
    for node in edits:
        text = " ".join(node.args[3:]).lower()
        missing = [flag for flag in ("HttpOnly", "Secure") if flag.lower() not in text]
        if missing:
            yield rule.finding(
                f"this Set-Cookie edit adds no {' and no '.join(missing)}: cookies it "
                "rewrites stay readable by scripts or go over plain HTTP",
                node,
            )
        else:
            complete = True
    if not complete and not edits:
        yield rule.finding(
            "no `Header always edit Set-Cookie` adds HttpOnly and Secure, so cookies the "
            "applications set without them are readable by page scripts and sent over plain "
            "HTTP (needs mod_headers)",
            model=model,
        )


# -- access-log fields -------------------------------------------------------------------

# A mod_log_config directive: `%`, conditions or `<`/`>`, an optional {argument}, a letter.
_DIRECTIVE = re.compile(r"%[<>!0-9,]*(?:\{([^}]*)\})?([a-zA-Z%])")
_COMMON = '%h %l %u %t "%r" %>s %b'  # mod_log_config's built-in default (CLF)


def _fields(fmt: str) -> list[str]:
    """The fields an access log entry lacks of client, time, request, status, referer and
    user agent."""
    found = {(arg or "").lower() + ":" + letter for arg, letter in _DIRECTIVE.findall(fmt)}
    letters = {f.split(":")[1] for f in found}
    wants = {
        "client address": bool(letters & {"h", "a"}),
        "time": "t" in letters,
        "request line": "r" in letters or {"m", "U"} <= letters,
        "status": "s" in letters,
        "referer": "referer:i" in found,
        "user agent": "user-agent:i" in found,
    }
    return [name for name, ok in wants.items() if not ok]


def _formats(nodes: list[Directive], base: dict[str, str]) -> dict[str, str]:
    out = dict(base)
    for node in nodes:
        if node.lname == "logformat" and len(node.args) >= 2:
            out[node.args[1].lower()] = node.args[0]
        elif node.lname == "logformat" and len(node.args) == 1:
            out[""] = node.args[0]  # the format TransferLog uses
    return out


@check("LOG010")
def access_log_fields(model, rule, settings) -> Iterator[Finding]:
    server = _formats(model.top("LogFormat"), {"clf": _COMMON, "": _COMMON})
    scopes = [(model.top("CustomLog", "TransferLog"), server)]
    for vhost in model.virtual_hosts():
        own = [d for d in vhost.directives if d.lname in ("customlog", "transferlog")]
        if own:
            scopes.append((own, _formats(vhost.directives, server)))
    for nodes, formats in scopes:
        for node in nodes:
            if node.lname == "customlog":
                if len(node.args) < 2:
                    continue
                word = node.args[1]
                fmt = word if "%" in word else formats.get(word.lower())
            else:
                fmt = formats[""]
            if fmt is None:
                continue  # an unknown nickname: LOG004 reports it
            missing = _fields(fmt)
            if missing:
                yield rule.finding(
                    f"{node.name} writes entries without {', '.join(missing)}: an incident "
                    "cannot be traced from this log; use the combined format (LogFormat "
                    '"%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"")',
                    node,
                )


# -- SEC041: framing ----------------------------------------------------------------------

# `Header [always|onsuccess] ACTION NAME VALUE`: the actions that leave the header set.
_SETS = {"set", "append", "merge", "add", "setifempty"}


def _header(node: Directive) -> tuple[str, str, str] | None:
    """(action, header name lowercased, value) of a Header line, None for others."""
    args = list(node.args)
    if args and args[0].lower() in ("always", "onsuccess"):
        args = args[1:]
    if len(args) < 2:
        return None
    return args[0].lower(), args[1].lower(), args[2] if len(args) > 2 else ""


def _framing(lines: Iterator[Directive]) -> bool:
    """Whether the Header lines, in merge order, leave framing restricted."""
    said: dict[str, str] = {}
    for node in lines:
        parsed = _header(node)
        if parsed is None:
            continue
        action, name, value = parsed
        if action == "unset":
            said.pop(name, None)
        elif action in _SETS and name in ("x-frame-options", "content-security-policy"):
            said[name] = value
    xfo = said.get("x-frame-options", "").strip().lower()
    return (
        xfo in ("deny", "sameorigin")
        or "frame-ancestors" in said.get("content-security-policy", "").lower()
    )


@check("SEC041")
def framing_unrestricted(model, rule, settings) -> Iterator[Finding]:
    from ..merge import Request, resolve

    servers = [v.node for v in model.virtual_hosts()] or [None]
    for server in servers:
        result = resolve(model, server, Request(url="/"))
        if result.undecided:
            continue
        lines = (d for a in result.applied for d in a.lines if d.lname == "header")
        if _framing(lines):
            continue
        where = f"<{server.section_label()}>" if server is not None else "the main server"
        yield rule.finding(
            f"GET / on {where} is answered without X-Frame-Options or a Content-Security-"
            "Policy frame-ancestors: any site can frame the pages and trick a visitor into "
            "clicking in them; add Header always set X-Frame-Options SAMEORIGIN (or "
            "Content-Security-Policy \"frame-ancestors 'self'\")",
            server,
            model=model,
        )
