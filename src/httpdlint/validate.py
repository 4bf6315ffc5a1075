"""The real httpd's own syntax check of a tree (`-t`), run only under --pre-restart and --apply.

httpd -t loads every module the tree names, so it is never part of a plain `check`. Which
command checks the tree that will really start:

* no PATH, a server running (`pid`, else the one with most children): that server's binary
  with its own -f, -d, -D, -C and -c;
* no PATH, none running: `apache2ctl -t` or `apachectl -t` (they export Debian's envvars);
* a PATH: `httpd -d ROOT -f FILE -t` with the tree's envvars exported, so that the tree given
  is checked and not the distribution's default one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from .discover import find_binary, running_options
from .model import find_envvars, resolve_root
from .reading import read_envvars
from .redact import relayed

_SYNTAX = re.compile(r"Syntax error on line (\d+) of (.+?):\s*(.*)", re.S)


@dataclass
class Validation:
    """What httpd said of the tree: whether it accepts it, and its own first error."""

    ok: bool
    command: list[str]
    output: str
    message: str = ""
    file: str | None = None
    line: int | None = None


def command_for(
    path: str | None,
    *,
    server_root: str | None = None,
    defines: tuple[str, ...] = (),
    httpd: str | None = None,
    pid: int | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command (and environment) that checks the tree that would start: see above."""
    env = dict(os.environ)
    extra = [a for d in defines for a in ("-D", d)]
    if path is None:
        running = running_options(pid)
        if running is not None:
            binary, options = running
            return [httpd or binary, *options, *extra, "-t"], env
        for ctl in ("apache2ctl", "apachectl"):
            found = shutil.which(ctl) or (
                f"/usr/sbin/{ctl}" if os.path.exists(f"/usr/sbin/{ctl}") else None
            )
            if found and httpd is None and not extra:
                return [found, "-t"], env
        binary = httpd or find_binary()
        if binary is None:
            return [], env
        return [binary, *extra, "-t"], env
    main = resolve_root(path)
    envvars = find_envvars(main)
    if envvars:
        env.update(read_envvars(envvars))
    binary = httpd or find_binary()
    if binary is None:
        return [], env
    root = server_root or os.path.dirname(main)
    return [binary, "-d", root, "-f", main, *extra, "-t"], env


def httpd_check(
    path: str | None,
    *,
    server_root: str | None = None,
    defines: tuple[str, ...] = (),
    httpd: str | None = None,
    pid: int | None = None,
    timeout: float = 120,
) -> Validation:
    """Run httpd's syntax check; `ok` is its exit status, `message` its first error."""
    cmd, env = command_for(path, server_root=server_root, defines=defines, httpd=httpd, pid=pid)
    if not cmd:
        return Validation(False, [], "", "no httpd binary found (apache2, httpd): give --httpd")
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace", env=env, timeout=timeout
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Validation(False, cmd, "", f"{cmd[0]} could not run: {exc}")
    output = (done.stderr + done.stdout).strip()
    if done.returncode == 0:
        return Validation(True, cmd, output)
    m = _SYNTAX.search(output)
    if m:
        message = relayed(" ".join(m.group(3).split()) or output, m.group(2))
        return Validation(False, cmd, output, message, m.group(2), int(m.group(1)))
    # The line that says why: not the closing "Configuration check failed" (AH00014) nor
    # the ServerName notice (AH00558) that precede or follow it.
    lines = [
        ln.strip()
        for ln in output.splitlines()
        if ln.strip() and not any(x in ln for x in ("Syntax OK", "AH00014", "AH00558"))
    ]
    message = lines[0] if lines else output or f"{cmd[0]} -t exited {done.returncode}"
    return Validation(False, cmd, output, relayed(message))
