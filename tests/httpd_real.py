"""Run the real apache2 and read back what it says about a configuration (the judge of tests)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

INFO_SO = "/usr/lib/apache2/modules/mod_info.so"


def apache_env(envvars: Path | None = None) -> dict[str, str]:
    """The environment apache2ctl gives httpd: envvars sourced by the shell, as Debian does."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C"}
    if envvars and envvars.exists():
        out = subprocess.run(
            ["sh", "-c", f'. "{envvars}" >/dev/null 2>&1; env -0'],
            capture_output=True,
            env={**env, "APACHE_CONFDIR": str(envvars.parent)},
            check=True,
        ).stdout
        for item in out.split(b"\0"):
            if b"=" in item:
                k, v = item.split(b"=", 1)
                env[k.decode()] = v.decode("utf-8", "surrogateescape")
    return env


def run_apache(
    binary: str,
    conf: Path,
    server_root: Path,
    *args: str,
    env: dict[str, str] | None = None,
    defines: tuple[str, ...] = (),
    pre: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    cmd = [binary, "-d", str(server_root), "-f", str(conf)]
    for item in pre:
        cmd += ["-C", item]
    for d in defines:
        cmd += ["-D", d]
    cmd += list(args)
    return subprocess.run(
        cmd, capture_output=True, text=True, errors="surrogateescape", env=env, timeout=60
    )


def dump_includes(binary: str, conf: Path, server_root: Path, **kw) -> list[str]:
    """Files in the order httpd first reads them (`-t -D DUMP_INCLUDES`), each once."""
    res = run_apache(binary, conf, server_root, "-t", "-D", "DUMP_INCLUDES", **kw)
    files: list[str] = []
    for line in res.stdout.splitlines():
        m = re.match(r"^\s+\((?:\*|\d+)\) (.*)$", line)
        if m and m.group(1) not in files:
            files.append(m.group(1))
    if not files:
        raise AssertionError(f"apache2 printed no includes: {res.stdout}\n{res.stderr}")
    return files
