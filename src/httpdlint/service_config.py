"""How co-hosted services write their memory ceilings: command lines and configuration files.

Parsers only, no process or network access beyond reading the files named: Redis's sizes
(`1k` is 1000 bytes, `1kb` 1024) and redis.conf, memcached's options, MySQL's option files
(`!include`, `!includedir`), postgresql.conf (`include`, `include_dir`, units of 8 kB blocks),
a JVM's options (JAVA_TOOL_OPTIONS, the launcher's, up to the main class) and its heap, and
varnishd's `-s` storage. The software's defaults that apply when a setting is absent live
here too; services.py decides what is reserved.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from collections.abc import Iterable

from httpdlint.bounds import read_regular
from httpdlint.sizes import format_size, parse_size

__all__ = [
    "MY_CNF",
    "redis_size",
    "redis_conf",
    "memcached_size",
    "memcached_options",
    "read_my_cnf",
    "mysql_size",
    "postgres_size",
    "read_postgresql_conf",
    "postgres_options",
    "java_size",
    "java_options",
    "jvm_heap",
    "varnish_storage",
]

MIB = 1 << 20
CONF_LIMIT = 1 << 20
# !include and include_dir may nest and loop: a bound on how many files one service reads.
MAX_FILES = 200

#: The software's defaults where a setting is absent.
MEMCACHED_DEFAULT_MB = 64
INNODB_POOL_DEFAULT = 128 * MIB
INNODB_LOG_BUFFER_DEFAULT = 16 * MIB
POSTGRES_SHARED_BUFFERS_DEFAULT = 128 * MIB
#: A JVM without -Xmx takes this share of the RAM it sees (MaxRAMPercentage).
JVM_RAM_PERCENTAGE = 25.0
#: varnishd without -s.
VARNISH_DEFAULT_STORAGE = "default,100m"


_REDIS_UNITS = {"": 1, "k": 1000, "kb": 1024, "m": 10**6, "mb": 1 << 20, "g": 10**9, "gb": 1 << 30}


def redis_size(text: str) -> int:
    """A size as redis.conf writes it: 1k is 1000 bytes, 1kb 1024 (its own convention)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmg]b?)?\s*", text, re.I)
    if match is None:
        raise ValueError(f"invalid Redis size {text!r}")
    return int(match.group(1)) * _REDIS_UNITS[(match.group(2) or "").lower()]


def redis_conf(path: str) -> dict[str, str]:
    text = read_regular(path, CONF_LIMIT).decode("utf-8", "replace")
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and not parts[0].startswith("#"):
            out[parts[0].lower()] = parts[1].strip().strip("\"'")
    return out


def memcached_size(text: str) -> int:
    """-m: megabytes, or with a k/m/g suffix (memcached 1.6)."""
    if text.isdigit():
        return int(text) * MIB
    return parse_size(text)


def memcached_options(argv: list[str]) -> dict[str, str]:
    """-m, -p, -l and -s from a memcached command line (last one wins)."""
    names = {
        "-m": "m", "--memory-limit": "m", "-p": "p", "--port": "p",
        "-l": "l", "--listen": "l", "-s": "s", "--unix-socket": "s",
    }  # fmt: skip
    out: dict[str, str] = {}
    args = iter(argv[1:])
    for arg in args:
        key, sep, value = arg.partition("=")
        if key in names:
            out[names[key]] = value if sep else next(args, "")
        elif len(arg) > 2 and arg[:2] in names and not arg.startswith("--"):
            out[names[arg[:2]]] = arg[2:]
    return out


_MYSQL_SECTIONS = re.compile(r"(mysqld|server|mariadb|mariadbd)(-[\d.]+)?$", re.I)


MY_CNF = ("/etc/my.cnf", "/etc/mysql/my.cnf")


def read_my_cnf(paths: Iterable[str]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The server's options from MySQL option files: {name: (value, file)}, and the files read.

    Names are folded to underscores (`innodb-buffer-pool-size` is the same option); only the
    server's groups count ([mysqld], [server], [mariadb], [mariadbd], and -VERSION variants);
    `!include FILE` and `!includedir DIR` (its *.cnf, sorted) are followed; later wins.
    """
    options: dict[str, tuple[str, str]] = {}
    read: list[str] = []

    def one(path: str) -> None:
        if len(read) >= MAX_FILES or path in read:
            return
        try:
            text = read_regular(path, CONF_LIMIT).decode("utf-8", "replace")
        except OSError:
            return
        read.append(path)
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("!includedir"):
                directory = os.path.join(os.path.dirname(path), line[len("!includedir") :].strip())
                for name in sorted(glob.glob(os.path.join(directory, "*.cnf"))):
                    one(name)
                continue
            if line.startswith("!include"):
                one(os.path.join(os.path.dirname(path), line[len("!include") :].strip()))
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                continue
            if not _MYSQL_SECTIONS.match(section):
                continue
            name, _, value = line.partition("=")
            value = value.split("#", 1)[0].strip().strip("\"'")
            name = name.strip().replace("-", "_").lower().removeprefix("loose_")
            options[name] = (value, path)

    for path in paths:
        one(path)
    return options, read


def mysql_size(text: str) -> int:
    return parse_size(text) if text else 0


_PG_UNITS = {"b": 1, "kb": 1024, "mb": MIB, "gb": 1 << 30, "tb": 1 << 40}


_PG_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=?\s*('(?:[^'\\]|\\.|'')*'|[^\s#]+)?")


def postgres_size(text: str, unit: int = 8192) -> int:
    """A memory setting as postgresql.conf writes it: `128MB`, `1GB`, or a number of
    `unit`s (8 kB blocks for shared_buffers)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?b)?\s*", text, re.I)
    if match is None:
        raise ValueError(f"invalid PostgreSQL size {text!r}")
    suffix = match.group(2)
    return int(match.group(1)) * (_PG_UNITS[suffix.lower()] if suffix else unit)


def read_postgresql_conf(path: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Settings of postgresql.conf: {name: (value, file)} (later wins) and the files read,
    following `include`, `include_if_exists` and `include_dir` (its *.conf, sorted), paths
    relative to the including file."""
    settings: dict[str, tuple[str, str]] = {}
    read: list[str] = []

    def one(file: str) -> None:
        if len(read) >= MAX_FILES or file in read:
            return
        try:
            text = read_regular(file, CONF_LIMIT).decode("utf-8", "replace")
        except OSError:
            return
        read.append(file)
        for line in text.splitlines():
            match = _PG_LINE.match(line)
            if match is None or match.group(2) is None:
                continue
            name, value = match.group(1).lower(), match.group(2)
            if value.startswith("'"):
                value = value[1:-1].replace("''", "'")
            if name in ("include", "include_if_exists", "include_dir"):
                target = os.path.join(os.path.dirname(file), value)
                if name == "include_dir":
                    for conf in sorted(glob.glob(os.path.join(target, "*.conf"))):
                        one(conf)
                else:
                    one(target)
                continue
            settings[name] = (value, file)

    one(path)
    return settings, read


def postgres_options(argv: list[str]) -> dict[str, str]:
    """-D and every `-c name=value` / `--name=value` of a postgres command line."""
    out: dict[str, str] = {}
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-D", "-c"):
            arg = arg + next(args, "")
        if arg.startswith("-D"):
            out["data_directory"] = arg[2:]
        elif arg.startswith("-c") or arg.startswith("--"):
            name, sep, value = arg[2:].partition("=")
            if sep:
                out[name.replace("-", "_").lower()] = value
    return out


def java_size(text: str) -> int:
    """-Xmx512m, -Xmx2G, -Xmx1048576: k/m/g/t binary, bare bytes."""
    match = re.fullmatch(r"(\d+)([kmgt])?", text, re.I)
    if match is None:
        raise ValueError(f"invalid JVM size {text!r}")
    power = " kmgt".index((match.group(2) or " ").lower())
    return int(match.group(1)) * 1024**power


#: Launcher options that take the next argument as their value.
_JAVA_VALUE_OPTIONS = {
    "-cp", "-classpath", "--class-path", "-p", "--module-path", "--upgrade-module-path",
    "--add-modules", "--limit-modules", "--add-reads", "--add-exports", "--add-opens",
    "--enable-native-access",
}  # fmt: skip


def java_options(argv: list[str], environ: dict[str, str] | None = None) -> list[str]:
    """The JVM's options: JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, then the command line up to
    the main class or `-jar FILE` (what follows is the application's)."""
    out: list[str] = []
    env = environ or {}
    for name in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"):
        try:
            out += shlex.split(env.get(name, ""))
        except ValueError:
            out += env.get(name, "").split()
    args = iter(argv[1:])
    for arg in args:
        if not arg.startswith("-"):
            break
        out.append(arg)
        if arg in _JAVA_VALUE_OPTIONS:
            next(args, None)
        elif arg in ("-jar", "-m", "--module", "--source"):
            break
    return out


def jvm_heap(options: list[str], physical: int) -> tuple[int, str, str]:
    """(maximum heap, how it was set, basis) from the JVM's options; the last one wins."""
    heap: tuple[int, str] | None = None
    percentage, max_ram = JVM_RAM_PERCENTAGE, physical
    for opt in options:
        if opt.startswith("-Xmx"):
            heap = (java_size(opt[4:]), opt)
        elif opt.startswith("-XX:MaxHeapSize="):
            heap = (java_size(opt.split("=", 1)[1]), opt)
        elif opt.startswith("-XX:MaxRAMPercentage="):
            percentage = float(opt.split("=", 1)[1])
        elif opt.startswith("-XX:MaxRAM="):
            max_ram = java_size(opt.split("=", 1)[1])
    if heap is not None:
        return heap[0], heap[1], "config"
    size = int(max_ram * percentage / 100)
    return (
        size,
        f"no -Xmx: MaxRAMPercentage {percentage:g} % of {format_size(max_ram)}",
        ("config" if percentage != JVM_RAM_PERCENTAGE else "default"),
    )


#: varnishd options that take a value (the others are flags).
_VARNISH_VALUES = set("abfhijlMnPprSsTtWIxE")


def varnish_storage(argv: list[str]) -> list[str]:
    """Every `-s` argument of a varnishd command line, in order."""
    out = []
    args = iter(argv[1:])
    for arg in args:
        if len(arg) < 2 or arg[0] != "-" or arg[1] not in _VARNISH_VALUES:
            continue
        value = arg[2:] or next(args, "")
        if arg[1] == "s":
            out.append(value)
    return out
