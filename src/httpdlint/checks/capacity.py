"""Capacity and MPM checks: the settings behind out-of-memory outages."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..findings import Finding
from ..mpm import compiled_defaults, recycle_directive, workers_directive
from ..registry import check
from ..syntax import Directive

# Modules that run application code inside every httpd child.
EMBEDDED = {
    "perl_module": "mod_perl",
    "php_module": "mod_php",
    "php5_module": "mod_php5",
    "php7_module": "mod_php7",
    "php8_module": "mod_php8",
    "python_module": "mod_python",
    "wsgi_module": "mod_wsgi",
}


def mpm_block(model) -> Directive | None:
    """Where the loaded MPM's settings belong: its `<IfModule>` block, else its LoadModule."""
    short = model.mpm_name
    names = {f"mpm_{short}_module", f"{short}.c", f"mod_mpm_{short}.c"}
    block = model.config.modules.get(f"mpm_{short}_module")
    for node in model.config.exec_directives:
        if node.lname == "<ifmodule" and node.args and node.args[0].rstrip(">") in names:
            block = node
    return block


def _setting(model, *names: str) -> Directive | None:
    """The last server-level directive among `names` (old and new names share one setting)."""
    wanted = {n.lower() for n in names}
    found = None
    for d in model.config.tree:
        if d.lname in wanted:
            found = d
    return found


@check("CAP001")
def missing_max_request_workers(model, rule, settings) -> Iterator[Finding]:
    if model.mpm_name is None:
        return
    name = workers_directive(model.version)
    names = ("MaxClients",) if model.version == "2.2" else ("MaxRequestWorkers", "MaxClients")
    if _setting(model, *names) is not None:
        return
    effective = _effective(model)
    value = effective[name]
    extra = ""
    if model.mpm_name == "prefork":
        extra = f" (ServerLimit {effective['ServerLimit']})"
    else:
        tpc = effective["ThreadsPerChild"]
        extra = f" ({value // max(tpc, 1)} processes of {tpc} threads)"
    block = mpm_block(model)
    where = {"at": block} if block is not None else {"model": model}
    yield rule.finding(
        f"no {name} for the {model.mpm_name} MPM that is loaded: httpd uses its compiled "
        f"default of {value}{extra}; size it to the memory the server has"
        + _elsewhere(model, names),
        **where,
    )


def _effective(model) -> dict:
    """The MPM's settings as httpd runs them, or its compiled defaults without a model."""
    if model.mpm is not None:
        return model.mpm.effective
    return compiled_defaults(model.mpm_name, model.version)


def _elsewhere(model, names: tuple[str, ...]) -> str:
    """The same setting in a block httpd skipped (another MPM's), which misleads readers."""
    wanted = {n.lower() for n in names}
    for cond, file, line, word, rest in model.config.skipped:
        if word.lower() in wanted:
            label = cond.raw.rstrip(">").strip()
            return (
                f" ({word} {rest.strip()} at {os.path.basename(file)}:{line} is inside "
                f"<{cond.name[1:]} {label}>, which httpd skips)"
            )
    return ""


@check("CAP002")
def unbounded_child_lifetime(model, rule, settings) -> Iterator[Finding]:
    embedded = [i for i in EMBEDDED if i in model.config.modules]
    if "wsgi_module" in embedded and model.find("WSGIDaemonProcess"):
        embedded.remove("wsgi_module")  # daemon mode runs the application outside the children
    if not embedded or model.mpm_name is None:
        return
    name = recycle_directive(model.version)
    node = _setting(model, "MaxRequestsPerChild", "MaxConnectionsPerChild")
    if _effective(model)[name] != 0:
        return
    mods = ", ".join(EMBEDDED[i] for i in embedded)
    how = f"{node.name} 0" if node is not None else f"{name} is unset (httpd's default is 0)"
    where = node or model.config.modules.get(embedded[0])
    loc = {"at": where} if where is not None else {"model": model}
    yield rule.finding(
        f"{how} while {mods} runs inside every child: children never exit, so a leak in "
        f"embedded code grows each one until memory runs out; set {name} to a few thousand",
        **loc,
    )


def _number(node: Directive | None, default: int) -> int | None:
    if node is None:
        return default
    try:
        return int(node.args[0])
    except (IndexError, ValueError):
        return None


@check("CAP004")
def keepalive_timeout_long(model, rule, settings) -> Iterator[Finding]:
    if model.mpm_name is None:
        return
    for node in model.each_scope("KeepAliveTimeout"):
        value = _number(node, 5)
        if value is None or value <= 15:
            continue
        if model.mpm_name == "event":
            cost = "on event an idle connection costs a socket, not a worker"
            severity = "info"
        else:
            unit = "child process" if model.mpm_name == "prefork" else "thread"
            cost = f"on {model.mpm_name} every idle keep-alive connection holds a whole {unit}"
            severity = "warning"
        yield rule.finding(
            f"KeepAliveTimeout {value} s: {cost} for up to {value} s after each response; "
            "2 to 5 s is enough for a page's resources",
            node,
            severity=severity,
        )


@check("CAP005")
def timeout_long(model, rule, settings) -> Iterator[Finding]:
    node = model.server_directive("Timeout")
    default = 300 if model.version == "2.2" else 60
    value = _number(node, default)
    # Flagged above `above` seconds: 59 by default (httpd 2.4's own 60 s is an info), a
    # benchmark's own limit under its profile (CIS: 10).
    above = rule.param("above", settings)
    if value is None or value <= above:
        return
    where = {"at": node} if node else {"model": model}
    how = f"Timeout {value}" if node else f"Timeout is unset, so httpd's default {value} s applies"
    advice = (
        f"the {settings.profile} profile wants {above} s or less"
        if settings.profile and rule.in_profile(settings.profile)
        else "20 to 30 s suits most sites"
    )
    yield rule.finding(
        f"{how}: a client that sends or reads one byte per {value} s holds a worker that long, "
        f"which makes slow-client attacks cheap; {advice}",
        severity="info" if value == 60 and above == 59 else "warning",
        **where,
    )


@check("CAP006")
def hostname_lookups_on(model, rule, settings) -> Iterator[Finding]:
    for node in model.find("HostnameLookups"):
        if node.args and node.args[0].lower() in ("on", "double"):
            yield rule.finding(
                f"HostnameLookups {node.args[0]}: every request waits for a reverse DNS lookup "
                "before it is logged, tying a worker to the resolver's latency",
                node,
            )


PHP = ("php_module", "php5_module", "php7_module", "php8_module")


@check("CAP007")
def php_threaded_mpm(model, rule, settings) -> Iterator[Finding]:
    if model.mpm_name not in ("worker", "event"):
        return
    for ident in PHP:
        if ident in model.config.modules:
            node = model.config.modules[ident]
            where = {"at": node} if node else {"model": model}
            yield rule.finding(
                f"{ident} is loaded with the {model.mpm_name} MPM: mod_php and the extensions "
                "it links are not thread-safe in common builds; use prefork, or PHP-FPM "
                "through mod_proxy_fcgi",
                **where,
            )


@check("CAP008")
def no_reqtimeout(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.4" or model.has_module("reqtimeout_module"):
        return
    yield rule.finding(
        "mod_reqtimeout is not loaded: a client may take up to Timeout seconds for each "
        "packet of its request headers and body, so a few slow clients hold every worker",
        model=model,
    )


@check("CAP011")
def no_mpm_loaded(model, rule, settings) -> Iterator[Finding]:
    if model.version == "2.4" and model.mpm_name is None:
        yield rule.finding(
            "no MPM is loaded (LoadModule mpm_event_module, mpm_worker_module or "
            "mpm_prefork_module): httpd refuses to start",
            model=model,
            httpd_code="AH00534",
        )


def _above_limit(adj, limit_name: str) -> bool:
    return adj.setting == limit_name and "ServerLimit" in adj.message and not adj.fatal


def _adjustments(model) -> Iterator:
    """httpd's startup adjustments, once each (2.2 reads twice and may say a thing twice)."""
    if model.mpm is None:
        return
    seen = set()
    for adj in model.mpm.adjustments:
        key = (adj.message, adj.file, adj.line)
        if key in seen or adj.level == "info":
            continue
        seen.add(key)
        yield adj


def _at(model, adj) -> dict:
    if adj.file and adj.line:
        return {"file": adj.file, "line": adj.line}
    block = mpm_block(model)
    return {"at": block} if block is not None else {"model": model}


@check("CAP003")
def max_workers_above_limit(model, rule, settings) -> Iterator[Finding]:
    for adj in _adjustments(model):
        if _above_limit(adj, model.mpm.limit_name):
            yield rule.finding(
                f"{adj.message} (httpd lowers it at startup)",
                httpd_code=adj.code,
                **_at(model, adj),
            )


@check("CAP010")
def mpm_startup_adjustment(model, rule, settings) -> Iterator[Finding]:
    for adj in _adjustments(model):
        if _above_limit(adj, model.mpm.limit_name):
            continue  # CAP003
        if adj.fatal:
            severity, note = "error", "httpd refuses to start"
        elif adj.code is None and adj.stage == "run":
            severity, note = "info", "httpd changes this silently when it starts"
        else:
            severity, note = "warning", "httpd changes this at startup"
        yield rule.finding(
            f"{adj.message} ({note})", severity=severity, httpd_code=adj.code, **_at(model, adj)
        )


@check("CAP009")
def memory_overcommit(model, rule, settings) -> Iterator[Finding]:
    """More children allowed than fit: the one worst case `suggest` prints, and its limit."""
    from ..capacity import CapacityError, mib, recommend, within, worst_case

    sizing = settings.sizing
    if sizing is None or model.mpm is None or model.mpm.fatal:
        return
    needed = model.mpm.processes_needed()
    try:
        fits = recommend(sizing)
    except CapacityError as exc:
        fits, why = None, str(exc)
    if fits is not None and needed <= fits.processes:
        return
    name = model.mpm.limit_name
    value = model.mpm.max_workers
    node = _setting(model, *(("MaxClients",) if model.version == "2.2" else (name, "MaxClients")))
    how = f"{name} {value}" if node is not None else f"no {name}, so httpd's default {value}"
    worst = worst_case(sizing, needed)
    limit = f"{mib(sizing.ram)} RAM"
    if fits is not None and fits.binding[0] != "host":
        # A cgroup limit binds: the worst case of what is inside it, against it.
        c = next(c for c in sizing.constraints if c.name == fits.binding[0])
        worst = worst_case(within(sizing, c), needed)
        limit = f"{mib(c.limit)} ({c.name})"
    if fits is None:
        verdict = why
    elif model.mpm_name == "prefork":
        verdict = f"at most {fits.workers} fit"
    else:
        verdict = f"at most {fits.workers} fit ({fits.processes} processes)"
    block = mpm_block(model)
    yield rule.finding(
        f"{how}: worst case {worst.text} > {limit}; {verdict}: `httpdlint suggest` sizes it",
        node or block,
        model=model,
    )
