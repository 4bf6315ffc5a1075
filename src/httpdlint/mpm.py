"""The MPM as httpd itself sees it: compiled defaults, argument parsing, startup adjustments.

Pure functions over a list of MPM directives in reading order; no I/O and no dependence on the
parser. Every rule below follows a named function of httpd's source (2.4.x and 2.2.x
branches) and is checked against the real ``apache2 -t`` by ``tests/test_mpm_differential.py``.

How httpd arrives at the numbers it runs with:

Apache 2.4 (prefork.c, worker.c, event.c, mpm_common.c)
    1. ``<mpm>_pre_config`` resets every MPM variable to its compiled default.
    2. Each directive stores ``atoi(arg)`` without any check (``set_*``); old names share the
       variable with the new ones, so the last one read wins. ``MaxClients`` and
       ``MaxRequestsPerChild`` also log a deprecation note at level info (only visible with
       ``LogLevel info`` / ``-e info``).
    3. ``<mpm>_check_config`` clamps the values in a fixed order and logs one warning per clamp.
       On the first reading (``httpd -t`` and the console at start) it prints the ``WARNING:``
       variant to stderr; a real start reads the configuration a second time and every restart
       reads it again, and those readings log the other variant (its own AH code, kept here as
       ``Adjustment.restart_code``) to the error log.
    4. ``<mpm>_run`` silently raises MaxSpare* (and, with several listener buckets, other
       values) before it forks anything. ``httpd -t`` never gets there.

Apache 2.2 (prefork.c, worker.c, experimental/event/event.c of the 2.2.x branch)
    The checks live in the directive handlers, so they run while the file is read and the
    ORDER of directives matters (``MaxClients`` is compared with the ServerLimit in force at
    that line). httpd 2.2 reads the configuration twice when it starts: the first reading is
    what ``httpd -t`` and the console show; the second one, whose warnings go to the error
    log, sets the values the server runs with. ServerLimit and ThreadLimit are not reset
    between the readings (their variables are initialised once, statically), and the default
    of MaxClients is "the ServerLimit in force when the reading starts", so the two readings
    can disagree; both are modelled (``Adjustment.stage``). 2.2 messages have no AH codes.

Canonical names: ``canonical("MaxRequestWorkers", "2.2")`` raises ``KeyError``: httpd 2.2 does
not know that directive (it is a syntax error there, "Invalid command"), and silently
translating it would hide exactly that error. The 2.2 names are ``MaxClients`` and
``MaxRequestsPerChild``; in 2.4 both old names remain accepted and map to the new ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "AH_CODES_24",
    "Adjustment",
    "MPM_SETTINGS",
    "MPMS",
    "MpmResult",
    "SYNTAX_ERROR_CODE",
    "Setting",
    "VERSIONS",
    "c_atoi",
    "canonical",
    "compiled_defaults",
    "evaluate_mpm",
    "module_condition",
    "recycle_directive",
    "workers_directive",
    "settings_for",
    "restart_only",
]

MPMS = ("prefork", "worker", "event")
VERSIONS = ("2.2", "2.4")
THREADED = frozenset({"worker", "event"})

# Compile-time constants; identical in the 2.2.x and 2.4.x branches (checked in both).
# <mpm>.c: DEFAULT_SERVER_LIMIT / MAX_SERVER_LIMIT / DEFAULT_THREAD_LIMIT / MAX_THREAD_LIMIT.
DEFAULT_SERVER_LIMIT = {"prefork": 256, "worker": 16, "event": 16}
MAX_SERVER_LIMIT = {"prefork": 200000, "worker": 20000, "event": 20000}
DEFAULT_THREAD_LIMIT = 64
MAX_THREAD_LIMIT = {"worker": 20000, "event": 100000}
# <mpm>/mpm_default.h
DEFAULT_START_DAEMON = {"prefork": 5, "worker": 3, "event": 3}
DEFAULT_MIN_FREE_DAEMON = {"prefork": 5, "worker": 3, "event": 3}
DEFAULT_MAX_FREE_DAEMON = 10
DEFAULT_THREADS_PER_CHILD = 25
# 2.4: mpm_common.c mpm_common_pre_config sets 0 (unlimited);
# 2.2: each MPM's pre_config sets DEFAULT_MAX_REQUESTS_PER_CHILD from its mpm_default.h.
DEFAULT_MAX_REQUESTS_PER_CHILD = {"2.4": 0, "2.2": 10000}
# event.c: AsyncRequestWorkerFactor is stored as an unsigned int scaled by 16.
DEFAULT_WORKER_FACTOR = 2
WORKER_FACTOR_SCALE = 16

# The AH code httpd 2.4 prints for a configuration syntax error (config.c ap_process_config_tree).
SYNTAX_ERROR_CODE = "AH00526"

# Stages of Adjustment.stage, in the order httpd goes through them.
STAGE_READ = "read"  # while a directive is read (2.2: on both readings at start)
STAGE_FIRST_READ = "first-read"  # 2.2: first reading only (console, httpd -t); not in effect
STAGE_SECOND_READ = "second-read"  # 2.2: second reading only (error log); in effect
STAGE_CHECK = "check"  # 2.4 <mpm>_check_config
STAGE_RUN = "run"  # <mpm>_run / ap_mpm_run, silent: never logged


@dataclass(frozen=True)
class Setting:
    """One MPM directive as httpd read it, in reading order.

    ``nested`` is True when the directive sits inside a section httpd keeps in its tree
    (``<VirtualHost>``...; ``<IfModule>`` contents are spliced into the top level, as are an
    ``Include``'s). Only httpd 2.2's worker/event care: their pre_config moves the first
    top-level ThreadsPerChild before the first top-level MaxClients, and does not look inside
    sections. Directives from an ``Include`` at top level are top level.
    """

    name: str
    args: tuple[str, ...]
    file: str | None = None
    line: int | None = None
    nested: bool = False


@dataclass
class Adjustment:
    """A value httpd changed (or a note, or an error) and what it says about it.

    ``code`` is the AH code of the first reading (what ``httpd -t`` and the console show);
    ``None`` for 2.2 (no codes) and for silent run-time adjustments. ``restart_code`` is the
    code of the variant httpd 2.4 logs to the error log on its second reading at start and on
    every restart (AH00176 for AH00175...). ``level``: "info" (deprecation notes, only shown
    with ``LogLevel info``), "warning", or "error" (fatal). ``message`` holds every number
    httpd prints, in httpd's order (2.4: exactly those; 2.2: sometimes also the offending
    value, which 2.2 does not always print), in httpdlint's own words.

    ``stage`` says when httpd does it: "read" (while reading the directive; for 2.2, on both
    readings at start), "first-read" (2.2, first reading only: shown by ``httpd -t`` but not
    in effect), "second-read" (2.2, second reading only: in the error log, in effect),
    "check" (2.4 ``<mpm>_check_config``), "run" (when the MPM starts its children; silent).
    """

    code: str | None
    message: str
    setting: str
    file: str | None = None
    line: int | None = None
    fatal: bool = False
    level: str = "warning"
    stage: str = STAGE_CHECK
    restart_code: str | None = None


@dataclass
class MpmResult:
    """The MPM after httpd's defaults and startup adjustments.

    ``effective`` holds every directive setting under the version's canonical names plus the
    derived figures ``processes`` (the most child processes httpd will run) and
    ``processes_at_start`` (children forked at start, StartServers capped by that limit).
    When an adjustment is ``fatal`` httpd refuses to start; ``effective`` then holds the values
    read before the error, without startup adjustments.
    """

    name: str
    version: str
    effective: dict[str, int | float]
    adjustments: list[Adjustment] = field(default_factory=list)
    explicit: set[str] = field(default_factory=set)

    @property
    def limit_name(self) -> str:
        """MaxRequestWorkers (2.4) or MaxClients (2.2)."""
        return workers_directive(self.version)

    @property
    def max_workers(self) -> int:
        """The effective MaxRequestWorkers (2.4) or MaxClients (2.2)."""
        return int(self.effective[self.limit_name])

    @property
    def fatal(self) -> bool:
        """True when httpd would refuse to start with these settings."""
        return any(a.fatal for a in self.adjustments)

    def processes_needed(self) -> int:
        """Child processes needed to serve max_workers at once.

        prefork: one per worker. Threaded: ceil(workers / ThreadsPerChild), capped by
        ServerLimit (httpd never runs more than ServerLimit children).
        """
        if self.name == "prefork":
            return self.max_workers
        tpc = max(1, int(self.effective["ThreadsPerChild"]))
        return min(math.ceil(self.max_workers / tpc), int(self.effective["ServerLimit"]))


# --- directive names ------------------------------------------------------------------------

_COMMON_24 = {
    "maxrequestworkers": "MaxRequestWorkers",
    "maxclients": "MaxRequestWorkers",  # deprecated alias, same handler (set_max_*)
    "maxconnectionsperchild": "MaxConnectionsPerChild",  # core.c -> ap_mpm_set_max_requests
    "maxrequestsperchild": "MaxConnectionsPerChild",  # deprecated alias, same handler
    "serverlimit": "ServerLimit",
    "startservers": "StartServers",
}
_COMMON_22 = {
    "maxclients": "MaxClients",
    "maxrequestsperchild": "MaxRequestsPerChild",  # 2.2 core.c, AP_MPM_WANT_SET_MAX_REQUESTS
    "serverlimit": "ServerLimit",
    "startservers": "StartServers",
}
_PREFORK = {"minspareservers": "MinSpareServers", "maxspareservers": "MaxSpareServers"}
_THREADED = {
    "threadsperchild": "ThreadsPerChild",
    "threadlimit": "ThreadLimit",
    "minsparethreads": "MinSpareThreads",
    "maxsparethreads": "MaxSpareThreads",
}
_EVENT_24 = {"asyncrequestworkerfactor": "AsyncRequestWorkerFactor"}

# (version, mpm) -> {lowercase directive: canonical setting}
_DIRECTIVES: dict[tuple[str, str], dict[str, str]] = {
    ("2.4", "prefork"): {**_COMMON_24, **_PREFORK},
    ("2.4", "worker"): {**_COMMON_24, **_THREADED},
    ("2.4", "event"): {**_COMMON_24, **_THREADED, **_EVENT_24},
    ("2.2", "prefork"): {**_COMMON_22, **_PREFORK},
    ("2.2", "worker"): {**_COMMON_22, **_THREADED},
    ("2.2", "event"): {**_COMMON_22, **_THREADED},
}

#: Per MPM, the lowercase directive names the model reads, in either version (old aliases
#: included). Use :func:`settings_for` for one version.
MPM_SETTINGS: dict[str, frozenset[str]] = {
    mpm: frozenset().union(*(names for (_, m), names in _DIRECTIVES.items() if m == mpm))
    for mpm in MPMS
}
_ALL_NAMES = frozenset().union(*MPM_SETTINGS.values())
# Spelling of each name as httpd's command tables write it (for messages).
SPELLING = {
    name.lower(): name
    for name in [
        "MaxRequestWorkers",
        "MaxClients",
        "MaxConnectionsPerChild",
        "MaxRequestsPerChild",
        "ServerLimit",
        "StartServers",
        "MinSpareServers",
        "MaxSpareServers",
        "ThreadsPerChild",
        "ThreadLimit",
        "MinSpareThreads",
        "MaxSpareThreads",
        "AsyncRequestWorkerFactor",
    ]  # fmt: skip
}


# 2.4 names 2.2 does not know, and what 2.2 calls the same setting.
_NAMES_IN_22 = {"maxrequestworkers": "MaxClients", "maxconnectionsperchild": "MaxRequestsPerChild"}


def workers_directive(version: str) -> str:
    """MaxRequestWorkers on 2.4, MaxClients on 2.2."""
    return "MaxClients" if _version(version) == "2.2" else "MaxRequestWorkers"


def recycle_directive(version: str) -> str:
    """MaxConnectionsPerChild on 2.4, MaxRequestsPerChild on 2.2."""
    return "MaxRequestsPerChild" if _version(version) == "2.2" else "MaxConnectionsPerChild"


def module_condition(name: str, version: str) -> str:
    """What an `<IfModule>` around the MPM's settings names: mpm_event_module, or event.c."""
    mpm = _mpm(name)
    return f"{mpm}.c" if _version(version) == "2.2" else f"mpm_{mpm}_module"


def _version(version: str) -> str:
    """Normalise "2.4", "2.4.71" and the like to "2.2" or "2.4"."""
    short = ".".join(str(version).strip().split(".")[:2])
    if short not in VERSIONS:
        raise ValueError(f"unsupported Apache version {version!r} (expected 2.2 or 2.4)")
    return short


def _mpm(name: str) -> str:
    mpm = name.strip().lower().removeprefix("mpm_").removesuffix("_module")
    if mpm not in MPMS:
        raise ValueError(f"unknown MPM {name!r} (expected prefork, worker or event)")
    return mpm


def settings_for(name: str, version: str) -> frozenset[str]:
    """The lowercase directive names that MPM `name` of Apache `version` accepts."""
    return frozenset(_DIRECTIVES[(_version(version), _mpm(name))])


def canonical(name: str, version: str) -> str:
    """The canonical setting a directive sets in `version` (any MPM).

    ("maxclients", "2.4") -> "MaxRequestWorkers"; ("MaxClients", "2.2") -> "MaxClients".
    Raises KeyError for a name that version does not know, including the 2.4-only
    MaxRequestWorkers and MaxConnectionsPerChild under 2.2 (httpd 2.2 rejects them as
    "Invalid command"; their 2.2 names are MaxClients and MaxRequestsPerChild).
    """
    ver = _version(version)
    key = name.lower()
    for (v, _), table in _DIRECTIVES.items():
        if v == ver and key in table:
            return table[key]
    if key in _ALL_NAMES:  # only 2.4 adds names
        hint = _NAMES_IN_22.get(key)
        detail = f"; its 2.2 name is {hint}" if hint else ""
        raise KeyError(f"{name} is not a directive of Apache {ver}{detail}")
    raise KeyError(f"{name} is not an MPM directive")


# Settings a graceful restart cannot change. httpd 2.4 keeps the value it started with
# (retained->first_server_limit / first_thread_limit: the scoreboard is sized once) and logs,
# on every restart that tries, "changing ServerLimit to N from original value of M not
# allowed during restart" (<mpm>_check_config in server/mpm/prefork/prefork.c, worker.c,
# event.c). httpd 2.2's set_server_limit / set_thread_limit ignore the new value the same
# way and warn from ap_mpm_run, with no AH code.
_RESTART_ONLY_24 = {
    "prefork": {"ServerLimit": "AH00179"},
    "worker": {"ServerLimit": "AH00304", "ThreadLimit": "AH00309"},
    "event": {"ServerLimit": "AH00501", "ThreadLimit": "AH00506"},
}


def restart_only(name: str, version: str) -> dict[str, str | None]:
    """The settings of MPM `name` only a full restart changes, with the AH code httpd logs
    when a graceful restart tries (None on 2.2, whose messages have no codes)."""
    codes = _RESTART_ONLY_24[_mpm(name)]
    if _version(version) == "2.2":
        return {setting: None for setting in codes}
    return dict(codes)


# --- C argument parsing -----------------------------------------------------------------------

# isspace() in the C locale (httpd never calls setlocale).
_C_SPACE = " \t\n\x0b\x0c\r"
_ATOI = re.compile(f"[{_C_SPACE}]*([+-]?)([0-9]*)")
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _int32(value: int) -> int:
    """Two's-complement wrap to a C int, as gcc on x86-64 does for (int) casts and overflow."""
    return (value + 2**31) % 2**32 - 2**31


def c_atoi(text: str) -> int:
    """glibc ``atoi``: ``(int) strtol(text, NULL, 10)`` on LP64.

    Leading C whitespace and one sign are skipped, digits are read up to the first
    non-digit ("12abc" -> 12, "abc" -> 0, "0x10" -> 0); strtol saturates at the long range
    and the cast keeps the low 32 bits (99999999999 -> 1215752191, 10**20 -> -1).
    """
    m = _ATOI.match(text)
    assert m is not None  # the pattern matches the empty string
    sign, digits = m.groups()
    if not digits:
        return 0
    value = int(digits)
    value = -value if sign == "-" else value
    return _int32(min(max(value, _LONG_MIN), _LONG_MAX))


_PLAIN_INT = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+\Z")


def read_atoi(s: Setting, notes: list[Adjustment]) -> int:
    """`atoi(arg)` as the MPM's handler stores it, with a warning when the word is not the
    number httpd reads (`1e3` is 1, `4294967297` is 1, `25x` is 25): httpd says nothing."""
    word = s.args[0]
    value = c_atoi(word)
    if not _PLAIN_INT.match(word) or int(word) != value:
        notes.append(
            Adjustment(
                None,
                f"{s.name} {word!r} is not the number httpd reads: its atoi stops at the first "
                f"character that is no digit and keeps 32 bits, so the value is {value}",
                s.name,
                s.file,
                s.line,
                stage=STAGE_READ,
            )
        )
    return value


_HEX = r"0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?"
_DEC = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?"
_STRTOD = re.compile(
    f"[{_C_SPACE}]*([+-]?)(?:({_HEX})|({_DEC})|(inf(?:inity)?)|(nan(?:\\([0-9a-z_]*\\))?))",
    re.IGNORECASE,
)


def _c_strtod(text: str) -> tuple[float, bool]:
    """glibc ``strtod`` in the C locale: (value, whether it consumed the whole text)."""
    m = _STRTOD.match(text)
    if m is None:
        return 0.0, text == ""
    sign, hexa, dec, inf, nan = m.groups()
    if hexa:
        value = float.fromhex(hexa)
    elif dec:
        value = float(dec)  # Python rounds like glibc; overflow gives inf as strtod does
    elif inf:
        value = math.inf
    else:
        value = math.nan
    return (-value if sign == "-" else value), m.end() == len(text)


def _worker_factor(value: float) -> int:
    """event.c set_worker_factor: ``worker_factor = val * 16`` into an unsigned int, min 16.

    Out-of-range conversions are undefined in C; Debian's x86-64 build converts with a 64-bit
    cvttsd2si and keeps the low 32 bits (seen in its mod_mpm_event.so), so NaN, inf and
    values >= 2**63 give 0, then 16. Unobservable with httpd -t: no message either way.
    """
    scaled = value * WORKER_FACTOR_SCALE
    converted = 0 if not math.isfinite(scaled) or abs(scaled) >= 2**63 else int(scaled)
    converted &= 0xFFFFFFFF
    return max(converted, WORKER_FACTOR_SCALE)


# --- shared reading helpers ------------------------------------------------------------------


def _where(s: Setting | None) -> tuple[str | None, int | None]:
    return (s.file, s.line) if s is not None else (None, None)


def _loc(s: Setting) -> str:
    if s.file and s.line:
        return f"{s.file}:{s.line}: "
    if s.line:
        return f"line {s.line}: "
    return ""


def _syntax_check(s: Setting, key: str, version: str, mpm: str) -> tuple[str, str] | None:
    """Errors config.c raises before any handler runs: unknown command, TAKE1 arity.

    Returns (setting, message) of the fatal error or None.
    """
    spelled = SPELLING.get(key, s.name)
    if key not in _DIRECTIVES[(version, mpm)]:
        # config.c ap_walk_config_sub: "Invalid command", the directive is unknown here.
        return spelled, (
            f"{_loc(s)}{s.name} is not a directive of the {mpm} MPM of Apache {version}; "
            "httpd refuses to start (invalid command)"
        )
    if len(s.args) != 1 or s.args[0] == "":
        # config.c invoke_cmd, case TAKE1: an empty first word counts as missing.
        return _DIRECTIVES[(version, mpm)][key], (
            f"{_loc(s)}{spelled} needs exactly one non-empty argument; httpd refuses to start"
        )
    return None


def _fatal(version: str, setting: str, message: str, s: Setting) -> Adjustment:
    return Adjustment(
        code=SYNTAX_ERROR_CODE if version == "2.4" else None,
        message=message,
        setting=setting,
        file=s.file,
        line=s.line,
        fatal=True,
        level="error",
        stage=STAGE_READ,
    )


# --- Apache 2.4 -------------------------------------------------------------------------------

# AH codes of <mpm>_check_config: (first reading / httpd -t, later readings / error log).
_CODES_24: dict[str, dict[str, tuple[str, str]]] = {
    "prefork": {  # prefork.c prefork_check_config
        "sl_max": ("AH00175", "AH00176"),
        "sl_min": ("AH00177", "AH00178"),
        "mrw_max": ("AH00180", "AH00181"),
        "mrw_min": ("AH00182", "AH00183"),
        "start_min": ("AH00184", "AH00185"),
        "spare_min": ("AH00186", "AH00187"),
    },
    "worker": {  # worker.c worker_check_config
        "sl_max": ("AH00300", "AH00301"),
        "sl_min": ("AH00302", "AH00303"),
        "tl_max": ("AH00305", "AH00306"),
        "tl_min": ("AH00307", "AH00308"),
        "tpc_max": ("AH00310", "AH00311"),
        "tpc_min": ("AH00312", "AH00313"),
        "mrw_min": ("AH00314", "AH00315"),
        "mrw_multiple": ("AH00316", "AH00317"),
        "mrw_max": ("AH00318", "AH00319"),
        "start_min": ("AH00320", "AH00321"),
        "spare_min": ("AH00322", "AH00323"),
    },
    "event": {  # event.c event_check_config
        "sl_max": ("AH00497", "AH00498"),
        "sl_min": ("AH00499", "AH00500"),
        "tl_max": ("AH00502", "AH00503"),
        "tl_min": ("AH00504", "AH00505"),
        "tpc_max": ("AH00507", "AH00508"),
        "tpc_min": ("AH00509", "AH00510"),
        "mrw_min": ("AH00511", "AH00512"),
        "mrw_multiple": ("AH00513", "AH00514"),
        "mrw_max": ("AH00515", "AH00516"),
        "start_min": ("AH00517", "AH00518"),
        "spare_min": ("AH00519", "AH00520"),
    },
}
# Deprecation notes logged at level info by the directive handlers.
_DEPRECATED_MAXCLIENTS_24 = {"prefork": "AH00188", "worker": "AH00324", "event": "AH00521"}
_DEPRECATED_MAXREQUESTS_24 = "AH00545"  # mpm_common.c ap_mpm_set_max_requests

#: The AH codes the model can report, per MPM (2.4).
AH_CODES_24: dict[str, frozenset[str]] = {
    mpm: frozenset(c for pair in codes.values() for c in pair)
    | {_DEPRECATED_MAXCLIENTS_24[mpm], _DEPRECATED_MAXREQUESTS_24, SYNTAX_ERROR_CODE}
    for mpm, codes in _CODES_24.items()
}


@dataclass
class _Start24:
    """httpd 2.4 starting one MPM: the variables of <mpm>.c and what it logged so far."""

    mpm: str
    buckets: int
    v: dict[str, int] = field(default_factory=dict)
    factor: int = DEFAULT_WORKER_FACTOR * WORKER_FACTOR_SCALE
    daemons: int = 0
    src: dict[str, Setting] = field(default_factory=dict)
    adj: list[Adjustment] = field(default_factory=list)
    fatal: bool = False

    @property
    def threaded(self) -> bool:
        return self.mpm in THREADED

    @property
    def spare(self) -> tuple[str, str]:
        if self.threaded:
            return "MinSpareThreads", "MaxSpareThreads"
        return "MinSpareServers", "MaxSpareServers"

    def pre_config(self) -> None:
        # <mpm>_pre_config resets every variable. prefork sets ap_daemons_limit =
        # server_limit BEFORE reading, so MaxRequestWorkers defaults to DEFAULT_SERVER_LIMIT
        # whatever ServerLimit says; worker/event set max_workers = 16 x 25.
        # mpm_common.c mpm_common_pre_config: MaxConnectionsPerChild 0 (unlimited).
        mpm = self.mpm
        self.v = {
            "ServerLimit": DEFAULT_SERVER_LIMIT[mpm],
            "StartServers": DEFAULT_START_DAEMON[mpm],
            "MaxConnectionsPerChild": DEFAULT_MAX_REQUESTS_PER_CHILD["2.4"],
        }
        if self.threaded:
            self.v["ThreadLimit"] = DEFAULT_THREAD_LIMIT
            self.v["ThreadsPerChild"] = DEFAULT_THREADS_PER_CHILD
            self.v["MaxRequestWorkers"] = DEFAULT_SERVER_LIMIT[mpm] * DEFAULT_THREADS_PER_CHILD
            self.v["MinSpareThreads"] = DEFAULT_MIN_FREE_DAEMON[mpm] * DEFAULT_THREADS_PER_CHILD
            self.v["MaxSpareThreads"] = DEFAULT_MAX_FREE_DAEMON * DEFAULT_THREADS_PER_CHILD
        else:
            self.v["MaxRequestWorkers"] = DEFAULT_SERVER_LIMIT[mpm]
            self.v["MinSpareServers"] = DEFAULT_MIN_FREE_DAEMON[mpm]
            self.v["MaxSpareServers"] = DEFAULT_MAX_FREE_DAEMON
        # event.c worker_factor is a static initialiser that pre_config leaves alone, so on a
        # restart a removed AsyncRequestWorkerFactor keeps its old value; a start gets 2.

    def read(self, settings: list[Setting]) -> None:
        for s in settings:
            key = s.name.lower()
            if key not in _ALL_NAMES:
                continue
            err = _syntax_check(s, key, "2.4", self.mpm)
            if err:
                self._fail(err[0], err[1], s)
                return
            name = _DIRECTIVES[("2.4", self.mpm)][key]
            if name == "AsyncRequestWorkerFactor":
                if not self._set_worker_factor(s):
                    return
            else:
                if key in ("maxclients", "maxrequestsperchild"):
                    # set_max_clients / set_max_workers and mpm_common.c
                    # ap_mpm_set_max_requests: strcasecmp(cmd->cmd->name, <old name>).
                    code = (
                        _DEPRECATED_MAXCLIENTS_24[self.mpm]
                        if key == "maxclients"
                        else _DEPRECATED_MAXREQUESTS_24
                    )
                    self.adj.append(
                        Adjustment(
                            code,
                            f"{s.name} is the deprecated name of {name}",
                            name,
                            s.file,
                            s.line,
                            level="info",
                            stage=STAGE_READ,
                        )
                    )
                # Every other handler stores atoi(arg) unchecked; check_config checks.
                self.v[name] = read_atoi(s, self.adj)
            self.src[name] = s

    def _fail(self, setting: str, message: str, s: Setting) -> None:
        self.adj.append(_fatal("2.4", setting, message, s))
        self.fatal = True

    def _set_worker_factor(self, s: Setting) -> bool:
        # event.c set_worker_factor: strtod must consume the whole word, then val <= 0 is an
        # error (NaN is not <= 0, so it passes).
        name, arg = "AsyncRequestWorkerFactor", s.args[0]
        value, complete = _c_strtod(arg)
        if not complete:
            self._fail(name, f"{_loc(s)}{name} {arg!r} is not a number; httpd refuses to start", s)
            return False
        if value <= 0:
            self._fail(name, f"{_loc(s)}{name} must be above 0; httpd refuses to start", s)
            return False
        self.factor = _worker_factor(value)
        return True

    def _cause(self, names: tuple[str, ...]) -> tuple[str | None, int | None]:
        """Where the first of `names` the configuration set was written (None: defaults)."""
        return _where(next((self.src[n] for n in names if n in self.src), None))

    def note(self, kind: str, message: str, setting: str, *causes: str) -> None:
        """A check_config warning: the first-reading code and the later-reading one."""
        first, later = _CODES_24[self.mpm][kind]
        file, line = self._cause((setting, *causes))
        self.adj.append(Adjustment(first, message, setting, file, line, restart_code=later))

    def check_config(self) -> None:
        """<mpm>_check_config, in its order (prefork.c, worker.c, event.c).

        A fresh start: the restart-only checks (AH00179, AH00304/AH00309, AH00501/AH00506:
        ServerLimit/ThreadLimit changed by a restart) cannot fire.
        """
        v = self.v
        sl_max = MAX_SERVER_LIMIT[self.mpm]
        if v["ServerLimit"] > sl_max:
            self.note(
                "sl_max",
                f"ServerLimit {v['ServerLimit']} is above the compile-time maximum of "
                f"{sl_max} servers; httpd lowers it to {sl_max}",
                "ServerLimit",
            )
            v["ServerLimit"] = sl_max
        elif v["ServerLimit"] < 1:
            self.note(
                "sl_min",
                f"ServerLimit {v['ServerLimit']} is not allowed; httpd raises it to 1",
                "ServerLimit",
            )
            v["ServerLimit"] = 1
        if self.threaded:
            self._check_threads()
        else:
            self._check_processes()
        if v["StartServers"] < 1:
            self.note(
                "start_min",
                f"StartServers {v['StartServers']} is not allowed; httpd raises it to 1",
                "StartServers",
            )
            v["StartServers"] = 1
        low = self.spare[0]
        if v[low] < 1:
            self.note("spare_min", f"{low} {v[low]} is not allowed; httpd raises it to 1", low)
            v[low] = 1

    def _check_processes(self) -> None:
        # prefork.c prefork_check_config: MaxRequestWorkers within [1, ServerLimit].
        v = self.v
        sl, mrw = v["ServerLimit"], v["MaxRequestWorkers"]
        if mrw > sl:
            self.note(
                "mrw_max",
                f"MaxRequestWorkers {mrw} is above ServerLimit {sl}; httpd lowers "
                f"MaxRequestWorkers to {sl} (raise ServerLimit to allow more)",
                "MaxRequestWorkers",
                "ServerLimit",
            )
            v["MaxRequestWorkers"] = sl
        elif mrw < 1:
            self.note(
                "mrw_min",
                f"MaxRequestWorkers {mrw} is not allowed; httpd raises it to 1",
                "MaxRequestWorkers",
            )
            v["MaxRequestWorkers"] = 1
        self.daemons = v["MaxRequestWorkers"]

    def _check_threads(self) -> None:
        # worker.c worker_check_config / event.c event_check_config.
        v = self.v
        tl_max = MAX_THREAD_LIMIT[self.mpm]
        if v["ThreadLimit"] > tl_max:
            self.note(
                "tl_max",
                f"ThreadLimit {v['ThreadLimit']} is above the compile-time maximum of "
                f"{tl_max} threads; httpd lowers it to {tl_max}",
                "ThreadLimit",
            )
            v["ThreadLimit"] = tl_max
        elif v["ThreadLimit"] < 1:
            self.note(
                "tl_min",
                f"ThreadLimit {v['ThreadLimit']} is not allowed; httpd raises it to 1",
                "ThreadLimit",
            )
            v["ThreadLimit"] = 1
        tl, tpc = v["ThreadLimit"], v["ThreadsPerChild"]
        if tpc > tl:
            self.note(
                "tpc_max",
                f"ThreadsPerChild {tpc} is above ThreadLimit {tl}; httpd lowers it to {tl} "
                "(raise ThreadLimit to allow more)",
                "ThreadsPerChild",
                "ThreadLimit",
            )
            tpc = tl
        elif tpc < 1:
            self.note(
                "tpc_min",
                f"ThreadsPerChild {tpc} is not allowed; httpd raises it to 1",
                "ThreadsPerChild",
            )
            tpc = 1
        v["ThreadsPerChild"] = tpc
        mrw = v["MaxRequestWorkers"]
        if mrw < tpc:
            self.note(
                "mrw_min",
                f"MaxRequestWorkers {mrw} is below ThreadsPerChild {tpc}; httpd raises it to "
                f"{tpc}, one full child process",
                "MaxRequestWorkers",
                "ThreadsPerChild",
            )
            mrw = tpc
        daemons = mrw // tpc  # both positive here, so C and Python division agree
        if mrw % tpc:
            rounded = daemons * tpc
            self.note(
                "mrw_multiple",
                f"MaxRequestWorkers {mrw} is not a multiple of ThreadsPerChild {tpc}; httpd "
                f"lowers it to {rounded}, enough for {daemons} child processes",
                "MaxRequestWorkers",
                "ThreadsPerChild",
            )
            mrw = rounded
        sl = v["ServerLimit"]
        if daemons > sl:
            # httpd caps the number of children (ap_daemons_limit / active_daemons_limit) but
            # leaves its max_workers variable at the larger value, so its "server reached
            # MaxRequestWorkers" error can never be logged. The real capacity is ServerLimit x
            # ThreadsPerChild, which is what effective reports.
            self.note(
                "mrw_max",
                f"MaxRequestWorkers {mrw} would need {daemons} child processes, more than "
                f"ServerLimit {sl}; httpd caps it at {sl * tpc} (raise ServerLimit to allow "
                "more)",
                "MaxRequestWorkers",
                "ServerLimit",
            )
            daemons = sl
        self.daemons = daemons
        v["MaxRequestWorkers"] = daemons * tpc

    def silent(self, setting: str, new: int, why: str, *causes: str) -> None:
        """A run-time raise httpd does not log."""
        file, line = self._cause((setting, *causes))
        message = (
            f"{setting} {self.v[setting]} {why}; httpd silently uses {new} when it starts "
            "the children"
        )
        self.adj.append(Adjustment(None, message, setting, file, line, stage=STAGE_RUN))
        self.v[setting] = new

    def run(self) -> None:
        """<mpm>_run before forking: "don't thrash" raises, per listener bucket.

        ``buckets`` is 1 unless ListenCoresBucketsRatio is set. httpd -t never gets here.
        """
        v, nb = self.v, self.buckets
        if self.daemons < nb:
            self.daemons = nb
            v["MaxRequestWorkers"] = nb * (v["ThreadsPerChild"] if self.threaded else 1)
        if v["StartServers"] < nb:
            self.silent("StartServers", nb, f"is below the {nb} listener buckets")
        if self.threaded:
            tpc = v["ThreadsPerChild"]
            low = _int32(tpc * (nb - 1) + nb)
            if v["MinSpareThreads"] < low:
                self.silent("MinSpareThreads", low, "is below one idle child per bucket")
            high = _int32(v["MinSpareThreads"] + (tpc + 1) * nb)
            if v["MaxSpareThreads"] < high:
                self.silent(
                    "MaxSpareThreads",
                    high,
                    "is below MinSpareThreads + ThreadsPerChild + 1 (per listener bucket)",
                    "MinSpareThreads",
                    "ThreadsPerChild",
                )
        else:
            if v["MinSpareServers"] < nb:
                self.silent("MinSpareServers", nb, f"is below the {nb} listener buckets")
            high = _int32(v["MinSpareServers"] + nb)
            if v["MaxSpareServers"] < high:
                self.silent(
                    "MaxSpareServers",
                    high,
                    "is not above MinSpareServers (per listener bucket)",
                    "MinSpareServers",
                )

    def result(self) -> MpmResult:
        eff: dict[str, int | float] = dict(self.v)
        if self.mpm == "event":
            eff["AsyncRequestWorkerFactor"] = self.factor / WORKER_FACTOR_SCALE
        result = MpmResult(self.mpm, "2.4", eff, self.adj, set(self.src))
        if self.fatal:  # httpd stops; derive the figures from the values as read
            self.daemons = max(0, result.processes_needed())
        eff["processes"] = self.daemons
        # <mpm>_run: remaining_children_to_start = min(StartServers, process limit).
        eff["processes_at_start"] = max(0, min(self.v["StartServers"], self.daemons))
        return result


def _evaluate_24(mpm: str, settings: list[Setting], buckets: int) -> MpmResult:
    start = _Start24(mpm, buckets)
    start.pre_config()
    start.read(settings)
    if not start.fatal:  # config.c: httpd stops at the first error and exits
        start.check_config()
        start.run()
    return start.result()


# --- Apache 2.2 -------------------------------------------------------------------------------


@dataclass
class _Reading22:
    """One reading of the configuration by httpd 2.2 (pre_config, then the handlers)."""

    mpm: str
    server_limit: int
    thread_limit: int
    v: dict[str, int] = field(default_factory=dict)
    daemons: int = 0
    src: dict[str, Setting] = field(default_factory=dict)
    adj: list[Adjustment] = field(default_factory=list)
    fatal: bool = False

    def warn(self, setting: str, message: str, s: Setting) -> None:
        self.adj.append(Adjustment(None, message, setting, s.file, s.line, stage=STAGE_READ))

    def read(self, settings: list[Setting]) -> None:
        mpm = self.mpm
        threaded = mpm in THREADED
        # 2.2 <mpm>_pre_config: everything but server_limit / thread_limit is reset; those
        # two are static initialisers, so a second reading starts from the first one's
        # values; ap_daemons_limit (MaxClients) starts as that server_limit.
        self.v = {
            "StartServers": DEFAULT_START_DAEMON[mpm],
            "MaxRequestsPerChild": DEFAULT_MAX_REQUESTS_PER_CHILD["2.2"],
        }
        if threaded:
            self.v["ThreadsPerChild"] = DEFAULT_THREADS_PER_CHILD
            self.v["MinSpareThreads"] = DEFAULT_MIN_FREE_DAEMON[mpm] * DEFAULT_THREADS_PER_CHILD
            self.v["MaxSpareThreads"] = DEFAULT_MAX_FREE_DAEMON * DEFAULT_THREADS_PER_CHILD
        else:
            self.v["MinSpareServers"] = DEFAULT_MIN_FREE_DAEMON[mpm]
            self.v["MaxSpareServers"] = DEFAULT_MAX_FREE_DAEMON
        self.daemons = self.server_limit
        for s in settings:
            key = s.name.lower()
            if key not in _ALL_NAMES:
                continue
            err = _syntax_check(s, key, "2.2", mpm)
            if err:
                self.adj.append(_fatal("2.2", err[0], err[1], s))
                self.fatal = True
                return
            name = _DIRECTIVES[("2.2", mpm)][key]
            self.src[name] = s
            value = read_atoi(s, self.adj)
            handler = getattr(self, "_set_" + name.lower(), None)
            if handler is not None:
                handler(value, s)
            else:  # StartServers, MaxSpare*, MaxRequestsPerChild: stored unchecked
                self.v[name] = value

    # prefork.c set_server_limit / worker.c set_server_limit (2.2). At start
    # first_server_limit is 0 (set only in ap_mpm_run), so the restart guard never applies.
    def _set_serverlimit(self, value: int, s: Setting) -> None:
        hard = MAX_SERVER_LIMIT[self.mpm]
        if value > hard:
            self.warn(
                "ServerLimit",
                f"ServerLimit {value} is above the compile-time maximum "
                f"of {hard} servers; httpd 2.2 lowers it to {hard}",
                s,
            )
            value = hard
        elif value < 1:
            self.warn(
                "ServerLimit",
                f"ServerLimit {value} is not allowed (it must be above 0); httpd 2.2 sets it to 1",
                s,
            )
            value = 1
        self.server_limit = value

    # worker.c set_thread_limit (2.2); httpd's message calls the threads "servers".
    def _set_threadlimit(self, value: int, s: Setting) -> None:
        hard = MAX_THREAD_LIMIT[self.mpm]
        if value > hard:
            self.warn(
                "ThreadLimit",
                f"ThreadLimit {value} is above the compile-time maximum "
                f"of {hard}; httpd 2.2 lowers it to {hard}",
                s,
            )
            value = hard
        elif value < 1:
            self.warn(
                "ThreadLimit",
                f"ThreadLimit {value} is not allowed (it must be above 0); httpd 2.2 sets it to 1",
                s,
            )
            value = 1
        self.thread_limit = value

    # worker.c set_threads_per_child (2.2): against the ThreadLimit in force at this line.
    def _set_threadsperchild(self, value: int, s: Setting) -> None:
        if value > self.thread_limit:
            tl = self.thread_limit
            self.warn(
                "ThreadsPerChild",
                f"ThreadsPerChild {value} is above ThreadLimit {tl}; "
                f"httpd 2.2 lowers it to {tl} (raise ThreadLimit to allow more)",
                s,
            )
            value = tl
        elif value < 1:
            self.warn(
                "ThreadsPerChild",
                f"ThreadsPerChild {value} is not allowed (it must be "
                "above 0); httpd 2.2 sets it to 1",
                s,
            )
            value = 1
        self.v["ThreadsPerChild"] = value

    # prefork.c set_min_free_servers (2.2); the value itself is not printed by httpd.
    def _set_minspareservers(self, value: int, s: Setting) -> None:
        if value <= 0:
            self.warn(
                "MinSpareServers",
                f"MinSpareServers {value} is not positive; httpd 2.2 resets it to 1",
                s,
            )
            value = 1
        self.v["MinSpareServers"] = value

    # worker.c set_min_spare_threads (2.2)
    def _set_minsparethreads(self, value: int, s: Setting) -> None:
        if value <= 0:
            self.warn(
                "MinSpareThreads",
                f"MinSpareThreads {value} is not positive; httpd 2.2 resets it to 1",
                s,
            )
            value = 1
        self.v["MinSpareThreads"] = value

    def _set_maxclients(self, value: int, s: Setting) -> None:
        sl = self.server_limit
        if self.mpm == "prefork":
            # prefork.c set_max_clients (2.2): against the ServerLimit in force at this line.
            if value > sl:
                self.warn(
                    "MaxClients",
                    f"MaxClients {value} is above ServerLimit {sl}; "
                    f"httpd 2.2 lowers MaxClients to {sl} (raise ServerLimit, before "
                    "MaxClients, to allow more)",
                    s,
                )
                value = sl
            elif value < 1:
                self.warn(
                    "MaxClients",
                    f"MaxClients {value} is not allowed (it must be above "
                    "0); httpd 2.2 sets it to 1",
                    s,
                )
                value = 1
            self.daemons = value
            return
        # worker.c set_max_clients (2.2): uses ThreadsPerChild as read so far (the pre_config
        # swap makes a top-level ThreadsPerChild come first) and keeps only the number of
        # children; the MaxClients the server runs with is children x final ThreadsPerChild.
        tpc = self.v["ThreadsPerChild"]
        if value < tpc:
            self.warn(
                "MaxClients",
                f"MaxClients {value} is below ThreadsPerChild {tpc}; httpd 2.2 raises it to {tpc}",
                s,
            )
            value = tpc
        daemons = value // tpc
        if value > 0 and value % tpc:
            self.warn(
                "MaxClients",
                f"MaxClients {value} is not a multiple of ThreadsPerChild "
                f"{tpc}; httpd 2.2 lowers it to {daemons * tpc}, at most {daemons} "
                "child processes",
                s,
            )
            value = daemons * tpc
        if daemons > sl:
            self.warn(
                "MaxClients",
                f"MaxClients {value} would need {daemons} child "
                f"processes, more than ServerLimit {sl}; httpd 2.2 lowers MaxClients to "
                f"{sl * tpc} (raise ServerLimit, before MaxClients, to allow more)",
                s,
            )
            daemons = sl
        elif daemons < 1:
            self.warn(
                "MaxClients",
                f"MaxClients {value} is not allowed (it must be above 0); httpd 2.2 sets it to 1",
                s,
            )
            daemons = 1
        self.daemons = daemons


def _swap_22(settings: list[Setting]) -> list[Setting]:
    """worker.c / event.c worker_pre_config (2.2): "make sure that ThreadsPerChild gets set
    before MaxClients" by swapping the first top-level MaxClients with the first top-level
    ThreadsPerChild when the latter comes later. Sections are not looked into. httpd matches
    by prefix (strncasecmp), which only differs for misspelt names, a syntax error anyway.
    """
    out = list(settings)
    first_mc: int | None = None
    for i, s in enumerate(out):
        if s.nested:
            continue
        key = s.name.lower()
        if key == "threadsperchild":
            if first_mc is not None:
                out[first_mc], out[i] = out[i], out[first_mc]
            break
        if first_mc is None and key == "maxclients":
            first_mc = i
    return out


def _evaluate_22(mpm: str, settings: list[Setting]) -> MpmResult:
    threaded = mpm in THREADED
    if threaded:
        settings = _swap_22(settings)
    first = _Reading22(mpm, DEFAULT_SERVER_LIMIT[mpm], DEFAULT_THREAD_LIMIT)
    first.read(settings)
    if first.fatal:
        return MpmResult(mpm, "2.2", _effective_22(first), first.adj, set(first.src))
    # main.c (2.2): httpd -t stops after the first reading; a start reads everything again.
    second = _Reading22(mpm, first.server_limit, first.thread_limit)
    second.read(settings)

    adj: list[Adjustment] = []
    pending = list(second.adj)
    for a in first.adj:
        twin = next((b for b in pending if _same(a, b)), None)
        if twin is None:
            a.stage = STAGE_FIRST_READ
            a.message += " (first reading only: not in effect once the server runs)"
        else:
            pending.remove(twin)
        adj.append(a)
    for b in pending:
        b.stage = STAGE_SECOND_READ
        b.message += " (second reading at start, logged to the error log only)"
        adj.append(b)

    # ap_mpm_run (2.2): silent "don't thrash" raise before the children start.
    v = second.v
    spare = (
        ("MinSpareThreads", "MaxSpareThreads")
        if threaded
        else ("MinSpareServers", "MaxSpareServers")
    )
    floor_max = _int32(v[spare[0]] + (v["ThreadsPerChild"] if threaded else 1))
    if v[spare[1]] < floor_max:
        cause = second.src.get(spare[1]) or second.src.get(spare[0])
        file, line = _where(cause)
        adj.append(
            Adjustment(
                None,
                f"{spare[1]} {v[spare[1]]} is below {spare[0]} + "
                f"{'ThreadsPerChild' if threaded else '1'}; httpd 2.2 silently "
                f"uses {floor_max} when it starts the children",
                spare[1],
                file,
                line,
                stage=STAGE_RUN,
            )
        )
        v[spare[1]] = floor_max
    return MpmResult(mpm, "2.2", _effective_22(second), adj, set(second.src))


def _same(a: Adjustment, b: Adjustment) -> bool:
    return (a.setting, a.message, a.file, a.line) == (b.setting, b.message, b.file, b.line)


def _effective_22(r: _Reading22) -> dict[str, int | float]:
    eff: dict[str, int | float] = dict(r.v)
    eff["ServerLimit"] = r.server_limit
    if r.mpm in THREADED:
        eff["ThreadLimit"] = r.thread_limit
        eff["MaxClients"] = r.daemons * r.v["ThreadsPerChild"]
    else:
        eff["MaxClients"] = r.daemons
    eff["processes"] = r.daemons
    # ap_mpm_run (2.2): remaining_children_to_start = min(StartServers, ap_daemons_limit);
    # 2.2 has no StartServers < 1 check, a non-positive value simply starts nobody.
    eff["processes_at_start"] = max(0, min(r.v["StartServers"], r.daemons))
    return eff


# --- entry points -----------------------------------------------------------------------------


def evaluate_mpm(
    name: str, version: str, settings: Iterable[Setting], *, listen_buckets: int = 1
) -> MpmResult:
    """Read `settings` (MPM directives in httpd's reading order) as MPM `name` of `version`.

    Directives that are no MPM setting (ServerName...) are ignored. A setting known to
    another MPM or version but not to this one (ThreadsPerChild under prefork,
    MaxRequestWorkers under 2.2) is what httpd reports as an invalid command: a fatal
    adjustment, after which nothing more is read. Pass only directives httpd actually reads
    (those in false <IfModule> sections excluded). `listen_buckets` is the number of listener
    buckets httpd 2.4 uses (1 unless ListenCoresBucketsRatio is set).
    """
    mpm, ver = _mpm(name), _version(version)
    if listen_buckets < 1:
        raise ValueError("listen_buckets must be at least 1")
    items = list(settings)
    if ver == "2.4":
        return _evaluate_24(mpm, items, listen_buckets)
    return _evaluate_22(mpm, items)


def compiled_defaults(name: str, version: str) -> dict[str, int | float]:
    """httpd's compiled defaults for an MPM (the effective values of an empty config)."""
    return evaluate_mpm(name, version, []).effective
