"""The answer a request gets, from the merged configuration `merge.resolve` gives.

Access first, as `ap_process_request_internal` runs it: mod_access_compat's Order, Allow and
Deny, then mod_authz_core (before authentication for an anonymous client: 403 on a denial,
401 when a login could change it), combined by Satisfy. Then the resource: AllowMethods,
a handler, mod_dav, and the file on this machine (200, a directory's index or listing, 301
to add the slash, 404). Where the configuration cannot tell (mod_rewrite, Redirect,
ProxyPass, an undecided <If> that sets access, a provider that needs DNS or a variable,
a file that is not on this machine) the status is None and `why` says what decides it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import authz
from .merge import Request, Result, access_of, resolve
from .syntax import Directive

ALLOWED, DENIED, LOGIN, DEPENDS = "allowed", "denied", "login", "depends"
_READS = {"GET", "HEAD", "POST", "OPTIONS"}
_DAV = {"PUT", "DELETE", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PROPFIND", "PROPPATCH"}


@dataclass
class Outcome:
    """What a request gets: the access decision, the status when it is known, and why."""

    access: str
    status: int | None
    why: str
    deciding: Directive | None = None


def _at(node: Directive | None) -> str:
    if node is None:
        return "httpd's default"
    return f"{node.name} {' '.join(node.args)} ({os.path.basename(node.file)}:{node.line})"


def access(model, result: Result, request: Request) -> Outcome:
    """The access decision alone: allowed, denied (403), login (401) or depends."""
    method = request.method.upper()
    method = "GET" if method == "HEAD" else method
    client = request.client
    merged = access_of(result)
    if merged.compat:
        compat = authz.compat_allows(merged.compat, method, client)
        satisfy = authz.satisfy(merged.compat, method)
    else:
        compat, satisfy = authz.GRANTED, "all"
    compat_line = merged.compat[-1][0] if merged.compat else None
    conf = merged.authz
    auth_type = result.last.get("authtype")
    if conf.section is None:
        verdict, line = authz.GRANTED, None
    else:
        verdict = authz.evaluate(conf.section, method, client)
        line = _first_line(conf.section)
    if satisfy == "any" and compat == authz.GRANTED:
        return Outcome(ALLOWED, None, f"Satisfy Any and {_at(compat_line)} lets the client in")
    if satisfy != "any" and compat == authz.DENIED:
        return Outcome(DENIED, 403, f"{_at(compat_line)} refuses the client", compat_line)
    if verdict == authz.GRANTED:
        if compat == authz.DEPENDS:
            return Outcome(DEPENDS, None, f"{_at(compat_line)} depends on the client", compat_line)
        if conf.section is None:
            if auth_type is not None and not _is_none(auth_type):
                why = f"{_at(auth_type)} with no Require: httpd answers 500 (AH01627)"
                return Outcome(DENIED, 500, why, auth_type)
            return Outcome(ALLOWED, None, "no Require applies (granted)")
        return Outcome(ALLOWED, None, f"{_at(line)} grants it", line)
    if verdict == authz.DEPENDS or (satisfy == "any" and compat == authz.DEPENDS):
        return Outcome(DEPENDS, None, f"{_at(line)} depends on the client", line)
    if verdict == authz.NO_USER:
        if auth_type is None or _is_none(auth_type):
            why = f"{_at(line)} needs a user but no AuthType applies: httpd answers 500"
            return Outcome(DENIED, 500, why, line)
        return Outcome(LOGIN, 401, f"{_at(line)} needs a login ({_at(auth_type)})", line)
    return Outcome(DENIED, 403, f"{_at(line)} refuses it (client denied by configuration)", line)


def _is_none(node: Directive) -> bool:
    return bool(node.args) and node.args[0].lower() == "none"


def _first_line(section: authz.Section) -> Directive | None:
    if section.node is not None and section.provider is not None:
        return section.node
    for child in section.children:
        found = _first_line(child)
        if found is not None:
            return found
    return section.node


def decide(model, result: Result, request: Request, *, files: bool = True) -> Outcome:
    """Access, then what serves the request, as far as the configuration tells; with
    files=False it stops before the file on this machine (rules that read no files)."""
    if result.undecided:
        what, node = result.undecided[0]
        return Outcome(DEPENDS, None, f"{what} ({_at(node)}): no status is claimed", node)
    shown = access(model, result, request)
    undecided = _undecided_access(model, result, request, shown)
    if undecided is not None:
        return undecided
    if shown.access != ALLOWED:
        return shown
    method = request.method.upper()
    allowed = result.last.get("allowmethods")
    if allowed is not None and _refuses(allowed, method):
        return Outcome(ALLOWED, 405, f"{_at(allowed)} refuses {method}", allowed)
    handler = result.last.get("sethandler")
    if handler is not None and handler.args and handler.args[0].lower() != "none":
        return Outcome(ALLOWED, None, f"{shown.why}; {_at(handler)} answers", handler)
    dav = result.last.get("dav")
    if dav is not None and dav.args and dav.args[0].lower() != "off" and method in _DAV:
        return Outcome(ALLOWED, None, f"{shown.why}; mod_dav answers {method}", dav)
    if method == "OPTIONS":
        return Outcome(ALLOWED, 200, f"{shown.why}; core answers OPTIONS")
    if method not in _READS:
        return Outcome(ALLOWED, 405, f"{shown.why}; nothing here handles {method}")
    if not files:
        return Outcome(ALLOWED, None, f"{shown.why}; the file is not looked at")
    return _file(model, result, request, shown)


def _refuses(allowed: Directive, method: str) -> bool:
    """mod_allowmethods: only the listed methods (GET brings HEAD); `reset` lifts it."""
    names = {a.upper() for a in allowed.args}
    if "RESET" in names:
        return False
    return (method if method != "HEAD" else "GET") not in names


def _undecided_access(model, result: Result, request: Request, shown: Outcome) -> Outcome | None:
    """With <If> sections the request cannot decide, access is known only if every way
    they could go gives the same answer (tried for up to three of them)."""
    ifs = result.conditional
    if not ifs:
        return None
    if len(ifs) <= 3:
        path = result.filename
        answers = {shown.access}
        for mask in range(1, 2 ** len(ifs)):
            force = frozenset(s for i, s in enumerate(ifs) if mask >> i & 1)
            other = resolve(model, result.vhost, request, path=path, force=force)
            answers.add(access(model, other, request).access)
        if len(answers) == 1:
            return None
    section = ifs[0]
    return Outcome(
        DEPENDS,
        None,
        f"<{section.section_label()}> ({os.path.basename(section.file)}:{section.line}) "
        f"may change access and cannot be decided from the request; without it: "
        f"{shown.access}",
        section,
    )


def _file(model, result: Result, request: Request, shown: Outcome) -> Outcome:
    path = result.filename
    if path is None:
        return Outcome(ALLOWED, None, f"{shown.why}; no file on this machine answers")
    fence = model.config.confine
    if fence is not None and not fence.inside(path):
        return Outcome(ALLOWED, None, f"{shown.why}; {path} is outside --confine: not looked at")
    target = path.rstrip("/") or "/"
    if not os.path.lexists(target):
        parent = os.path.dirname(target)
        while parent and not os.path.isdir(parent):
            parent = os.path.dirname(parent)
        if parent in ("", "/") and not os.path.isdir(os.path.dirname(target)):
            return Outcome(ALLOWED, None, f"{shown.why}; {path} is not on this machine")
        return Outcome(ALLOWED, 404, f"{shown.why}; {path} does not exist")
    if not os.path.isdir(target):
        return Outcome(ALLOWED, 200, f"{shown.why}; serves the file {target}")
    if not result.url.endswith("/"):
        slash = result.last.get("directoryslash")
        if model.has_module("dir_module") and not (slash and slash.args[0].lower() == "off"):
            return Outcome(ALLOWED, 301, f"{shown.why}; mod_dir redirects to {result.url}/")
    index = result.last.get("directoryindex")
    names = index.args if index is not None else ["index.html"]
    if model.has_module("dir_module"):
        for name in names:
            if name.lower() != "disabled" and os.path.isfile(os.path.join(target, name)):
                return Outcome(ALLOWED, 200, f"{shown.why}; serves the index {name}")
    if "indexes" in result.options and model.has_module("autoindex_module"):
        return Outcome(
            ALLOWED, 200, f"{shown.why}; lists the directory (Options Indexes)", result.options_from
        )
    return Outcome(
        DENIED, 403, f"{shown.why}; no index file and no Indexes: httpd refuses (AH01276)"
    )
