"""Logging checks: error log verbosity and location, access logs and their formats.

Inheritance follows httpd: a virtual host without its own ErrorLog or LogLevel uses the main
server's; mod_log_config gives a virtual host without CustomLog/TransferLog the main server's
logs, and adds GlobalLog's to every host (modules/loggers/mod_log_config.c); LogFormat
nicknames defined at server level are visible in every virtual host.
"""

from __future__ import annotations

import itertools
import operator
import os
from collections.abc import Iterator
from typing import Any

from ..findings import Finding
from ..registry import check
from ..scopes import PARENT, after_first_word, vhost_nodes
from ..syntax import Directive, split_args

NODE = operator.attrgetter("node")

_VERBOSE = {"debug"} | {f"trace{i}" for i in range(1, 9)}
_QUIET = ("emerg", "alert", "crit")
# httpd's compiled default (DEFAULT_ERRORLOG in include/httpd.h), relative to ServerRoot.
DEFAULT_ERRORLOG = "logs/error_log"
ACCESS_LOGS = ("CustomLog", "TransferLog")


def _where(node: Directive) -> str:
    """`at server level`, or the sections around it: `in <VirtualHost *:80> <Location />`."""
    path = node.section_path()
    if not path:
        return "at server level"
    return "in " + " ".join(f"<{label}>" for label in path)


def _levels(node: Directive) -> list[tuple[str | None, str]]:
    """(module or None, level) for each word of a LogLevel line."""
    out = []
    for word in node.args:
        module, sep, level = word.rpartition(":")
        out.append((module if sep else None, level.lower()))
    return out


@check("LOG001")
def log_level_verbose(model, rule, settings) -> Iterator[Finding]:
    for node in model.find("LogLevel"):
        words = [(f"{m}:{lv}" if m else lv) for m, lv in _levels(node) if lv in _VERBOSE]
        if not words:
            continue
        trace = any(w.split(":")[-1].startswith("trace") for w in words)
        what = (
            "trace levels write request and response details (headers, and for some "
            "modules data) for every request"
            if trace
            else "debug writes several lines for every request"
        )
        yield rule.finding(
            f"LogLevel {' '.join(node.args)} {_where(node)}: {what}, which fills the disk, "
            "costs time on each request and can record credentials and cookies; keep it for "
            "a debugging session and go back to warn (or `warn <module>:info`)",
            node,
        )


@check("LOG005")
def log_level_quiet(model, rule, settings) -> Iterator[Finding]:
    nodes = [model.server_directive("LogLevel")]
    # Only the virtual hosts with a LogLevel of their own (`vhost.own`) can have one.
    owners = vhost_nodes(model).intersection(map(PARENT, model.find("LogLevel")))
    if owners:
        vhosts = model.virtual_hosts()
        with_own = itertools.compress(vhosts, map(owners.__contains__, map(NODE, vhosts)))
        nodes += [vh.own("LogLevel") for vh in with_own]
    for node in nodes:
        if node is None:
            continue
        base = [lv for m, lv in _levels(node) if m is None]
        if not base or base[-1] not in _QUIET:
            continue
        among = "denied requests, CGI and proxy backend failures and timeouts"
        if node.parent is None:
            among += (
                ", and the error that MaxRequestWorkers was reached (AH00161, AH00286, AH00484)"
            )
        yield rule.finding(
            f"LogLevel {' '.join(node.args)} {_where(node)}: messages of level error and "
            f"warn are dropped, among them {among}; use warn, or error at the least",
            node,
        )


@check("LOG002")
def missing_error_log(model, rule, settings) -> Iterator[Finding]:
    if model.server_directive("ErrorLog") is not None:
        return
    server_root = model.config.server_root
    path = os.path.join(server_root, DEFAULT_ERRORLOG)
    directory = os.path.dirname(path)
    if settings.filesystem and not os.path.isdir(directory):
        yield rule.finding(
            f"no ErrorLog at server level, so httpd writes its error log to its compiled "
            f"default {DEFAULT_ERRORLOG} under ServerRoot, {path}, and that directory does "
            'not exist here: httpd refuses to start ("Cannot access directory ... for main '
            'error log"); set ErrorLog to a path (or syslog) at server level',
            model=model,
            httpd_code="AH02291",
            severity="error",
        )
        return
    yield rule.finding(
        f"no ErrorLog at server level: httpd writes startup messages, and those of every "
        f"virtual host without its own ErrorLog, to its compiled default {DEFAULT_ERRORLOG} "
        f"under ServerRoot ({path}); name the file so that whoever reads the configuration "
        "finds the log",
        model=model,
    )


@check("LOG003")
def missing_access_log(model, rule, settings) -> Iterator[Finding]:
    if model.server_directive("GlobalLog") is not None:
        return
    if any(model.server_directive(name) is not None for name in ACCESS_LOGS):
        return  # every virtual host without its own logs uses these
    vhosts = model.virtual_hosts()
    loaded = model.has_module("log_config_module")
    why = "" if loaded else " (and mod_log_config, which provides access logs, is not loaded)"
    if not vhosts:
        yield rule.finding(
            f"no CustomLog or TransferLog: requests are not logged at all{why}; add a "
            "CustomLog at server level",
            model=model,
        )
        return
    # The virtual hosts with a CustomLog or TransferLog directly inside (`vhost.own`).
    logged = set()
    for name in ACCESS_LOGS:
        logged.update(map(PARENT, model.find(name)))
    if not vhost_nodes(model) - logged:
        return
    unlogged = map(operator.not_, map(logged.__contains__, map(NODE, vhosts)))
    for vhost in itertools.compress(vhosts, unlogged):
        label = "<VirtualHost " + " ".join(vhost.addresses) + ">"
        yield rule.finding(
            f"{label} has no CustomLog or TransferLog and the server level has none to "
            f"inherit: its requests are not logged anywhere{why}; add a CustomLog here or "
            "at server level",
            vhost.node,
        )


def _nicknames(nodes: list[Directive]) -> set[str]:
    return {d.args[1].lower() for d in nodes if d.lname == "logformat" and len(d.args) >= 2}


@check("LOG004")
def undefined_log_format(model, rule, settings) -> Iterator[Finding]:
    """A CustomLog/GlobalLog/LogFormat format with no `%` that names no LogFormat nickname."""
    server = _nicknames(model.top("logformat"))
    server.add("clf")  # mod_log_config's built-in nickname
    yield from _bad_formats(rule, model.top(*_FORMAT_USERS), server)
    # Only the virtual hosts with a format that is no server-level nickname can have a
    # finding (their own LogFormat lines only add nicknames): find them from the format
    # lines, then look at those hosts as a whole.
    vhosts = vhost_nodes(model)
    suspects: set[Directive] = set()
    formats: dict[str, str | None] = {}  # the format word by the text after the first word
    for lname in ("customlog", "globallog"):
        for node in model.find(lname):
            parent = node.parent
            if parent not in vhosts or parent in suspects:
                continue
            tail = after_first_word(node.raw)
            if tail is None:
                args = node.args
                fmt = args[1] if len(args) >= 2 else None
            else:
                fmt = formats.get(tail, _UNSEEN)
                if fmt is _UNSEEN:
                    words = split_args(tail)
                    fmt = formats[tail] = words[0] if words else None
            if fmt is not None and "%" not in fmt and fmt.lower() not in server:
                suspects.add(parent)
    for node in model.find("logformat"):
        if node.parent in vhosts and node.parent not in suspects and len(node.args) == 1:
            fmt = node.args[0]
            if "%" not in fmt and fmt.lower() not in server:
                suspects.add(node.parent)
    if not suspects:
        return
    for vhost in model.virtual_hosts():
        if vhost.node in suspects:
            names = server | _nicknames(vhost.directives)
            yield from _bad_formats(rule, vhost.directives, names)


_FORMAT_USERS = ("customlog", "globallog", "logformat")
_UNSEEN: Any = object()


def _bad_formats(rule, nodes: list[Directive], names: set[str]) -> Iterator[Finding]:
    for node in nodes:
        if node.lname in ("customlog", "globallog") and len(node.args) >= 2:
            fmt = node.args[1]
        elif node.lname == "logformat" and len(node.args) == 1:
            fmt = node.args[0]
        else:
            continue
        if "%" in fmt or fmt.lower() in names:
            continue
        where = _where(node)
        scope = "at server level" if where == "at server level" else f"{where} or at server level"
        yield rule.finding(
            f"{node.name} {where} uses the format {fmt!r}, which has no % directive "
            f"and is no LogFormat nickname defined {scope}: httpd writes the literal "
            f"text {fmt!r} as the whole entry for every request; define it with "
            f'`LogFormat "..." {fmt}` or correct the name',
            node,
        )


@check("LOG006")
def buffered_logs(model, rule, settings) -> Iterator[Finding]:
    node = model.server_directive("BufferedLogs")
    if node is not None and node.args and node.args[0].lower() == "on":
        yield rule.finding(
            "BufferedLogs On: each child holds access log entries in memory and writes them "
            "in batches, so entries arrive late and those of a child that crashes or is "
            "killed are lost, which is when they are wanted most; the manual asks for "
            "caution (its benefit is fewer writes on very busy servers)",
            node,
        )
