"""PHP-FPM's side: its configuration as php-fpm reads it, and the masters running now.

A memory sizer must count PHP-FPM's workers: they live outside httpd's process tree, and a
pool of `pm.max_children` workers can weigh more than httpd itself. This module reads them:

1. `read_fpm_config(path)`: php-fpm.conf as php-fpm 8.x reads it (sapi/fpm/fpm/fpm_conf.c):
   one INI line at a time, `include=` globs relative to the prefix (not to the file's
   directory), `$pool` and `${ENV}` in values, the checks php-fpm makes before it starts,
   and each pool's memory_limit from `php_admin_value`, `php_value`, the php.ini the FPM
   SAPI reads (`find_php_ini`), or PHP's default of 128M. `listen_address` writes a pool's
   `listen` the way backends.py writes httpd's side, so the two compare.
2. `find_fpm_masters()`: the running masters (process title `php-fpm: master process
   (CONF)`) with their configuration and, per pool, the PIDs of their workers (children
   titled `php-fpm: pool NAME`).

Which pool serves which httpd backend is backends.py's business. No memory is read or
computed here: the sizer measures the worker PIDs this module returns.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .errors import ConfigError
from .procfs import parents_and_names

__all__ = [
    "ini_memory_limit",
    "DEFAULT_CONF_PATHS",
    "DEFAULT_MEMORY_LIMIT",
    "FpmConfig",
    "FpmMaster",
    "FpmPool",
    "find_fpm_masters",
    "find_php_ini",
    "listen_address",
    "parse_php_quantity",
    "read_fpm_config",
]

#: memory_limit when neither the pool nor php.ini sets one (PHP's main.c).
DEFAULT_MEMORY_LIMIT = "128M"
#: Where distributions put php-fpm.conf: Debian/Ubuntu, RHEL/Fedora, the official Docker image.
DEFAULT_CONF_PATHS = (
    "/etc/php/*/fpm/php-fpm.conf",
    "/etc/php-fpm.conf",
    "/usr/local/etc/php-fpm.conf",
)

# --------------------------------------------------------------------------- php-fpm.conf


@dataclass(frozen=True)
class FpmPool:
    """One pool as php-fpm would run it, after its own defaults and checks.

    `memory_limit` is PHP's text (`128M`, `-1`), `memory_limit_bytes` its value (None for
    -1, no limit); `memory_limit_source` is `php_admin_value`, `php_value`, `php.ini` or
    `default`, with the file and line it came from. `max_children_file`/`_line` point at
    `pm.max_children`, where a recommendation would change it.
    """

    name: str
    listen: str
    listen_raw: str
    pm: str
    max_children: int
    start_servers: int
    min_spare_servers: int
    max_spare_servers: int
    max_requests: int
    memory_limit: str
    memory_limit_bytes: int | None
    memory_limit_source: str
    memory_limit_file: str | None
    memory_limit_line: int | None
    max_children_file: str
    max_children_line: int
    file: str
    line: int
    user: str | None = None
    #: Effective php_value / php_admin_value settings (php-fpm applies the first one written).
    php_values: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    php_admin_values: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    settings: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class FpmConfig:
    """A php-fpm.conf and what it includes: its pools in definition order."""

    path: str
    prefix: str
    files: tuple[str, ...]
    pools: tuple[FpmPool, ...]
    php_ini: str | None
    #: `pid` of [global] as written (php-fpm puts a relative one under its state directory).
    pid_file: str | None
    #: What php-fpm would warn about (an include that matches nothing, an unknown entry).
    notes: tuple[str, ...] = ()
    settings: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def pool(self, name: str) -> FpmPool | None:
        return next((p for p in self.pools if p.name == name), None)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The entries php-fpm 8.x knows (ini_fpm_global_options / ini_fpm_pool_options); others
# are reported as notes, not errors: a newer PHP may know them, and `php-fpm -t` judges.
_GLOBAL_KEYS = _names(
    "pid error_log syslog.ident syslog.facility log_buffering log_level log_limit "
    "emergency_restart_threshold emergency_restart_interval process_control_timeout "
    "process.max process.priority daemonize rlimit_files rlimit_core events.mechanism "
    "systemd_interval"
)
_POOL_KEYS = _names(
    "prefix user group listen listen.backlog listen.acl_users listen.acl_groups listen.owner "
    "listen.group listen.mode listen.allowed_clients listen.setfib process.priority "
    "process.dumpable pm pm.max_children pm.start_servers pm.min_spare_servers "
    "pm.max_spare_servers pm.max_spawn_rate pm.process_idle_timeout pm.max_requests "
    "pm.status_path pm.status_listen ping.path ping.response access.log access.format slowlog "
    "request_slowlog_timeout request_slowlog_trace_depth request_terminate_timeout "
    "request_terminate_timeout_track_finished rlimit_files rlimit_core chroot chdir "
    "catch_workers_output decorate_workers_output clear_env security.limit_extensions "
    "apparmor_hat"
)
# Read with fpm_conf_set_integer: digits, an optional leading minus, nothing else.
_INT_KEYS = _names(
    "listen.backlog listen.setfib process.priority pm.max_children pm.start_servers "
    "pm.min_spare_servers pm.max_spare_servers pm.max_spawn_rate pm.max_requests "
    "request_slowlog_trace_depth rlimit_files log_limit emergency_restart_threshold "
    "process.max"
)
_ARRAYS = frozenset(
    {"env", "php_value", "php_admin_value", "php_flag", "php_admin_flag", "access.suppress_path"}
)
_PM_KINDS = ("static", "dynamic", "ondemand")
_TRUE_WORDS = frozenset({"true", "on", "yes"})
_FALSE_WORDS = frozenset({"false", "off", "no", "none", "null"})
# fpm_conf_load_ini_file refuses to nest deeper than this.
_MAX_DEPTH = 5

# What ends an unquoted run of an INI value, and what is special inside double quotes.
_INI_SPECIAL = re.compile(r"[;\"']")
_DOUBLE_QUOTED_SPECIAL = re.compile(r'\\["\\$]|"|\$\{')
_SECTION = re.compile(r"\[\s*(.*?)\s*\]\s*(?:;.*)?\Z")
_ARRAY_KEY = re.compile(r"(.*?)\s*\[\s*(.*?)\s*\]\Z")


@dataclass
class _Setting:
    value: str
    file: str
    line: int


@dataclass
class _PoolDraft:
    name: str
    file: str
    line: int
    settings: dict[str, _Setting] = field(default_factory=dict)
    php_value: list[tuple[str, _Setting]] = field(default_factory=list)
    php_admin_value: list[tuple[str, _Setting]] = field(default_factory=list)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _expand_env(text: str, env: Mapping[str, str]) -> str:
    # An undefined variable expands to nothing, as zend_ini_get_var does.
    return re.sub(r"\$\{([^}]*)\}", lambda m: env.get(m.group(1), ""), text)


def _ini_value(raw: str, env: Mapping[str, str], file: str, line: int) -> str:
    """A value as PHP's INI scanner (normal mode) reads it.

    Double quotes take `\\"`, `\\\\` and `\\$` escapes and expand `${VAR}`; single quotes are
    literal; unquoted runs are trimmed and expand `${VAR}`; pieces join without spaces; `;`
    outside quotes starts a comment; a lone yes/on/true is "1", no/off/false/none/null "".
    Expression operators (`|`, `&`, `~`, `!`) are not evaluated.
    """
    pieces: list[str] = []
    quoted = False
    i = 0
    while True:
        m = _INI_SPECIAL.search(raw, i)
        start = m.start() if m else len(raw)
        plain = raw[i:start].strip(" \t")
        if plain:
            pieces.append(_expand_env(plain, env))
        if m is None or m.group() == ";":
            break
        quoted = True
        if m.group() == '"':
            text, i = _double_quoted(raw, start + 1, env, file, line)
        else:
            end = raw.find("'", start + 1)
            if end < 0:
                raise ConfigError("unterminated single-quoted value", file, line)
            text, i = raw[start + 1 : end], end + 1
        pieces.append(text)
    value = "".join(pieces)
    if not quoted:
        word = value.lower()
        if word in _TRUE_WORDS:
            return "1"
        if word in _FALSE_WORDS:
            return ""
    return value


def _double_quoted(
    raw: str, i: int, env: Mapping[str, str], file: str, line: int
) -> tuple[str, int]:
    """The text of a double-quoted string opened before raw[i], and the index after it."""
    buf: list[str] = []
    while True:
        m = _DOUBLE_QUOTED_SPECIAL.search(raw, i)
        if m is None:
            raise ConfigError("unterminated double-quoted value", file, line)
        buf.append(raw[i : m.start()])
        i = m.end()
        token = m.group()
        if token == '"':
            return "".join(buf), i
        if token[0] == "\\":
            buf.append(token[1])
            continue
        # `${VAR}`: the name runs to the next "}", wherever it is; without one, `${` is text.
        end = raw.find("}", i)
        if end < 0:
            buf.append(token)
            continue
        buf.append(env.get(raw[i:end], ""))
        i = end + 1


def _check_int(key: str, setting: _Setting) -> int:
    """fpm_conf_set_integer: only digits after an optional minus; "" reads as 0 (atoi)."""
    text = setting.value
    body = text[1:] if text.startswith("-") else text
    if not body.isascii() or (body and not body.isdigit()):
        raise ConfigError(
            f"unable to parse value for entry '{key}': is not a valid number "
            f"(greater or equal than zero): {text!r}",
            setting.file,
            setting.line,
        )
    return int(text) if body else 0


class _FpmReader:
    """The state fpm_conf.c keeps while it reads: the current pool survives includes."""

    def __init__(self, prefix: str, env: Mapping[str, str]):
        self.prefix = prefix
        self.env = env
        self.files: list[str] = []
        self.pools: dict[str, _PoolDraft] = {}  # by lowercased name, in definition order
        self.current: _PoolDraft | None = None
        self.globals: dict[str, _Setting] = {}
        self.notes: list[str] = []
        self.depth = 0

    def read_file(self, path: str, where: tuple[str, int] | None = None) -> None:
        if self.depth >= _MAX_DEPTH:
            raise ConfigError("failed to include more than 5 files recursively", *where or (path,))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            reason = e.strerror or str(e)
            if where is None:
                raise ConfigError(f"failed to open configuration file: {reason}", path) from None
            raise ConfigError(f"Unable to include {path}: {reason}", *where) from None
        self.files.append(path)
        self.depth += 1
        try:
            # php-fpm hands the INI parser one physical line at a time.
            text = data.decode("utf-8", "surrogateescape")
            for number, raw in enumerate(text.split("\n"), 1):
                self.read_line(raw.strip(" \t\r\v\f"), path, number)
        finally:
            self.depth -= 1

    def read_line(self, line: str, path: str, number: int) -> None:
        if not line or line[0] == ";":
            return
        if line[0] == "[":
            m = _SECTION.match(line)
            if not m:
                raise ConfigError(f"syntax error in section header {line!r}", path, number)
            self.section(_unquote(m.group(1)), path, number)
            return
        key, eq, raw_value = line.partition("=")
        if not eq:
            # "value is NULL for a ZEND_INI_PARSER_ENTRY" in php-fpm's words.
            raise ConfigError(f"expected 'name = value', got {line!r}", path, number)
        key = key.strip(" \t")
        value = _ini_value(raw_value, self.env, path, number)
        array = _ARRAY_KEY.match(key)
        if array:
            self.array(array.group(1), _unquote(array.group(2)), value, path, number)
        elif key == "include":
            self.include(value, path, number)
        else:
            self.entry(key, value, path, number)

    def section(self, name: str, path: str, number: int) -> None:
        lname = name.lower()
        if lname == "global":
            self.current = None
            return
        # A section named like an earlier pool (in any case) goes on with that pool.
        pool = self.pools.get(lname)
        if pool is None:
            pool = self.pools[lname] = _PoolDraft(name, path, number)
        self.current = pool

    def _expand_pool(self, value: str, path: str, number: int) -> str:
        if "$pool" not in value:
            return value
        if self.current is None:
            raise ConfigError("Can't use '$pool' when the pool is not defined", path, number)
        return value.replace("$pool", self.current.name)

    def entry(self, key: str, value: str, path: str, number: int) -> None:
        lkey = key.lower()  # option names compare with strcasecmp
        pool = self.current
        known, section = (_GLOBAL_KEYS, "global") if pool is None else (_POOL_KEYS, pool.name)
        if lkey not in known:
            self.notes.append(f"{path}:{number}: unknown entry '{key}' in [{section}]")
        setting = _Setting(self._expand_pool(value, path, number), path, number)
        if lkey in _INT_KEYS:
            _check_int(key, setting)
        elif pool is not None and lkey == "pm" and setting.value.lower() not in _PM_KINDS:
            raise ConfigError(
                f"unable to parse value for entry 'pm': invalid process manager "
                f"(static, dynamic or ondemand): {setting.value!r}",
                path,
                number,
            )
        # A later value replaces an earlier one.
        (self.globals if pool is None else pool.settings)[lkey] = setting

    def array(self, name: str, key: str, value: str, path: str, number: int) -> None:
        if name not in _ARRAYS:
            raise ConfigError(f"unknown directive '{name}'", path, number)
        if not key and name != "access.suppress_path":
            raise ConfigError(f"You must provide a key for field '{name}'", path, number)
        if self.current is None:
            raise ConfigError("Array are not allowed in the global section", path, number)
        if not name.startswith("php_"):
            return  # env and access.suppress_path change no setting read here
        admin = name.startswith("php_admin_")
        target = self.current.php_admin_value if admin else self.current.php_value
        if name.endswith("_flag"):
            if value not in ("1", ""):
                raise ConfigError(
                    f"error while parsing '{name}[{key}]' : invalid boolean value", path, number
                )
            value = "1" if value else "0"
        else:
            value = self._expand_pool(value, path, number)
        target.append((key, _Setting(value, path, number)))

    def include(self, pattern: str, path: str, number: int) -> None:
        # fpm_evaluate_full_path(&include, NULL, ...): relative to the global prefix, never
        # to the including file's directory; `$pool` is not expanded here.
        pattern = _full_path(pattern, self.prefix)
        matches = sorted(glob.glob(pattern))
        if not matches:
            # glob() with GLOB_ERR fails when a directory on the way cannot be read; a
            # pattern that merely matches nothing is a warning.
            base = _glob_base(pattern)
            if not os.path.isdir(base):
                raise ConfigError(
                    f"Unable to globalize '{pattern}' ({base} is missing)", path, number
                )
            self.notes.append(f"{path}:{number}: Nothing matches the include pattern '{pattern}'")
            return
        for match in matches:
            if not os.path.isdir(match):
                self.read_file(match, (path, number))


def _glob_base(pattern: str) -> str:
    """The directory before the first wildcard of a glob pattern."""
    parts = pattern.split("/")
    for i, part in enumerate(parts):
        if glob.has_magic(part):
            return "/".join(parts[:i]) or "/"
    return os.path.dirname(pattern) or "/"


def _full_path(path: str, *prefixes: str | None) -> str:
    """fpm_evaluate_full_path: a relative path under the first prefix given."""
    for prefix in prefixes:
        if path.startswith("/"):
            return path
        if prefix:
            path = f"{prefix}/{path}"
    return path


def listen_address(listen: str) -> str:
    """A pool's `listen` normalised like Backend.address.

    php-fpm's rule (fpm_sockets_domain_from_address): a value with a colon or of digits only
    is TCP, anything else a Unix socket path. A bare port listens on every address (IPv6 and
    mapped IPv4, else 0.0.0.0) and is written `tcp:*:PORT`.
    """
    if ":" not in listen and not listen.isdigit():
        return "unix:" + os.path.normpath(listen)
    if listen.isdigit():
        return f"tcp:*:{int(listen)}"
    host, _, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not port.isdigit():
        return f"tcp:{listen}"
    return _tcp(host.lower(), int(port)) if host else f"tcp:*:{int(port)}"


def _tcp(host: str, port: int) -> str:
    """`tcp:HOST:PORT`, an IPv6 host in brackets: the form of addresses on both sides."""
    return f"tcp:[{host}]:{port}" if ":" in host else f"tcp:{host}:{port}"


def _default_prefix(conf_path: str) -> str:
    """PHP_PREFIX as packages build it: /usr/local for a build there, else /usr."""
    return "/usr/local" if conf_path.startswith("/usr/local/") else "/usr"


def _where(draft: _PoolDraft, key: str) -> tuple[str, int]:
    """The file and line of a pool's setting, else of its section header."""
    setting = draft.settings.get(key)
    return (setting.file, setting.line) if setting else (draft.file, draft.line)


def _finish_pool(draft: _PoolDraft, prefix: str, ini: _MemoryLimit) -> FpmPool:
    """fpm_conf_process_all_pools: defaults, checks and paths of one pool."""
    s = draft.settings

    def number(key: str) -> int:
        return _check_int(key, s[key]) if key in s else 0

    listen_raw = s["listen"].value if "listen" in s else ""
    if not listen_raw:
        raise ConfigError(
            f"[pool {draft.name}] no listen address have been defined!", draft.file, draft.line
        )
    address = listen_address(listen_raw)
    if address.startswith("unix:"):
        # A relative socket path is under the pool's prefix, else the global one.
        pool_prefix = s["prefix"].value if "prefix" in s else None
        pool_prefix = pool_prefix and _full_path(pool_prefix, prefix)
        address = listen_address(_full_path(listen_raw, pool_prefix, prefix))
    if "pm" not in s:
        raise ConfigError(
            f"[pool {draft.name}] the process manager is missing (static, dynamic or ondemand)",
            draft.file,
            draft.line,
        )
    pm = s["pm"].value.lower()
    max_children = number("pm.max_children")
    mc_file, mc_line = _where(draft, "pm.max_children")
    if max_children < 1:
        raise ConfigError(
            f"[pool {draft.name}] pm.max_children must be a positive value", mc_file, mc_line
        )
    start, low, high = (
        number("pm.start_servers"),
        number("pm.min_spare_servers"),
        number("pm.max_spare_servers"),
    )
    if pm == "dynamic":
        start = _dynamic_start(draft, max_children, start, low, high)
    elif pm == "ondemand":
        start = low = high = 0
    return FpmPool(
        name=draft.name,
        listen=address,
        listen_raw=listen_raw,
        pm=pm,
        max_children=max_children,
        start_servers=start,
        min_spare_servers=low,
        max_spare_servers=high,
        max_requests=number("pm.max_requests"),
        **_pool_memory_limit(draft, ini)._asdict(),
        max_children_file=mc_file,
        max_children_line=mc_line,
        file=draft.file,
        line=draft.line,
        user=s["user"].value if "user" in s else None,
        php_values=_first_wins(draft.php_value),
        php_admin_values=_first_wins(draft.php_admin_value),
        settings={key: setting.value for key, setting in s.items()},
    )


def _dynamic_start(draft: _PoolDraft, max_children: int, start: int, low: int, high: int) -> int:
    """pm.start_servers of a `pm = dynamic` pool, after php-fpm's checks of the spare counts."""
    name = draft.name
    for key, value in (("pm.min_spare_servers", low), ("pm.max_spare_servers", high)):
        if value <= 0:
            raise ConfigError(
                f"[pool {name}] {key}({value}) must be a positive value", *_where(draft, key)
            )
    if low > max_children or high > max_children:
        raise ConfigError(
            f"[pool {name}] pm.min_spare_servers({low}) and pm.max_spare_servers({high}) "
            f"cannot be greater than pm.max_children({max_children})",
            *_where(draft, "pm.max_children"),
        )
    if high < low:
        raise ConfigError(
            f"[pool {name}] pm.max_spare_servers({high}) must not be less than "
            f"pm.min_spare_servers({low})",
            *_where(draft, "pm.max_spare_servers"),
        )
    if start <= 0:
        return low + (high - low) // 2  # php-fpm's own choice, with a notice
    if start < low or start > high:
        raise ConfigError(
            f"[pool {name}] pm.start_servers({start}) must not be less than "
            f"pm.min_spare_servers({low}) and not greater than pm.max_spare_servers({high})",
            *_where(draft, "pm.start_servers"),
        )
    return start


def _first_wins(entries: list[tuple[str, _Setting]]) -> dict[str, str]:
    # php-fpm prepends each entry to a list and applies the list in order, so for one key
    # the value written first is applied last and stays (fpm_conf_set_array, fpm_php.c).
    out: dict[str, str] = {}
    for key, setting in entries:
        out.setdefault(key, setting.value)
    return out


def read_fpm_config(
    path: str,
    *,
    prefix: str | None = None,
    php_ini: str | None = None,
    env: Mapping[str, str] | None = None,
) -> FpmConfig:
    """Read a php-fpm.conf (and its includes) as php-fpm would, or raise ConfigError.

    `prefix` is php-fpm's `-p` (default: the prefix the binary was built with, `/usr` for
    distribution packages, `/usr/local` for a conf under /usr/local); relative includes and
    socket paths are under it. `php_ini` is the php.ini the FPM SAPI reads (default: found
    beside the configuration, see `find_php_ini`). `env` expands `${VAR}` (default: this
    process's environment).
    """
    path = os.path.abspath(path)
    prefix = (prefix or _default_prefix(path)).rstrip("/") or "/"
    reader = _FpmReader(prefix, os.environ if env is None else env)
    reader.read_file(path)
    if not reader.pools:
        raise ConfigError(
            "No pool defined. at least one pool section must be specified in config file", path
        )
    if php_ini is None:
        php_ini, scan_dir = find_php_ini(path)
    else:
        scan_dir = _scan_dir_of(php_ini)
    ini, ini_notes = _read_ini_memory_limit(php_ini, scan_dir)
    pools = tuple(_finish_pool(d, prefix, ini) for d in reader.pools.values())
    seen: dict[str, str] = {}
    for pool in pools:
        other = seen.setdefault(pool.listen_raw, pool.name)
        if other != pool.name:
            raise ConfigError(
                f"[pool {pool.name}] unable to set listen address as it's already used in "
                f"another pool '{other}'",
                pool.file,
                pool.line,
            )
    settings = {key: setting.value for key, setting in reader.globals.items()}
    return FpmConfig(
        path=path,
        prefix=prefix,
        files=tuple(reader.files),
        pools=pools,
        php_ini=php_ini if php_ini and os.path.isfile(php_ini) else None,
        pid_file=settings.get("pid") or None,
        notes=tuple(reader.notes + ini_notes),
        settings=settings,
    )


# --------------------------------------------------------------------------- memory_limit


# PHP's Zend MM hands out 2 MiB chunks; a memory_limit below the first chunk fails
# OnSetMemoryLimit ("Failed to set memory limit") and the previous value stays.
_MIN_MEMORY_LIMIT = 2 * 1024 * 1024
_MULTIPLIERS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
# zend_ini_parse_quantity's prefixes; the base of each group of _QUANTITY, in order.
_QUANTITY = re.compile(r"0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|(0[0-7]*)|([1-9][0-9]*)")
_QUANTITY_BASES = (16, 8, 2, 8, 10)


def parse_php_quantity(text: str) -> int | None:
    """A size as PHP 8.2 reads it (zend_ini_parse_quantity): `128M`, `1g`, `0x10M`, `-1`.

    Returns bytes, -1 for `-1`, or None for text with no leading digits. Like PHP, a leading
    0 means octal, `0x`/`0o`/`0b` pick the base, and only the last character is taken as the
    multiplier (`128MB` is 128 bytes, with a warning from PHP).
    """
    s = text.strip(" \t\n\r\v\f")
    if not s:
        return 0
    negative = s[0] == "-"
    if s[0] in "+-":
        s = s[1:]
    m = _QUANTITY.match(s)
    if not m:
        return None
    value = int(m.group(m.lastindex), _QUANTITY_BASES[m.lastindex - 1])
    rest = s[m.end() :].strip(" \t\n\r\v\f")
    if negative:
        return -1 if value == 1 and not rest else -value
    if rest:
        value *= _MULTIPLIERS.get(rest[-1].lower(), 1)
    return value


def _memory_limit_bytes(text: str) -> tuple[bool, int | None]:
    """(accepted, bytes or None for no limit) for a memory_limit value."""
    value = parse_php_quantity(text)
    if value is None or (value != -1 and value < _MIN_MEMORY_LIMIT):
        return False, None
    return True, None if value == -1 else value


class _MemoryLimit(NamedTuple):
    """A pool's memory_limit and where it comes from, under FpmPool's names for them."""

    memory_limit: str
    memory_limit_bytes: int | None
    memory_limit_source: str
    memory_limit_file: str | None = None
    memory_limit_line: int | None = None


def _scan_dir_of(php_ini: str) -> str:
    # RHEL's /etc/php.ini scans /etc/php.d; Debian and the Docker image scan conf.d beside it.
    if php_ini == "/etc/php.ini":
        return "/etc/php.d"
    return os.path.join(os.path.dirname(php_ini), "conf.d")


def find_php_ini(conf_path: str, exe: str | None = None) -> tuple[str | None, str | None]:
    """(php.ini, scan directory) the FPM SAPI most likely reads for this configuration.

    PHP looks in the directory it was built with (PHP_CONFIG_FILE_PATH); packages put it
    beside php-fpm.conf (Debian: /etc/php/8.2/fpm), in /etc (RHEL) or /usr/local/etc/php
    (Docker). A Debian binary named php-fpm8.2 reads /etc/php/8.2/fpm whatever `-y` says.
    A `-c`, `-n` or PHPRC given at startup cannot be seen and is not followed.
    """
    candidates: list[str] = []
    if exe:
        m = re.fullmatch(r"php-fpm(\d+\.\d+)", os.path.basename(exe))
        if m:
            candidates.append(f"/etc/php/{m.group(1)}/fpm/php.ini")
    conf_dir = os.path.dirname(os.path.abspath(conf_path))
    candidates.append(os.path.join(conf_dir, "php.ini"))
    if conf_dir == "/etc":
        candidates.append("/etc/php.ini")
    elif conf_dir.startswith("/usr/local/etc"):
        candidates.append("/usr/local/etc/php/php.ini")
    for ini in candidates:
        scan = _scan_dir_of(ini)
        if os.path.isfile(ini) or os.path.isdir(scan):
            return ini, scan
    return None, None


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _read_ini_memory_limit(
    php_ini: str | None, scan_dir: str | None
) -> tuple[_MemoryLimit, list[str]]:
    """memory_limit as the FPM SAPI's php.ini and scan directory leave it, and notes.

    The last memory_limit of php.ini and then its scan directory's *.ini files, in name
    order, as PHP registers them; an unusable last value leaves PHP's default.
    """
    files: list[str] = []
    if php_ini and os.path.isfile(php_ini):
        files.append(php_ini)
    if scan_dir and os.path.isdir(scan_dir):
        files.extend(sorted(glob.glob(os.path.join(glob.escape(scan_dir), "*.ini"))))
    last: tuple[str, str, int] | None = None
    for path in files:
        data = _read(path)
        text = data.decode("utf-8", "surrogateescape") if data else ""
        if "memory_limit" not in text:
            continue
        section_applies = True
        for number, raw in enumerate(text.split("\n"), 1):
            line = raw.strip(" \t\r")
            if line.startswith("["):
                # [PATH=...] and [HOST=...] sections apply to some requests only.
                head = line[1:].lstrip().upper()
                section_applies = not head.startswith(("PATH=", "HOST="))
                continue
            if not section_applies or not line.startswith("memory_limit"):
                continue
            key, eq, raw_value = line.partition("=")
            if not eq or key.strip() != "memory_limit":
                continue
            try:
                value = _ini_value(raw_value, os.environ, path, number)
            except ConfigError:
                continue  # PHP warns and goes on; so does this reading
            last = (value, path, number)
    notes: list[str] = []
    if last is not None:
        value, path, number = last
        ok, size = _memory_limit_bytes(value)
        if ok:
            return _MemoryLimit(value, size, "php.ini", path, number), notes
        notes.append(f"{path}:{number}: PHP refuses memory_limit = {value!r}")
    size = _memory_limit_bytes(DEFAULT_MEMORY_LIMIT)[1]
    return _MemoryLimit(DEFAULT_MEMORY_LIMIT, size, "default"), notes


def ini_memory_limit(php_ini: str) -> tuple[str, str]:
    """(memory_limit, where) as a php.ini and the conf.d beside it leave it: for mod_php."""
    limit, _ = _read_ini_memory_limit(php_ini, _scan_dir_of(php_ini))
    where = (
        f"{limit.memory_limit_file}:{limit.memory_limit_line}" if limit.memory_limit_file else ""
    )
    return limit.memory_limit, where or "PHP's default"


def _pool_memory_limit(draft: _PoolDraft, ini: _MemoryLimit) -> _MemoryLimit:
    """A pool's memory_limit: php_admin_value is applied after php_value, so it wins; for
    each, the first one written stays (see _first_wins), unless PHP refuses it."""
    for source, entries in (
        ("php_admin_value", draft.php_admin_value),
        ("php_value", draft.php_value),
    ):
        for key, setting in entries:
            if key != "memory_limit":
                continue
            ok, size = _memory_limit_bytes(setting.value)
            if ok:
                return _MemoryLimit(setting.value, size, source, setting.file, setting.line)
    return ini


# --------------------------------------------------------------------------- running masters


@dataclass(frozen=True)
class FpmMaster:
    """A running php-fpm master, its configuration and its workers.

    `conf` is the path in its process title (None when the title is cut); `config` is that
    file as it reads now (the master may have started from an older version of it), None
    with `error` saying why when it could not be read. `workers` maps a pool name, as the
    workers' titles give it, to their PIDs.
    """

    pid: int
    name: str
    exe: str | None
    conf: str | None
    config: FpmConfig | None
    workers: Mapping[str, tuple[int, ...]] = field(default_factory=dict, compare=False)
    error: str | None = None

    @property
    def pools(self) -> tuple[FpmPool, ...]:
        return self.config.pools if self.config else ()

    def workers_of(self, pool: str) -> tuple[int, ...]:
        return self.workers.get(pool, ())


_MASTER_TITLE = b"php-fpm: master process ("
_POOL_TITLE = b"php-fpm: pool "


def _title(data: bytes) -> bytes:
    # php-fpm writes its title over argv and environ; what follows is NUL padding.
    return data.split(b"\0", 1)[0].rstrip()


def find_fpm_masters(proc: str = "/proc", *, read_config: bool = True) -> list[FpmMaster]:
    """The php-fpm masters running on this machine, by PID.

    Without `read_config` only the processes are found (measure's every look needs no more).
    One read of /proc/PID/stat per process; the command line is read only for processes
    whose name mentions php or fpm. Processes that vanish or cannot be read are skipped.
    A master started with `-p PREFIX` is read with the prefix its binary's path implies.
    """
    try:
        processes = parents_and_names(proc)
    except OSError:
        return []
    masters: list[tuple[int, str, bytes]] = []
    workers: dict[int, dict[str, list[int]]] = {}
    for pid, (name, ppid) in processes.items():
        lname = name.lower()
        if "php" not in lname and "fpm" not in lname:
            continue
        cmdline = _read(f"{proc}/{pid}/cmdline")
        if not cmdline:
            continue
        title = _title(cmdline)
        if title.startswith(_MASTER_TITLE):
            masters.append((pid, name, title))
        elif title.startswith(_POOL_TITLE):
            pool = title[len(_POOL_TITLE) :].decode("utf-8", "surrogateescape")
            workers.setdefault(ppid, {}).setdefault(pool, []).append(pid)
    return [
        _master(pid, name, title, workers.get(pid, {}), proc, read_config)
        for pid, name, title in sorted(masters)
    ]


def _master(
    pid: int, name: str, title: bytes, kids: dict[str, list[int]], proc: str, read_config: bool
) -> FpmMaster:
    pool_pids = {pool: tuple(sorted(p)) for pool, p in kids.items()}
    try:
        exe: str | None = os.readlink(f"{proc}/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        exe = None
    inner = title[len(_MASTER_TITLE) :]
    if not inner.endswith(b")"):
        # The title is cut at the space php-fpm had for it: the path is incomplete.
        return FpmMaster(pid, name, exe, None, None, pool_pids, "process title is cut")
    conf = inner[:-1].decode("utf-8", "surrogateescape")
    if not conf.startswith("/"):
        # php-fpm opened a relative -y path from its working directory.
        try:
            conf = os.path.join(os.readlink(f"{proc}/{pid}/cwd"), conf)
        except OSError:
            return FpmMaster(pid, name, exe, conf, None, pool_pids, "relative path, unknown cwd")
    if not read_config:
        return FpmMaster(pid, name, exe, conf, None, pool_pids)
    prefix = None
    if exe and os.path.basename(os.path.dirname(exe)) in ("sbin", "bin"):
        prefix = os.path.dirname(os.path.dirname(exe))
    php_ini = find_php_ini(conf, exe)[0]
    try:
        config = read_fpm_config(conf, prefix=prefix, php_ini=php_ini)
    except ConfigError as e:
        return FpmMaster(pid, name, exe, conf, None, pool_pids, str(e))
    return FpmMaster(pid, name, exe, conf, config, pool_pids)
