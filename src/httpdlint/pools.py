"""PHP-FPM pools as fixed costs of a sizing: every pool httpd sends requests to, once.

backends.py says which pool serves each backend of the configuration; this module turns each
pool into a capacity Term: pm.max_children workers at the largest private memory one of its
workers was seen holding (measured in detail, so the opcache pages a worker alone has
touched are shared memory, not its own), plus the master's anonymous memory and the pool's
shared memory once. A pool found only on disk (php-fpm not running here) has a known size
but no measured worker: --pool-worker-size gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from httpdlint.capacity import Term, mib
from httpdlint.measure import Measurement, Notice

__all__ = ["PoolsFound", "pool_terms", "mod_php_ceiling"]


@dataclass
class PoolsFound:
    """Pool terms with a note and memory_limit each, warnings, and the PIDs counted."""

    #: (term, where its numbers came from, PHP's memory_limit for one request)
    items: list[tuple[Term, str, str | None]] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    #: PHP-FPM processes counted in a term: not to be counted again in the reserve.
    pids: set[int] = field(default_factory=set)
    #: Per term name, the PIDs of its running processes: the cgroups they are in bind it.
    members: dict[str, set[int]] = field(default_factory=dict)
    measured: set[str] = field(default_factory=set)
    #: Per term name, the php-fpm.conf that defines the pool and the pool (its
    #: pm.max_children file and line): where `suggest --apply` writes.
    files: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def source(self, term: Term) -> str:
        return "measured" if term.name in self.measured else "given"


def pool_terms(model, measured: Measurement | None, worker_size: int | None = None) -> PoolsFound:
    """The pools `model` proxies to: running ones (when `measured`), else those on disk."""
    from httpdlint.backends import pools_for, pools_from_files, proxied_backends
    from httpdlint.errors import ConfigError
    from httpdlint.fpm import find_fpm_masters

    found = PoolsFound()
    backends = proxied_backends(model)
    if not backends:
        return found
    matches = pools_for(backends, find_fpm_masters()) if measured is not None else []
    unmatched = [m.backend for m in matches if not m.matched] if matches else backends
    if unmatched:
        try:
            matches = [m for m in matches if m.matched] + pools_from_files(unmatched)
        except ConfigError as exc:
            found.warnings.append(Notice("pool-config", f"cannot read php-fpm's files: {exc}"))
    by_pid = {p.pid: p for p in measured.backends} if measured is not None else {}
    seen: set[tuple[str, str]] = set()
    masters_counted: set[int] = set()
    for match in matches:
        backend = match.backend
        where = f"{backend.file}:{backend.line}"
        if match.pool is None or match.config is None:
            found.warnings.append(
                Notice(
                    "pool-unknown",
                    f"{where}: requests go to {backend.address}, which no PHP-FPM pool found "
                    "here serves: give --pool-children and --pool-worker-size for it",
                )
            )
            continue
        pool = match.pool
        key = (match.config.path, pool.name)
        if key in seen:
            continue
        seen.add(key)
        name = f"php-fpm {pool.name}"
        setting = f"{pool.max_children_file}:{pool.max_children_line}"
        workers = [by_pid[pid] for pid in match.workers if pid in by_pid]
        if workers:
            master = by_pid.get(match.master.pid) if match.master else None
            each = max(w.private for w in workers)
            base = sum(w.shm for w in workers)
            # One master serves all its pools: its memory is counted with the first of them.
            with_master = master is not None and master.pid not in masters_counted
            if with_master:
                masters_counted.add(master.pid)
                base += master.anon + master.shm
            members = found.members.setdefault(name, set())
            members.update(w.pid for w in workers)
            if master is not None:
                members.add(master.pid)
            found.pids.update(members)
            found.measured.add(name)
            busy = sum(1 for w in workers if w.busy)
            note = (
                f"pm {pool.pm}, pm.max_children {pool.max_children} ({setting}); "
                f"{len(workers)} running, {busy} seen serving, largest {mib(each)}; "
                f"{'master and ' if with_master else ''}shared memory {mib(base)}"
            )
        elif worker_size is not None:
            each, base = worker_size, 0
            note = f"pm.max_children {pool.max_children} ({setting}); --pool-worker-size"
        else:
            found.warnings.append(
                Notice(
                    "pool-unmeasured",
                    f"{name} (pm.max_children {pool.max_children}, {setting}) serves "
                    f"{backend.address} but no worker of it runs here to measure: give "
                    "--pool-worker-size",
                )
            )
            continue
        term = Term("pool", name, pool.max_children, each, base, 1, "pm.max_children")
        found.items.append((term, note, pool.memory_limit))
        found.files[name] = (match.config.path, pool)
    return found


def mod_php_ceiling(model) -> tuple[str, str] | None:
    """(memory_limit, where it is set) for mod_php: the most one request may take in a child.

    php_admin_value / php_value memory_limit at server level (the last one httpd reads), else
    the php.ini of the SAPI the loaded libphpX.Y.so reads (Debian: /etc/php/X.Y/apache2),
    with its conf.d; None when mod_php is not loaded.
    """
    import re

    from httpdlint.fpm import ini_memory_limit

    node = next((model.module_node(m) for m in ("php_module", "php7_module", "php5_module")
                 if model.has_module(m)), None)  # fmt: skip
    if node is None:
        return None
    for name in ("php_admin_value", "php_value"):
        values = [d for d in model.top(name) if d.args and d.args[0].lower() == "memory_limit"]
        if values and len(values[-1].args) > 1:
            d = values[-1]
            return d.args[1], f"{name} at {d.file}:{d.line}"
    match = re.search(r"php(\d+\.\d+)\.so$", node.args[-1] if node.args else "")
    if match:
        return ini_memory_limit(f"/etc/php/{match.group(1)}/apache2/php.ini")
    return "128M", "PHP's default"
