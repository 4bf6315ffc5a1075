"""What httpd's past says: its error log reaching MaxRequestWorkers, the kernel's OOM killer.

Only regular files are read, and only their last 8 MiB: a configuration may name any path as
its ErrorLog (a FIFO, /dev/zero), and none of them may hang or exhaust this tool.
"""

from __future__ import annotations

import calendar
import os
import re
import subprocess
import time
from collections.abc import Iterable
from typing import NamedTuple

from httpdlint.bounds import NotRegular, read_regular
from httpdlint.measure import Notice
from httpdlint.output import sanitize
from httpdlint.procfs import PROC, is_httpd_name

#: How much of a log's end is read: days of a busy server's error log, and a bound on a
#: configuration whose ErrorLog names a huge file.
TAIL_BYTES = 8 * 1024 * 1024

__all__ = [
    "BACKEND_MESSAGES",
    "DEFAULT_ERROR_LOGS",
    "FPM_MESSAGES",
    "LogMessage",
    "error_log_paths",
    "messages_since",
    "read_tail",
    "find_limit_hits",
    "limit_kind",
    "find_oom_kills",
    "open_error_logs",
    "error_log_warnings",
    "kernel_log_warnings",
    "log_warnings",
]

# What each MPM logs when it cannot start the workers it wants (httpd 2.4's server/mpm/*:
# perform_idle_server_maintenance), by kind: the limit reached, the scoreboard full below it
# (ServerLimit binds), and within MinSpareThreads of it. 2.2 writes the first without codes.
LIMIT_MESSAGES = {
    "reached": ("AH00161", "AH00286", "AH00484"),  # prefork, worker, event
    "scoreboard-full": ("AH00288", "AH03490"),  # worker, event
    "near": ("AH00287", "AH10159"),  # worker, event
}
_LIMIT_RE = re.compile(
    "|".join(code for codes in LIMIT_MESSAGES.values() for code in codes)
    + r"|server reached (?:MaxRequestWorkers|MaxClients) setting|scoreboard is full"
    + r"|within MinSpareThreads of (?:MaxRequestWorkers|MaxClients)"
)
_KIND = {code: kind for kind, codes in LIMIT_MESSAGES.items() for code in codes}

# What mod_proxy (proxy_util.c) and mod_proxy_fcgi log when a FastCGI backend such as a
# PHP-FPM pool refuses or fails a request, by kind: the connection refused (TCP, Unix socket,
# proxy_fcgi giving up: 503), the worker then put in its error state and refused for `retry`
# seconds, and a request that failed once sent.
BACKEND_MESSAGES = {
    "refused": ("AH00957", "AH02454", "AH01079"),
    "disabled": ("AH00959", "AH00940"),
    "failed": ("AH01075",),
}
_BACKEND_KIND = {code: kind for kind, codes in BACKEND_MESSAGES.items() for code in codes}

# What PHP-FPM's process manager logs (sapi/fpm/fpm/fpm_process_ctl.c), by kind: a pool at
# pm.max_children (`pm.max_children` for pm = dynamic, `max_children` for ondemand; written
# once until a worker can be started again), and a dynamic pool starting workers at the
# highest rate. Each line starts `[pool NAME]`.
FPM_MESSAGES = {
    "fpm-max-children": r"server reached (?:pm\.)?max_children setting",
    "fpm-busy": r"seems busy",
}
_FPM_RE = re.compile("|".join(f"(?P<{k.replace('-', '_')}>{v})" for k, v in FPM_MESSAGES.items()))
_FPM_POOL_RE = re.compile(r"\[pool ([^\]]+)\]")
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}
# httpd 2.4 `[Mon Dec 07 14:00:00.123456 2026]`, 2.2 without the fraction (ErrorLogFormat's
# default %t / %{u}t); PHP-FPM `[07-Dec-2026 14:00:00]` (zlog; a fraction at log_level debug).
_HTTPD_TIME = re.compile(r"\[\w{3} (\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.\d+)? (\d{4})\]")
_FPM_TIME = re.compile(r"\[(\d\d)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d)(?:\.\d+)?\]")
_LIMIT_SAID = {
    "reached": "httpd reached its worker limit",
    "scoreboard-full": "the scoreboard was full below MaxRequestWorkers (raise ServerLimit)",
    "near": "httpd came within MinSpareThreads of its worker limit",
}


def limit_kind(line: str) -> str:
    """`reached`, `scoreboard-full` or `near` for a line find_limit_hits returned."""
    code = re.search(r"AH\d{5}", line)
    if code and code.group() in _KIND:
        return _KIND[code.group()]
    if "scoreboard is full" in line:
        return "scoreboard-full"
    return "near" if "within MinSpareThreads" in line else "reached"


_OOM_RE = re.compile(
    r"(?:Out of memory|Memory cgroup out of memory)[^\n]*?: Kill(?:ed)? process (\d+) \(([^)]*)\)"
)


def find_limit_hits(text: str) -> list[str]:
    """Error log lines where an MPM reached (or neared) its worker limit: LIMIT_MESSAGES."""
    return [line for line in text.splitlines() if _LIMIT_RE.search(line)]


def find_oom_kills(text: str) -> list[tuple[int, str, str]]:
    """(pid, name, line) for each kernel OOM kill of an httpd process in `text`."""
    kills = []
    for line in text.splitlines():
        match = _OOM_RE.search(line)
        if match and is_httpd_name(match.group(2)):
            kills.append((int(match.group(1)), match.group(2), line.strip()))
    return kills


def read_tail(path: str, limit: int = TAIL_BYTES) -> str:
    """The last `limit` bytes of a regular file as text (logs can be huge; recent lines matter).

    Raises NotRegular (an OSError) for anything but a regular file: opening a FIFO would
    block, and a device such as /dev/zero never ends (see bounds.read_regular).
    """
    return read_regular(path, limit, tail=True).decode("utf-8", "replace")


def open_error_logs(pid: int, proc: str = PROC) -> list[str]:
    """Error logs the running parent holds open (its fds pointing at *error*log* files)."""
    paths: set[str] = set()
    try:
        fds = os.listdir(f"{proc}/{pid}/fd")
    except OSError:
        return []
    for fd in fds:
        try:
            target = os.readlink(f"{proc}/{pid}/fd/{fd}")
        except OSError:
            continue
        if re.search(r"error[._-]?log", os.path.basename(target)) and os.path.isfile(target):
            paths.add(target)
    return sorted(paths)


DEFAULT_ERROR_LOGS = ("/var/log/apache2/error.log", "/var/log/httpd/error_log")


def error_log_warnings(paths: Iterable[str]) -> list[Notice]:
    """A warning per error log that shows httpd reached MaxRequestWorkers (or MaxClients)."""
    warnings = []
    for path in dict.fromkeys(paths):
        try:
            hits = find_limit_hits(read_tail(path))
        except NotRegular:
            warnings.append(
                Notice("log-skipped", f"{path}: not a regular file (a FIFO or device): not read")
            )
            continue
        except PermissionError:
            warnings.append(
                Notice(
                    "unreadable", f"error log {path}: permission denied (limit messages unknown)"
                )
            )
            continue
        except OSError:
            continue
        by_kind: dict[str, list[str]] = {}
        for line in hits:
            by_kind.setdefault(limit_kind(line), []).append(line)
        for kind, said in _LIMIT_SAID.items():
            lines = by_kind.get(kind)
            if lines:
                code = "limit-reached" if kind == "reached" else f"limit-{kind}"
                warnings.append(
                    Notice(
                        code,
                        f"{path}: {said} {len(lines)} time(s), last: "
                        f"{sanitize(lines[-1].strip()[:200])}",
                    )
                )
    return warnings


def _exe(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _kernel_log_text() -> str | None:
    """Recent kernel messages from the first readable source: kern.log, journal, dmesg; None
    when a source exists but none could be read (not root: kernel.dmesg_restrict)."""
    denied = False
    for path in ("/var/log/kern.log", "/var/log/messages"):
        try:
            return read_tail(path)
        except PermissionError:
            denied = True
        except OSError:
            continue
    # By absolute path, never from $PATH (httpdlint runs as root): the documented places.
    journal = next((p for p in ("/usr/bin/journalctl", "/bin/journalctl") if _exe(p)), None)
    dmesg = next((p for p in ("/usr/bin/dmesg", "/bin/dmesg") if _exe(p)), None)
    commands = []
    if journal:
        commands.append([journal, "-k", "-q", "--no-pager", "-n", "20000"])
    if dmesg:
        commands.append([dmesg])
    for command in commands:
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=5, errors="replace"
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0 and done.stdout:
            return done.stdout
        denied = denied or done.returncode != 0
    return None if denied else ""


def kernel_log_warnings(text: str | None = None) -> list[Notice]:
    """A warning when the kernel's OOM killer has killed httpd processes."""
    if text is None:
        text = _kernel_log_text()
        if text is None:
            return [
                Notice(
                    "unreadable",
                    "the kernel log (kern.log, the journal, dmesg): permission denied "
                    "(OOM kills unknown)",
                )
            ]
    kills = find_oom_kills(text)
    if not kills:
        return []
    pids = ", ".join(str(pid) for pid, _, _ in kills[-5:])
    return [
        Notice(
            "oom-killed",
            f"the kernel killed httpd for lack of memory {len(kills)} time(s) (PIDs {pids}); "
            f"last: {kills[-1][2][:200]}",
        )
    ]


def error_log_paths(model, measurement) -> list[str]:
    """httpd's error logs: the configuration's ErrorLog and those the running parents hold
    open (none found: an empty list)."""
    paths: list[str] = []
    if model is not None:
        log = (model.server_values("ErrorLog") or [None])[0]
        if log and not log.startswith(("|", "syslog")):
            root = model.config.server_root or ""
            paths.append(log if log.startswith("/") else f"{root}/{log}")
    for tree in measurement.trees if measurement is not None else ():
        paths.extend(open_error_logs(tree.parent.pid))
    return list(dict.fromkeys(paths))


def log_warnings(model, measurement) -> list[Notice]:
    """What the logs say of this server: its error logs (the configuration's ErrorLog, those
    the running parents hold open, else the usual places) and the kernel's."""
    paths = error_log_paths(model, measurement)
    return error_log_warnings(paths or DEFAULT_ERROR_LOGS) + kernel_log_warnings()


# --------------------------------------------------------------------------- since a start


class LogMessage(NamedTuple):
    """One limit message: its code (an AH code, or an FPM_MESSAGES key), its kind, the line
    as written (cut at 300 characters), when it was written (epoch seconds), where it is.
    `line` is the line number, known when the whole file was read (else None); `pool` the
    PHP-FPM pool a PHP-FPM line names."""

    code: str
    kind: str
    text: str
    time: float
    file: str
    line: int | None
    pool: str | None = None

    def to_json(self) -> dict:
        out = {"code": self.code, "kind": self.kind, "text": self.text, "file": self.file}
        out["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.time))
        if self.line is not None:
            out["line"] = self.line
        if self.pool is not None:
            out["pool"] = self.pool
        return out


def _local(year: str, month: str, day: str, hh: str, mm: str, ss: str) -> float | None:
    number = _MONTHS.get(month)
    if number is None:
        return None
    try:
        # Both servers write local time; mktime reads it as this machine's (-1: DST unknown).
        return time.mktime((int(year), number, int(day), int(hh), int(mm), int(ss), 0, 0, -1))
    except (OverflowError, ValueError):
        return None


def log_time(line: str) -> float | None:
    """When an httpd or PHP-FPM error log line was written; None without a timestamp we read."""
    m = _HTTPD_TIME.match(line)
    if m:
        return _local(m.group(6), m.group(1), m.group(2), *m.group(3, 4, 5))
    m = _FPM_TIME.match(line)
    if m:
        return _local(m.group(3), m.group(2), m.group(1), *m.group(4, 5, 6))
    return None


def classify(line: str) -> tuple[str, str] | None:
    """(code, kind) of a limit message of an MPM, mod_proxy or PHP-FPM; None for others."""
    code = re.search(r"\bAH\d{5}\b", line)
    if code and code.group() in _BACKEND_KIND:
        return code.group(), _BACKEND_KIND[code.group()]
    if _LIMIT_RE.search(line):
        kind = limit_kind(line)
        return (code.group() if code and code.group() in _KIND else kind), kind
    fpm = _FPM_RE.search(line)
    if fpm:
        kind = next(k for k in FPM_MESSAGES if fpm.group(k.replace("-", "_")))
        return kind, kind
    return None


def messages_since(path: str, since: float | None, limit: int = TAIL_BYTES) -> list[LogMessage]:
    """The limit messages (see classify) written to `path` at or after `since` (epoch seconds;
    None: all), from the last `limit` bytes only. Lines without a timestamp are left out: a
    message of an earlier run must not pass for one of this run. OSError (NotRegular for a
    FIFO or device) when the file cannot be read."""
    data = read_tail(path, limit)
    whole = os.path.getsize(path) <= limit
    lines = data.splitlines()
    if not whole and lines:
        lines = lines[1:]  # the first line of a tail is likely cut
    out = []
    for number, line in enumerate(lines, 1):
        found = classify(line)
        if found is None:
            continue
        when = log_time(line)
        # Log times have whole seconds, a start time does not.
        if when is None or (since is not None and when < since - 1):
            continue
        pool = _FPM_POOL_RE.search(line) if found[0] in FPM_MESSAGES else None
        text = sanitize(line.strip()[:300])
        out.append(
            LogMessage(*found, text, when, path, number if whole else None,
                       pool.group(1) if pool else None)
        )  # fmt: skip
    return out
