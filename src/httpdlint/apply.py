"""`httpdlint suggest --apply`: write a recommendation into the files httpd and PHP-FPM read.

`plan` finds the lines. The loaded MPM's directives where the model read them get the new
value (every occurrence; the rest of each line, and of each file, stays byte for byte); a
setting not written yet goes beside them (ServerLimit and ThreadLimit before the first of
them, since httpd 2.2 checks the others against the limit in force as it reads them); with
no MPM directive anywhere, a new `<IfModule>` block goes at the end of the file holding the
MPM's LoadModule, else of the main file. A pool sized below its `pm.max_children` gets the
new value in its own file.

`apply` then, for every file: refuses a symbolic link that leaves the configuration tree, a
read-only file system, a file this user cannot write or would take the ownership of; keeps a
backup (owner, mode, extended attributes) where no Include of the tree can read it; writes
atomically (output.atomic_write), checking just before the rename that the file is still
what was read; runs httpd's own check (validate.httpd_check) and `php-fpm -t` for a changed
pool; and puts every file back when a check fails.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn, TextIO

from .errors import ConfigError
from .model import MPMS, Model
from .mpm import canonical, module_condition, restart_only
from .output import atomic_write, copy_metadata, leftovers
from .pathmatch import include_reads
from .validate import Validation

__all__ = ["Plan", "Target", "apply", "plan", "run"]

#: Where backups go when a sibling `.httpdlint-backup` directory is one an Include reads.
SHARED_BACKUPS = "/var/backups/httpdlint"
SIBLING_BACKUPS = ".httpdlint-backup"

# A directive line: indent, name, separator, value, the rest (and its line ending).
_LINE = re.compile(r"([ \t]*)([^\s\\]+)([ \t]+)([^\s\\]+)([^\r\n]*?)(\r\n|\n|\r)?\Z")
_FPM_LINE = re.compile(r"([ \t]*pm\.max_children[ \t]*=[ \t]*\"?)([0-9]+)(.*?)(\r\n|\n|\r)?\Z")


@dataclass
class Target:
    """One file to change: its bytes and metadata as read, and what it becomes."""

    path: str  # as the configuration names it (a symbolic link, maybe)
    real: str
    data: bytes
    stat: os.stat_result
    roots: tuple[str, ...]  # the trees it may not leave through a symbolic link
    lines: list[str] = field(default_factory=list)
    replace: dict[int, str] = field(default_factory=dict)  # line number -> new line
    before: dict[int, list[str]] = field(default_factory=dict)  # new lines before line N
    after: dict[int, list[str]] = field(default_factory=dict)  # ... after line N (0: start)
    fpm_conf: str | None = None
    backup: str | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def line(self, number: int) -> str:
        if not 1 <= number <= len(self.lines):
            raise ConfigError("line not found (file changed since it was read?)", self.path, number)
        return self.lines[number - 1]

    @property
    def eol(self) -> str:
        first = self.lines[0] if self.lines else "\n"
        return "\r\n" if first.endswith("\r\n") else "\n"

    @property
    def new(self) -> bytes:
        out: list[str] = list(self.after.get(0, []))
        for n, text in enumerate(self.lines, 1):
            out += self.before.get(n, [])
            out.append(self.replace.get(n, text))
            out += self.after.get(n, [])
        return "".join(out).encode("utf-8", "surrogateescape")


@dataclass
class Plan:
    """The files to change, in writing order, and what to tell the admin."""

    targets: list[Target]
    restart: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[Target]:
        return [t for t in self.targets if t.new != t.data]

    def diff(self) -> str:
        out: list[str] = []
        for t in self.changed:
            name = t.path if t.real == t.path else f"{t.path} -> {t.real}"
            old = t.data.decode("utf-8", "surrogateescape").splitlines(keepends=True)
            new = t.new.decode("utf-8", "surrogateescape").splitlines(keepends=True)
            for line in difflib.unified_diff(old, new, name, name):
                out.append(line if line.endswith("\n") else line + "\n")
        text = "".join(out)
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# --------------------------------------------------------------------------- planning


class _Files:
    """Targets by real path: one per file however many names lead to it."""

    def __init__(self) -> None:
        self.by_real: dict[str, Target] = {}

    def get(self, path: str, roots: tuple[str, ...]) -> Target:
        real = os.path.realpath(path)
        target = self.by_real.get(real)
        if target is None:
            try:
                with open(real, "rb") as f:
                    st = os.fstat(f.fileno())
                    data = f.read()
            except OSError as exc:
                raise ConfigError(f"cannot read: {exc.strerror}", path) from None
            target = Target(path, real, data, st, roots)
            target.lines = data.decode("utf-8", "surrogateescape").splitlines(keepends=True)
            self.by_real[real] = target
        return target


def _tree_roots(model: Model) -> tuple[str, ...]:
    config = model.config
    roots = {os.path.realpath(os.path.dirname(config.root))}
    if config.server_root:
        roots.add(os.path.realpath(config.server_root))
    return tuple(sorted(roots))


def _set_value(t: Target, number: int, name: str, value: int) -> None:
    text = t.line(number)
    m = _LINE.match(text)
    if m is None or m.group(2).lower() != name.lower() or m.group(5).strip():
        raise ConfigError(
            f"cannot rewrite {name} here (not one `{name} VALUE` line: a macro, a variable or a "
            "continued line?): change it by hand",
            t.path,
            number,
        )
    indent, word, sep, _, rest, eol = m.groups()
    t.replace[number] = f"{indent}{word}{sep}{value}{rest}{eol or ''}"


def _new_line(t: Target, like: int, name: str, value: int) -> str:
    """A directive line laid out like line `like`: its indent, its value column."""
    m = _LINE.match(t.line(like))
    assert m is not None  # checked by _set_value
    indent, word, sep = m.group(1), m.group(2), m.group(3)
    gap = sep if "\t" in sep else " " * max(1, len(word) + len(sep) - len(name))
    return f"{indent}{name}{gap}{value}{m.group(6) or t.eol}"


def _mpm_block(t: Target, mpm: str, version: str, settings: dict[str, int]) -> None:
    eol = t.eol
    width = max(len(k) for k in settings)
    lines = [eol] if not t.lines or t.lines[-1].endswith(("\n", "\r")) else [eol, eol]
    lines.append(f"<IfModule {module_condition(mpm, version)}>{eol}")
    lines += [f"    {k:<{width}} {v}{eol}" for k, v in settings.items()]
    lines.append(f"</IfModule>{eol}")
    t.after.setdefault(len(t.lines), []).extend(lines)


def _plan_mpm(model: Model, settings: dict[str, int], files: _Files) -> None:
    mpm, version = model.mpm_name, model.version
    assert mpm is not None
    roots = _tree_roots(model)
    found: dict[str, list] = {}
    read: list = []
    for s in model.mpm_settings:
        try:
            key = canonical(s.name, version)
        except KeyError:
            continue
        if s.file is None or s.line is None:
            continue
        found.setdefault(key, []).append(s)
        read.append(s)
    missing: dict[str, int] = {}
    for key, value in settings.items():
        if key not in found:
            missing[key] = value
            continue
        for s in found[key]:
            _set_value(files.get(s.file, roots), s.line, s.name, value)
    if not missing:
        return
    if not read:
        ident = next(i for i, name in MPMS.items() if name == mpm)
        node = model.module_node(ident)
        where = node.file if node is not None and node.file else model.config.root
        _mpm_block(files.get(where, roots), mpm, version, missing)
        return
    last = read[-1]
    t = files.get(last.file, roots)
    first = min(s.line for s in read if os.path.realpath(s.file) == t.real)
    for key, value in missing.items():
        if key in ("ServerLimit", "ThreadLimit"):
            t.before.setdefault(first, []).append(_new_line(t, first, key, value))
        else:
            t.after.setdefault(last.line, []).append(_new_line(t, last.line, key, value))


def _plan_pools(suggestion, files: _Files, notes: list[str]) -> None:
    pools = suggestion.recommendation.pools
    for name, values in pools.items():
        value = values["pm.max_children"]
        source = suggestion.gathered.pool_files.get(name)
        if source is None:
            notes.append(f"{name}: pm.max_children {value} (sized from the options given: no "
                         "pool file to write)")  # fmt: skip
            continue
        conf, pool = source
        if pool.max_children == value:
            continue
        t = files.get(pool.max_children_file, (os.path.realpath(os.path.dirname(conf)),))
        t.fpm_conf = conf
        m = _FPM_LINE.match(t.line(pool.max_children_line))
        if m is None:
            raise ConfigError(
                "cannot rewrite pm.max_children here: change it by hand",
                pool.max_children_file,
                pool.max_children_line,
            )
        head, _, rest, eol = m.groups()
        t.replace[pool.max_children_line] = f"{head}{value}{rest}{eol or ''}"


def _restart_notes(model: Model, settings: dict[str, int]) -> list[str]:
    """Settings a graceful restart does not change, with what httpd logs when it tries."""
    assert model.mpm_name is not None
    current = model.mpm.effective if model.mpm is not None else {}
    out = []
    for setting, code in restart_only(model.mpm_name, model.version).items():
        new, old = settings.get(setting), current.get(setting)
        if new is None or old is None or int(old) == new:
            continue
        logs = f"{code} " if code else ""
        out.append(
            f"{setting} {int(old)} -> {new} needs a full restart (apachectl stop, then start; "
            f"systemctl restart apache2 or httpd): a graceful restart keeps {int(old)} and logs "
            f'{logs}"changing {setting} to {new} from original value of {int(old)} not '
            'allowed during restart"'
        )
    return out


def plan(model: Model | None, suggestion) -> Plan:
    """The changes that write `suggestion` into `model`'s files (read now), or ConfigError."""
    if model is None:
        raise ConfigError(
            "--apply needs a configuration: give PATH (the main file or its directory)"
        )
    r = suggestion.recommendation
    if r is None:
        raise ConfigError(f"no recommendation to apply: {suggestion.gathered.declined}")
    sizing = suggestion.sizing
    if model.mpm_name is None:
        raise ConfigError("the configuration loads no MPM: nothing to write the settings into")
    if (sizing.mpm, sizing.version) != (model.mpm_name, model.version):
        raise ConfigError(
            f"the recommendation is for {sizing.mpm} on Apache {sizing.version}, the "
            f"configuration runs {model.mpm_name} on Apache {model.version}: --apply writes "
            "only for the MPM loaded"
        )
    files = _Files()
    notes: list[str] = []
    _plan_mpm(model, dict(r.settings), files)
    _plan_pools(suggestion, files, notes)
    return Plan(list(files.by_real.values()), _restart_notes(model, dict(r.settings)), notes)


# --------------------------------------------------------------------------- writing


def _user() -> str:
    uid = os.geteuid()
    with contextlib.suppress(KeyError):
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    return f"uid {uid}"


def check(t: Target) -> None:
    """Refuse, with the reason, a file that cannot be written safely."""
    inside = any(t.real == r or t.real.startswith(r.rstrip("/") + "/") for r in t.roots)
    if not inside and t.real != os.path.normpath(os.path.abspath(t.path)):
        raise ConfigError(
            f"a symbolic link to {t.real}, outside the configuration tree "
            f"({', '.join(t.roots)}): refusing to write through it",
            t.path,
        )
    directory = os.path.dirname(t.real)
    with contextlib.suppress(OSError):
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            raise ConfigError(f"{t.real} is on a read-only file system: not written", t.path)
    if not os.access(t.real, os.W_OK) or not os.access(directory, os.W_OK | os.X_OK):
        what = t.real if os.access(directory, os.W_OK | os.X_OK) else f"directory {directory}"
        raise ConfigError(f"{_user()} cannot write {what}: not written", t.path)
    if os.geteuid() != 0 and t.stat.st_uid != os.geteuid():
        raise ConfigError(
            f"{t.real} belongs to uid {t.stat.st_uid}: rewriting it as {_user()} would make "
            "it theirs; run as its owner or root",
            t.path,
        )


def _backup_path(t: Target, backup_dir: str | None, includes: list[str], stamp: str) -> str:
    flat = t.real.strip("/").replace("/", "%")
    if backup_dir:
        candidates = [(os.path.abspath(backup_dir), flat, "--backup-dir")]
    else:
        sibling = os.path.join(os.path.dirname(t.real), SIBLING_BACKUPS)
        candidates = [(sibling, os.path.basename(t.real), ""), (SHARED_BACKUPS, flat, "")]
    reason = ""
    for directory, name, option in candidates:
        path = os.path.join(directory, f"{name}.{stamp}")
        reader = next((p for p in includes if include_reads(p, path)), None)
        if reader is None:
            return path
        reason = f"Include {reader} would read a backup in {directory}"
        if option:
            raise ConfigError(f"{option} {directory}: {reason}: choose another")
    raise ConfigError(f"{reason}: give --backup-dir")


def _keep_backup(t: Target, path: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    base, n = path, 1
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            n += 1
            path = f"{base}.{n}"
    with os.fdopen(fd, "wb") as f:
        f.write(t.data)
        f.flush()
        os.fsync(f.fileno())
    copy_metadata(t.real, t.stat, path)
    t.backup = path


def _unchanged(t: Target) -> None:
    try:
        st = os.stat(t.real)
        with open(t.real, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConfigError(f"cannot read it again: {exc.strerror}: not written", t.path) from None
    then = t.stat
    if hashlib.sha256(data).hexdigest() != t.digest or (st.st_ino, st.st_size, st.st_mtime_ns) != (
        then.st_ino,
        then.st_size,
        then.st_mtime_ns,
    ):
        raise ConfigError("changed since it was read: not written; run again", t.path)


def _restore(targets: list[Target]) -> list[str]:
    """Put each file's bytes, mode and owner back; the files that could not be."""
    failed = []
    for t in targets:
        try:
            atomic_write(t.real, t.data, keep_metadata=True)
            os.chown(t.real, t.stat.st_uid, t.stat.st_gid)
            os.chmod(t.real, t.stat.st_mode & 0o7777)
        except (ConfigError, OSError):
            failed.append(f"{t.real} (its backup: {t.backup})")
    return failed


def _php_fpm(conf: str) -> str | None:
    """php-fpm for `conf`: php-fpmX.Y for /etc/php/X.Y/fpm, else php-fpm, else the newest
    php-fpmX.Y installed."""
    m = re.search(r"/php/(\d+\.\d+)/fpm/", conf)
    names = ([f"php-fpm{m.group(1)}"] if m else []) + ["php-fpm"]
    dirs = ("/usr/sbin", "/usr/local/sbin")
    for name in names:
        found = shutil.which(name) or next(
            (f"{d}/{name}" for d in dirs if os.path.exists(f"{d}/{name}")), None
        )
        if found:
            return found
    versioned = [p for d in dirs for p in glob.glob(f"{d}/php-fpm[0-9]*")]
    return max(versioned, key=_version_key, default=None)


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", os.path.basename(path)))


def _validate(written: list[Target], httpd_check: Callable[[], Validation]) -> list[str]:
    """Run the checks; on a failure restore and raise with the checker's own message."""
    said = []
    v = httpd_check()
    if not v.ok:
        where = f"{v.file}:{v.line}: " if v.file and v.line else ""
        _fail_restore(written, f"httpd rejects the result: {where}{v.message}")
    said.append(f"{' '.join(v.command)}: Syntax OK")
    for conf in dict.fromkeys(t.fpm_conf for t in written if t.fpm_conf):
        assert conf is not None
        binary = _php_fpm(conf)
        if binary is None:
            said.append(f"php-fpm not found: {conf} not checked (php-fpm -t -y {conf})")
            continue
        cmd = [binary, "-t", "-y", conf]
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=60)
        if done.returncode != 0:
            out = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
            first = next((ln for ln in out if "ALERT:" in ln or "ERROR:" in ln), None)
            said_by = (first or (out[-1] if out else f"exit {done.returncode}")).strip()
            _fail_restore(written, f"{' '.join(cmd)} rejects the result: {said_by}")
        said.append(f"{' '.join(cmd)}: test is successful")
    return said


def _fail_restore(written: list[Target], message: str) -> NoReturn:
    failed = _restore(written)
    if failed:
        raise ConfigError(f"{message}; COULD NOT RESTORE {', '.join(failed)}")
    raise ConfigError(f"{message}; every file restored from its backup")


def apply(
    p: Plan,
    *,
    includes: list[str],
    httpd_check: Callable[[], Validation],
    backup_dir: str | None = None,
) -> list[str]:
    """Back up, write and validate the plan's files (checked with `check` first); the lines
    that say what was done. ConfigError, with every file as it was, when something fails."""
    changed = p.changed
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for t in changed:
        check(t)
    for t in changed:
        path = _backup_path(t, backup_dir, includes, stamp)
        try:
            _keep_backup(t, path)
        except OSError as exc:
            raise ConfigError(
                f"cannot keep a backup in {os.path.dirname(path)}: {exc.strerror}"
            ) from None
    written: list[Target] = []
    try:
        for t in changed:
            atomic_write(t.real, t.new, keep_metadata=True, before_rename=lambda t=t: _unchanged(t))
            written.append(t)
    except ConfigError as exc:
        _fail_restore(written, str(exc))
    said = [f"wrote {t.path} (backup: {t.backup})" for t in written]
    said += _validate(written, httpd_check)
    said += p.notes
    if p.restart:
        said += p.restart
    elif any(t.fpm_conf is None for t in written):
        said.append("a graceful restart (apachectl graceful) puts it into effect")
    if any(t.fpm_conf for t in written):
        said.append("reload php-fpm (systemctl reload php-fpm or phpX.Y-fpm) for pm.max_children")
    return said


def run(
    model: Model | None,
    suggestion,
    *,
    out: TextIO,
    yes: bool,
    interactive: bool,
    ask: Callable[[str], bool],
    httpd_check: Callable[[], Validation],
    backup_dir: str | None = None,
) -> None:
    """The whole of `--apply`: clean leftovers, show the diff, ask, write, validate, report."""
    if model is not None:
        dirs = [os.path.dirname(f) for f in model.config.files]
        dirs += [os.path.dirname(os.path.realpath(f)) for f in model.config.files]
        for leftover in leftovers(dirs):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
                out.write(f"removed {leftover}, left by an interrupted run\n")
    p = plan(model, suggestion)
    changed = p.changed
    if not changed:
        out.write("nothing to change: the files already hold the recommended values\n")
        for line in p.notes:
            out.write(line + "\n")
        return
    for t in changed:
        check(t)
    out.write(p.diff())
    out.flush()
    if not yes:
        if not interactive:
            raise ConfigError("not applied: standard input is not a terminal; give --yes to write")
        if not ask("Write these changes?"):
            raise ConfigError("not applied")
    assert model is not None
    for line in apply(
        p, includes=model.config.includes, httpd_check=httpd_check, backup_dir=backup_dir
    ):
        out.write(line + "\n")
