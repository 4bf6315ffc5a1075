"""Security checks: what the configuration discloses, executes or lets anyone reach.

The helpers follow httpd's own logic where a rule depends on it: `Options` words are applied
as core.c's set_options applies them, access control is judged as mod_authz_core (RequireAny
at the top of a section, the last section with authorization winning) and mod_access_compat
(Order, Allow, Deny, Satisfy) would judge it, and mod_userdir's server merge is followed,
including its quirk that a virtual host's own UserDir lines replace the server's user lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .. import confregex, merge, outcome
from ..access import (
    access,
    grant_node,
    is_root_dir,
    option_word,
    options_with,
    restrict_hint,
)
from ..findings import Finding
from ..merge import UserDirs, files_matches, loc_args_match, under
from ..registry import check
from ..scopes import RAW
from ..syntax import Directive, section_args, split_args

# -- where a node is --------------------------------------------------------------------


def _where(node: Directive) -> str:
    if node.parent is None:
        return "at server level"
    return f"in <{node.parent.section_label()}>"


def _show(node: Directive) -> str:
    return " ".join([node.name, *node.args])


# -- Options, as core.c's set_options applies its words ----------------------------------


# -- access control, as mod_authz_core and mod_access_compat judge it ---------------------


# -- SEC002 -------------------------------------------------------------------------------

_PROD = {"prod", "productonly"}


@check("SEC002")
def server_signature(model, rule, settings) -> Iterator[Finding]:
    tokens = model.server_directive("ServerTokens")
    prod = tokens is not None and tokens.args[:1] and tokens.args[0].lower() in _PROD
    for node in model.find("ServerSignature"):
        value = node.args[0].lower() if node.args else ""
        if value not in ("on", "email"):
            continue
        extra = " and the ServerAdmin address" if value == "email" else ""
        if prod:
            yield rule.finding(
                f"ServerSignature {node.args[0]} {_where(node)}: error pages and listings "
                f"show the server name and port{extra} (ServerTokens Prod hides the version)",
                node,
                severity="info",
            )
            continue
        shown = tokens.args[0] if tokens is not None and tokens.args else "Full, the default"
        yield rule.finding(
            f"ServerSignature {node.args[0]} {_where(node)}: every error page and listing "
            f"repeats the version ServerTokens {shown} gives{extra}; set ServerSignature Off",
            node,
        )


# -- SEC004, SEC005, SEC006 ---------------------------------------------------------------


def _icon_dirs(model) -> set[str]:
    """Where `Alias /icons/` points: the stock icon directory, listed on purpose."""
    out = set()
    for node in model.find("Alias"):
        if len(node.args) == 2 and node.args[0].rstrip("/") == "/icons":
            out.add(node.args[1].rstrip("/"))
    return out


@check("SEC004")
def directory_listing(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("autoindex_module"):
        return
    icons = _icon_dirs(model)
    for node in options_with(model, "indexes"):
        section = node.parent
        if section is not None and section.args:
            if section.lname == "<directory" and section.args[0].rstrip("/") in icons:
                continue
            if section.lname == "<location" and section.args[0].rstrip("/") == "/icons":
                continue
        if not _still_on(model, node, "indexes"):
            continue
        word = option_word(node, "indexes")
        how = "" if word.lstrip("+").lower() == "indexes" else " (All includes Indexes)"
        yield rule.finding(
            f"{_show(node)} {_where(node)}{how}: mod_autoindex lists the files of every "
            "directory below that has no index file; remove Indexes (or use -Indexes)",
            node,
        )


def _still_on(model, node: Directive, bit: str) -> bool:
    """Whether an option the line turns on is still on where its section serves, after
    every later or more specific section httpd merges there (and whether anything is
    served there at all)."""
    section = node.parent
    if section is not None and section.lname == "<directory" and _userdir_only(model, section):
        return False
    found = merge.samples(model, section)
    if not found:
        return True  # no single request stands for the section: judge the line
    for vhost, request, path in found:
        if bit in merge.resolve(model, vhost, request, path=path).options:
            return True
    return False


def _userdir_only(model, section: Directive) -> bool:
    """A <Directory> that only UserDir maps URLs to (/home/*/public_html with UserDir
    public_html), on servers where UserDir serves nobody: never served."""
    if not section.args or not model.has_module("userdir_module"):
        return False
    path = section.args[0].rstrip("/")
    vhost = section.vhost()
    servers = [vhost] if vhost is not None else [None, *(v.node for v in model.virtual_hosts())]
    forms = set()
    for server in servers:
        dirs = merge.userdirs(model, server)
        if dirs.serves_anyone():
            return False
        if dirs.path is not None:
            for where in dirs.path.args:
                forms.add(where if where.startswith("/") else "/home/*/" + where.strip("/"))
    return any(path == f.rstrip("/") or path.startswith(f.rstrip("/") + "/") for f in forms)


@check("SEC005")
def ssi_exec(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("include_module"):
        return
    for node in options_with(model, "inc_exec"):
        if not _still_on(model, node, "inc_exec"):
            continue
        word = option_word(node, "includes")
        how = "" if word.lstrip("+").lower() == "includes" else " (All includes Includes)"
        yield rule.finding(
            f"{_show(node)} {_where(node)}{how}: server-side includes may run commands "
            "(<!--#exec cmd=...-->) and CGI programs; use IncludesNOEXEC",
            node,
        )


# Handlers that refuse to run a script without ExecCGI, so the option is part of their setup.
_EXECCGI_HANDLERS = {"fcgid-script", "fastcgi-script", "perl-script", "modperl"}


def _script_alias_targets(model) -> tuple[list[str], list[str]]:
    """Directories and URL prefixes ScriptAlias maps to CGI."""
    dirs: list[str] = []
    urls: list[str] = []
    for node in model.find("ScriptAlias"):
        if len(node.args) >= 2:
            urls.append(node.args[0])
            dirs.append(node.args[1])
        elif len(node.args) == 1:  # 2.4: one argument inside <Location>
            dirs.append(node.args[0])
            if node.parent is not None and node.parent.args:
                urls.append(node.parent.args[0])
    for node in model.find("ScriptAliasMatch"):
        if len(node.args) >= 2:
            target = node.args[1].split("$", 1)[0]
            if "/" in target:
                dirs.append(target[: target.rfind("/") + 1])
    return [d.rstrip("/") or "/" for d in dirs], [u.rstrip("/") or "/" for u in urls]


def _other_handler(section: Directive | None) -> bool:
    """A section that hands scripts to something else that needs ExecCGI (mod_fcgid,
    mod_fastcgi, ModPerl::Registry)."""
    if section is None:
        return False
    return any(
        d.lname in ("sethandler", "addhandler")
        and d.args[:1]
        and d.args[0].lower() in _EXECCGI_HANDLERS
        for d in section.children or []
    )


@check("SEC006")
def exec_cgi(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("cgi_module", "cgid_module"):
        return
    dirs, urls = _script_alias_targets(model)
    for node in options_with(model, "execcgi"):
        section = node.parent
        if section is not None and section.args and section.args[0] != "~":
            arg = section.args[0]
            if section.lname == "<directory" and any(under(arg, d) for d in dirs):
                continue
            if section.lname == "<location" and any(under(arg, u) for u in urls):
                continue
        if _other_handler(section) or not _still_on(model, node, "execcgi"):
            continue
        word = option_word(node, "execcgi", "runscripts")
        how = "" if word.lstrip("+").lower() == "execcgi" else f" ({word} includes ExecCGI)"
        yield rule.finding(
            f"{_show(node)} {_where(node)}{how}, outside every ScriptAlias directory: any "
            "file there that maps to cgi-script (AddHandler, or an .htaccess) runs as a "
            "program; keep CGI programs in a ScriptAlias directory",
            node,
        )


# -- SEC007 -------------------------------------------------------------------------------


def _names_all(args: list[str]) -> bool:
    return any(a.lower() == "all" for a in args)


@check("SEC007")
def allow_override_all(model, rule, settings) -> Iterator[Finding]:
    nodes = model.find("AllowOverride")
    # A line's words follow from its text: judge each distinct text once.
    every = {raw for raw in set(map(RAW, nodes)) if _names_all(split_args(raw))}
    for node in [n for n in nodes if n.raw in every] if every else ():
        if _names_all(node.args):
            yield rule.finding(
                f"AllowOverride All {_where(node)}: any .htaccess file below may change "
                "handlers, Options (ExecCGI, Includes) and access control; list only the "
                "classes needed (AllowOverride FileInfo AuthConfig, Options=...)",
                node,
            )
    if model.version != "2.2":
        return
    roots = [s for s in model.top("<directory") if is_root_dir(s)]
    for section in roots:
        if any(d.lname == "allowoverride" for d in section.children or []):
            return
    where = {"at": roots[0]} if roots else {"model": model}
    yield rule.finding(
        "no AllowOverride in <Directory />: Apache 2.2's default is AllowOverride All, so "
        ".htaccess files everywhere may override the configuration; set AllowOverride None",
        **where,
    )


# -- SEC008 -------------------------------------------------------------------------------


def _root_dirs(model) -> list[Directive]:
    """The `<Directory />` sections anywhere, in reading order (judged once per distinct
    argument text: a large tree has a <Directory> per virtual host, few of them `/`)."""
    found = model.cache.get("security.root_dirs")
    if found is None:
        sections = model.find("<Directory")
        roots = {raw for raw in set(map(RAW, sections)) if _is_root_raw(raw)}
        found = [s for s in sections if s.raw in roots] if roots else []
        model.cache["security.root_dirs"] = found
    return found


def _is_root_raw(raw: str) -> bool:
    args = section_args(raw)
    return len(args) == 1 and args[0] != "" and args[0].strip("/") == ""


@check("SEC008")
def root_directory_open(model, rule, settings) -> Iterator[Finding]:
    deny = "Require all denied" if model.version == "2.4" else "Order deny,allow + Deny from all"
    for section in _root_dirs(model):
        if section.vhost() is None:
            continue
        if access(section) == "open":
            grant = grant_node(section) or section
            yield rule.finding(
                f"{_show(grant)} in <Directory /> of <{section.vhost().section_label()}>: "
                f"the whole filesystem is open to any URL that maps to it; use {deny}",
                grant,
            )
    roots = [s for s in model.top("<directory") if is_root_dir(s)]
    if not roots:
        yield rule.finding(
            f"no <Directory /> section: every file an Alias, symlink or DocumentRoot reaches "
            f"may be served; add <Directory /> with {deny} and grant directories one by one",
            **{"model": model},
        )
        return
    verdict = None
    deciding = roots[0]
    for section in roots:
        v = access(section)
        if v is not None:
            verdict, deciding = v, section
    if verdict is None:
        yield rule.finding(
            f"<Directory /> sets no access control, so the whole filesystem is open to any "
            f"URL that maps to it; add {deny}",
            deciding,
        )
    elif verdict == "open":
        grant = grant_node(deciding) or deciding
        yield rule.finding(
            f"{_show(grant)} in <Directory />: the whole filesystem is open to any URL that "
            f"maps to it; use {deny} and grant directories one by one",
            grant,
        )


# -- SEC009 -------------------------------------------------------------------------------

_STATUS_HANDLERS = {"server-status": "status_module", "server-info": "info_module"}


@check("SEC009")
def status_open(model, rule, settings) -> Iterator[Finding]:
    for node in model.find("SetHandler"):
        if not node.args:
            continue
        handler = node.args[0].lower()
        module = _STATUS_HANDLERS.get(handler)
        if module is None or not model.has_module(module):
            continue
        section = node.parent
        if not _open(model, section, ("GET",)):
            continue
        if section is None or section.lname == "<virtualhost":
            place = "for every URL " + _where(node)
        else:
            place = f"at <{section.section_label()}>"
        grant = grant_node(section) if section is not None else None
        why = (
            f"{_show(grant)} lets anyone read"
            if grant is not None
            else "no access control restricts it, so anyone can read"
        )
        what = (
            "the whole configuration"
            if handler == "server-info"
            else "client addresses, the URLs being served and the server's load"
        )
        yield rule.finding(
            f"{handler} {place}: {why} {what}; restrict it to the admin network "
            f"({restrict_hint(model)})",
            node,
            severity="error" if handler == "server-info" else None,
        )


def _open(model, section: Directive | None, methods: tuple[str, ...]) -> bool:
    """Whether an anonymous client from an unknown address gets in where a section serves,
    with one of these methods, after everything httpd merges there (the section's own
    access control when no single request stands for it)."""
    found = merge.samples(model, section)
    if not found:
        return section is not None and access(section) in (None, "open")
    for method in methods:
        for vhost, request, path in found:
            request.method = method
            result = merge.resolve(model, vhost, request, path=path)
            if outcome.access(model, result, request).access == outcome.ALLOWED:
                return True
    return False


# -- SEC010 -------------------------------------------------------------------------------


@check("SEC010")
def userdir_root(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("userdir_module"):
        return
    server = UserDirs()
    for node in model.top("userdir"):
        server.read(node)
    if server.serves("root"):
        yield rule.finding(
            f"{_show(server.path)} without `UserDir disabled root`: /~root/ maps into root's "
            "home directory; add UserDir disabled root",
            server.path,
        )
    for vhost in model.virtual_hosts():
        own = UserDirs()
        for node in vhost.directives:
            if node.lname == "userdir":
                own.read(node)
        if not own.nodes:
            continue  # the virtual host keeps the server's UserDir settings whole
        merged = own.merged(server)
        if not merged.serves("root"):
            continue
        note = ""
        if "root" in server.disabled:
            note = " (its own UserDir lines replace the server's `UserDir disabled root`)"
        yield rule.finding(
            f"<{vhost.node.section_label()}> serves /~root/ from root's home directory "
            f"({_show(merged.path)}){note}; add UserDir disabled root here",
            own.nodes[-1],
        )


# -- SEC011 -------------------------------------------------------------------------------


def _protects(sections: Iterable[Directive], names: list[str]) -> bool:
    covered = set()
    for s in sections:
        if s.lname not in ("<files", "<filesmatch") or access(s) not in ("denied", "restricted"):
            continue
        covered |= {n for n in names if files_matches(s, n)}
    return covered == set(names)


@check("SEC011")
def ht_files_exposed(model, rule, settings) -> Iterator[Finding]:
    access_names = model.server_directive("AccessFileName")
    names = list(access_names.args) if access_names is not None else [".htaccess"]
    names = list(dict.fromkeys([*names, ".htpasswd"]))
    server = [s for s in model.find("<Files") + model.find("<FilesMatch") if s.vhost() is None]
    if _protects(server, names):
        return
    vhosts = model.virtual_hosts()
    if vhosts and all(
        _protects((d for d in v.node.walk() if d.lname in ("<files", "<filesmatch")), names)
        for v in vhosts
    ):
        return
    deny = "Require all denied" if model.version == "2.4" else "Order allow,deny + Deny from all"
    yield rule.finding(
        f"nothing denies {', '.join(names)}: httpd serves them like any file, password "
        f'hashes included; add <FilesMatch "^\\.ht"> with {deny}',
        **{"model": model},
    )


# -- SEC012 -------------------------------------------------------------------------------

_ROOT = {"root", "#0"}


@check("SEC012")
def runs_as_root(model, rule, settings) -> Iterator[Finding]:
    for node in model.top("user"):
        if node.args and node.args[0].lower() in _ROOT:
            yield rule.finding(
                f"User {node.args[0]}: children would serve requests as root; httpd refuses "
                'to start ("Apache has not been designed to serve pages while running as '
                'root") unless built with -DBIG_SECURITY_HOLE; use an unprivileged user',
                node,
            )
    group = model.server_directive("Group")
    if group is not None and group.args and group.args[0].lower() in _ROOT:
        yield rule.finding(
            f"Group {group.args[0]}: children can read and write everything group root "
            "may; use an unprivileged group such as www-data",
            group,
            severity="warning",
        )


# -- SEC013 -------------------------------------------------------------------------------


def _proxy_guarded(sections: Iterable[Directive]) -> bool:
    for s in sections:
        if s.lname not in ("<proxy", "<proxymatch") or not s.args:
            continue
        broad = s.lname == "<proxymatch" or s.args[0] == "~" or "*" in s.args[0]
        if broad and access(s) in ("denied", "restricted"):
            return True
    return False


@check("SEC013")
def open_proxy(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("proxy_module"):
        return
    server_sections = model.top("<proxy", "<proxymatch")
    node = model.server_directive("ProxyRequests")
    on = node is not None and node.args and node.args[0].lower() == "on"
    if on and not _proxy_guarded(server_sections):
        yield rule.finding(_proxy_message(model, node), node)
    for vhost in model.virtual_hosts():
        own = vhost.own("ProxyRequests")
        if own is None or not own.args or own.args[0].lower() != "on":
            continue
        if not _proxy_guarded(server_sections + vhost.directives):
            yield rule.finding(_proxy_message(model, own), own)


def _proxy_message(model, node: Directive) -> str:
    return (
        f"ProxyRequests On {_where(node)} with no <Proxy *> restricting who may use it: an "
        "open forward proxy relays spam and attacks for anyone; add <Proxy *> with "
        f"{restrict_hint(model)} for your clients, or ProxyRequests Off for a reverse proxy"
    )


# -- SEC014 -------------------------------------------------------------------------------


@check("SEC014")
def file_etag_inode(model, rule, settings) -> Iterator[Finding]:
    for node in model.find("FileETag"):
        words = [a.lower() for a in node.args]
        if any(w.lstrip("+") in ("inode", "all") for w in words if w[:1] != "-"):
            yield rule.finding(
                f"{_show(node)} {_where(node)}: the ETag carries each file's inode number, "
                "which differs between servers behind a balancer and tells clients about the "
                "filesystem; use FileETag MTime Size",
                node,
            )
    if model.version == "2.2" and model.server_directive("FileETag") is None:
        yield rule.finding(
            "no FileETag: Apache 2.2's default is INode MTime Size, so ETags carry inode "
            "numbers; set FileETag MTime Size",
            **{"model": model},
        )


# -- SEC015 -------------------------------------------------------------------------------

_ALL_EFFECTS = (
    ("autoindex_module", "directory listings"),
    ("include_module", "server-side includes with exec"),
    ("cgi_module", "CGI execution"),
    ("cgid_module", "CGI execution"),
)


@check("SEC015")
def options_all_default(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.2":
        return
    effects = list(dict.fromkeys(e for m, e in _ALL_EFFECTS if model.has_module(m)))
    if not effects:
        return

    def absolute(nodes: Iterable[Directive]) -> bool:
        return any(
            d.lname == "options" and any(not a.startswith(("+", "-")) for a in d.args)
            for d in nodes
        )

    roots = [s for s in model.top("<directory") if is_root_dir(s)]
    if absolute(model.config.tree) or any(absolute(s.children or []) for s in roots):
        return
    where = {"at": roots[0]} if roots else {"model": model}
    yield rule.finding(
        "no Options in <Directory />: Apache 2.2's default is Options All, so every "
        f"directory without its own Options line allows {', '.join(effects)}; set "
        "Options FollowSymLinks (or None) in <Directory />",
        **where,
    )


# -- SEC016 -------------------------------------------------------------------------------


@check("SEC016")
def webdav_open(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("dav_module"):
        return
    for node in model.find("Dav"):
        if not node.args or node.args[0].lower() == "off":
            continue
        section = node.parent
        if section is None:
            continue
        if not _open(model, section, ("PUT", "DELETE")):
            continue
        grant = grant_node(section)
        why = f"{_show(grant)} lets anyone" if grant else "nothing restricts who may"
        yield rule.finding(
            f"Dav {node.args[0]} at <{section.section_label()}>: {why} upload, overwrite and "
            "delete files there (PUT, DELETE, MOVE); require authentication, at least for "
            "everything but GET (<LimitExcept GET HEAD OPTIONS PROPFIND> Require valid-user)",
            node,
        )


# -- SEC017 -------------------------------------------------------------------------------


def _whole_site(lname: str, args: list[str]) -> bool:
    if not args:
        return False
    if lname == "<location" and args[0] != "~":
        return args[0] == "/"
    try:
        return all(loc_args_match(lname, args, u) for u in ("/.htaccess", "/a/b/.htpasswd", "/etc"))
    except confregex.Undecided:
        return False  # too costly to tell: claim nothing


@check("SEC017")
def location_root_grants(model, rule, settings) -> Iterator[Finding]:
    for name in ("<location", "<locationmatch"):
        sections = model.find(name)
        # Whether a section covers the whole site depends on its name and text alone:
        # judge each distinct text once.
        whole = {raw for raw in set(map(RAW, sections)) if _whole_site(name, section_args(raw))}
        if whole:
            yield from _root_grants(model, rule, [s for s in sections if s.raw in whole])


def _root_grants(model, rule, sections: list[Directive]) -> Iterator[Finding]:
    for section in sections:
        grant = grant_node(section)
        if grant is None:
            continue
        undone = _undone(model, section)
        if undone is None:
            continue
        url, line = undone
        yield rule.finding(
            f"{_show(grant)} in <{section.section_label()}>: <Location> is merged after "
            f"every <Directory> and <Files>, so this grants the whole site and undoes their "
            f"denials ({url} is refused by {_show(line)} at {line.file}:{line.line} without "
            "it, served with it); grant access in <Directory> sections instead",
            grant,
        )


def _undone(model, section: Directive) -> tuple[str, Directive] | None:
    """A request the section lets in that httpd refuses without it: the access files and
    password files in the DocumentRoot, the root, each Alias, each denied <Directory>."""
    vhost = section.vhost()
    names = model.server_directive("AccessFileName")
    files = [*(names.args if names is not None else [".htaccess"]), ".htpasswd"]
    urls = ["/" + f for f in dict.fromkeys(files)] + ["/"]
    urls += [d.args[0] for d in merge.aliases(model, vhost) if len(d.args) == 2]
    own = [d for d in vhost.children or [] if d.lname == "<directory"] if vhost else []
    for node in own + model.top("<directory"):
        if access(node) == "denied":
            for _, request, _ in merge.samples(model, node):
                if request.url is not None:
                    urls.append(request.url)
    for url in dict.fromkeys(urls):
        request = merge.Request(url=url)
        without = merge.resolve(model, vhost, request, skip=frozenset({section}))
        denied = outcome.access(model, without, request)
        if denied.access != outcome.DENIED or denied.deciding is None:
            continue
        granted = outcome.access(model, merge.resolve(model, vhost, request), request)
        if granted.access == outcome.ALLOWED:
            return url, denied.deciding
    return None
