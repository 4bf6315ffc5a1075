"""What httpd's past says: its error log reaching MaxRequestWorkers, the kernel's OOM killer.

Only regular files are read, and only their last 8 MiB: a configuration may name any path as
its ErrorLog (a FIFO, /dev/zero), and none of them may hang or exhaust this tool.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable

from httpdlint.bounds import NotRegular, read_regular
from httpdlint.measure import Notice
from httpdlint.output import sanitize
from httpdlint.procfs import PROC, is_httpd_name

#: How much of a log's end is read: days of a busy server's error log, and a bound on a
#: configuration whose ErrorLog names a huge file.
TAIL_BYTES = 8 * 1024 * 1024

__all__ = [
    "DEFAULT_ERROR_LOGS",
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


def _tail(path: str, limit: int = TAIL_BYTES) -> str:
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
            hits = find_limit_hits(_tail(path))
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
            return _tail(path)
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


def log_warnings(model, measurement) -> list[Notice]:
    """What the logs say of this server: its error logs (the configuration's ErrorLog, those
    the running parents hold open, else the usual places) and the kernel's."""
    paths: list[str] = []
    if model is not None:
        log = (model.server_values("ErrorLog") or [None])[0]
        if log and not log.startswith(("|", "syslog")):
            root = model.config.server_root or ""
            paths.append(log if log.startswith("/") else f"{root}/{log}")
    for tree in measurement.trees if measurement is not None else ():
        paths.extend(open_error_logs(tree.parent.pid))
    return error_log_warnings(paths or DEFAULT_ERROR_LOGS) + kernel_log_warnings()
