"""What httpd applies to one request: the URL's file, the sections in merge order, the result.

For a server (the main one, or a `<VirtualHost>`), `context` gathers the sections as httpd
keeps them after `ap_core_reorder_directories`: plain <Directory> by depth, regex ones
after, then <Files>, <Location> in file order and <If> (the server's before the virtual
host's in each list). `resolve` maps a URL to a file (Redirect, mod_rewrite and ProxyPass
make it unknowable, Alias and ScriptAlias as mod_alias, ~user as mod_userdir, else the
DocumentRoot), walks the sections that match (server/request.c's directory, file, location
and if walks) and merges what the rules judge: Options (core's set_options and merge),
AllowOverride, mod_authz_core's tree, mod_access_compat's last set, AuthType, Dav, SetHandler,
DirectoryIndex, AllowMethods. `decide` turns that into the status an anonymous client gets,
or says why the configuration alone cannot tell. Rules and `httpdlint explain` both ask this.
"""

from __future__ import annotations

import os
import pwd
import re
from dataclasses import dataclass, field

from . import authz, confregex
from .access import options_bits
from .conditions import decide_expr
from .pathmatch import fnmatch
from .syntax import Directive

# The lines a section contributes to what this model merges (and `explain` lists).
MERGED = {
    "options", "allowoverride", "require", "order", "allow", "deny", "satisfy",
    "authtype", "authname", "authmerging", "authzsendforbiddenonfailure", "dav",
    "sethandler", "directoryindex", "allowmethods", "header", "directoryslash",
    "<requireany", "<requireall", "<requirenone", "<limit", "<limitexcept",
    "rewriteengine", "rewriterule", "redirect", "redirectmatch", "proxypass",
}  # fmt: skip
_DIR_KINDS = ("<directory", "<directorymatch")
_FILE_KINDS = ("<files", "<filesmatch")
_LOC_KINDS = ("<location", "<locationmatch")
_IF_KINDS = ("<if", "<elseif", "<else")
# DOCUMENT_LOCATION when the build gives none (Debian's apache2 is built with this one).
DEFAULT_DOCROOT = "/var/www/html"


# -- the sections of a server ----------------------------------------------------------


def _regex(section: Directive) -> str | None:
    args = section.args
    if section.lname.endswith("match"):
        return args[0] if args else None
    if args[:1] == ["~"]:
        return args[1] if len(args) > 1 else ""
    return None


def _components(path: str) -> int:
    return len([c for c in path.split("/") if c])


@dataclass
class Context:
    """The sections of one server (the main server, or a virtual host with the main
    server's before its own), in the order httpd walks them."""

    vhost: Directive | None
    base: list[Directive]  # the per-directory lines outside every section
    dirs: list[Directive]
    regex_dirs: list[Directive]
    files: list[Directive]
    locs: list[Directive]
    ifs: list[Directive]
    #: Each kind's sections in reading order (the main server's first), before sorting.
    groups: dict[str, list[Directive]] = field(default_factory=dict)


def context(model, vhost: Directive | None) -> Context:
    """The sections that apply on a server (None: the main server), built once."""
    key = ("merge.context", vhost)
    found = model.cache.get(key)
    if found is not None:
        return found
    if vhost is None:
        nodes = model.tree
        base = [d for d in nodes if d.lname in MERGED]
    else:
        server = context(model, None)
        nodes = vhost.children or []
        base = server.base + [d for d in nodes if d.lname in MERGED]
    own = {kind: [d for d in nodes if d.lname in kinds] for kind, kinds in _GROUPS.items()}
    if vhost is not None:
        for kind in own:
            own[kind] = server.groups[kind] + own[kind]
    plain = [d for d in own["dirs"] if _regex(d) is None]
    plain.sort(key=lambda d: _components(d.args[0]) if d.args else 0)
    found = Context(
        vhost,
        base,
        plain,
        [d for d in own["dirs"] if _regex(d) is not None],
        own["files"],
        own["locs"],
        own["ifs"],
        own,
    )
    model.cache[key] = found
    return found


_GROUPS = {"dirs": _DIR_KINDS, "files": _FILE_KINDS, "locs": _LOC_KINDS, "ifs": _IF_KINDS}


def dir_matches(section: Directive, path: str) -> bool:
    """Whether a plain <Directory> covers a directory path (its components match, each
    as apr_fnmatch with APR_FNM_PATHNAME, or literally)."""
    if not section.args:
        return False
    want = [c for c in section.args[0].split("/") if c]
    have = [c for c in path.split("/") if c]
    if len(want) > len(have):
        return False
    return all(p == c or fnmatch(p, c, period=False) for p, c in zip(want, have, strict=False))


def loc_matches(section: Directive, url: str) -> bool:
    return loc_args_match(section.lname, section.args, url)


def loc_args_match(lname: str, args: list[str], url: str) -> bool:
    """location_walk's test for a <Location> or <LocationMatch> with these words: a regex
    searched in the URL, a wildcard matched against the whole URL, else a prefix that
    ends at a `/` (or at the URL's end)."""
    if not args:
        return False
    if lname == "<locationmatch" or (args[0] == "~" and len(args) > 1):
        return _search(args[-1], url)
    loc = args[0]
    if any(ch in loc for ch in "*?["):
        want, have = loc.split("/"), url.split("/")
        return len(want) == len(have) and all(
            fnmatch(p, c, period=False) for p, c in zip(want, have, strict=False)
        )
    if not url.startswith(loc):
        return False
    return loc.endswith("/") or len(url) == len(loc) or url[len(loc)] == "/"


def files_matches(section: Directive, name: str) -> bool:
    regex = _regex(section)
    if regex is not None:
        return _search(regex, name)
    return bool(section.args) and fnmatch(section.args[0], name, period=False)


def _search(regex: str, text: str, flags: int = 0) -> bool:
    """Whether the configuration's pattern is found in TEXT (an invalid one: never);
    `confregex.Undecided` when the match is too costly to decide."""
    try:
        return confregex.search(regex, text, flags) is not None
    except confregex.Invalid:
        return False


def _on(node: Directive, test, *args):  # noqa: ANN001, ANN202 - any of the tests above
    """TEST(*ARGS), naming NODE as the line of a pattern too costly to match."""
    try:
        return test(*args)
    except confregex.Undecided as exc:
        exc.node = exc.node or node
        raise


# -- a request and what applies to it ----------------------------------------------------


@dataclass
class Request:
    """What the client sends, as far as the configuration's choices depend on it."""

    url: str | None = "/"  # None: not known (a filesystem path is judged without <Location>)
    method: str = "GET"
    host: str | None = None
    port: int = 80
    scheme: str = "http"
    client: str | None = None  # the client's address, when known


@dataclass
class Applied:
    """One section (or server level) merged into the request, with the lines it gives."""

    kind: str  # server, vhost, directory, files, location, if, if?
    section: Directive | None
    lines: list[Directive]


@dataclass
class Result:
    """The merged configuration of a request and why things are what they are."""

    url: str
    vhost: Directive | None
    filename: str | None = None
    mapped_by: Directive | None = None
    applied: list[Applied] = field(default_factory=list)
    options: set[str] = field(default_factory=set)
    options_from: Directive | None = None
    override: list[str] = field(default_factory=list)
    htaccess: list[str] = field(default_factory=list)
    #: The sections (or server-level holders) in merge order, for the access merge.
    holders: list[tuple[Directive, Directive | None]] = field(default_factory=list)
    merged_access: Access | None = field(default=None, repr=False)  # see access_of
    last: dict[str, Directive] = field(default_factory=dict)  # AuthType, Dav, SetHandler ...
    undecided: list[tuple[str, Directive | None]] = field(default_factory=list)
    conditional: list[Directive] = field(default_factory=list)


@dataclass
class Access:
    """The access control a request meets: mod_authz_core's merged configuration and the
    section that last changed it, mod_access_compat's lines and their section."""

    authz: authz.Conf
    authz_from: Directive | None
    compat: list
    compat_from: Directive | None


def access_of(result: Result) -> Access:
    """Merge the access control of the sections a request passed (computed when first
    asked: the rules that judge options never need it)."""
    if result.merged_access is not None:
        return result.merged_access
    conf, conf_from, compat, compat_from = authz.Conf(), None, [], None
    for holder, section in result.holders:
        own = authz.own_conf(holder)
        if own is not None:
            conf, conf_from = authz.merge(conf, own), section
        lines = authz.compat_nodes(holder)
        if lines:  # mod_access_compat has no merge function: the last set replaces
            compat, compat_from = lines, section
    result.merged_access = Access(conf, conf_from, compat, compat_from)
    return result.merged_access


class _Options:
    """core's opts, opts_add, opts_remove and the OPT_UNSET bit, as set_options leaves them."""

    def __init__(self, opts: set[str], unset: bool = True):
        self.opts, self.add, self.remove, self.unset = set(opts), set(), set(), unset

    def read(self, node: Directive) -> None:
        first = True
        for word in node.args:
            action = word[0] if word.startswith(("+", "-")) else ""
            bits = options_bits(word[1:] if action else word)
            if not action and first:
                self.opts, self.unset, first = set(), False, False
            if bits is None:
                continue
            if action == "-":
                self.remove |= bits
                self.add -= bits
                self.opts -= bits
            elif action == "+":
                self.add |= bits
                self.remove -= bits
                self.opts |= bits
            else:
                self.opts |= bits

    def merge(self, new: _Options) -> None:
        if new.unset:
            base = set(self.opts)
            self.add = (self.add - new.remove) | new.add
            self.remove = (self.remove - new.add) | new.remove
            self.opts = (self.opts - self.remove) | self.add
            if {"includes", "inc_exec"} <= base and new.opts & _SSI == {"includes"}:
                self.opts.discard("inc_exec")  # +IncludesNOEXEC below Includes: no exec
        else:
            self.opts, self.add, self.remove = set(new.opts), set(new.add), set(new.remove)
            self.unset = False


_SSI = {"includes", "inc_exec"}
_LAST = {"authtype", "dav", "sethandler", "directoryindex", "allowmethods", "directoryslash"}


def _merge(model, result: Result, state: _Options, kind: str, section, nodes) -> None:
    lines = [d for d in nodes if d.lname in MERGED]
    result.applied.append(Applied(kind, section, lines))
    holder = Directive("<" + kind, ">", "", 0, children=nodes) if section is None else section
    own = _Options(set())
    for d in nodes:
        lname = d.lname
        if lname == "options":
            own.read(d)
            result.options_from = d
        elif lname == "allowoverride":
            result.override = [a.lower() for a in d.args]
        elif lname in _LAST:
            result.last[lname] = d
    # Every section goes through core's merge, with Options or without: one without them
    # still applies the +/- carried so far (`-Indexes` then `Indexes` in one section
    # leaves Indexes off below it).
    state.merge(own)
    result.holders.append((holder, section))
    result.options = state.opts


def resolve(model, vhost: Directive | None, request: Request, *, path: str | None = None,
            skip: frozenset = frozenset(), force: frozenset = frozenset()) -> Result:  # fmt: skip
    """Map the request's URL to a file (unless `path` is given) and merge every section
    that applies, in httpd's order; sections in `skip` are left out (to see what one
    section changes), undecided <If> sections in `force` are taken as true. A pattern too
    costly to match leaves the result undecided, with nothing merged."""
    try:
        return _resolve(model, vhost, request, path, skip, force)
    except confregex.Undecided as exc:
        url = request.url or ""
        result = Result(url, vhost)
        result.undecided.append((exc.describe(), exc.node))
        return result


def _resolve(model, vhost, request, path, skip, force) -> Result:  # noqa: PLR0913
    ctx = context(model, vhost)
    url = None if request.url is None else re.sub("/{2,}", "/", request.url.split("?")[0]) or "/"
    result = Result(url or "", vhost)
    if path is None and url is not None:
        path = _translate(model, ctx, result, url)
    result.filename = path
    default = {"symlinks"} if model.version != "2.2" else options_bits("all") or set()
    state = _Options(default)
    result.override = ["none"] if model.version != "2.2" else ["all"]
    _merge(model, result, state, "server", None, [d for d in ctx.base if d.parent is None])
    if vhost is not None:
        _merge(model, result, state, "vhost", vhost, [d for d in ctx.base if d.parent is vhost])
    applied: list[Directive] = []
    if path is not None:
        is_dir = path.endswith("/")
        dirname = path if is_dir else path.rsplit("/", 1)[0] + "/"
        depth_of = {}
        levels = ["/"] + [
            "/" + "/".join(dirname.strip("/").split("/")[: i + 1])
            for i in range(_components(dirname))
        ]
        for level, walked in enumerate(levels):
            for d in ctx.dirs:
                if d in skip or d in depth_of:
                    continue
                n = _components(d.args[0]) if d.args else 0
                if n == level and dir_matches(d, walked):
                    depth_of[d] = level
                    applied.append(d)
                    _merge(model, result, state, "directory", d, d.children or [])
            if result.override and result.override != ["none"]:
                result.htaccess.append(walked.rstrip("/") + "/")
        for d in ctx.regex_dirs:
            if d not in skip and _on(d, _search, _regex(d) or "", dirname):
                applied.append(d)
                _merge(model, result, state, "directory", d, d.children or [])
        name = "" if is_dir else path.rsplit("/", 1)[1]
        nested = [c for s in applied for c in s.children or [] if c.lname in _FILE_KINDS]
        for d in ctx.files + nested:
            if d not in skip and _on(d, files_matches, d, name):
                applied.append(d)
                _merge(model, result, state, "files", d, d.children or [])
    for d in ctx.locs if url is not None else ():
        if d not in skip and _on(d, loc_matches, d, url):
            applied.append(d)
            _merge(model, result, state, "location", d, d.children or [])
    nested = [c for s in applied for c in s.children or [] if c.lname in _IF_KINDS]
    _if_walk(model, result, state, ctx.ifs + nested, request, skip, force)
    _rewrites_here(result, applied)
    return result


def _if_walk(model, result, state, sections, request, skip, force) -> None:
    chain_done = False
    for d in sections:
        if d in skip:
            continue
        if d.lname == "<if":
            chain_done = False
        if chain_done:
            continue
        verdict = True if d.lname == "<else" else decide_expr(" ".join(d.args), request)
        if verdict is None and d in force:
            result.conditional.append(d)
            verdict = True
        if verdict is None:
            result.applied.append(Applied("if?", d, [c for c in d.children or []]))
            result.conditional.append(d)
            chain_done = False
        elif verdict:
            _merge(model, result, state, "if", d, d.children or [])
            chain_done = True


def _rewrites_here(result: Result, applied: list[Directive]) -> None:
    for section in applied:
        for d in section.children or []:
            if d.lname in ("rewriterule", "redirect", "redirectmatch"):
                result.undecided.append((f"{d.name} in <{section.section_label()}>", d))
                return


# -- from URL to file -------------------------------------------------------------------

# The lines of a server that map a URL to a file, in the order mod_alias, mod_rewrite and
# mod_proxy's translate hooks run.
_REDIRECTS = ("redirect", "redirectmatch", "redirectpermanent", "redirecttemp")
_PROXIES = ("proxypass", "proxypassmatch")
_ALIASES = ("alias", "scriptalias", "aliasmatch", "scriptaliasmatch")


def _translate(model, ctx: Context, result: Result, url: str) -> str | None:
    vhost = ctx.vhost
    own = vhost.children or [] if vhost is not None else []

    def named(names: tuple[str, ...]) -> list[Directive]:
        # mod_alias: a virtual host's own lines first, then the server's.
        return [d for d in own if d.lname in names] + _top(model, names)

    for d in named(_REDIRECTS):
        if _on(d, _redirect_matches, d, url):
            result.undecided.append((f"{d.name} sends this URL elsewhere", d))
            return None
    rewrite = _rewrite_applies(model, vhost, url)
    if rewrite is not None:
        result.undecided.append((f"mod_rewrite may change this URL ({rewrite.name})", rewrite))
    for d in named(_PROXIES):
        if len(d.args) >= 2 and d.args[1] != "!" and _on(d, _prefix_or_regex, d, url):
            result.undecided.append((f"{d.name} hands this URL to {d.args[1]}", d))
            return None
    for d in named(_ALIASES):
        target = _on(d, _alias_target, d, url)
        if target is not None:
            result.mapped_by = d
            return target
    home = _userdir_path(model, vhost, url)
    if home is not None:
        result.mapped_by = home[1]
        return home[0]
    root = docroot(model, vhost)
    result.mapped_by = model.effective("DocumentRoot", _vhost_obj(model, vhost))
    return root.rstrip("/") + url


def _vhost_obj(model, vhost: Directive | None):
    if vhost is None:
        return None
    by_node = model.cache.get("merge.vhosts")
    if by_node is None:
        by_node = model.cache["merge.vhosts"] = {v.node: v for v in model.virtual_hosts()}
    return by_node.get(vhost)


def docroot(model, vhost: Directive | None) -> str:
    """The DocumentRoot a server maps URLs under (ServerRoot-relative when relative)."""
    node = model.effective("DocumentRoot", _vhost_obj(model, vhost))
    path = node.args[0] if node is not None and node.args else DEFAULT_DOCROOT
    return os.path.join(model.config.server_root, path)


def _top(model, names: tuple[str, ...]) -> list[Directive]:
    """Server-level lines of these names in reading order (one scan per model)."""
    key = ("merge.top", names)
    found = model.cache.get(key)
    if found is None:
        found = model.cache[key] = model.top(*names) if len(names) > 1 else model.top(names[0])
    return found


def aliases(model, vhost: Directive | None) -> list[Directive]:
    """Alias and ScriptAlias lines that apply on a server: its own, then the main server's."""
    own = [d for d in vhost.children or [] if d.lname in ("alias", "scriptalias")] if vhost else []
    return own + _top(model, ("alias", "scriptalias"))


_STATUS_WORDS = {"permanent", "temp", "seeother", "gone"}


def _redirect_matches(d: Directive, url: str) -> bool:
    args = d.args
    if d.lname == "redirectmatch":
        # A status first (mod_alias: a keyword or a leading digit), as in `RedirectMatch
        # 404 regex`, which takes no URL.
        status = bool(args) and (args[0][:1].isdigit() or args[0].lower() in _STATUS_WORDS)
        args = args[1:] if len(args) > 2 or status else args
        return bool(args) and _search(args[0], url)
    if len(args) >= 2 and not args[0].startswith("/"):
        args = args[1:]  # the status word
    if not args:
        return False
    return _alias_len(url, args[0]) > 0


def _alias_len(url: str, fake: str) -> int:
    """mod_alias's alias_matches: runs of `/` match runs of `/`; the alias must end at a
    path segment. How much of the URL matched, or 0."""
    i = j = 0
    while i < len(fake):
        if fake[i] == "/":
            if j >= len(url) or url[j] != "/":
                return 0
            while i < len(fake) and fake[i] == "/":
                i += 1
            while j < len(url) and url[j] == "/":
                j += 1
        else:
            if j >= len(url) or url[j] != fake[i]:
                return 0
            i += 1
            j += 1
    if fake[-1:] != "/" and j < len(url) and url[j] != "/":
        return 0
    return j


def _alias_target(d: Directive, url: str) -> str | None:
    args = d.args
    if len(args) == 1 and d.parent is not None and d.parent.lname == "<location":
        return args[0] if loc_matches(d.parent, url) else None
    if len(args) < 2:
        return None
    if d.lname.endswith("match"):
        try:
            groups = confregex.search(args[0], url)
        except confregex.Invalid:
            return None
        return confregex.expand(args[1], groups) if groups is not None else None
    n = _alias_len(url, args[0])
    return args[1] + url[n:] if n else None


def _prefix_or_regex(d: Directive, url: str) -> bool:
    if d.lname == "proxypassmatch":
        return _search(d.args[0], url)
    return url.startswith(d.args[0])


def _rewrite_applies(model, vhost: Directive | None, url: str) -> Directive | None:
    """A RewriteRule whose pattern matches the URL where RewriteEngine is on, in the
    server's own rules (the main server's reach a virtual host only with
    RewriteOptions Inherit)."""
    engine = model.effective("RewriteEngine", _vhost_obj(model, vhost))
    if engine is None or not engine.args or engine.args[0].lower() != "on":
        return None
    nodes = vhost.children or [] if vhost is not None else model.tree
    rules = [d for d in nodes if d.lname == "rewriterule"]
    if vhost is not None and any(
        d.lname == "rewriteoptions" and "inherit" in d.raw.lower() for d in nodes
    ):
        rules += model.top("rewriterule")
    for d in rules:
        if not d.args:
            continue
        pattern, negate = d.args[0], False
        if pattern.startswith("!"):
            pattern, negate = pattern[1:], True
        flags = confregex.IGNORECASE if "nc" in d.raw.lower().rsplit("[", 1)[-1] else 0
        if _on(d, _search, pattern, url, flags) != negate:
            return d
    return None


# -- servers that answer alike ------------------------------------------------------------

# A virtual host's own lines (besides its sections) that `resolve` reads: the merged ones
# but Header (it only fills the `applied` listing), and those that map a URL to a file.
_SHAPED = (MERGED - {"header"}) | {
    *_REDIRECTS, *_PROXIES, *_ALIASES,
    "documentroot", "rewriteengine", "rewriteoptions", "userdir",
}  # fmt: skip
_SECTIONS = {*_DIR_KINDS, *_FILE_KINDS, *_LOC_KINDS, *_IF_KINDS}


def shape(vhost: Directive) -> tuple[tuple, list[Directive]]:
    """(key, lines): what of a virtual host `resolve` and `outcome.decide` read, and those
    of its own lines it reads (its sections whole). Two hosts with equal keys get the same
    answer to every request, their own lines taken position for position, as everything
    else (the main server's lines, the loaded modules, the files) is shared: so a rule can
    ask once for all the hosts of a tree that differ only in names and logs.

    The key holds each line's name and text (after ${VAR} expansion), and for a section
    each of its nodes, depth first, with how many children it has (-1: a directive), so a
    nesting is told apart. Flat and built in one loop: it runs once per host of a tree."""
    lines: list[Directive] = []
    key: list = []
    add = key.append
    for d in vhost.children or ():
        lname = d.lname
        if lname in _SHAPED:
            lines.append(d)
            add(lname)
            add(d.raw)
        elif lname in _SECTIONS:
            lines.append(d)
            stack = [d]
            while stack:  # no recursion: sections nest deeper than Python's stack
                node = stack.pop()
                add(node.lname)
                add(node.raw)
                kids = node.children
                if kids is None:
                    add(-1)
                else:
                    add(len(kids))
                    stack.extend(reversed(kids))
    return tuple(key), lines


# -- mod_userdir -------------------------------------------------------------------------


class UserDirs:
    """mod_userdir's settings for a server: the path, and who is enabled or disabled.
    A virtual host's own UserDir lines replace the server's user lists (its merge keeps
    the path and the global switch, not the lists)."""

    def __init__(self) -> None:
        self.path: Directive | None = None
        self.globally: str | None = None
        self.enabled: set[str] = set()
        self.disabled: set[str] = set()
        self.nodes: list[Directive] = []

    def read(self, node: Directive) -> None:
        self.nodes.append(node)
        if not node.args:
            return
        kw = node.args[0].lower()
        names = {a.lower() for a in node.args[1:]}
        if kw in ("disable", "disabled", "enable", "enabled"):
            if not names:
                self.globally = "disabled" if kw.startswith("disable") else "enabled"
            elif kw.startswith("disable"):
                self.disabled |= names
            else:
                self.enabled |= names
        else:
            self.path = node

    def merged(self, base: UserDirs) -> UserDirs:
        out = UserDirs()
        out.path = self.path or base.path
        out.globally = self.globally or base.globally
        out.enabled, out.disabled = self.enabled, self.disabled
        out.nodes = self.nodes
        return out

    def serves(self, user: str) -> bool:
        if self.path is None or user in self.disabled:
            return False
        return not (self.globally == "disabled" and user not in self.enabled)

    def serves_anyone(self) -> bool:
        """Whether some user's directory is served (not every name is disabled)."""
        return self.path is not None and (self.globally != "disabled" or bool(self.enabled))


def userdirs(model, vhost: Directive | None) -> UserDirs:
    """The UserDir settings in force on a server (None: the main server)."""
    server = UserDirs()
    for node in model.top("userdir"):
        server.read(node)
    if vhost is None:
        return server
    own = UserDirs()
    for node in vhost.children or []:
        if node.lname == "userdir":
            own.read(node)
    return own.merged(server) if own.nodes else server


def _userdir_path(model, vhost, url: str) -> tuple[str, Directive] | None:
    if not url.startswith("/~") or not model.has_module("userdir_module"):
        return None
    user, _, rest = url[2:].partition("/")
    dirs = userdirs(model, vhost)
    if not user or not dirs.serves(user.lower()) or dirs.path is None:
        return None
    for where in dirs.path.args:
        if "*" in where:
            return where.replace("*", user, 1).rstrip("/") + "/" + rest, dirs.path
        if where.startswith("/"):
            return where.rstrip("/") + "/" + user + "/" + rest, dirs.path
        if model.config.confine is not None:
            return None  # the password database is outside --confine DIR
        try:
            home = pwd.getpwnam(user).pw_dir
        except KeyError:
            return None
        return home.rstrip("/") + "/" + where.strip("/") + "/" + rest, dirs.path
    return None


# -- the requests that stand for a section (what the rules judge) ------------------------


def under(path: str, base: str) -> bool:
    path = path.rstrip("/") or "/"
    return path == base or path.startswith(base.rstrip("/") + "/")


def urls_for_dir(model, vhost: Directive | None, path: str) -> list[str]:
    """URLs that reach a directory on a server: through an Alias or ScriptAlias, or the
    DocumentRoot."""
    pairs = [(d.args[0], d.args[1]) for d in aliases(model, vhost) if len(d.args) == 2]
    pairs.append(("/", docroot(model, vhost)))
    out = []
    for url, target in pairs:
        base = target.rstrip("/") or "/"
        if under(path, base):
            rest = (path.rstrip("/") or "/")[len(base) :].lstrip("/")
            out.append(url.rstrip("/") + "/" + rest + "/" if rest else url.rstrip("/") + "/")
    return out


def samples(model, section: Directive | None, method: str = "GET") -> list[tuple]:
    """(server, request, path) that stand for a section: its URL for a plain <Location>,
    its directory for a plain <Directory> (through each URL that reaches it, else as a
    path alone), the DocumentRoot for server or virtual-host level. Empty for a section no
    single request stands for (regex sections, <Files>, <If>)."""
    vhost = section.vhost() if section is not None else None
    if section is not None and section.lname == "<virtualhost":
        vhost, section = section, None
    if section is None:
        return [(vhost, Request(url="/", method=method), None)]
    if section.parent is not None and section.parent.lname != "<virtualhost":
        return []  # nested in another section: the outer one decides where it applies
    args = section.args
    if not args or _regex(section) is not None:
        return []
    if section.lname == "<location" and not any(ch in args[0] for ch in "*?["):
        return [(vhost, Request(url=args[0], method=method), None)]
    if section.lname == "<directory":
        # A component that is just `*` (/home/*/public_html) stands for any name.
        parts = ["user" if c == "*" else c for c in args[0].rstrip("/").split("/")]
        path = "/".join(parts) + "/"
        if any(ch in path for ch in "*?["):
            return []
        urls = urls_for_dir(model, vhost, path)
        if urls:  # the URL for <Location>, the path known: no need to map it again
            return [(vhost, Request(url=u, method=method), path) for u in urls]
        return [(vhost, Request(url=None, method=method), path)]
    return []
