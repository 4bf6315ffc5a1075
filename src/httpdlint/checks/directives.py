"""Directive checks: names httpd does not know, directives where httpd refuses them, modules
not loaded, directives newer than the tree's version, undefined variables, <IfModule> names
no module has, LoadModule twice, the MPM count, authz providers not loaded."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator

from .. import knowledge
from ..facts import (
    _ACCEPTED_PREFIX,
    ACCEPTED,
    DOCUMENTED_ABSENT,
    EXTRA_24,
    MANUAL_CONTEXT,
    MEASURED_MODULES,
    NOT_ON_UNIX,
    REFUSED,
    REJECTED,
    REMOVED_UNDOCUMENTED,
    SECTION_WORD,
    SYNTAX_ERROR,
    contexts_for,
    entry_for,
    in_version,
    required_module,
    third_party_family,
    third_party_module_names,
)
from ..findings import Finding
from ..redact import bounded
from ..registry import check
from ..scopes import _INNER_CLASSES, RAW, Pass, Where, context_pass, nodes_named, reaches, unique
from ..syntax import Directive, split_args


def _unknown_loaded_modules(model) -> list[str]:
    """Loaded modules whose directives httpdlint cannot know."""
    known = set(knowledge.known_module_names()) | third_party_module_names()
    return sorted(
        ident
        for ident, node in model.config.modules.items()
        if node is not None and ident not in known
    )


def _is_known_anywhere(lname: str) -> bool:
    return (
        knowledge.directive(lname) is not None
        or lname in EXTRA_24
        or lname in REFUSED
        or lname in REMOVED_UNDOCUMENTED
    )


@unique
@check("COR001")
def unknown_directive(model, rule, settings) -> Iterator[Finding]:
    unknown_mods = _unknown_loaded_modules(model)
    perl_defines = bool(nodes_named(model, "PerlLoadModule")) and model.has_module("perl_module")
    for lname, items in context_pass(model).by_name.items():
        if lname in REFUSED:
            for node in items:
                yield rule.finding(
                    f'{node.name}: httpd refuses it: "{REFUSED[lname]}"',
                    node,
                    httpd_code=SYNTAX_ERROR,
                )
            continue
        if model.version == "2.4" and lname in DOCUMENTED_ABSENT:
            for node in items:
                yield rule.finding(
                    f"Invalid command '{node.name}': the manual documents it, but httpd "
                    f"2.4.71 does not know it ({DOCUMENTED_ABSENT[lname]}); current releases "
                    "refuse to start",
                    node,
                    httpd_code=SYNTAX_ERROR,
                    severity="warning",
                )
            continue
        if _is_known_anywhere(lname) or third_party_family(lname) is not None:
            continue
        guess = knowledge.suggest(lname, model.version)
        hint = f"; did you mean {guess}?" if guess and guess.lower() != lname else ""
        for node in items:
            shown = bounded(node.name + (">" if node.is_section else ""))
            if unknown_mods or perl_defines:
                owners = ", ".join(unknown_mods) or "a Perl module loaded with PerlLoadModule"
                yield rule.finding(
                    f"{shown} is not a directive of any httpd release or known module{hint} "
                    f"(unless {owners}, which httpdlint does not know, defines it)",
                    node,
                    severity="warning",
                )
                continue
            yield rule.finding(
                f"Invalid command '{shown}': no httpd release or known module defines "
                f"it{hint}; httpd refuses to start",
                node,
                httpd_code=SYNTAX_ERROR,
            )


def _measured(lname: str) -> bool:
    entry = knowledge.directive(lname)
    if entry is None or "2.4" not in entry["versions"]:
        return False
    ident, _ = required_module(lname, entry, "2.4")
    return ident is None or ident in MEASURED_MODULES


def context_verdict(lname: str, entry: dict, where: Where, version: str) -> str:
    """'ok'; 'refused' (the manual's contexts exclude it and httpd refuses it); 'checked'
    (the manual allows it but the module's own check refuses it here); or 'doubtful' (the
    manual says no, and httpd was not measured on it)."""
    cls = where.cls
    if cls is None:
        return "ok"
    if where.limit and lname in REJECTED["limit"]:
        return "checked"
    if lname in REJECTED.get(cls, ()):
        return "checked"
    allowed = contexts_for(entry, version)
    if MANUAL_CONTEXT[cls] in allowed:
        return "ok"
    if lname in ACCEPTED.get(cls, ()) or lname.startswith(_ACCEPTED_PREFIX.get(cls, ("\0",))):
        return "ok"
    if cls == "vhost" and not _measured(lname):
        return "doubtful"
    return "refused"


def _alias_refused(node: Directive, where: Where) -> str | None:
    """Why mod_alias refuses Alias/ScriptAlias here: two arguments only outside every
    section (NOT_IN_DIR_CONTEXT), one argument only outside <Directory> and <Files>."""
    if where.cls in (None, "top", "vhost") and not where.limit:
        return None
    if len(node.args) >= 2:
        return "with two arguments"
    parent = node.parent
    while parent is not None:
        if parent.lname in ("<directory", "<directorymatch", "<files", "<filesmatch"):
            return "with one argument"
        parent = parent.parent
    return None


# Where the two-argument Alias is refused, and where AllowOverride is useless.
_ALIAS_REFUSED_IN = _INNER_CLASSES


_NO_HTACCESS = ("<location", "<locationmatch", "<files", "<filesmatch")


@functools.cache
def _context_verdicts(lname: str, version: str) -> tuple[dict, tuple[str, ...], str] | None:
    """For a name httpd of `version` knows: its verdict in each (context class, inside
    <Limit>), the classes where it is not fine outside <Limit>, and the manual's contexts;
    None when no verdict is needed (unknown here, or allowed everywhere). The same for
    every tree, so computed once per name."""
    entry = entry_for(lname, version)
    if entry is None or (not in_version(entry, version) and lname not in knowledge.load().aliases):
        return None
    verdicts = {
        (cls, limit): context_verdict(lname, entry, Where(cls, limit, None, None), version)
        for cls in MANUAL_CONTEXT
        for limit in (False, True)
    }
    if all(v == "ok" for v in verdicts.values()):
        return None  # allowed everywhere: no need to look where each one stands
    bad = tuple(cls for (cls, limit), v in verdicts.items() if v != "ok" and not limit)
    return verdicts, bad, ", ".join(contexts_for(entry, version))


def _may_be_useless(ctx: Pass, lname: str) -> bool:
    """Whether some node of this name may lie inside <Location> or <Files>."""
    inside = ctx.names_in("location") + ctx.names_in("files")
    if lname in inside:
        return True
    if not any(name.startswith("<") for name in inside):
        return False  # no section nested in them: only their own nodes are inside
    return reaches(ctx.parents(lname), ctx.named_sections(_NO_HTACCESS))


@unique
@check("COR002")
def directive_not_allowed_here(model, rule, settings) -> Iterator[Finding]:
    version = model.version
    ctx = context_pass(model)
    for lname, items in ctx.by_name.items():
        if lname in ("alias", "scriptalias"):
            if not ctx.may_stand_in(lname, _ALIAS_REFUSED_IN):
                continue
            for node in items:
                where = ctx.where(node)
                why = _alias_refused(node, where)
                if why is not None:
                    yield rule.finding(
                        f"{node.name} {why} cannot occur within {_where_label(where)}: httpd "
                        "refuses to start (inside a section only the one-argument form, "
                        f"`{node.name} /target/path`, works, and only in <Location>)",
                        node,
                        httpd_code=SYNTAX_ERROR,
                    )
            continue
        if lname in ("allowoverride", "allowoverridelist") and _may_be_useless(ctx, lname):
            for node in items:
                where = ctx.where(node)
                if _inside(node, *_NO_HTACCESS):
                    yield rule.finding(
                        f"Useless use of {node.name} in {_where_label(where)}: httpd reads "
                        ".htaccess files per directory, so it applies only in <Directory>; "
                        "here it changes nothing",
                        node,
                        httpd_code="AH00114" if lname == "allowoverride" else "AH00115",
                        severity="warning",
                    )
        known = _context_verdicts(lname, version)
        if known is None:
            continue
        verdicts, bad, allowed = known
        if not ctx.may_stand_in(lname, bad):
            continue  # no node of this name stands where it is refused
        wheres = ctx.wheres
        for node in items:
            where = wheres.get(node.parent) or ctx.where(node)
            verdict = verdicts.get((where.cls, where.limit), "ok")
            if verdict == "ok":
                continue
            yield _context_finding(rule, node, where, verdict, lname, allowed)


def _inside(node: Directive, *sections: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.lname in sections:
            return True
        parent = parent.parent
    return False


def _context_finding(rule, node, where: Where, verdict: str, lname: str, allowed: str):
    name = node.name + (">" if node.is_section else "")
    if verdict == "doubtful":
        return rule.finding(
            f"{name} in {_where_label(where)}: the manual allows it only in {allowed}; "
            "httpd refuses it there or applies it to the whole server",
            node,
            severity="warning",
        )
    if verdict == "checked":
        inner = where.section.name[1:] if where.section is not None else "Limit"
        if where.limit and lname in REJECTED["limit"]:
            inner = "Limit> or <LimitExcept"
        return rule.finding(
            f'"{name} cannot occur within <{inner}> section": httpd refuses to start, '
            "although the manual lists the context; move it out of this section",
            node,
            httpd_code=SYNTAX_ERROR,
        )
    return rule.finding(
        f"{_httpd_says(name, where)}: httpd refuses to start; it belongs in: {allowed}",
        node,
        httpd_code=SYNTAX_ERROR,
    )


def _httpd_says(name: str, where: Where) -> str:
    """httpd's own words for a directive refused in this place."""
    if where.cls == "top" and not where.limit:
        return f'"{name} not allowed here" (outside every section)'
    if where.cls == "vhost" and not where.limit:
        return f'"{name} cannot occur within <VirtualHost> section"'
    return f'"{name} not allowed in {_where_label(where)}"'


def _where_label(where: Where) -> str:
    if where.cls == "top":
        return "the server config (outside every section)"
    if where.section is not None:
        label = f"<{where.section.name[1:]}> context"
    else:
        label = SECTION_WORD.get(where.cls or "", "this") + " context"
    if where.limit:
        label += " (inside <Limit>)"
    return label


_OWNED_BY_UPG = {"order", "allow", "deny", "satisfy"}


# A second module that registers the same directive (the manual's <directivesynopsis
# location=...> entries): mod_cgid takes mod_cgi's script log settings.
ALSO_IN = {
    "scriptlog": "cgid_module",
    "scriptloglength": "cgid_module",
    "scriptlogbuffer": "cgid_module",
}


# Compiled into some distributions' 2.2 binaries (Debian's apache2.2-bin), loaded by
# LoadModule in others (RHEL 5/6): a 2.2 tree without their LoadModule may still be right.
MAYBE_STATIC_22 = {"log_config_module", "logio_module"}


@unique
@check("COR003")
def module_not_loaded(model, rule, settings) -> Iterator[Finding]:
    for lname, items in context_pass(model).by_name.items():
        problem = _module_problem(model, lname)
        if problem is None:
            continue
        for node in items:
            name = node.name + (">" if node.is_section else "")
            message, severity = problem
            yield rule.finding(
                message.replace("{name}", name),
                node,
                httpd_code=SYNTAX_ERROR,
                severity=severity,
            )


def _module_problem(model, lname: str) -> tuple[str, str | None] | None:
    """Why httpd does not know this directive with the modules loaded: (message with a
    {name} placeholder, severity override), or None when it does."""
    version = model.version
    modules = model.config.modules
    mpm = model.mpm_name
    mpm_assumed = version == "2.2" and modules.get(f"mpm_{mpm}_module") is None
    family = third_party_family(lname) if knowledge.directive(lname) is None else None
    if family is not None and lname not in EXTRA_24:
        idents, sources, _, _ = family
        if any(i in modules for i in idents) or any(
            src in model.config.module_sources for src in sources
        ):
            return None
        return (
            "Invalid command '{name}': it belongs to the third-party module "
            f"{idents[0]}, which is not loaded; httpd refuses to start (LoadModule "
            f"{idents[0]} first, or guard it with <IfModule {idents[0]}>)",
            None,
        )
    entry = entry_for(lname, version)
    if version == "2.4" and lname in NOT_ON_UNIX:
        platform, severity = NOT_ON_UNIX[lname]
        return (
            f"Invalid command '{{name}}': it exists only in httpd built {platform}; "
            "httpd on Unix refuses to start",
            severity,
        )
    if lname in EXTRA_24 and version == "2.4" and (entry is None or not in_version(entry, version)):
        ident = EXTRA_24[lname]
        if ident == "core_module" or ident in modules:
            return None
        return _not_loaded_message(ident), None
    if entry is None or not in_version(entry, version):
        return None
    if version == "2.4" and lname in _OWNED_BY_UPG:
        return None  # UPG001 reports these with the 2.4 migration advice
    ident, mpms = required_module(lname, entry, version)
    if mpms is not None:
        if mpm is None or mpm in mpms:
            return None
        which = ", ".join(sorted(mpms))
        return (
            f"Invalid command '{{name}}': only the {which} MPM defines it, and the {mpm} MPM "
            f"is {'assumed' if mpm_assumed else 'loaded'}; httpd refuses to start (guard it "
            f"with <IfModule mpm_{sorted(mpms)[0]}_module>)",
            "warning" if mpm_assumed else None,
        )
    if ident is None or ident in modules or ALSO_IN.get(lname, "") in modules:
        return None
    if version == "2.2" and ident in MAYBE_STATIC_22:
        return None
    if ident.startswith("mpm_"):
        if mpm is None or mpm_assumed:
            return None
        return (
            f"Invalid command '{{name}}': only the {ident[4:-7]} MPM defines it, and the {mpm} "
            f"MPM is loaded; httpd refuses to start (guard it with <IfModule {ident}>)",
            None,
        )
    return _not_loaded_message(ident), None


def _not_loaded_message(ident: str) -> str:
    info = knowledge.module_by_identifier(ident)
    so = (info or {}).get("name") or "mod_" + ident[: -len("_module")]
    return (
        "Invalid command '{name}', perhaps misspelled or defined by a module not included "
        f"in the server configuration: it needs {so} (LoadModule {ident} "
        f"modules/{so}.so); httpd refuses to start"
    )


@unique
@check("COR004")
def newer_than_version(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.2":
        return
    for lname, items in context_pass(model).by_name.items():
        entry = knowledge.directive(lname)
        if entry is not None and "2.2" not in entry["versions"]:
            ident, _ = required_module(lname, entry, "2.4")
            if ident is not None and model.config.modules.get(ident) is not None:
                continue  # a 2.2 build of the module (mod_proxy_html, mod_remoteip backports)
            since = f" (added in {entry['since']})" if entry.get("since") else ""
        elif entry is None and lname in EXTRA_24:
            since = ""
        else:
            continue
        for node in items:
            name = node.name + (">" if node.is_section else "")
            yield rule.finding(
                f"Invalid command '{name}': it does not exist in Apache 2.2{since}; httpd 2.2 "
                "refuses to start",
                node,
            )


@unique
@check("COR011")
def undefined_variable(model, rule, settings) -> Iterator[Finding]:
    seen = set()
    for name, file, line in model.config.undefined:
        if (name, file, line) in seen:
            continue
        seen.add((name, file, line))
        yield rule.finding(
            f"Config variable ${{{name}}} is not defined: httpd keeps the text "
            f"'${{{name}}}' literally (Define it, or export it in the environment httpd "
            "starts with)",
            file=file,
            line=line,
            httpd_code="AH00111",
        )


_MODULE_FORM = re.compile(r"^(mod_[A-Za-z0-9_.+-]+\.(c|cpp)|[A-Za-z0-9_]+_module|mod_shib)$")


def _ifmodule_arg(node: Directive) -> str | None:
    raw = node.raw
    end = raw.rfind(">")
    arg = (raw[:end] if end >= 0 else raw).strip()
    if arg.startswith("!"):
        arg = arg[1:].strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        arg = arg[1:-1]
    return arg or None


def known_ifmodule_names(model) -> set[str]:
    return (
        set(knowledge.known_module_names())
        | third_party_module_names()
        | set(model.config.modules)
        | set(model.config.module_sources)
    )


def _module_guess(arg: str, known: set[str]) -> str | None:
    stem = arg.lower()
    for suffix in (".so", ".c", "_module"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    if stem.startswith("mod_"):
        stem = stem[4:]
    for candidate in (f"{stem}_module", f"mod_{stem}.c"):
        if candidate in known:
            return candidate
    import difflib

    close = difflib.get_close_matches(arg, sorted(known), n=1, cutoff=0.85)
    return close[0] if close else None


def _both_forms(name: str) -> str:
    """`ssl_module (or mod_ssl.c)` for a module the table knows, else the name."""
    entry = knowledge.module_by_identifier(name) or knowledge.module_by_sourcefile(name)
    if entry and entry.get("identifier") and entry.get("sourcefile"):
        first, second = (
            (entry["identifier"], entry["sourcefile"])
            if name == entry["identifier"]
            else (entry["sourcefile"], entry["identifier"])
        )
        return f"{first} (or {second})"
    return name


@unique
@check("COR012")
def unknown_ifmodule(model, rule, settings) -> Iterator[Finding]:
    known = known_ifmodule_names(model)
    guesses: dict[str, str | None] = {}  # by the argument: many blocks name the same module
    for node in model.config.exec_directives:
        if node.lname != "<ifmodule":
            continue
        arg = _ifmodule_arg(node)
        if arg is None or arg in known:
            continue
        negated = node.raw.lstrip().startswith("!")
        effect = "always applies" if negated else "never applies"
        if arg not in guesses:
            guesses[arg] = _module_guess(arg, known)
        guess = guesses[arg]
        if guess:
            yield rule.finding(
                f"<IfModule {'!' if negated else ''}{arg}> names no module, so the block "
                f"{effect}; did you mean {_both_forms(guess)}? (<IfModule> takes a module's "
                "identifier or its source file name, nothing else)",
                node,
            )
        elif not _MODULE_FORM.match(arg):
            yield rule.finding(
                f"<IfModule {'!' if negated else ''}{arg}> can match no module (<IfModule> "
                f"takes an identifier like rewrite_module or a file like mod_rewrite.c), so "
                f"the block {effect}",
                node,
            )
        else:
            yield rule.finding(
                f"<IfModule {'!' if negated else ''}{arg}>: no httpd release or well-known "
                f"third-party module has this name; unless a module of your own does, the "
                f"block {effect}",
                node,
                severity="info",
            )


@unique
@check("COR013")
def duplicate_load_module(model, rule, settings) -> Iterator[Finding]:
    first: dict[str, Directive] = {}
    for node in model.config.exec_directives:
        if node.lname != "loadmodule" or len(node.args) != 2:
            continue
        ident = node.args[0]
        prev = first.get(ident)
        if prev is None:
            first[ident] = node
            continue
        yield rule.finding(
            f"module {ident} is already loaded, skipping (first loaded at "
            f"{os.path.basename(prev.file)}:{prev.line}): this line does nothing",
            node,
            httpd_code="AH01574",
        )


@unique
@check("COR015")
def mpm_count(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.4":
        return
    loaded = [
        (ident, node)
        for ident, node in model.config.modules.items()
        if ident.startswith("mpm_") and ident.endswith("_module")
    ]
    # No MPM at all is CAP011's finding; reporting it here too would say it twice.
    for ident, node in loaded[1:]:
        first = loaded[0][0]
        where = {"at": node} if node is not None else {"model": model}
        yield rule.finding(
            f"More than one MPM loaded ({first} and {ident}): httpd refuses to start",
            httpd_code="AH00534",
            **where,
        )


AUTHZ_PROVIDERS = {
    "all": "authz_core_module",
    "env": "authz_host_module",
    "ip": "authz_host_module",
    "host": "authz_host_module",
    "forward-dns": "authz_host_module",
    "local": "authz_host_module",
    "method": "authz_core_module",
    "expr": "authz_core_module",
    "user": "authz_user_module",
    "valid-user": "authz_user_module",
    "group": "authz_groupfile_module",
    "file-owner": "authz_owner_module",
    "file-group": "authz_owner_module",
    "dbm-group": "authz_dbm_module",
    "dbm-file-group": "authz_dbm_module",
    "dbd-group": "authz_dbd_module",
    "ldap-user": "authnz_ldap_module",
    "ldap-group": "authnz_ldap_module",
    "ldap-dn": "authnz_ldap_module",
    "ldap-attribute": "authnz_ldap_module",
    "ldap-filter": "authnz_ldap_module",
    "ldap-search": "authnz_ldap_module",
}


@unique
@check("COR018")
def authz_provider_not_loaded(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.4" or not model.has_module("authz_core_module"):
        return
    aliases = {
        d.args[1].lower() for d in nodes_named(model, "<AuthzProviderAlias") if len(d.args) >= 2
    }
    modules = model.config.modules
    # The verdict depends on the words alone: judge each distinct argument text once
    # (a directive's words are those of its text, `split_args`).
    verdicts: dict[str, tuple[str, str] | None] = {}
    for raw in set(map(RAW, nodes_named(model, "Require"))):
        quick = '"' not in raw and "'" not in raw and "\\" not in raw
        args = raw.split(None, 2) if quick else split_args(raw)
        verdicts[raw] = _provider_missing(args, aliases, modules)
    if not any(verdicts.values()):
        return
    for node in nodes_named(model, "Require"):
        missing = verdicts[node.raw]
        if missing is None:
            continue
        word, ident = missing
        info = knowledge.module_by_identifier(ident)
        so = (info or {}).get("name", ident)
        yield rule.finding(
            f"Unknown Authz provider: {word}: `Require {word}` needs {so} (LoadModule "
            f"{ident}); httpd refuses to start",
            node,
            httpd_code=SYNTAX_ERROR,
        )


def _provider_missing(args: list[str], aliases: set[str], modules) -> tuple[str, str] | None:
    """(provider word, module identifier) when a Require line's provider is not loaded."""
    if not args:
        return None
    word = args[1] if args[0].lower() == "not" and len(args) > 1 else args[0]
    provider = word.lower()
    if provider in aliases:
        return None
    ident = AUTHZ_PROVIDERS.get(provider)
    if ident is None or ident in modules:
        return None
    return word, ident
