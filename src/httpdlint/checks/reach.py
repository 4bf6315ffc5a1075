"""Reachability checks: what an anonymous client gets for URLs that should never answer.

Every rule here but SEC025 (which looks for sample CGI scripts in each ScriptAlias
directory) asks the merge model (`merge.resolve`, then `outcome.decide`) for real
requests on each server that can answer one: `/.git/config` under each DocumentRoot and
Alias, `/manual/`, the index page, PUT and DELETE where content is served. A request the
configuration cannot decide (Redirect, RedirectMatch, mod_rewrite, ProxyPass, an <If> that
may change access, a client-dependent Require) is never claimed: the rules count it as
refused. `<Limit>` around access control is judged the same way, by asking for a listed
and an unlisted method.

A tree of thousands of virtual hosts mostly repeats one pattern (names and logs differ, the
sections do not): the rules ask once per `merge.shape` (the first server of each shape
stands for the others, its own lines mapped to theirs by position), so they cost a
lookup per host, not a merge.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from .. import authz, merge, outcome, vhosts
from ..findings import Finding
from ..registry import check
from ..syntax import Directive

# A file each kind of working copy always has, so that the request names something real.
_VCS = {".git": "config", ".svn": "wc.db", ".hg": "requires", ".bzr": "branch-format"}
_DENY_VCS = '<DirectoryMatch "/\\.(git|svn|hg|bzr)/"> Require all denied </DirectoryMatch>'
# Alias targets a package manager owns (Debian's /icons/, the manual): never a checkout.
_PACKAGED = ("/usr/share/",)
# More places than this, all servers open: one finding for the tree (one server-level fix).
_MANY = 10
_WILDCARDS = {"*", "_default_", "0.0.0.0", "[::]", "::"}


def _show(node: Directive) -> str:
    return " ".join([node.name, *node.args])


def _at(node: Directive | None) -> str:
    if node is None:
        return "httpd's default"
    return f"{_show(node)} ({os.path.basename(node.file)}:{node.line})"


# -- the servers that answer, and what they answer ----------------------------------------


def _main_answers(model) -> bool:
    """Whether the main server answers some connection: no virtual host at all, or a
    Listen address that no <VirtualHost> covers (a wildcard one on its port, or one that
    names the address Listen names). The addresses are compared as written: building the
    whole virtual-host map costs more than every other reach question on a large tree."""
    if not model.virtual_hosts():
        return True
    wild: set[str] = set()
    named: set[tuple[str, str]] = set()
    for v in model.virtual_hosts():
        for arg in v.addresses:
            host, port = vhosts.split_hostport(arg)
            port = port or "*"
            if host in _WILDCARDS:
                wild.add(port)
            else:
                named.add((host, port))
    if "*" in wild:
        return False
    for node in model.top("listen"):
        if not node.args:
            continue
        host, port = vhosts.split_hostport(node.args[0])
        if port is None:
            host, port = "*", host  # every local address: some address no host names
        if port in wild:
            continue
        if host in _WILDCARDS or not ({(host, port), (host, "*")} & named):
            return True
    return False


def servers(model) -> list[Directive | None]:
    """The servers a request can reach: each <VirtualHost>, and the main server (None)
    when a connection can fall to it (built once per model)."""
    found = model.cache.get("reach.servers")
    if found is None:
        found = [v.node for v in model.virtual_hosts()]
        if _main_answers(model):
            found.insert(0, None)
        model.cache["reach.servers"] = found
    return found


# -- one question per shape of server ----------------------------------------------------


def _shapes(model) -> dict:
    """Server -> (a number per distinct `merge.shape` key, its own lines): the key is
    hashed once here, the rules' memos look up the number. The main server is shape 0."""
    found = model.cache.get("reach.shapes")
    if found is None:
        numbers: dict[tuple, int] = {}
        found = {None: (0, [])}
        for v in servers(model):
            if v is not None:
                key, lines = merge.shape(v)
                found[v] = (numbers.setdefault(key, len(numbers) + 1), lines)
        model.cache["reach.shapes"] = found
    return found


def _ref(node: Directive | None, server: Directive | None, lines: list[Directive]) -> tuple:
    """Where a line stands for a server: one of its own lines by position, the server
    itself, or a line every server shares (the main server's)."""
    if node is not None and node is server:
        return ("server",)
    for i, own in enumerate(lines):
        if own is node:
            return ("own", i)
    return ("shared", node)


def _deref(ref: tuple, server: Directive | None, lines: list[Directive]) -> Directive | None:
    if ref[0] == "own":
        return lines[ref[1]]
    return server if ref[0] == "server" else ref[1]


def per_shape(model, name: str, compute) -> Iterator[tuple[Directive | None, list, list]]:
    """(server, its own lines, COMPUTE's answer) for each server in order, COMPUTE(server,
    lines) called for the first server of each shape only (NAME keeps its answers apart
    from other rules'). An answer that names lines holds them as `_ref`s."""
    memo = model.cache.setdefault(("reach.memo", name), {})
    shapes = _shapes(model)
    for server in servers(model):
        key, lines = shapes[server]
        found = memo.get(key)
        if found is None:
            found = memo[key] = compute(server, lines)
        yield server, lines, found


def server_label(vhost: Directive | None) -> str:
    return "the main server" if vhost is None else f"<{vhost.section_label()}>"


def ask(model, vhost: Directive | None, url: str, method: str = "GET", *, files: bool = False):
    """(result, outcome) of one anonymous request from an unknown client; the outcome is
    None when the configuration cannot decide it (never claimed)."""
    request = merge.Request(url=url, method=method)
    result = merge.resolve(model, vhost, request)
    answer = outcome.decide(model, result, request, files=files)
    if answer.access == outcome.DEPENDS:
        return result, None
    return result, answer


def _served(answer: outcome.Outcome | None) -> bool:
    """Allowed and answered from the filesystem (not by a handler such as PHP-FPM)."""
    if answer is None or answer.access != outcome.ALLOWED:
        return False
    if answer.status is not None and answer.status >= 400:
        return False
    return answer.deciding is None or answer.deciding.lname != "sethandler"


def content_roots(model, vhost: Directive | None) -> list[tuple[str, Directive | None]]:
    """(URL prefix, the line that maps it) for the content a server serves: its
    DocumentRoot, and each Alias to a directory outside package-owned trees."""
    vobj = _vhost_objects(model).get(vhost)
    roots: list[tuple[str, Directive | None]] = [
        ("/", model.effective("DocumentRoot", vobj) or vhost)
    ]
    for d in merge.aliases(model, vhost):
        if d.lname != "alias" or len(d.args) != 2 or d.args[1].startswith(_PACKAGED):
            continue
        url, target = d.args
        # Only an alias that names a directory stands for content a deploy can put a
        # working copy into (/favicon.ico and the like are files).
        if url.endswith("/") or target.endswith("/") or _has_directory_section(model, target):
            roots.append((url.rstrip("/") + "/", d))
    return roots


def _vhost_objects(model) -> dict:
    """<VirtualHost> node -> the model's VirtualHost, built once per model."""
    found = model.cache.get("reach.vhosts")
    if found is None:
        found = model.cache["reach.vhosts"] = {v.node: v for v in model.virtual_hosts()}
    return found


def _has_directory_section(model, path: str) -> bool:
    paths = model.cache.get("reach.dirs")
    if paths is None:
        paths = {d.args[0].rstrip("/") for d in model.find("<Directory") if d.args}
        model.cache["reach.dirs"] = paths
    return path.rstrip("/") in paths


# -- SEC020 -----------------------------------------------------------------------------


def _open_vcs(model, vhost: Directive | None, prefix: str) -> tuple[list[str], str]:
    """The VCS URLs under a prefix an anonymous GET reaches, and why. /.git first: when it
    is served, the fix covers the others too, so they are not asked (one request per root
    on a large tree); when it is refused, each other kind is asked on its own."""
    urls, why = [], ""
    for kind, name in _VCS.items():
        url = f"{prefix}{kind}/{name}"
        _, answer = ask(model, vhost, url)
        if _served(answer):
            urls.append(url)
            why = why or answer.why.split(";")[0]
            if kind == ".git":
                break
    return urls, why


def _open_roots(model):
    """The compute for `per_shape`: (prefix, the line mapping it as a `_ref`) of each
    content root where VCS metadata is served."""

    def compute(server, lines):
        found = []
        for prefix, at in content_roots(model, server):
            if _open_vcs(model, server, prefix)[0]:
                found.append((prefix, _ref(at, server, lines)))
        return found

    return compute


@check("SEC020")
def vcs_metadata_served(model, rule, settings) -> Iterator[Finding]:
    # The line mapping each root -> (it, its prefix, its servers); the URLs and the reason
    # are asked again of the first server only for what is reported, as the reason names
    # that server's own line.
    found: dict[int, tuple[Directive | None, str, list]] = {}
    everyone = servers(model)
    open_servers = 0
    for vhost, lines, roots in per_shape(model, "SEC020", _open_roots(model)):
        open_servers += bool(roots)
        for prefix, ref in roots:
            at = _deref(ref, vhost, lines)
            key = id(at) if at is not None else id(vhost)
            found.setdefault(key, (at, prefix, []))[2].append(vhost)
    if len(found) > _MANY and open_servers == len(everyone):
        # Every server serves them: one finding, one fix at server level, not one per host.
        at, prefix, holders = next(iter(found.values()))
        urls, why = _open_vcs(model, holders[0], prefix)
        yield rule.finding(
            f"all {len(everyone)} servers serve version-control metadata ({len(found)} "
            f"places; first: GET {urls[0]} is allowed, {why}), so a Git, Subversion, "
            f"Mercurial or Bazaar working copy deployed into a site is served, history and "
            f"credentials included; add at server level {_DENY_VCS}",
            at,
            model=model,
        )
        return
    for at, prefix, holders in found.values():
        urls, why = _open_vcs(model, holders[0], prefix)
        labels = ", ".join(dict.fromkeys(map(server_label, holders)))
        yield rule.finding(
            f"{labels}: GET {', '.join(urls)} is allowed ({why}), "
            f"so a Git, Subversion, Mercurial or Bazaar working copy deployed under {prefix} "
            f"would be served, history and credentials included; add {_DENY_VCS}",
            at,
            model=model,
        )


# -- SEC021 -----------------------------------------------------------------------------

_STATUS_MODULES = ("apache2::status", "apache::status")


def _manual(model, vhost: Directive | None) -> tuple[Directive, str] | None:
    result, answer = ask(model, vhost, "/manual/")
    mapped = result.mapped_by
    if mapped is None or mapped.lname not in ("alias", "aliasmatch") or len(mapped.args) < 2:
        return None
    if "manual" not in mapped.args[-1].lower() or not _served(answer):
        return None
    return mapped, answer.why.split(";")[0]


def _perl_status(model) -> Iterator[tuple[Directive, str]]:
    for name in ("PerlResponseHandler", "PerlHandler"):
        for node in model.find(name):
            if not node.args or node.args[0].lower() not in _STATUS_MODULES:
                continue
            for vhost, request, path in merge.samples(model, node.parent):
                result = merge.resolve(model, vhost, request, path=path)
                answer = outcome.access(model, result, request)
                if answer.access == outcome.ALLOWED and not result.undecided:
                    yield node, answer.why
                    break


def _manual_aliases(model) -> bool:
    """Whether any Alias or AliasMatch points into a manual directory (else no server
    needs asking)."""
    nodes = model.find("Alias") + model.find("AliasMatch")
    # The text first: splitting the words of every Alias of a large tree costs more.
    return any(
        "manual" in d.raw.lower() and len(d.args) >= 2 and "manual" in d.args[-1].lower()
        for d in nodes
    )


@check("SEC021")
def default_content_served(model, rule, settings) -> Iterator[Finding]:
    done: set[int] = set()
    for vhost in servers(model) if _manual_aliases(model) else ():
        manual = _manual(model, vhost)
        if manual is None or id(manual[0]) in done:
            continue
        node, why = manual
        done.add(id(node))
        yield rule.finding(
            f"{_show(node)}: GET /manual/ on {server_label(vhost)} is allowed ({why}): the "
            "stock manual tells every visitor the exact server and its version; remove the "
            "Alias (Debian: a2disconf apache2-doc) or restrict it to the admin network",
            node,
        )
    if model.has_module("perl_module"):
        for node, why in _perl_status(model):
            yield rule.finding(
                f"{_show(node)} at <{node.parent.section_label()}>: {why}, so anyone reads "
                "the perl interpreter's modules, environment and configuration; remove it "
                "or restrict it to the admin network",
                node,
            )


# -- SEC022 (filesystem) ----------------------------------------------------------------

# Text only the packaged placeholder pages carry: Debian's and Ubuntu's, and httpd's own.
_WELCOME = ("Apache2 Debian Default Page", "Apache2 Ubuntu Default Page", "<h1>It works!</h1>")


def _index_file(result: merge.Result) -> str | None:
    if result.filename is None:
        return None
    index = result.last.get("directoryindex")
    for name in index.args if index is not None else ["index.html"]:
        path = os.path.join(result.filename, name)
        if name.lower() != "disabled" and os.path.isfile(path):
            return path
    return None


def _placeholder(path: str) -> str | None:
    """The placeholder text the file carries, if any."""
    try:
        with open(path, "rb") as f:
            head = f.read(65536).decode("utf-8", "replace")
    except OSError:
        return None
    return next((m for m in _WELCOME if m in head), None)


@check("SEC022")
def welcome_page_served(model, rule, settings) -> Iterator[Finding]:
    done: set[str] = set()
    marked: dict[str, bool] = {}

    def compute(vhost, lines):
        """(the placeholder index page GET / serves, its marker, the line mapping it as a
        `_ref`), or None."""
        # Read the DocumentRoot's index.html first: only a placeholder page there is worth
        # asking the merge model about (one cheap read per directory on a large tree).
        root = merge.docroot(model, vhost)
        if root not in marked:
            marked[root] = _placeholder(os.path.join(root, "index.html")) is not None
        if not marked[root]:
            return None
        result, answer = ask(model, vhost, "/", files=True)
        if answer is None or answer.status != 200 or "index" not in answer.why:
            return None
        path = _index_file(result)
        marker = None if path is None else _placeholder(path)
        if marker is None:
            return None
        return path, marker, _ref(result.mapped_by or vhost, vhost, lines)

    for vhost, lines, page in per_shape(model, "SEC022", compute):
        if page is None or page[0] in done:
            continue
        path, marker, ref = page
        done.add(path)
        yield rule.finding(
            f"GET / on {server_label(vhost)} serves {path}, the packaged placeholder page "
            f"({marker!r}): it tells every visitor which server and distribution run here; "
            "replace it with the site's content or an empty page",
            _deref(ref, vhost, lines),
            model=model,
        )


# -- SEC023 -----------------------------------------------------------------------------

_ACCESS_LINES = {"require", "allow", "deny", "order", "satisfy"} | {
    "<requireany",
    "<requireall",
    "<requirenone",
}
# Methods asked for on the unlisted side: writes first, as those are what <Limit> misses.
_PROBES = ("PUT", "DELETE", "PATCH", "MKCOL", "MOVE", "POST", "GET", "OPTIONS")


def _limits_access(node: Directive) -> bool:
    return any(c.lname in _ACCESS_LINES for c in node.children or [])


def _refused(answer: outcome.Outcome) -> bool:
    return answer.access in (outcome.DENIED, outcome.LOGIN)


def _own_verdict(holder: Directive, method: str) -> str:
    """The holder's own lines alone, when no single request stands for it."""
    tree = authz.build(holder)
    verdict = authz.GRANTED if tree is None else authz.evaluate(tree, method, None)
    compat = authz.compat_nodes(holder)
    if compat and authz.compat_allows(compat, method, None) == authz.DENIED:
        return authz.DENIED
    return verdict


def _open_methods(model, limit: Directive) -> list[str] | None:
    """The unlisted methods an anonymous client gets through while a listed one is
    refused; None when the listed ones are not refused (or nothing can be claimed)."""
    listed = sorted(m.upper() for m in limit.args)
    inside = "GET" if "GET" in listed else listed[0]
    others = [m for m in _PROBES if m not in listed and not (m == "HEAD" and "GET" in listed)]
    holder = limit.parent
    found = merge.samples(model, holder) if holder is not None else [(None, merge.Request(), None)]
    if found:
        for vhost, request, path in found:
            asked = merge.Request(url=request.url, method=inside)
            result = merge.resolve(model, vhost, asked, path=path)
            if result.undecided or not _refused(outcome.access(model, result, asked)):
                continue
            opened = []
            for method in others:
                asked = merge.Request(url=request.url, method=method)
                answer = outcome.access(model, result, asked)
                if answer.access == outcome.ALLOWED:
                    opened.append(method)
            if opened:
                return opened
        return None
    if _own_verdict(holder, inside) not in (authz.DENIED, authz.NO_USER):
        return None
    opened = [m for m in others if _own_verdict(holder, m) == authz.GRANTED]
    return opened or None


@check("SEC023")
def limit_leaves_methods_open(model, rule, settings) -> Iterator[Finding]:
    for limit in model.find("<Limit"):
        if not limit.args or not _limits_access(limit):
            continue
        opened = _open_methods(model, limit)
        if not opened:
            continue
        listed = " ".join(limit.args)
        yield rule.finding(
            f"<Limit {listed}> holds the access control, so it binds only {listed}: "
            f"{', '.join(opened)} and every other method pass without it; use "
            f"<LimitExcept> for the methods that stay open, or no <Limit> at all",
            limit,
        )


# -- SEC024 (policy) --------------------------------------------------------------------

_WRITES = ("PUT", "DELETE", "PATCH")


def _unlimited_roots(model, allowed: list[str]):
    """The compute for `per_shape`: (prefix, its line as a `_ref`, the write methods that
    pass) for each content root and ScriptAlias where one passes."""

    def compute(vhost, lines):
        roots = content_roots(model, vhost)
        roots += [
            (d.args[0], d)
            for d in merge.aliases(model, vhost)
            if d.lname == "scriptalias" and len(d.args) == 2
        ]
        found = []
        for prefix, at in roots:
            passed = []
            for method in _WRITES:
                if method in allowed:
                    continue
                _, answer = ask(model, vhost, prefix, method)
                if answer is None or answer.access != outcome.ALLOWED:
                    continue
                deciding = answer.deciding
                if (
                    answer.status == 405
                    and deciding is not None
                    and deciding.lname == "allowmethods"
                ):
                    continue  # AllowMethods refuses it
                passed.append(method)
            found.append((prefix, _ref(at, vhost, lines), passed))
        return found

    return compute


@check("SEC024")
def methods_unrestricted(model, rule, settings) -> Iterator[Finding]:
    allowed = [m.upper() for m in rule.param("allowed", settings)]
    done: set[int] = set()
    memo = f"SEC024 {' '.join(allowed)}"
    for vhost, lines, roots in per_shape(model, memo, _unlimited_roots(model, allowed)):
        for prefix, ref, passed in roots:
            at = _deref(ref, vhost, lines)
            key = id(at) if at is not None else id(vhost)
            if key in done or not passed:
                continue
            done.add(key)
            yield rule.finding(
                f"{server_label(vhost)}: {', '.join(passed)} {prefix} pass access control "
                f"(nothing limits the methods there); allow only {', '.join(allowed)}: "
                f"<LimitExcept {' '.join(m for m in allowed if m != 'HEAD')}> Require all "
                "denied </LimitExcept> (or AllowMethods)",
                at,
                model=model,
            )


# -- SEC025 (filesystem) ----------------------------------------------------------------

# The sample CGI scripts httpd's install puts in cgi-bin (CIS 5.5: printenv, 5.6: test-cgi).
_SAMPLE_CGI = ("printenv", "printenv.vbs", "printenv.wsf", "test-cgi")


@check("SEC025")
def sample_cgi_present(model, rule, settings) -> Iterator[Finding]:
    done: set[str] = set()
    fence = model.config.confine
    for node in model.find("ScriptAlias"):
        if len(node.args) != 2:
            continue
        # Relative to ServerRoot: mod_alias's try_alias_list runs ap_server_root_relative
        # on the path it maps each request to (the directive itself keeps the text).
        target = os.path.normpath(os.path.join(model.config.server_root, node.args[1]))
        if target in done or (fence is not None and not fence.inside(target)):
            continue
        done.add(target)
        found = [n for n in _SAMPLE_CGI if os.path.isfile(os.path.join(target, n))]
        if found:
            yield rule.finding(
                f"{_show(node)}: {target} holds {', '.join(found)}, httpd's sample CGI "
                f"scripts: anyone who asks for {node.args[0].rstrip('/')}/{found[0]} gets "
                "the server's environment and settings; delete them",
                node,
            )
