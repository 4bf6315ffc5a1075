"""What a request meets: access control as mod_authz_core and mod_access_compat judge it,
and Options as core's set_options applies its words.

`access(section)` is a section's own verdict (open, restricted, denied, or None when it says
nothing); `url_verdict` follows the sections a URL passes through, in httpd's order, to the
verdict that applies; `options_granted` is what an Options line leaves on. The security and
upgrade rules ask these instead of reading Require and Allow lines their own ways.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator

from .syntax import Directive

_OPTION_BITS = {
    "indexes": {"indexes"},
    "includes": {"includes", "inc_exec"},
    "includesnoexec": {"includes"},
    "followsymlinks": {"symlinks"},
    "symlinksifownermatch": {"symowner"},
    "execcgi": {"execcgi"},
    "multiviews": {"multi"},
    "runscripts": {"multi", "execcgi"},
    "none": set(),
    "all": {"indexes", "includes", "inc_exec", "symlinks", "execcgi"},
}


def options_granted(node: Directive) -> set[str]:
    """What one Options line turns on: its whole set when it names an option without + or -,
    else what its + words add to the inherited set."""
    opts: set[str] = set()
    adds: set[str] = set()
    absolute = False
    for word in node.args:
        action = ""
        if word[:1] in "+-":
            action, word = word[0], word[1:]
        elif not absolute:
            opts = set()
            absolute = True
        bits = _OPTION_BITS.get(word.lower())
        if bits is None:
            continue
        if action == "-":
            adds -= bits
            opts -= bits
        else:
            opts |= bits
            if action == "+":
                adds |= bits
    return opts if absolute else adds


def option_word(node: Directive, *names: str) -> str:
    """The word of an Options line that switches an option on, for messages."""
    for word in node.args:
        bare = word.lstrip("+").lower()
        if word[:1] != "-" and bare in names:
            return word
    return "All"


def options_with(model, bit: str) -> Iterator[Directive]:
    for node in model.find("Options"):
        if bit in options_granted(node):
            yield node


_STRICT = {"open": 0, "restricted": 1, "denied": 2}


_AUTHZ_CONTAINERS = {"<requireany", "<requireall", "<requirenone", "<limit", "<limitexcept"}


def _least(verdicts: Iterable[str | None]) -> str | None:
    vs = [v for v in verdicts if v]
    return min(vs, key=_STRICT.__getitem__) if vs else None


def _most(verdicts: Iterable[str | None]) -> str | None:
    vs = [v for v in verdicts if v]
    return max(vs, key=_STRICT.__getitem__) if vs else None


def _require(node: Directive) -> str | None:
    args = [a.lower() for a in node.args]
    if not args:
        return None
    if args[0] == "all":
        return "open" if args[1:2] == ["granted"] else "denied"
    if args[0] == "not":
        return None  # a negation only ever narrows what something else grants
    if args[0] == "method":
        return "open"  # anyone, with these methods
    return "restricted"  # local, ip, host, valid-user, user, group, env, expr, ...


def _authz(nodes: list[Directive], combine) -> str | None:
    out = []
    for d in nodes:
        if d.lname == "require":
            out.append(_require(d))
        elif d.lname in ("<requireany", "<limit", "<limitexcept"):
            out.append(_authz(d.children or [], _least))
        elif d.lname == "<requireall":
            out.append(_authz(d.children or [], _most))
        elif d.lname == "<requirenone":
            out.append(None)
    return combine(out)


def _legacy(nodes: list[Directive]) -> str | None:
    """Order/Allow/Deny: whether an arbitrary client is let in, None when none is set."""
    order = None
    allow: list[str] = []
    deny: list[str] = []
    for d in _own_authz(nodes):
        if d.lname == "order":
            order = "".join(d.args).lower()
        elif d.lname == "allow":
            allow += [a.lower() for a in d.args[1:]]
        elif d.lname == "deny":
            deny += [a.lower() for a in d.args[1:]]
    if order is None and not allow and not deny:
        return None
    if order in (None, "deny,allow"):
        if "all" in deny and "all" not in allow:
            return "restricted" if allow else "denied"
        return "open"
    # allow,deny and mutual-failure: only what Allow names and Deny does not
    if "all" in deny:
        return "denied"
    if "all" in allow:
        return "open"
    return "restricted" if allow else "denied"


def _own_authz(nodes: list[Directive]) -> Iterator[Directive]:
    for d in nodes:
        yield d
        if d.lname in _AUTHZ_CONTAINERS:
            yield from _own_authz(d.children or [])


def access(section: Directive) -> str | None:
    """How a section's own access control treats an arbitrary client: "open", "restricted"
    or "denied"; None when the section sets none (it inherits)."""
    nodes = section.children or []
    authz = _authz(nodes, _least)
    legacy = _legacy(nodes)
    satisfy = "all"
    for d in _own_authz(nodes):
        if d.lname == "satisfy" and d.args:
            satisfy = d.args[0].lower()
    if satisfy == "any":
        return _least([authz, legacy])
    return _most([authz, legacy])


def restrict_hint(model) -> str:
    if model.version == "2.4":
        return "Require local, or Require ip 192.0.2.0/24"
    return "Order deny,allow, Deny from all, Allow from 192.0.2.0/24"


def grant_node(section: Directive) -> Directive | None:
    """The line that lets everyone in: `Require all granted` or `Allow from all`."""
    for d in _own_authz(section.children or []):
        args = [a.lower() for a in d.args]
        if d.lname == "require" and args[:2] == ["all", "granted"]:
            return d
        if d.lname == "allow" and "all" in args[1:]:
            return d
    return None


def is_root_dir(section: Directive) -> bool:
    return (
        section.lname == "<directory"
        and len(section.args) == 1
        and section.args[0] != ""
        and section.args[0].strip("/") == ""
    )


def _dir_matches(pattern: str, path: str) -> bool:
    pcomps = [c for c in pattern.split("/") if c]
    comps = [c for c in path.split("/") if c]
    if len(pcomps) > len(comps):
        return False
    return all(fnmatch.fnmatchcase(c, p) for c, p in zip(comps, pcomps, strict=False))


def _loc_matches(section: Directive, url: str) -> bool:
    return loc_args_match(section.lname, section.args, url)


def loc_args_match(lname: str, args: list[str], url: str) -> bool:
    """Whether a <Location> or <LocationMatch> with these words matches a URL."""
    if not args:
        return False
    regex = None
    if lname == "<locationmatch":
        regex = args[0]
    elif args[0] == "~" and len(args) > 1:
        regex = args[1]
    if regex is not None:
        try:
            return re.search(regex, url) is not None
        except re.error:
            return False
    loc = args[0]
    if loc == "/" or url == loc:
        return True
    if any(ch in loc for ch in "*?["):
        return fnmatch.fnmatchcase(url, loc) or fnmatch.fnmatchcase(url, loc.rstrip("/") + "/*")
    base = loc.rstrip("/")
    return url.startswith(base + "/") or (not loc.endswith("/") and url.startswith(loc))


def _scoped(model, vhost: Directive | None, kinds: tuple[str, ...]) -> list[Directive]:
    """Sections of some kinds that apply to a virtual host: the server's, then its own."""
    out = model.top(*kinds)
    if vhost is not None:
        out += [d for d in vhost.children or [] if d.lname in kinds]
    return out


def _docroot(model, vhost: Directive | None) -> str | None:
    node = None
    if vhost is not None:
        for d in vhost.children or []:
            if d.lname == "documentroot":
                node = d
    if node is None:
        node = next(reversed(model.top("documentroot")), None)
    if node is None or not node.args:
        return None
    return os.path.join(model.config.server_root, node.args[0])  # ServerRoot-relative


def _dir_verdict(model, vhost: Directive | None, path: str) -> str | None:
    """The access control <Directory> sections give a filesystem path (shortest first, then
    in order; the last one that sets any wins)."""
    dirs = [
        d
        for d in _scoped(model, vhost, ("<directory",))
        if d.args and d.args[0] != "~" and _dir_matches(d.args[0], path)
    ]
    dirs.sort(key=lambda d: len([c for c in d.args[0].split("/") if c]))
    for d in _scoped(model, vhost, ("<directory", "<directorymatch")):
        if d.lname == "<directory" and d.args[:1] != ["~"]:
            continue
        try:
            if re.search(d.args[-1], path.rstrip("/") + "/", re.IGNORECASE):
                dirs.append(d)  # regular expressions apply after every plain <Directory>
        except re.error:
            continue
    verdict = None
    for d in dirs:
        v = access(d)
        if v is not None:
            verdict = v
    return verdict


def _url_chain(model, vhost: Directive | None, url: str) -> str | None:
    """The access control a URL gets from the document root's <Directory> sections and the
    <Location> sections that match it (merged later, so they win)."""
    verdict = None
    root = _docroot(model, vhost)
    if root is not None:
        verdict = _dir_verdict(model, vhost, root.rstrip("/") + "/" + url.lstrip("/"))
    for loc in _scoped(model, vhost, ("<location", "<locationmatch")):
        if _loc_matches(loc, url):
            v = access(loc)
            if v is not None:
                verdict = v
    return verdict


def url_verdict(model, section: Directive | None) -> str:
    """The access control that applies where `section` serves (None: the main server): its
    own, else what covers it; open when nothing restricts, as httpd grants a request that no
    authorization applies to."""
    if section is None or section.lname == "<virtualhost":
        return _url_chain(model, section, "/") or "open"
    own = access(section)
    if own is not None:
        return own
    vhost = section.vhost()
    verdict = None
    if section.lname == "<location" and section.args and section.args[0] != "~":
        verdict = _url_chain(model, vhost, section.args[0])
    elif section.lname == "<directory" and section.args and section.args[0] != "~":
        path = section.args[0]
        verdict = _dir_verdict(model, vhost, path)
        by_url = []
        for url in _urls_for_dir(model, vhost, path):
            v = None
            for loc in _scoped(model, vhost, ("<location", "<locationmatch")):
                if _loc_matches(loc, url) and access(loc) is not None:
                    v = access(loc)
            by_url.append(v or verdict)
        if any(by_url):
            verdict = _least(by_url)
    return verdict or "open"


def _urls_for_dir(model, vhost: Directive | None, path: str) -> list[str]:
    """URLs that reach a directory: through an Alias or ScriptAlias, or the document root."""
    out = []
    pairs = []
    for name in ("alias", "scriptalias"):
        own = [d for d in vhost.children or [] if d.lname == name] if vhost is not None else []
        for node in model.top(name) + own:
            if len(node.args) == 2:
                pairs.append((node.args[0], node.args[1]))
    root = _docroot(model, vhost)
    if root is not None:
        pairs.append(("/", root))
    for url, target in pairs:
        base = target.rstrip("/") or "/"
        if under(path, base):
            rest = (path.rstrip("/") or "/")[len(base) :].lstrip("/")
            out.append(url.rstrip("/") + "/" + rest if rest else url)
    return out


def under(path: str, base: str) -> bool:
    path = path.rstrip("/") or "/"
    return path == base or path.startswith(base.rstrip("/") + "/")
