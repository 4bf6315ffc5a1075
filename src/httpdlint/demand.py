"""Demand: how many workers httpd and its PHP-FPM pools needed, beside their limits.

Sizing says how many workers fit; this module says how many were needed, from what the
servers themselves report:

* mod_status (`?auto`) of the running httpd, fetched from a loopback address the
  configuration serves it on (a `<Location>` with `SetHandler server-status`, a Listen on
  127.0.0.1, ::1 or every address); over a sampling window the busiest look is kept.
* PHP-FPM's status page (`pm.status_path`) of each running pool, fetched over FastCGI
  (fastcgi.py) from `pm.status_listen` when set, else from the pool's own listener: its
  counters "max children reached" and "max active processes" run since the pool started.
* The limit messages (history.py holds them all: every MPM's, mod_proxy's and PHP-FPM's)
  written to httpd's and PHP-FPM's error logs since the parent started.

Both status requests count themselves: a status page served by httpd occupies one worker,
one served by a pool occupies one of its processes; that one is taken off. Every fetch is
bounded (2 s, 64 KiB); a page that cannot be fetched leaves its figures null and says why.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from httpdlint import fastcgi
from httpdlint.errors import ConfigError
from httpdlint.history import LogMessage, error_log_paths, messages_since
from httpdlint.measure import Measurement
from httpdlint.procfs import started_at

__all__ = [
    "STATUS_LIMIT",
    "STATUS_TIMEOUT",
    "DemandWatch",
    "fetch_fpm_status",
    "fetch_server_status",
    "fpm_error_log",
    "parse_auto",
    "parse_fpm_status",
    "render_lines",
    "status_urls",
]

STATUS_TIMEOUT = 2.0
STATUS_LIMIT = 64 * 1024

# --------------------------------------------------------------------------- mod_status

_LOOPBACK_V4 = ("127.0.0.1", "0.0.0.0", "*", "")
_LOOPBACK_V6 = ("::1", "::")


def _listen_hosts(model) -> list[tuple[str, int]]:
    """(host to connect to, port) for each Listen reachable on loopback, plain HTTP only."""
    out: list[tuple[str, int]] = []
    for d in model.find("Listen"):
        if not d.args:
            continue
        if len(d.args) > 1 and d.args[1].lower() != "http":
            continue  # `Listen 443 https`: this client speaks plain HTTP only
        host, _, port = d.args[0].rpartition(":")
        host = host.strip("[]")
        if not port.isdigit():
            continue
        if host in _LOOPBACK_V4 or host.startswith("127."):
            target = host if host.startswith("127.") else "127.0.0.1"
        elif host in _LOOPBACK_V6:
            target = "::1"
        else:
            continue
        if int(port) == 443:
            continue
        if (target, int(port)) not in out:
            out.append((target, int(port)))
    return out


def status_urls(model) -> list[str]:
    """`http://127.0.0.1:PORT/LOCATION?auto` for each loopback Listen and each `<Location>`
    that sets `SetHandler server-status`; none when status_module is not loaded."""
    if model is None or not model.has_module("status_module"):
        return []
    locations: list[str] = []
    for d in model.find("SetHandler"):
        section = d.parent
        if not d.args or d.args[0].lower() != "server-status":
            continue
        if section is None or section.lname != "<location" or not section.args:
            continue
        path = section.args[0]
        if path.startswith("/") and path not in locations:
            locations.append(path)
    urls = []
    for host, port in _listen_hosts(model):
        shown = f"[{host}]" if ":" in host else host
        urls.extend(f"http://{shown}:{port}{quote(path, safe='/%')}?auto" for path in locations)
    return urls


def parse_auto(text: str) -> dict[str, Any] | None:
    """BusyWorkers, IdleWorkers and the scoreboard of a mod_status `?auto` page (2.2, 2.4);
    None when the text has no BusyWorkers line (not a status page)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    busy, idle = values.get("BusyWorkers"), values.get("IdleWorkers")
    if busy is None or not busy.isdigit():
        return None
    board = values.get("Scoreboard", "")
    counts: dict[str, int] = {}
    for char in board:
        counts[char] = counts.get(char, 0) + 1
    return {
        "busy": int(busy),
        "idle": int(idle) if idle and idle.isdigit() else None,
        "scoreboard": counts,
        "slots": len(board),
    }


# A status page is fetched from this machine, never through a proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch_server_status(url: str, timeout: float = STATUS_TIMEOUT) -> dict[str, Any]:
    """parse_auto of `url`; OSError (with why) when it is not a readable status page."""
    request = urllib.request.Request(url, headers={"Host": "localhost"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(STATUS_LIMIT + 1)
    except urllib.error.HTTPError as exc:
        raise OSError(f"{url}: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise OSError(f"{url}: {exc.reason}") from None
    except ValueError as exc:  # http.client.InvalidURL: a Location no request line can carry
        raise OSError(f"{url}: {exc}") from None
    if len(body) > STATUS_LIMIT:
        raise OSError(f"{url}: larger than {STATUS_LIMIT} bytes: not a status page")
    parsed = parse_auto(body.decode("utf-8", "replace"))
    if parsed is None:
        raise OSError(f"{url}: no BusyWorkers: not mod_status's ?auto page")
    return parsed


# --------------------------------------------------------------------------- PHP-FPM status


def parse_fpm_status(stdout: bytes) -> dict[str, Any]:
    """The JSON of a status page answered over FastCGI (CGI headers, a blank line, the body);
    ValueError when it is not one (a `Status: 404` of a pool without that path, say)."""
    head, sep, body = stdout.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = stdout.partition(b"\n\n")
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "status" and not value.strip().startswith("2"):
            raise ValueError(f"status {value.strip()}")
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        raise ValueError("not JSON: is pm.status_path the path asked for?") from None
    if not isinstance(data, dict) or "max children reached" not in data:
        raise ValueError("not PHP-FPM's status page")
    return data


def fetch_fpm_status(address: str, path: str, timeout: float = STATUS_TIMEOUT) -> dict[str, Any]:
    """A pool's status page (`?json`) from `address` (`unix:/path`, `tcp:HOST:PORT`)."""
    params = {
        "SCRIPT_NAME": path,
        "SCRIPT_FILENAME": path,
        "REQUEST_URI": f"{path}?json",
        "DOCUMENT_URI": path,
        "QUERY_STRING": "json",
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
    }
    stdout, _ = fastcgi.request(address, params, timeout=timeout, limit=STATUS_LIMIT)
    return parse_fpm_status(stdout)


def fpm_error_log(config) -> str | None:
    """PHP-FPM's error log: `error_log` of [global], relative to the state directory
    (/var for packages, PREFIX/var for a build under /usr/local, the -p prefix otherwise);
    None for syslog. Unset, php-fpm writes log/php-fpm.log there."""
    log = config.settings.get("error_log") or "log/php-fpm.log"
    if log.startswith("syslog"):
        return None
    if log.startswith("/"):
        return log
    prefix = config.prefix
    state = "/var" if prefix == "/usr" else f"{prefix}/var" if prefix == "/usr/local" else prefix
    return os.path.join(state, log)


# --------------------------------------------------------------------------- the watch


@dataclass
class _Server:
    url: str
    peak: int | None = None
    idle: int | None = None
    scoreboard: dict[str, int] = field(default_factory=dict)
    looks: int = 0
    error: str | None = None


@dataclass
class _Pool:
    master: Any  # fpm.FpmMaster
    pool: Any  # fpm.FpmPool
    address: str | None
    path: str | None
    status: dict[str, Any] | None = None
    active_peak: int | None = None
    looks: int = 0
    error: str | None = None


def _status_address(pool) -> str | None:
    from httpdlint.fpm import listen_address

    listen = pool.settings.get("pm.status_listen")
    return listen_address(listen) if listen else pool.listen


class DemandWatch:
    """Looks at the status pages (`look()`, once per sample) and, at the end, puts the demand
    of each server and pool into a Measurement (`attach`)."""

    def __init__(self, model, masters: list | None = None):
        from httpdlint.fpm import find_fpm_masters

        self.model = model
        self.logs = True
        self.servers = [_Server(url) for url in status_urls(model)]
        if masters is None:
            masters = find_fpm_masters()
        self.pools: list[_Pool] = []
        for master in masters:
            for pool in master.pools:
                path = pool.settings.get("pm.status_path") or None
                self.pools.append(_Pool(master, pool, _status_address(pool), path))

    def look(self) -> None:
        """Read every status page once; keep the busiest look of each."""
        for server in self.servers:
            try:
                page = fetch_server_status(server.url)
            except OSError as exc:
                server.error = str(exc)
                continue
            server.looks += 1
            busy = max(0, page["busy"] - 1)  # this request is one of them
            if server.peak is None or busy >= server.peak:
                # Idle workers and scoreboard of the busiest look, beside its busy count.
                server.peak, server.idle, server.scoreboard = busy, page["idle"], page["scoreboard"]
        for pool in self.pools:
            if pool.path is None or pool.address is None:
                continue
            try:
                status = fetch_fpm_status(pool.address, pool.path)
            except (OSError, ValueError) as exc:
                pool.error = f"{pool.address} {pool.path}: {exc}"
                continue
            pool.looks += 1
            pool.status = status
            active = max(0, int(status.get("active processes", 0)) - 1)
            pool.active_peak = active if pool.active_peak is None else max(pool.active_peak, active)

    def attach(
        self, measurement: Measurement, server_pid: int | None = None, *, logs: bool = True
    ) -> None:
        """Set `demand` on each httpd tree and fill `measurement.pools` (`logs`: with the
        limit messages of the error logs)."""
        self.logs = logs
        if not any(s.looks for s in self.servers) or any(
            p.path and not p.looks for p in self.pools
        ):
            self.look()  # a page unreachable while busy may answer now
        fits, pool_fits, why = _fits(self.model, measurement)
        mine = _own_tree(measurement, server_pid)
        httpd_logs = error_log_paths(self.model, measurement)
        proxy_messages: list[LogMessage] = []
        for tree in measurement.trees:
            started = started_at(tree.parent.pid)
            messages = _read(httpd_logs if tree is mine and logs else [], started)
            proxy = [m for m in messages if m.kind in ("refused", "disabled", "failed")]
            proxy_messages.extend(proxy)
            sized = tree is measurement.tree
            tree.demand = self._server_demand(
                tree is mine,
                messages,
                fits if sized else None,
                why if sized else "sizing is of the server with most children",
            )
        measurement.pools = [
            self._pool_demand(p, measurement, pool_fits, why, proxy_messages) for p in self.pools
        ]

    def _server_demand(self, ours: bool, messages: list[LogMessage], fits, why) -> dict:
        from httpdlint.mpm import workers_directive

        seen = [s for s in self.servers if s.looks] if ours else []
        peak = max((s.peak for s in seen if s.peak is not None), default=None)
        limit = name = None
        if ours and self.model is not None and self.model.mpm is not None:
            name = workers_directive(self.model.version)
            limit = self.model.mpm.effective.get(name)
        reached = [m for m in messages if m.kind in ("reached", "scoreboard-full")]
        if not ours:
            source = "not the server of the configuration read"
        elif seen:
            source = f"mod_status {seen[0].url}, {seen[0].looks} look(s)"
        elif self.servers:
            source = f"mod_status unreachable: {self.servers[0].error}"
        else:
            source = "no mod_status: status_module with a <Location> on a loopback Listen"
        return {
            "busy_peak": peak,
            "idle": seen[0].idle if seen else None,
            "scoreboard": seen[0].scoreboard if seen else None,
            "limit": int(limit) if limit is not None else None,
            "limit_directive": name,
            "fits": fits,
            "fits_note": None if fits is not None else why,
            "reached": bool(reached) or (peak is not None and limit is not None and peak >= limit),
            "reached_times": len(reached),
            "messages": [m.to_json() for m in messages],
            "source": source,
        }

    def _pool_demand(self, p: _Pool, measurement: Measurement, pool_fits, why, proxy) -> dict:
        log = fpm_error_log(p.master.config) if p.master.config else None
        started = started_at(p.master.pid)
        logs = [log] if log and self.logs else []
        messages = [m for m in _read(logs, started) if m.pool in (None, p.pool.name)]
        messages += [m for m in proxy if _names(m.text, p.pool.listen)]
        status = p.status or {}
        peak = status.get("max active processes")
        if p.active_peak is not None:
            peak = max(peak or 0, p.active_peak)
        reached_count = status.get("max children reached")
        name = f"php-fpm {p.pool.name}"
        if p.path is None:
            source = "no pm.status_path"
        elif p.status is not None:
            source = f"status page {p.path} over FastCGI at {p.address}, {p.looks} look(s)"
        else:
            source = f"status page unreachable: {p.error}"
        if log:
            source += f"; log {log}"
        fit = pool_fits.get(name)
        return {
            "pool": p.pool.name,
            "master": p.master.pid,
            "config": p.master.conf,
            "listen": p.pool.listen,
            "pm": p.pool.pm,
            "demand": {
                "busy_peak": peak,
                "active": status.get("active processes"),
                "idle": status.get("idle processes"),
                "total": status.get("total processes"),
                "max_children_reached": reached_count,
                "listen_queue": status.get("listen queue"),
                "max_listen_queue": status.get("max listen queue"),
                "limit": p.pool.max_children,
                "limit_directive": "pm.max_children",
                "fits": fit,
                "fits_note": None if fit is not None else why or "not a pool httpd sends to",
                "reached": bool(reached_count)
                or any(m.code == "fpm-max-children" for m in messages),
                "messages": [m.to_json() for m in messages],
                "source": source,
            },
        }


def _names(text: str, address: str) -> bool:
    """Whether a proxy error line names this listener (`HOST:PORT`, or the socket path)."""
    target = address.split(":", 1)[1] if ":" in address else address
    return bool(target) and target in text


def _own_tree(measurement: Measurement, pid: int | None):
    if pid is not None:
        return next((t for t in measurement.trees if t.parent.pid == pid), None)
    return measurement.trees[0] if len(measurement.trees) == 1 else None


def _read(paths: list[str], since: float | None) -> list[LogMessage]:
    """The limit messages of `paths` written since `since`, oldest first."""
    out: list[LogMessage] = []
    for path in dict.fromkeys(paths):
        try:
            out.extend(messages_since(path, since))
        except OSError:
            continue  # unreadable or not a regular file: history's warnings say so
    out.sort(key=lambda m: m.time)
    return out


def _fits(model, measurement: Measurement) -> tuple[int | None, dict[str, int], str | None]:
    """(workers that fit, pm.max_children that fit per pool term, why none) from the sizing
    of what was measured (suggest's arithmetic, no second measurement)."""
    from httpdlint import suggest as sg
    from httpdlint.inputs import SizingOptions
    from httpdlint.mpm import workers_directive

    if measurement.tree is None:
        return None, {}, "no running httpd to size"
    try:
        s = sg.suggest(model, SizingOptions(), measured=measurement, logs=False)
    except ConfigError as exc:
        return None, {}, f"no sizing: {exc}"
    if s.recommendation is None:
        return None, {}, s.gathered.declined or "no sizing"
    pools = {name: v["pm.max_children"] for name, v in s.recommendation.pools.items()}
    return s.recommendation.settings.get(workers_directive(s.sizing.version)), pools, None


def render_lines(measurement: Measurement) -> tuple[dict[int, str], list[str]]:
    """The text report's demand line per httpd parent PID, and one line per pool."""
    servers: dict[int, str] = {}
    for tree in measurement.trees:
        d = getattr(tree, "demand", None)
        if d:
            servers[tree.parent.pid] = "  demand: " + _server_text(d)
    pools = [
        f"php-fpm pool {p['pool']} (master {p['master']}): demand: {_pool_text(p['demand'])}"
        for p in getattr(measurement, "pools", [])
    ]
    return servers, pools


def _of(d: dict, peak_word: str) -> str:
    peak = "unknown" if d["busy_peak"] is None else str(d["busy_peak"])
    text = f"{peak_word} {peak}"
    if d["limit"] is not None:
        text += f" of {d['limit_directive']} {d['limit']}"
    return text + (f" (fits {d['fits']})" if d["fits"] is not None else " (fits: unknown)")


def _said(messages: list[dict]) -> str:
    if not messages:
        return "no limit message since start"
    codes = list(dict.fromkeys(m["code"] for m in messages))
    return f"{len(messages)} limit message(s) since start ({', '.join(codes)})"


def _server_text(d: dict) -> str:
    text = _of(d, "busy peak")
    if d["reached_times"]:
        text += f"; limit reached {d['reached_times']} times"
    elif d["reached"]:
        text += "; limit reached"
    return f"{text}; {_said(d['messages'])}; {d['source']}"


def _pool_text(d: dict) -> str:
    reached = d["max_children_reached"]
    text = f"max children reached {'unknown' if reached is None else reached}, "
    text += _of(d, "active peak")
    if d["reached"]:
        text += "; limit reached"
    return f"{text}; {_said(d['messages'])}; {d['source']}"
