"""httpd's side: the FastCGI backends a configuration sends requests to, and their pools.

A memory sizer must count PHP-FPM's workers: they live outside httpd's process tree, and a
pool of `pm.max_children` workers can weigh more than httpd itself. This module finds which
pools serve httpd (fpm.py reads the pools themselves):

1. `proxied_backends(model)`: the FastCGI backends httpd sends requests to, read as
   mod_proxy and mod_proxy_fcgi read them (httpd 2.4's modules/proxy/mod_proxy.c and
   proxy_util.c): `SetHandler "proxy:..."`, `AddHandler "proxy:..." .php`, `ProxyPass`,
   `ProxyPassMatch` (also the one-argument form inside `<Location>`), `BalancerMember` and
   `RewriteRule ... [P]`. The `unix:/path|fcgi://host/` form names a Unix socket; a relative
   socket path is relative to DefaultRuntimeDir, as `ap_runtime_dir_relative` makes it; an
   `fcgi://` URL without a port means port 8000 (`pschemes` in proxy_util.c). Only fcgi
   backends are kept: http, ajp, scgi and the rest are other servers, not PHP-FPM pools.
   Left out: `<Proxy "fcgi://...">` sections (they set worker parameters and route no
   request), targets whose host, port or socket path holds a `$1` or `%{VAR}` (known only
   per request), and targets httpd could not parse (other rules report those).
2. `pools_for(backends, masters)` and `pools_from_files(backends)`: which pool, of the
   running masters or of php-fpm configurations on disk, serves each backend. A backend that
   no pool serves is kept, with `pool=None`, so the caller can say so.

No memory is read or computed here: the sizer measures the worker PIDs of the pools matched.
"""

from __future__ import annotations

import glob
import ipaddress
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .fpm import DEFAULT_CONF_PATHS, FpmConfig, FpmMaster, FpmPool, _tcp, read_fpm_config
from .syntax import Directive

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "FCGI_DEFAULT_PORT",
    "Backend",
    "PoolMatch",
    "fcgi_address",
    "pools_for",
    "pools_from_files",
    "proxied_backends",
]

#: The port of an `fcgi://host` URL that names none (proxy_util.c, `pschemes`).
FCGI_DEFAULT_PORT = 8000

# --------------------------------------------------------------------------- httpd's side


@dataclass(frozen=True)
class Backend:
    """One FastCGI backend of the httpd configuration.

    `address` is `unix:/abs/path` or `tcp:HOST:PORT` (an IPv6 host in brackets); `target` is
    the URL as the directive wrote it.
    """

    address: str
    target: str
    directive: Directive = field(compare=False, repr=False)
    file: str
    line: int


# Sections that give a directive a path (cmd->path in httpd), so ProxyPass takes one argument
# there; `<If>` sets it too ("*If"). `<Limit>` keeps its parent's.
_PATH_SECTIONS = frozenset(
    {
        "<location",
        "<locationmatch",
        "<directory",
        "<directorymatch",
        "<files",
        "<filesmatch",
        "<proxy",
        "<proxymatch",
        "<if",
        "<elseif",
        "<else",
    }
)
_TRANSPARENT_SECTIONS = frozenset({"<limit", "<limitexcept"})


def _path_section(d: Directive) -> Directive | None:
    """The enclosing section that sets httpd's cmd->path for `d`, if any."""
    parent = d.parent
    while parent is not None and parent.lname in _TRANSPARENT_SECTIONS:
        parent = parent.parent
    if parent is not None and parent.lname in _PATH_SECTIONS:
        return parent
    return None


def _handler_target(handler: str) -> str | None:
    # mod_proxy compares the "proxy:" prefix with strncmp: case matters.
    return handler[6:] if handler.startswith("proxy:") else None


def _sethandler_target(d: Directive) -> str | None:
    return _handler_target(d.args[0]) if len(d.args) == 1 else None


def _addhandler_target(d: Directive) -> str | None:
    # mod_mime lowercases the handler it stores (add_extension_info), socket path included.
    return _handler_target(d.args[0].lower()) if len(d.args) >= 2 else None


def _proxypass_target(d: Directive) -> str | None:
    """The backend URL of ProxyPass/ProxyPassMatch, as add_pass() picks its words."""
    words = d.args
    i = 0
    if _path_section(d) is None:
        if words[:1] == ["~"]:
            i = 1
        i += 1  # the local path or regex
    if i >= len(words) or words[i] == "!":
        return None
    return words[i]


def _balancermember_target(d: Directive) -> str | None:
    # add_member(): words with "=" are parameters; outside <Proxy> the first plain word is
    # the balancer's name and the second the member's URL.
    words = [w for w in d.args if "=" not in w]
    i = 0 if _path_section(d) is not None else 1
    return words[i] if i < len(words) else None


def _rewriterule_target(d: Directive) -> str | None:
    if len(d.args) < 3:
        return None
    flags = d.args[2].strip("[]").split(",")
    if any(f.split("=", 1)[0].strip().lower() in ("p", "proxy") for f in flags):
        return d.args[1]
    return None


_EXTRACTORS = (
    ("SetHandler", _sethandler_target),
    ("AddHandler", _addhandler_target),
    ("ProxyPass", _proxypass_target),
    ("ProxyPassMatch", _proxypass_target),
    ("BalancerMember", _balancermember_target),
    ("RewriteRule", _rewriterule_target),
)


def _runtime_dir(model: Model) -> str:
    """DefaultRuntimeDir (the last one read), relative to ServerRoot; httpd's default `logs`."""
    config = model.config
    runtime = "logs"
    for d in config.exec_directives:
        if d.lname == "defaultruntimedir" and d.args:
            runtime = d.args[0]
    return os.path.join(config.server_root, runtime)


def proxied_backends(model: Model) -> list[Backend]:
    """Every FastCGI backend the configuration sends requests to, in reading order."""
    runtime_dir = _runtime_dir(model)
    found: list[Backend] = []
    for name, target_of in _EXTRACTORS:
        for d in model.find(name):
            if not d.args:
                continue
            target = target_of(d)
            if target is None:
                continue
            address = fcgi_address(target, runtime_dir)
            if address is not None:
                found.append(Backend(address, target, d, d.file, d.line))
    found.sort(key=_tree_order(model))
    return found


def _tree_order(model: Model) -> Callable[[Backend], tuple[int, ...]]:
    """A sort key for backends: where their directive stands in the evaluated tree.

    File and line do not give httpd's reading order once Include is involved; the path of
    sibling indices from the root does. Each sibling list is indexed once, when first met.
    """
    indexes: dict[int, dict[int, int]] = {}

    def position(siblings: list[Directive], node: Directive) -> int:
        index = indexes.get(id(siblings))
        if index is None:
            index = indexes[id(siblings)] = {id(n): i for i, n in enumerate(siblings)}
        return index.get(id(node), len(siblings))

    def key(b: Backend) -> tuple[int, ...]:
        path = []
        node: Directive | None = b.directive
        while node is not None:
            parent = node.parent
            path.append(position(parent.children or [] if parent else model.tree, node))
            node = parent
        return tuple(reversed(path))

    return key


def _unresolved(text: str) -> bool:
    """A back-reference or variable: the value is known only per request."""
    return "%{" in text or re.search(r"\$\d|\$\{", text) is not None


def fcgi_address(target: str, runtime_dir: str = "/") -> str | None:
    """`unix:/path` or `tcp:HOST:PORT` for an fcgi URL (with or without a `unix:...|`
    socket), None for any other scheme or an address known only per request."""
    if target[:5].lower() == "unix:":
        bar = target.find("|", 5)
        if bar < 0 or target[bar + 1 : bar + 6].lower() != "fcgi:":
            return None
        path = _uds_path(target[5:bar])
        if path is None or _unresolved(path):
            return None
        # ap_runtime_dir_relative: a relative socket lives in DefaultRuntimeDir.
        return "unix:" + os.path.normpath(os.path.join(runtime_dir, path))
    if target[:7].lower() != "fcgi://":
        return None
    netloc = re.split(r"[/?#]", target[7:], maxsplit=1)[0].rpartition("@")[2]
    if _unresolved(netloc):
        return None
    split = _split_host_port(netloc, FCGI_DEFAULT_PORT)
    if split is None:
        return None
    return _tcp(*split)


def _uds_path(spec: str) -> str | None:
    """The socket path of `unix:SPEC` as apr_uri_parse() reads it (`/p`, `///p` or `p`)."""
    if spec.startswith("//"):
        slash = spec.find("/", 2)
        if slash < 0 or slash > 2:  # a host part: not a socket path httpd accepts
            return None
        spec = spec[slash:]
    spec = re.split(r"[?#]", spec, maxsplit=1)[0]
    return spec or None


def _split_host_port(netloc: str, default_port: int | None) -> tuple[str, int] | None:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            return None
        host, rest = netloc[1:end], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else ""
    else:
        host, sep, port_text = netloc.rpartition(":")
        if not sep:
            host, port_text = netloc, ""
    if not host:
        return None
    if not port_text:
        if default_port is None:
            return None
        return host.lower(), default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return host.lower(), int(port_text)


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class PoolMatch:
    """The pool that serves a backend; `pool` is None when none does.

    `master` is the running master (None when matched from files), `config` the file the
    pool comes from, `workers` the PIDs of its workers now. Several backends may name the
    same pool: count a pool once, by (config.path, pool.name).
    """

    backend: Backend
    pool: FpmPool | None = None
    config: FpmConfig | None = None
    master: FpmMaster | None = None

    @property
    def matched(self) -> bool:
        return self.pool is not None

    @property
    def workers(self) -> tuple[int, ...]:
        if self.master is None or self.pool is None:
            return ()
        return self.master.workers_of(self.pool.name)


_WILDCARD_HOSTS = frozenset({"*", "0.0.0.0", "::"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _local_addresses() -> frozenset[str]:
    """This machine's interface addresses, lowercased (read once per call of pools_for)."""
    try:
        import psutil

        return frozenset(
            a.address.split("%", 1)[0].lower()
            for addrs in psutil.net_if_addrs().values()
            for a in addrs
            if a.address
        )
    except Exception:  # no psutil, or no permission: loopback alone is still known
        return frozenset()


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    # Connecting to 0.0.0.0 or :: reaches this machine, as loopback does.
    return ip.is_loopback or ip.is_unspecified


def _split_tcp(address: str) -> tuple[str, int] | None:
    if not address.startswith("tcp:"):
        return None
    host, _, port = address[4:].rpartition(":")
    if not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _address_matches(backend: str, pool: str, local: frozenset[str]) -> bool:
    if backend.startswith("unix:"):
        if not pool.startswith("unix:"):
            return False
        return os.path.realpath(backend[5:]) == os.path.realpath(pool[5:])
    b, p = _split_tcp(backend), _split_tcp(pool)
    if b is None or p is None or b[1] != p[1]:
        return False
    b_host, p_host = b[0], p[0]
    if b_host == p_host:
        return True
    b_local = _is_loopback(b_host) or b_host in local
    if p_host in _WILDCARD_HOSTS:
        return b_local  # a wildcard listener takes every address of this machine
    return _is_loopback(p_host) and _is_loopback(b_host)


def _match(
    backends: Iterable[Backend],
    candidates: list[tuple[FpmConfig, FpmPool, FpmMaster | None]],
) -> list[PoolMatch]:
    local = _local_addresses()
    out = []
    for backend in backends:
        for config, pool, master in candidates:
            if _address_matches(backend.address, pool.listen, local):
                out.append(PoolMatch(backend, pool, config, master))
                break
        else:
            out.append(PoolMatch(backend))
    return out


def pools_for(backends: Iterable[Backend], masters: Iterable[FpmMaster]) -> list[PoolMatch]:
    """The pool of a running master that serves each backend, in the backends' order.

    Unix sockets match after os.path.realpath (so /var/run is /run); TCP addresses match on
    the port when the hosts are equal, both loopback (localhost, 127.0.0.1, ::1), or the
    pool listens on every address (`0.0.0.0`, `[::]`, a bare port) and the backend's host
    is this machine. The first master in PID order wins a tie. Masters whose configuration
    could not be read match nothing.
    """
    candidates = [(m.config, p, m) for m in masters if m.config for p in m.config.pools]
    return _match(backends, candidates)


def pools_from_files(
    backends: Iterable[Backend], conf_paths: Iterable[str] | None = None
) -> list[PoolMatch]:
    """Like pools_for, from php-fpm configurations on disk (php-fpm not running).

    `conf_paths` may hold globs; the default is DEFAULT_CONF_PATHS, of which the missing
    ones are skipped. A path given without a wildcard must exist, and a file that php-fpm
    would refuse raises ConfigError.
    """
    paths: list[str] = []
    for pattern in DEFAULT_CONF_PATHS if conf_paths is None else conf_paths:
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
        elif conf_paths is not None or os.path.isfile(pattern):
            matches = [pattern]  # read_fpm_config says why when it cannot open it
        else:
            matches = []
        paths.extend(p for p in matches if p not in paths and not os.path.isdir(p))
    candidates: list[tuple[FpmConfig, FpmPool, FpmMaster | None]] = []
    for path in paths:
        config = read_fpm_config(path)
        candidates.extend((config, pool, None) for pool in config.pools)
    return _match(backends, candidates)
