"""Apache 2.2 to 2.4 upgrade checks, after httpd's "Upgrading to 2.4 from 2.2" page.

Each check says on which line it runs: most fire on 2.4 trees that still carry 2.2
constructs (where httpd refuses to start, warns, or silently ignores them); a few also give
advice on 2.2 trees about what will break on the way to 2.4.
"""

from __future__ import annotations

import functools
import itertools
import operator
import os
import re
from collections.abc import Iterator

from .. import knowledge
from ..facts import (
    MUTEX_REPLACED,
    REMOVED_HINTS,
    REMOVED_MODULES,
    RENAMED,
    REWRITE_LOG,
    STILL_ACCEPTED,
    SYNTAX_ERROR,
)
from ..findings import Finding
from ..registry import check
from ..scopes import RAW, context_pass, file_line, nodes_named, unique
from ..syntax import Directive

OLD_ACCESS = ("order", "allow", "deny", "satisfy")
_ACCESS_SECTIONS = (
    "<directory",
    "<directorymatch",
    "<location",
    "<locationmatch",
    "<files",
    "<filesmatch",
    "<if",
    "<elseif",
    "<else",
    "<proxy",
    "<proxymatch",
)


_SHELL = re.compile(r"(>|<|\||;|&|`|\$\(|\$\{?[A-Za-z_])")


def _v24(model) -> bool:
    return model.version == "2.4"


def _label(d: Directive) -> str:
    return f"{os.path.basename(d.file)}:{d.line}"


# -- UPG001 / UPG002 / UPG003 access control ---------------------------------------------------


def _old_access_nodes(model) -> list[Directive]:
    return nodes_named(model, *OLD_ACCESS)


@unique
@check("UPG001")
def access_compat_missing(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model) or model.has_module("access_compat_module"):
        return
    done: set[int] = set()
    for node in _old_access_nodes(model):
        scope = _scope(node)
        if id(scope) in done:
            continue
        done.add(id(scope))
        nodes = _section_children(scope, model)
        names = sorted({d.name for d in nodes if d.lname in OLD_ACCESS}, key=str.lower)
        yield rule.finding(
            f"Invalid command '{node.name}', perhaps misspelled or defined by a module not "
            "included in the server configuration: on 2.4 Order, Allow, Deny and Satisfy "
            f"come from mod_access_compat, which is not loaded, so httpd refuses to start "
            f"(this section uses {', '.join(names)}; {_translation(nodes)})",
            node,
            httpd_code=SYNTAX_ERROR,
        )


def _scope(node: Directive) -> Directive | None:
    """The section whose access control a directive belongs to (<Limit> looks through)."""
    scope = node.parent
    while scope is not None and scope.lname in ("<limit", "<limitexcept"):
        scope = scope.parent
    return scope


def _section_children(section: Directive | None, model) -> list[Directive]:
    """The directives of one access-control scope: a section's own, <Limit> bodies merged."""
    nodes = model.config.tree if section is None else section.children or []
    out = []
    for d in nodes:
        out.append(d)
        if d.lname in ("<limit", "<limitexcept") and d.children:
            out.extend(d.children)
    return out


def _looks_ip(word: str) -> bool:
    return bool(re.fullmatch(r"[0-9.]+(/[0-9.]+)?|[0-9a-fA-F:]*:[0-9a-fA-F:.]*(/\d+)?", word))


def _translation(nodes: list[Directive]) -> str:
    """The Require lines a scope's old access control amounts to, when it is a common
    idiom; otherwise a pointer to the upgrading guide."""
    order = None
    allows: list[str] = []
    denies: list[str] = []
    for d in nodes:
        if d.lname == "order" and d.args:
            order = "".join(d.args).lower().replace(" ", "")
        elif d.lname in ("allow", "deny") and len(d.args) >= 2 and d.args[0].lower() == "from":
            (allows if d.lname == "allow" else denies).extend(a.lower() for a in d.args[1:])
        elif d.lname == "satisfy" and [a.lower() for a in d.args] == ["all"]:
            continue  # the default
        elif d.lname in ("allow", "deny", "satisfy"):
            return "rewrite it with Require, see the upgrading guide"
    if allows == ["all"] and not denies and order in (None, "allow,deny", "deny,allow"):
        return "2.4 equivalent: Require all granted"
    if denies == ["all"] and not allows:
        return "2.4 equivalent: Require all denied"
    if denies == ["all"] and allows and order == "deny,allow" and "all" not in allows:
        ips = [a for a in allows if _looks_ip(a)]
        hosts = [a for a in allows if not _looks_ip(a)]
        lines = []
        if ips:
            lines.append("Require ip " + " ".join(ips))
        if hosts:
            lines.append("Require host " + " ".join(hosts))
        return "2.4 equivalent: " + " / ".join(lines)
    return "rewrite it with Require, see the upgrading guide"


@unique
@check("UPG002")
def access_compat_deprecated(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model) or not model.has_module("access_compat_module"):
        return
    done: set[int] = set()
    for node in _old_access_nodes(model):
        scope = _scope(node)
        key = id(scope)
        if key in done:
            continue
        done.add(key)
        names = sorted(
            {d.name for d in _section_children(scope, model) if d.lname in OLD_ACCESS},
            key=str.lower,
        )
        yield rule.finding(
            f"{', '.join(names)}: 2.2 access control, kept alive in 2.4 only by "
            f"mod_access_compat ({_translation(_section_children(scope, model))})",
            node,
        )


_NEW_ACCESS = ("require", "<requireall", "<requireany", "<requirenone")
_DIR_SECTIONS = ("<directory",)


def _satisfy_any(nodes: list[Directive]) -> bool:
    return any(d.lname == "satisfy" and d.args and d.args[0].lower() == "any" for d in nodes)


def _denies(nodes: list[Directive]) -> bool:
    """Whether a scope's own Order/Allow/Deny refuse a request that matches no Allow line."""
    order = None
    allows = denies_all = False
    for d in nodes:
        if d.lname == "order" and d.args:
            order = "".join(d.args).lower()
        elif d.lname == "allow":
            allows = True
        elif d.lname == "deny" and [a.lower() for a in d.args[1:]] == ["all"]:
            denies_all = True
    return denies_all or (order in ("allow,deny", "mutual-failure") and not allows)


def _dir_path(section: Directive) -> str | None:
    if section.lname != "<directory" or not section.args or section.args[0] == "~":
        return None
    return section.args[0].strip('"').rstrip("/") or "/"


@unique
@check("UPG003")
def mixed_access_control(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model):
        return
    if not nodes_named(model, *OLD_ACCESS):
        return
    sections: list[Directive] = []
    seen: set[int] = set()
    for node in nodes_named(model, *OLD_ACCESS, *_NEW_ACCESS):
        scope = _scope(node)
        if scope is not None and scope.lname in _ACCESS_SECTIONS and id(scope) not in seen:
            seen.add(id(scope))
            sections.append(scope)
    scopes = {id(s): _section_children(s, model) for s in sections}
    # Old-style denials that sections without Order/Allow/Deny of their own inherit, by
    # (virtual host, directory) in order, so each section looks up only those that can
    # reach it instead of going through all of them.
    denying: dict[tuple[Directive | None, str], list[tuple[int, Directive]]] = {}
    for index, s in enumerate(sections):
        deny_path = _dir_path(s)
        if deny_path is None or _satisfy_any(scopes[id(s)]) or not _denies(scopes[id(s)]):
            continue
        denying.setdefault((s.vhost(), deny_path), []).append((index, s))
    for section in sections:
        nodes = scopes[id(section)]
        old = [d for d in nodes if d.lname in OLD_ACCESS]
        new = [d for d in nodes if d.lname in _NEW_ACCESS]
        if not new:
            continue
        if old:
            if _satisfy_any(nodes):
                yield rule.finding(
                    f"{old[0].name} ({_label(old[0])}) and {new[0].name.lstrip('<')} "
                    f"({_label(new[0])}) with Satisfy Any: the 2.2 idiom still works through "
                    "mod_access_compat, but 2.4 says it with Require lines alone (implicitly "
                    "<RequireAny>, e.g. Require valid-user + Require ip ...)",
                    old[0],
                    severity="info",
                )
                continue
            yield rule.finding(
                f"{old[0].name} ({_label(old[0])}) and {new[0].name.lstrip('<')} "
                f"({_label(new[0])}) in one section: mod_access_compat and mod_authz_core both "
                "decide, and under Satisfy All (the default) a request must pass both",
                old[0],
            )
            continue
        if any(d.lname == "<requirenone" for d in new) or _requires_denial(new):
            continue
        if not denying:
            continue
        deny = _first_denial(denying, section, _dir_path(section), section.vhost())
        if deny is not None:
            yield rule.finding(
                f"{new[0].name.lstrip('<')} here cannot grant access: the <Directory "
                f"{deny.args[0]}> at {_label(deny)} still denies through mod_access_compat, "
                "and this section has no Order/Allow/Deny of its own, so it inherits that "
                "denial; under Satisfy All requests get 403 (AH01797)",
                new[0],
            )


def _first_denial(
    denying: dict[tuple[Directive | None, str], list[tuple[int, Directive]]],
    section: Directive,
    path: str | None,
    vhost: Directive | None,
) -> Directive | None:
    """The first denying <Directory> (in the order of `denying`) other than `section`, of
    the server or of the section's virtual host, at `/` or at a directory that covers
    `path`."""
    dirs = ["/"]
    if path is not None:
        p = path.rstrip("/") or "/"
        dirs.append(p)
        dirs += [p[:i] for i, ch in enumerate(p) if ch == "/" and i > 0]
    best: tuple[int, Directive] | None = None
    for owner in (None, vhost) if vhost is not None else (None,):
        for d in dict.fromkeys(dirs):
            for item in denying.get((owner, d), ()):
                if item[1] is section:
                    continue
                if best is None or item[0] < best[0]:
                    best = item
                break
    return best[1] if best is not None else None


def _requires_denial(new: list[Directive]) -> bool:
    """Require lines that only deny (Require all denied) lose nothing to an inherited Deny."""
    return all(
        d.lname == "require" and [a.lower() for a in d.args] == ["all", "denied"] for d in new
    )


# -- UPG004 NameVirtualHost, UPG005 renamed MPM settings ---------------------------------------


@unique
@check("UPG004")
def name_virtual_host(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model):
        return
    for node in nodes_named(model, "NameVirtualHost"):
        yield rule.finding(
            "NameVirtualHost has no effect and will be removed in the next release: 2.4 "
            "makes every address shared by several virtual hosts name-based; delete it",
            node,
            httpd_code="AH00548",
        )


@unique
@check("UPG005")
def renamed_mpm_directive(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model):
        return
    for node in nodes_named(model, *RENAMED):
        new = RENAMED[node.lname]
        if new:
            yield rule.finding(
                f"{node.name} is the 2.2 name of {new}: 2.4 still accepts it; rename it "
                f"to {new} {' '.join(node.args)}".rstrip(),
                node,
            )


# -- UPG006 / UPG007 / UPG011 removed directives ---------------------------------------------


def _mutex_hint(node: Directive) -> str:
    lname = node.lname
    name = MUTEX_REPLACED[lname]
    arg = node.args[0] if node.args else "default"
    if lname == "lockfile":
        return f"Mutex file:{os.path.dirname(arg) or '.'} {name}"
    if lname == "rewritelock":
        return f"Mutex file:{os.path.dirname(arg) or '.'} {name}"
    if lname == "watchdogmutexpath":
        return f"Mutex file:{arg} {name}"
    mech = arg.lower()
    if mech.startswith(("file:", "fcntl:", "flock:")) or mech in (
        "default",
        "sem",
        "pthread",
        "posixsem",
        "sysvsem",
    ):
        return f"Mutex {arg} {name}"
    return f"Mutex default {name}"


@unique
@check("UPG006")
def mutex_directive_removed(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model):
        return
    for node in nodes_named(model, *MUTEX_REPLACED):
        if node.lname in MUTEX_REPLACED:
            yield rule.finding(
                f"Invalid command '{node.name}': 2.4 replaced it with the Mutex directive; "
                f"httpd refuses to start (use `{_mutex_hint(node)}`, or delete the line to "
                "keep the default)",
                node,
                httpd_code=SYNTAX_ERROR,
            )


@unique
@check("UPG007")
def rewrite_log_removed(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model):
        return
    for node in nodes_named(model, *REWRITE_LOG):
        level = ""
        if node.lname == "rewriteloglevel" and node.args and node.args[0].isdigit():
            n = int(node.args[0])
            level = f" (RewriteLogLevel {n} is about rewrite:trace{min(max(n, 1), 8)})"
        yield rule.finding(
            f"Invalid command '{node.name}': removed in 2.4; httpd refuses to start. "
            f"mod_rewrite now logs to the ErrorLog: LogLevel warn rewrite:trace3{level}",
            node,
            httpd_code=SYNTAX_ERROR,
        )


@functools.cache
def _removed_names() -> tuple[str, ...]:
    """2.2-only directives not covered by a more specific rule."""
    return tuple(
        key
        for key, entry in knowledge.load().directives.items()
        if entry["versions"] == ["2.2"]
        and key not in MUTEX_REPLACED
        and key not in REWRITE_LOG
        and key not in STILL_ACCEPTED
    )


@unique
@check("UPG011")
def directive_removed(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model):
        return
    for node in nodes_named(model, *_removed_names()):
        lname = node.lname
        hint = REMOVED_HINTS.get(lname, "delete it")
        yield rule.finding(
            f"Invalid command '{node.name}': Apache 2.4 no longer has it; httpd refuses to "
            f"start ({hint})",
            node,
            httpd_code=SYNTAX_ERROR,
        )


# -- UPG008 DefaultType, UPG009 KeepAlive ----------------------------------------------------


@unique
@check("UPG008")
def default_type_ignored(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model):
        return
    for node in nodes_named(model, "DefaultType"):
        if not node.args:
            continue
        if node.args[0].lower() in ("none", "off"):
            continue
        yield rule.finding(
            f"Ignoring deprecated use of DefaultType: 2.4 never applies {node.args[0]}; "
            "files without a known extension are served with no Content-Type (set one with "
            "ForceType or AddType where it matters, and delete this line)",
            node,
            httpd_code="AH00117",
        )


@unique
@check("UPG009")
def keepalive_not_on_off(model, rule, settings) -> Iterator[Finding]:
    for node in nodes_named(model, "KeepAlive"):
        if not node.args:
            continue
        value = node.args[0]
        if value.lower() in ("on", "off"):
            continue
        meant = "Off" if value in ("0",) else "On"
        if _v24(model):
            yield rule.finding(
                f"KeepAlive must be On or Off: 2.4 refuses `KeepAlive {value}` and does not "
                f"start (2.2 read it as {meant}; write KeepAlive {meant})",
                node,
                httpd_code=SYNTAX_ERROR,
            )
        else:
            yield rule.finding(
                f"KeepAlive {value}: 2.2 reads it as {meant}, 2.4 refuses to start on it; "
                f"write KeepAlive {meant}",
                node,
                severity="info",
            )


# -- UPG010 modules that 2.4 does not have ------------------------------------------------------


@unique
@check("UPG010")
def removed_module_loaded(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model):
        return
    for node in model.config.exec_directives:
        if node.lname != "loadmodule" or not node.args:
            continue
        ident = node.args[0]
        so = os.path.basename(node.args[1]) if len(node.args) > 1 else ""
        key = ident
        if key not in REMOVED_MODULES:
            stem = so[4:-3] + "_module" if so.startswith("mod_") and so.endswith(".so") else ""
            key = stem if stem in REMOVED_MODULES else ""
        if not key:
            continue
        yield rule.finding(
            f"LoadModule {ident}: the module does not exist in 2.4, so httpd cannot load "
            f"{so or 'it'} and refuses to start; replace it with {REMOVED_MODULES[key]}",
            node,
            httpd_code=SYNTAX_ERROR,
        )


# -- UPG012 piped logs run without a shell ----------------------------------------------------

PIPED_LOG_DIRECTIVES = ("errorlog", "customlog", "transferlog", "globallog", "forensiclog")


@unique
@check("UPG012")
def piped_log_shell(model, rule, settings) -> Iterator[Finding]:
    by_name = context_pass(model).by_name
    piped = []
    for lname in PIPED_LOG_DIRECTIVES:
        nodes = by_name.get(lname, ())
        bars = map(operator.contains, map(RAW, nodes), itertools.repeat("|"))
        piped += itertools.compress(nodes, bars)
    piped.sort(key=file_line)  # reading order, as nodes_named gives several names
    for node in piped:
        if not node.raw.lstrip("\"'").startswith("|") or not node.args:
            continue
        target = node.args[0]
        if not target.startswith("|") or target.startswith(("|$", "||")):
            continue
        command = target[1:]
        if not _SHELL.search(command):
            continue
        if _v24(model):
            yield rule.finding(
                f'{node.name} "{target}": 2.4 runs a piped log command directly, without '
                "/bin/sh, so its redirections, pipes and variables reach the program as "
                f'plain arguments; write "|${command}" to keep the shell',
                node,
            )
        else:
            yield rule.finding(
                f'{node.name} "{target}": 2.2 runs this through /bin/sh, 2.4 runs piped '
                f'logs without a shell; write "|${command}", which 2.2.12 and later already '
                "accept and which keeps the shell on both",
                node,
                severity="info",
            )


# -- UPG013 AllowOverride's default ------------------------------------------------------------


def _covers(directory: str, path: str) -> bool:
    d = directory.rstrip("/") or "/"
    p = path.rstrip("/") or "/"
    return d == "/" or p == d or p.startswith(d + "/")


@unique
@check("UPG013")
def allowoverride_default(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.2":
        return
    server_dirs = [d for d in model.config.tree if d.lname == "<directory" and d.args]
    roots: list[tuple[Directive, list[Directive]]] = []
    node = model.server_directive("DocumentRoot")
    if node is not None:
        roots.append((node, server_dirs))
    for vhost in model.virtual_hosts():
        own = vhost.own("DocumentRoot")
        if own is not None:
            dirs = [d for d in vhost.directives if d.lname == "<directory" and d.args]
            roots.append((own, server_dirs + dirs))
    for root, dirs in roots:
        if not root.args:
            continue
        path = os.path.normpath(os.path.join(model.config.server_root, root.args[0]))
        covering = [d for d in dirs if d.args[0] != "~" and _covers(d.args[0].strip('"'), path)]
        if any(c.lname == "allowoverride" for d in covering for c in d.children or []):
            continue
        yield rule.finding(
            f"No AllowOverride applies to DocumentRoot {path}: 2.2's default is All, so "
            ".htaccess files there are read today; 2.4's default is None and will ignore "
            "them without a word. Set AllowOverride explicitly in a <Directory> for it",
            root,
        )


# -- UPG014 load-balancing methods are modules of their own in 2.4 -------------------------------

_BALANCER = re.compile(r"^balancer://([^/\s]+)", re.IGNORECASE)


def _balancer_of(node: Directive) -> str | None:
    """The balancer a ProxySet/BalancerMember/ProxyPass line is about: its balancer:// argument,
    else the <Proxy balancer://...> section around it."""
    for arg in node.args[:2]:
        m = _BALANCER.match(arg)
        if m:
            return m.group(1).lower()
    parent = node.parent
    while parent is not None:
        if parent.lname in ("<proxy", "<proxymatch") and parent.args:
            m = _BALANCER.match(parent.args[0])
            if m:
                return m.group(1).lower()
        parent = parent.parent
    return None


@unique
@check("UPG014")
def balancer_lbmethod_missing(model, rule, settings) -> Iterator[Finding]:
    if not _v24(model) or not model.has_module("proxy_balancer_module"):
        return
    first_use: dict[str, Directive] = {}
    explicit: dict[str, tuple[str, Directive]] = {}
    for node in nodes_named(model, "BalancerMember", "ProxySet", "ProxyPass", "ProxyPassMatch"):
        name = _balancer_of(node)
        if name is None:
            continue
        if node.lname == "balancermember":
            first_use.setdefault(name, node)
        for arg in node.args:
            key, _, value = arg.partition("=")
            if key.lower() == "lbmethod" and value:
                explicit[name] = (value.lower(), node)
    for name, node in first_use.items():
        method, where = explicit.get(name, ("byrequests", node))
        ident = f"lbmethod_{method}_module"
        if ident in model.config.modules:
            continue
        if name in explicit:
            message = (
                f"ProxySet: unknown lbmethod lbmethod={method}; balancer://{name}: since 2.4 "
                f"each method is its own module, and {ident} is not loaded, so httpd refuses "
                "to start"
            )
            code = SYNTAX_ERROR
        else:
            message = (
                f"balancer://{name} uses the default method byrequests, which 2.4 moved into "
                f'mod_lbmethod_byrequests; without it httpd stops at start with "Cannot find '
                f'LB Method: byrequests" (LoadModule {ident})'
            )
            code = "AH02432"
        yield rule.finding(message, where, httpd_code=code)


@check("UPG020")
def apache_22_end_of_life(model, rule, settings) -> Iterator[Finding]:
    # needs = ["version:2.2"]: runs only on trees read as 2.2 (model.version_source says how).
    how = "as --apache-version says" if model.version_source == "given" else "by its directives"
    yield rule.finding(
        f"this configuration is for Apache httpd 2.2 ({how}), a line that has had no security "
        "releases since 2.2.34 in July 2017; move to 2.4 (the other UPG rules list what "
        "changes)",
        model=model,
    )
