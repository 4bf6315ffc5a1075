"""Co-hosted services and the memory each one may grow to: its configured ceiling.

A reserve taken from what a service holds today overcommits the host: a Redis below its
`maxmemory`, memcached below `-m`, an InnoDB buffer pool still warming, PostgreSQL's
`shared_buffers`, Varnish's `-s malloc` storage and a JVM's heap all grow to the size they
are configured for. This module recognises such services among the machine's other processes
(by name: redis-server, memcached, mysqld/mariadbd, postgres, java, varnishd) and gives each
a `ServiceReserve`: its PIDs, what it holds (PSS, the peak when sampled), its ceiling and
where the ceiling was read, and `reserved`, the larger of the two. service_config.py parses
the command lines and configuration files; this module asks the services and adds overheads.

Where the ceiling comes from, first that which answers:

* Redis: `INFO memory` over its own listening socket (a Unix socket, or a TCP port on a
  loopback address), read from the process's descriptors, else its process title; with
  authentication required, a `redis.conf` that names the same port.
* memcached: `stats settings` over its port, else `-m` on its command line (64 MiB by
  default).
* MariaDB/MySQL: its command line, then the option files it reads (`--defaults-file`, else
  /etc/my.cnf and /etc/mysql/my.cnf with their `!include` and `!includedir`).
* PostgreSQL: its command line (`-c name=value`), then `postgresql.conf` (`config_file`, else
  in the `-D` data directory, with `include`, `include_dir` and `postgresql.auto.conf`).
* A JVM: `-Xmx` (or `-XX:MaxHeapSize`, else `-XX:MaxRAMPercentage` of RAM, 25 % by default)
  from its command line and JAVA_TOOL_OPTIONS / JDK_JAVA_OPTIONS.
* Varnish: the `-s` storage on varnishd's command line (`default,100m` when none is given).

Overheads added to what the setting covers (each one stated in the entry's source):

* InnoDB: +10 % of the buffer pool for its control structures (MySQL's documentation of
  innodb_buffer_pool_size), plus innodb_log_buffer_size (16 MiB by default) and
  key_buffer_size when set. Per-connection buffers are not counted.
* JVM: the heap covers neither metaspace, the code cache (240 MiB reserved by default), thread
  stacks nor the collector's structures: + the larger of 25 % of the heap and 256 MiB.
* Varnish: `-s` sizes the object bodies; each object also costs about 1 KiB outside the
  storage, and workspaces and thread stacks come on top: +25 % of the malloc storage. File
  storage is page cache and is not reserved; an unbounded Transient storage is noted.
* memcached: `-m` sizes the items only; + 10 % for the hash table and connection buffers.
* Redis: maxmemory bounds `used_memory`; what the process holds beyond it today (its code,
  the allocator's fragmentation) is added.
* PostgreSQL: shared_buffers; backends' work_mem is per sort and is not counted.

Network reads are bounded: a 1 s timeout, 64 KiB at most, only to Unix sockets and loopback
addresses in this process's network namespace. No credentials are read or sent.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from httpdlint import service_config as cfg
from httpdlint.procfs import PROC, ProcessInfo, environ
from httpdlint.procfs import argv as process_argv
from httpdlint.sizes import format_size, parse_size

__all__ = [
    "KINDS",
    "ServiceReserve",
    "find_services",
    "merge_peaks",
    "listening",
    "ask",
    "redis_ceiling",
    "memcached_ceiling",
    "mysql_ceiling",
    "postgres_ceiling",
    "jvm_ceiling",
    "varnish_ceiling",
]

MIB = 1 << 20

#: What each service's reader gives: (ceiling or None, source, basis).
Ceiling = tuple[int | None, str, str]

#: Process names (comm, or the executable's name) of the services recognised, and their kind.
KINDS = {
    "redis-server": "redis",
    "valkey-server": "redis",
    "memcached": "memcached",
    "mysqld": "mysql",
    "mariadbd": "mysql",
    "postgres": "postgresql",
    "postmaster": "postgresql",
    "java": "jvm",
    "varnishd": "varnish",
}

TIMEOUT = 1.0
REPLY_LIMIT = 64 * 1024

INNODB_OVERHEAD = 0.10
JVM_OVERHEAD_SHARE = 0.25
JVM_OVERHEAD_FLOOR = 256 * MIB
VARNISH_OVERHEAD = 0.25
MEMCACHED_OVERHEAD = 0.10


@dataclass(frozen=True)
class ServiceReserve:
    """One co-hosted service: what it holds, what it may grow to, and what is reserved."""

    name: str
    kind: str
    pids: tuple[int, ...]
    #: PSS of its processes: the peak over a sampling window, else now.
    measured: int
    #: Its configured ceiling with the documented overhead; None when it has none or none
    #: could be read (then `source` says why).
    ceiling: int | None
    source: str
    #: config (read from the service or its configuration), default (the software's default
    #: applies), measured (no ceiling: the measured size is reserved).
    basis: str = "config"
    #: PSS at the last look: the part of the measurement's other processes that it is.
    current: int = 0

    @property
    def reserved(self) -> int:
        return max(self.measured, self.ceiling or 0)

    def note(self) -> str:
        peak = f"measured {format_size(self.measured)}"
        if self.ceiling is None:
            return f"no ceiling ({self.source}), {peak}: reserved the measured"
        return (
            f"ceiling {format_size(self.ceiling)} ({self.source}), {peak}, PIDs "
            f"{', '.join(map(str, self.pids[:5]))}{'...' if len(self.pids) > 5 else ''}: "
            "reserved the larger"
        )

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "pids": list(self.pids),
            "ceiling_bytes": self.ceiling,
            "measured_bytes": self.measured,
            "reserved_bytes": self.reserved,
            "source": self.source,
        }


# --------------------------------------------------------------------------- recognising


def _kind(p: ProcessInfo) -> str | None:
    return KINDS.get(p.name)


def find_services(
    others: Iterable[ProcessInfo], *, physical: int = 0, proc: str = PROC
) -> list[ServiceReserve]:
    """The services among `others` (processes outside httpd's trees), each with its ceiling.

    A service is a recognised process whose parent is not one of the same kind, with every
    process below it (PostgreSQL's backends, Varnish's cache child). `physical` is the RAM
    a JVM without -Xmx sizes its heap from.
    """
    procs = list(others)
    by_pid = {p.pid: p for p in procs}
    roots: dict[int, list[ProcessInfo]] = {}
    for p in procs:
        kind = _kind(p)
        if kind is None:
            continue
        parent = by_pid.get(p.ppid)
        if parent is not None and _kind(parent) == kind:
            continue
        roots[p.pid] = [p]
    for p in procs:
        if p.pid in roots:
            continue
        seen: set[int] = set()
        up = p.ppid
        while up in by_pid and up not in seen and up not in roots:
            seen.add(up)
            up = by_pid[up].ppid
        if up in roots:
            roots[up].append(p)
    out = []
    for members in roots.values():
        root = members[0]
        measured = sum(m.pss for m in members)
        kind = KINDS[root.name]
        try:
            ceiling, source, basis = _READERS[kind](root, measured, physical, proc)
        except OSError as exc:
            ceiling, source, basis = None, f"could not read its ceiling: {exc}", "measured"
        except ValueError:
            # Not the value: it may come from a file the process named and its user cannot read.
            ceiling, source, basis = None, "could not read its ceiling: not a size", "measured"
        out.append(
            ServiceReserve(
                root.name,
                kind,
                tuple(sorted(m.pid for m in members)),
                measured,
                ceiling,
                source,
                basis if ceiling is not None else "measured",
                measured,
            )
        )
    out.sort(key=lambda s: s.reserved, reverse=True)
    return out


def merge_peaks(seen: list[ServiceReserve], latest: list[ServiceReserve]) -> list[ServiceReserve]:
    """`latest` with each service at the largest size seen for it over the sampling window."""
    peaks = {(s.kind, s.pids[0]): s.measured for s in seen}
    return [replace(s, measured=max(s.measured, peaks.get((s.kind, s.pids[0]), 0))) for s in latest]


# --------------------------------------------------------------------------- sockets


def _socket_inodes(pid: int, proc: str) -> set[str]:
    out = set()
    try:
        fds = os.listdir(f"{proc}/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            link = os.readlink(f"{proc}/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def _hex_address(text: str) -> str:
    raw = bytes.fromhex(text)
    if sys.byteorder == "little":  # the kernel prints each 32-bit word in host order
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def listening(pid: int, proc: str = PROC) -> list[tuple[str, str | int]]:
    """The sockets `pid` listens on: ("unix", path) and ("tcp", "host:port"), Unix first.

    Needs to read the process's descriptors (root, or its owner): [] otherwise. Sockets in
    another network namespace (a container's) are left out: their addresses are not ours.
    """
    inodes = _socket_inodes(pid, proc)
    if not inodes:
        return []
    try:
        if os.readlink(f"{proc}/{pid}/ns/net") != os.readlink(f"{proc}/self/ns/net"):
            return []
    except OSError:
        pass
    out: list[tuple[str, str | int]] = []
    try:
        with open(f"{proc}/{pid}/net/unix") as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                # Flags __SO_ACCEPTCON (0x10000): a listening socket.
                if len(fields) >= 8 and fields[6] in inodes and int(fields[3], 16) & 0x10000:
                    out.append(("unix", fields[7]))
    except (OSError, ValueError):
        pass
    for table in ("tcp", "tcp6"):
        try:
            with open(f"{proc}/{pid}/net/{table}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A" or fields[9] not in inodes:
                continue
            host, port = fields[1].split(":")
            out.append(("tcp", f"{_hex_address(host)}:{int(port, 16)}"))
    return out


def _loopback(host: str) -> str | None:
    """The loopback address to reach a listener bound to `host`, or None (not local)."""
    host = host.strip("[]")
    if host in ("*", "", "0.0.0.0", "::", "localhost"):
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return str(address) if address.is_loopback else None


def _split_host_port(text: str) -> tuple[str, int] | None:
    host, _, port = text.rpartition(":")
    return (host, int(port)) if port.isdigit() else None


def ask(endpoint: tuple[str, str | int], request: bytes, done) -> bytes:
    """Send `request` to a Unix socket or a loopback TCP address; the reply once `done(reply)`
    says it is complete. At most REPLY_LIMIT bytes and TIMEOUT seconds; OSError otherwise."""
    kind, where = endpoint
    if kind == "unix":
        path = str(where)
        target: str | tuple[str, int] = "\0" + path[1:] if path.startswith("@") else path
        family = socket.AF_UNIX
    else:
        parsed = _split_host_port(str(where))
        host = _loopback(parsed[0]) if parsed else None
        if parsed is None or host is None:
            raise OSError(f"{where} is not a loopback address: not asked")
        target = (host, parsed[1])
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + TIMEOUT
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(target)
        s.sendall(request)
        reply = b""
        while not done(reply):
            left = deadline - time.monotonic()
            if left <= 0:
                raise OSError("no complete answer within 1 s")
            s.settimeout(left)
            chunk = s.recv(REPLY_LIMIT - len(reply))
            if not chunk:
                break
            reply += chunk
            if len(reply) >= REPLY_LIMIT:
                raise OSError(f"answer larger than {REPLY_LIMIT} bytes")
    return reply


def _where(endpoint: tuple[str, str | int]) -> str:
    """The socket as it was asked: its path, or the loopback address and port."""
    if endpoint[0] == "unix":
        return str(endpoint[1])
    parsed = _split_host_port(str(endpoint[1]))
    host = _loopback(parsed[0]) if parsed else None
    if parsed is None or host is None:
        return str(endpoint[1])
    return f"[{host}]:{parsed[1]}" if ":" in host else f"{host}:{parsed[1]}"


# --------------------------------------------------------------------------- Redis


def _resp_complete(reply: bytes) -> bool:
    if reply[:1] in (b"-", b"+"):
        return reply.endswith(b"\r\n")
    head, sep, _ = reply.partition(b"\r\n")
    if not sep or not head.startswith(b"$"):
        return False
    try:
        length = int(head[1:])
    except ValueError:
        return True
    return length < 0 or len(reply) >= len(head) + 2 + length + 2


def _redis_info(endpoint) -> dict[str, str]:
    reply = ask(endpoint, b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n", _resp_complete)
    if reply.startswith(b"-"):
        raise PermissionError(reply[1:].split(b"\r\n")[0].decode("utf-8", "replace")[:80])
    if not reply.startswith(b"$"):
        raise OSError("not a Redis reply")
    fields = {}
    for line in reply.decode("utf-8", "replace").splitlines()[1:]:
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields


def _redis_endpoints(root: ProcessInfo, argv: list[str], proc: str) -> list:
    found = listening(root.pid, proc)
    if not found:
        # Its process title: "redis-server 127.0.0.1:6379" (proc-title-template's default).
        for arg in " ".join(argv).split()[1:]:
            if arg.startswith("unixsocket:"):
                found.append(("unix", arg[11:]))
            elif _split_host_port(arg):
                found.append(("tcp", arg))
    return [e for e in found if e[0] == "unix"] + [e for e in found if e[0] == "tcp"]


def redis_ceiling(root: ProcessInfo, measured: int, physical: int = 0, proc: str = PROC) -> Ceiling:
    """(ceiling, source, basis) of a redis-server: INFO memory, else a redis.conf for its port."""
    argv = process_argv(root.pid, proc)
    endpoints = _redis_endpoints(root, argv, proc)
    why = "no listening socket found (run as root to read its descriptors)"
    for endpoint in endpoints:
        try:
            info = _redis_info(endpoint)
        except PermissionError as exc:
            why = f"INFO refused via {_where(endpoint)}: {exc}"
            continue
        except OSError as exc:
            why = f"INFO via {_where(endpoint)} failed: {exc}"
            continue
        if "maxmemory" not in info:
            why = f"INFO memory via {_where(endpoint)} has no maxmemory"
            continue
        limit = int(info["maxmemory"])
        if limit == 0:
            return (
                None,
                f"redis INFO memory via {_where(endpoint)}: maxmemory 0, no limit: it may "
                "grow without bound; set maxmemory",
                "measured",
            )
        beyond = max(0, root.pss - int(info.get("used_memory", "0") or 0))
        return (
            limit + beyond,
            f"redis INFO memory maxmemory {format_size(limit)} via {_where(endpoint)}"
            + f" + {format_size(beyond)} held beyond its data now",
            "config",
        )
    ports = {str(e[1]).rpartition(":")[2] for e in endpoints if e[0] == "tcp"}
    sockets = {str(e[1]) for e in endpoints if e[0] == "unix"}
    candidates = [a for a in argv[1:] if a.endswith(".conf")]
    candidates += ["/etc/redis/redis.conf", "/etc/redis.conf"]
    for path in candidates:
        try:
            conf = cfg.redis_conf(path)
        except OSError:
            continue
        if conf.get("port", "6379") not in ports and conf.get("unixsocket") not in sockets:
            continue
        if conf.get("maxmemory", "0") in ("0", ""):
            return None, f"{why}; {path}: no maxmemory, no limit", "measured"
        limit = cfg.redis_size(conf["maxmemory"])
        return limit, f"{path} maxmemory {format_size(limit)} ({why})", "config"
    return None, why, "measured"


# --------------------------------------------------------------------------- memcached


def _stats_done(reply: bytes) -> bool:
    return reply.endswith(b"END\r\n") or reply.startswith((b"ERROR", b"CLIENT_ERROR"))


def memcached_ceiling(
    root: ProcessInfo, measured: int, physical: int = 0, proc: str = PROC
) -> Ceiling:
    """(ceiling, source, basis): `stats settings` maxbytes, else -m (64 MiB by default)."""
    argv = process_argv(root.pid, proc)
    opts = cfg.memcached_options(argv)
    endpoints = listening(root.pid, proc)
    if not endpoints:
        if "s" in opts:
            endpoints.append(("unix", opts["s"]))
        else:
            host = (opts.get("l") or "127.0.0.1").split(",")[0]
            where = host if _split_host_port(host) else f"{host}:{opts.get('p', '11211')}"
            endpoints.append(("tcp", where))
    extra = f" + {MEMCACHED_OVERHEAD * 100:g} % hash table and connection buffers"
    why = ""
    for endpoint in endpoints:
        try:
            reply = ask(endpoint, b"stats settings\r\n", _stats_done)
        except OSError as exc:
            why = f"; stats via {_where(endpoint)} failed: {exc}"
            continue
        stats = dict(
            line.split()[1:3] for line in reply.decode("ascii", "replace").splitlines()
            if line.startswith("STAT ") and len(line.split()) >= 3
        )  # fmt: skip
        value = stats.get("maxbytes") or stats.get("limit_maxbytes")
        if value and value.isdigit():
            limit = int(value)
            return (
                int(limit * (1 + MEMCACHED_OVERHEAD)),
                f"memcached stats settings maxbytes {format_size(limit)} via "
                f"{_where(endpoint)}{extra}",
                "config",
            )
    if "m" in opts:
        limit = cfg.memcached_size(opts["m"])
        how, basis = f"memcached -m {opts['m']} (command line)", "config"
    else:
        limit = cfg.MEMCACHED_DEFAULT_MB * MIB
        how, basis = f"memcached without -m: its default {cfg.MEMCACHED_DEFAULT_MB} MiB", "default"
    return int(limit * (1 + MEMCACHED_OVERHEAD)), how + extra + why, basis


# --------------------------------------------------------------------------- MariaDB / MySQL


#: The clients that ask a running MariaDB or MySQL for its settings, by absolute path only.
MYSQL_CLIENTS = ("/usr/bin/mariadb", "/usr/bin/mysql")
_MYSQL_ASK = "SELECT @@innodb_buffer_pool_size, @@innodb_log_buffer_size, @@key_buffer_size"


def mysql_show(root: ProcessInfo, proc: str = PROC) -> tuple[tuple[int, int, int], str] | None:
    """((buffer pool, log buffer, key buffer), how it was asked) from the running server: a
    root-owned client over the server's own Unix socket as root (MariaDB's unix_socket
    authentication, no password). Only as root; None otherwise or when it does not answer
    within 3 s. `SET GLOBAL innodb_buffer_pool_size` changes the pool with no file saying so."""
    from httpdlint.bounds import binary_refusal

    client = next((c for c in MYSQL_CLIENTS if os.path.isfile(c) and not binary_refusal(c)), None)
    if os.geteuid() != 0 or client is None:
        return None
    found = next((str(p) for kind, p in listening(root.pid, proc) if kind == "unix"), None)
    if found is None:
        return None
    try:
        done = subprocess.run(
            [client, "--no-defaults", "-S", found, "-u", "root", "-N", "-B",
             "--connect-timeout=2", "-e", _MYSQL_ASK],
            capture_output=True, text=True, timeout=3, cwd="/",
            env={"PATH": "/usr/bin:/bin", "LANG": "C"},
        )  # fmt: skip
        pool, log, key = (int(x) for x in done.stdout.split())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return (pool, log, key), f"{_MYSQL_ASK.replace('SELECT ', '')} via {found}"


def _innodb(pool: int, log: int, key: int) -> int:
    return int(pool * (1 + INNODB_OVERHEAD)) + log + key


def mysql_ceiling(root: ProcessInfo, measured: int, physical: int = 0, proc: str = PROC) -> Ceiling:
    """(ceiling, source, basis): InnoDB buffer pool + 10 % + log buffer + key buffer, the
    larger of what the running server says and what its option files say."""
    size, source, basis = _mysql_files(root, proc)
    running = mysql_show(root, proc)
    if running is None:
        return size, source, basis
    now = _innodb(*running[0])
    said = (
        f"the server says buffer pool {format_size(running[0][0])}, log buffer "
        f"{format_size(running[0][1])}, key buffer {format_size(running[0][2])} ({running[1]})"
    )
    if size is None or now >= size:
        return now, f"{said}, + {INNODB_OVERHEAD * 100:g} %; files: {source}", "config"
    return size, f"{source}; {said}", basis


def _mysql_files(root: ProcessInfo, proc: str) -> Ceiling:
    """(ceiling, source, basis) from the command line and the option files."""
    argv = process_argv(root.pid, proc)
    files: list[str] = list(cfg.MY_CNF)
    given: dict[str, tuple[str, str]] = {}
    for arg in argv[1:]:
        name, sep, value = arg.lstrip("-").partition("=")
        name = name.replace("-", "_").lower().removeprefix("loose_")
        if name == "no_defaults":
            files = []  # the server reads no option file
        elif name == "defaults_file":
            files = [value]
        elif name == "defaults_extra_file":
            files.append(value)
        elif sep and arg.startswith("--"):
            given[name] = (value, "command line")
    options, read = cfg.read_my_cnf(files)
    options.update(given)
    pool = options.get("innodb_buffer_pool_size")
    log = options.get("innodb_log_buffer_size")
    key = options.get("key_buffer_size")
    pool_bytes = cfg.mysql_size(pool[0]) if pool else cfg.INNODB_POOL_DEFAULT
    log_bytes = cfg.mysql_size(log[0]) if log else cfg.INNODB_LOG_BUFFER_DEFAULT
    key_bytes = cfg.mysql_size(key[0]) if key else 0
    where = f"my.cnf innodb_buffer_pool_size {format_size(pool_bytes)} ({pool[1]})" if pool else (
        f"innodb_buffer_pool_size default {format_size(pool_bytes)} (not set in "
        f"{', '.join(read) or 'any option file'})"
    )  # fmt: skip
    source = (
        f"{where} + {INNODB_OVERHEAD * 100:g} % InnoDB control structures + innodb_log_buffer_size "
        f"{format_size(log_bytes)}"
        + (f" + key_buffer_size {format_size(key_bytes)}" if key_bytes else "")
        + "; per-connection buffers not counted"
    )
    ceiling = _innodb(pool_bytes, log_bytes, key_bytes)
    return ceiling, source, "config" if pool else "default"


# --------------------------------------------------------------------------- PostgreSQL


#: The client that asks a running PostgreSQL for its settings, by absolute path only.
PSQL = "/usr/bin/psql"


def postgres_show(root: ProcessInfo, proc: str = PROC) -> tuple[int, str] | None:
    """(shared_buffers in bytes, how it was asked) from the running server itself: `SHOW
    shared_buffers` by psql over its own Unix socket, run as the server's owner (peer
    authentication, no password). Only as root, with a root-owned psql; None otherwise or
    when it does not answer within 3 s. The files can say another value than the one in
    force: an edit since the last restart."""
    from httpdlint.bounds import binary_refusal

    if os.geteuid() != 0 or not os.path.isfile(PSQL) or binary_refusal(PSQL):
        return None
    sockets = [path for kind, path in listening(root.pid, proc) if kind == "unix"]
    found = next((p for p in sockets if os.path.basename(str(p)).startswith(".s.PGSQL.")), None)
    if found is None:
        return None
    directory, port = os.path.dirname(str(found)), os.path.basename(str(found))[9:]
    try:
        import pwd

        role = pwd.getpwuid(root.uid).pw_name
        done = subprocess.run(
            [PSQL, "-X", "-A", "-t", "-h", directory, "-p", port, "-U", role, "-d", "postgres",
             "-c", "SHOW shared_buffers"],
            capture_output=True, text=True, timeout=3, cwd="/", user=root.uid,
            env={"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "2", "LANG": "C"},
        )  # fmt: skip
    except (OSError, KeyError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    try:
        size = cfg.postgres_size(done.stdout.strip())
    except ValueError:
        return None
    return size, f"SHOW shared_buffers via {found} as {role}"


def postgres_ceiling(
    root: ProcessInfo, measured: int, physical: int = 0, proc: str = PROC
) -> Ceiling:
    """(ceiling, source, basis): shared_buffers as the running server says it, and as its
    command line or postgresql.conf says it (the larger: a value edited since the last
    restart is what the next one brings)."""
    running = postgres_show(root, proc)
    size, source, basis = _postgres_files(root, proc)
    if running is None:
        return size, source, basis
    if size is None or running[0] >= size:
        return running[0], f"{running[1]}: {format_size(running[0])}; files: {source}", "config"
    return size, f"{source}; in force now {format_size(running[0])} ({running[1]})", basis


def _postgres_files(root: ProcessInfo, proc: str) -> Ceiling:
    """(ceiling, source, basis): shared_buffers from the command line or postgresql.conf."""
    opts = cfg.postgres_options(process_argv(root.pid, proc))
    data = opts.get("data_directory") or ""
    conf = opts.get("config_file") or (os.path.join(data, "postgresql.conf") if data else "")
    settings, read = cfg.read_postgresql_conf(conf) if conf else ({}, [])
    data = data or settings.get("data_directory", ("", ""))[0]
    if data:
        auto, more = cfg.read_postgresql_conf(os.path.join(data, "postgresql.auto.conf"))
        settings.update(auto)
        read += more
    settings.update({k: (v, "command line") for k, v in opts.items()})
    note = "; backends' work_mem not counted"
    if "shared_buffers" in settings:
        value, where = settings["shared_buffers"]
        size = cfg.postgres_size(value)
        label = "postgres -c" if where == "command line" else "postgresql.conf"
        return size, f"{label} shared_buffers {format_size(size)} ({where}){note}", "config"
    missing = ", ".join(read) if read else "its configuration (unreadable or not found)"
    return (
        cfg.POSTGRES_SHARED_BUFFERS_DEFAULT,
        f"shared_buffers default {format_size(cfg.POSTGRES_SHARED_BUFFERS_DEFAULT)} (not set in "
        f"{missing}){note}",
        "default",
    )


# --------------------------------------------------------------------------- JVM


def jvm_ceiling(root: ProcessInfo, measured: int, physical: int = 0, proc: str = PROC) -> Ceiling:
    """(ceiling, source, basis): maximum heap + max(25 %, 256 MiB), + MaxDirectMemorySize."""
    options = cfg.java_options(process_argv(root.pid, proc), environ(root.pid, proc) or {})
    heap, how, basis = cfg.jvm_heap(options, physical)
    extra = max(int(heap * JVM_OVERHEAD_SHARE), JVM_OVERHEAD_FLOOR)
    direct = 0
    for opt in options:
        if opt.startswith("-XX:MaxDirectMemorySize="):
            direct = cfg.java_size(opt.split("=", 1)[1])
    source = (
        f"java {how} (heap {format_size(heap)}) + {format_size(extra)} overhead (metaspace, "
        f"code cache, thread stacks: the larger of {JVM_OVERHEAD_SHARE * 100:g} % and "
        f"{format_size(JVM_OVERHEAD_FLOOR)})"
        + (f" + MaxDirectMemorySize {format_size(direct)}" if direct else "")
    )
    return heap + extra + direct, source, basis


# --------------------------------------------------------------------------- Varnish


def varnish_ceiling_of(storage: list[str]) -> tuple[int, str]:
    """(ceiling, source) of varnishd's `-s` storage: malloc storage + 25 %."""
    if not storage:
        storage = [cfg.VARNISH_DEFAULT_STORAGE]
        given = "no -s: its default malloc,100m"
    else:
        given = " ".join(f"-s {s}" for s in storage)
    in_memory = 0
    notes = []
    transient = False
    for spec in storage:
        name, sep, rest = spec.partition("=")
        if not sep:
            name, rest = "", spec
        transient = transient or name == "Transient"
        kind, _, args = rest.partition(",")
        if kind in ("malloc", "default", "umem"):
            if args:
                in_memory += parse_size(args.split(",")[0])
            elif name == "Transient":
                notes.append("Transient malloc unbounded")
            else:
                notes.append(f"{spec} unbounded")
        elif kind == "file":
            notes.append("file storage is page cache: not reserved")
        else:
            notes.append(f"{kind} storage not sized")
    if not transient:
        notes.append("Transient storage unbounded by default")
    extra = int(in_memory * VARNISH_OVERHEAD)
    source = (
        f"varnishd {given}: {format_size(in_memory)} in memory + {format_size(extra)} "
        f"overhead ({VARNISH_OVERHEAD * 100:g} %: about 1 KiB per object outside the storage, "
        "workspaces, thread stacks)" + (f"; {'; '.join(notes)}" if notes else "")
    )
    return in_memory + extra, source


def varnish_ceiling(
    root: ProcessInfo, measured: int, physical: int = 0, proc: str = PROC
) -> Ceiling:
    storage = cfg.varnish_storage(process_argv(root.pid, proc))
    ceiling, source = varnish_ceiling_of(storage)
    return ceiling, source, "config" if storage else "default"


_READERS = {
    "redis": redis_ceiling,
    "memcached": memcached_ceiling,
    "mysql": mysql_ceiling,
    "postgresql": postgres_ceiling,
    "jvm": jvm_ceiling,
    "varnish": varnish_ceiling,
}
