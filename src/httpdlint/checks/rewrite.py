"""mod_rewrite checks: rules with the engine off, and server-level rules a virtual host does not
inherit."""

from __future__ import annotations

import itertools
import operator
import os
from collections.abc import Iterator

from ..findings import Finding
from ..registry import check
from ..scopes import _STRIP_SPACE, PARENT, RAW, context_pass, direct, unique
from ..syntax import Directive


def _engine(nodes: list[Directive]) -> str | None:
    """The last RewriteEngine value directly among nodes: 'on', 'off' or None."""
    value = None
    for d in nodes:
        if d.lname == "rewriteengine" and d.args:
            value = d.args[0].lower()
    return value


@unique
@check("COR009")
def rewrite_engine_off(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("rewrite_module"):
        return
    ctx = context_pass(model)
    rules = ctx.by_name.get("rewriterule")
    if not rules:
        return
    all_engines = ctx.by_name.get("rewriteengine", [])
    at_top = itertools.compress(all_engines, map(operator.not_, map(PARENT, all_engines)))
    server = _engine(list(at_top))
    # Find the sections whose RewriteRules may never run, from the sections around the rules
    # (a large tree has a RewriteRule and a RewriteEngine in each virtual host), then judge
    # only the rules in them.
    parents = ctx.parents("rewriterule")
    suspects = set()
    if None in parents and server is None:
        suspects.add(None)
    vhosts = ctx.sections_of(("vhost",))
    in_vhosts = parents & vhosts
    if in_vhosts and (server is None or (model.version == "2.2" and server == "on")):
        with_args = itertools.compress(all_engines, map(_STRIP_SPACE, map(RAW, all_engines)))
        suspects |= in_vhosts.difference(map(PARENT, with_args))
    for parent in parents - in_vhosts - {None}:
        if ctx.within(parent).cls is not None:
            suspects.add(parent)
    if not suspects:
        return
    engines = direct(model, "RewriteEngine")
    any_on = any(d.args and d.args[0].lower() == "on" for d in all_engines)
    for node in rules:
        if node.parent not in suspects:
            continue
        where = ctx.where(node)
        if where.cls == "top":
            if server is None:
                yield rule.finding(
                    "RewriteRule never runs: RewriteEngine is not On at server level "
                    "(its default is off)",
                    node,
                )
            continue
        if where.cls == "vhost" and where.vhost is not None:
            own = _engine(engines.get(where.vhost, []))
            if own is not None:
                continue
            if model.version == "2.2":
                if server == "on":
                    yield rule.finding(
                        "RewriteRule in a virtual host without its own RewriteEngine On: "
                        "httpd 2.2 before 2.2.23 does not pass the server's RewriteEngine "
                        "On to virtual hosts, so the rule never runs there",
                        node,
                    )
                elif server is None:
                    yield rule.finding(
                        "RewriteRule never runs: neither this virtual host nor the server "
                        "sets RewriteEngine On",
                        node,
                    )
                continue
            if server is None:
                yield rule.finding(
                    "RewriteRule never runs: neither this virtual host nor the server sets "
                    "RewriteEngine On (its default is off)",
                    node,
                )
            continue
        if where.cls is not None and not any_on:
            yield rule.finding(
                "RewriteRule never runs: RewriteEngine On appears nowhere in the "
                "configuration (its default is off)",
                node,
            )


def _options(nodes: list[Directive]) -> set[str]:
    out: set[str] = set()
    for d in nodes:
        if d.lname == "rewriteoptions":
            out.update(a.lower() for a in d.args)
    return out


@unique
@check("COR010")
def server_rewrite_not_inherited(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("rewrite_module"):
        return
    rules = model.top("rewriterule")
    if not rules or _engine(model.top("rewriteengine")) != "on":
        return
    if _options(model.top("rewriteoptions")) & {"inheritdown", "inheritdownbefore"}:
        return
    missing = [
        v
        for v in model.virtual_hosts()
        if not _options(v.directives) & {"inherit", "inheritbefore"}
    ]
    if not missing:
        return
    where = ", ".join(f"{os.path.basename(v.node.file)}:{v.node.line}" for v in missing[:3]) + (
        " ..." if len(missing) > 3 else ""
    )
    yield rule.finding(
        f"{len(rules)} RewriteRule(s) at server level do not apply to the {len(missing)} "
        f"virtual host(s) ({where}) that lack RewriteOptions Inherit: rewrite rules are not "
        "inherited",
        rules[0],
    )
