"""Writing results: safe text, atomic files (with their metadata kept, for `suggest
--apply`), output targets and colour.

Everything httpdlint prints or writes passes `sanitize` (through `emit`, `json_text` and
`warn`): a byte that was not UTF-8 (read with surrogateescape) and a control character (C0
but tab and newline, DEL, C1, so ESC too) become the text `\\xNN`, so output always encodes,
stays valid UTF-8, and a configuration cannot drive the terminal or forge lines.

Every regular file httpdlint writes goes through `atomic_write`: a temporary file named
`.NAME.httpdlint-tmp.XXXXXXXX` in the same directory, locked while its writer lives, fsync,
rename. A run that is killed between the write and the rename leaves only such a file, which
`leftovers` finds and a later `--apply` removes, as does the next `--output` to the same name
(`stale_temporaries`). HTTPDLINT_PAUSE_BEFORE_RENAME=SECONDS is a test hook: it pauses after
the temporary file is written and before the rename. `--output` onto a character device or a
FIFO (/dev/null, /dev/stdout, a pipe) writes into it: a device node is never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable

from .errors import ConfigError

TEMP_MARK = ".httpdlint-tmp."
#: Test hook: seconds to sleep after the temporary file is written, before the rename.
PAUSE_ENV = "HTTPDLINT_PAUSE_BEFORE_RENAME"
#: Seconds `--output` onto a FIFO waits for a reader.
FIFO_WAIT = 10
_LEFTOVER = re.compile(r"\..+" + re.escape(TEMP_MARK) + r"[A-Za-z0-9_]{6,}\Z", re.S)


#: httpdlint's own colour codes, kept by `sanitize(..., colour=True)`.
_SGR = "\x1b\\[(?:0|3[0-7])m"


@functools.cache
def _unsafe(keep: str, colour: bool) -> re.Pattern[str]:
    chars = "".join(
        c for c in "".join(map(chr, range(0x20))) + "\x7f" if c not in keep
    )  # C0 but what the caller keeps, and DEL
    pattern = f"[{re.escape(chars)}\x80-\x9f\ud800-\udfff\ufffe\uffff]"
    return re.compile(f"({_SGR})|{pattern}" if colour else pattern)


def _shown(match: re.Match[str]) -> str:
    if match.group(0).startswith("\x1b["):
        return match.group(0)  # only matched as such with colour on: httpdlint's own
    code = ord(match.group(0))
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def sanitize(text: str, keep: str = "\t\n", *, colour: bool = False) -> str:
    """`text` safe to print and to encode: every byte that was not UTF-8 and every control
    character (C0 but those in `keep`, DEL, C1; lone surrogates and the non-characters XML
    forbids) shown as `\\xNN` (`\\uNNNN`). With `colour`, httpdlint's own SGR colour codes
    stay: only for text whose configuration parts were sanitized already."""
    if text.isascii() and text.isprintable():
        return text  # nearly every string: two C-level tests instead of a substitution
    return _unsafe(keep, colour).sub(_shown, text)


def sanitize_tree(doc: object) -> object:
    """A copy of a JSON document (dicts, lists, strings, numbers) with every string, keys
    included, sanitized; iterative, so a deep document costs no recursion. Strings are done
    where they stand; only containers wait on the stack (a report holds thousands of both)."""
    top = [doc]
    stack: list[list | dict] = [top]
    while stack:
        node = stack.pop()
        keys = range(len(node)) if isinstance(node, list) else list(node)
        for key in keys:
            value = node[key]
            if isinstance(value, str):
                node[key] = sanitize(value)
            elif isinstance(value, dict):
                new = {sanitize(k) if isinstance(k, str) else k: v for k, v in value.items()}
                node[key] = new
                stack.append(new)
            elif isinstance(value, (list, tuple)):
                new_list = list(value)
                node[key] = new_list
                stack.append(new_list)
    return top[0]


def json_text(doc: object, indent: int = 2) -> str:
    """`doc` as JSON text, every string sanitized: what every JSON output writes."""
    return json.dumps(sanitize_tree(doc), indent=indent) + "\n"


def warn(message: str) -> None:
    """One line on stderr, sanitized (a newline in a file name cannot make it two)."""
    sys.stderr.write(sanitize(message.rstrip("\n"), keep="\t") + "\n")
    sys.stderr.flush()


def leftovers(directories: Iterable[str]) -> list[str]:
    """Temporary files of an interrupted atomic_write in `directories` (none is ever read:
    their names start with a dot and end in a random suffix)."""
    found: list[str] = []
    for directory in dict.fromkeys(directories):
        with contextlib.suppress(OSError):
            found += [
                os.path.join(directory, e.name)
                for e in os.scandir(directory)
                if _LEFTOVER.match(e.name) and e.is_file(follow_symlinks=False)
            ]
    return sorted(found)


def stale_temporaries(path: str) -> list[str]:
    """The temporary files a killed run left for `path` (its own name only), removed: those no
    living writer holds locked (`atomic_write` locks its own until the rename)."""
    prefix = f".{os.path.basename(path)}{TEMP_MARK}"
    removed = []
    for tmp in leftovers([os.path.dirname(path) or "."]):
        if not os.path.basename(tmp).startswith(prefix):
            continue
        try:
            fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(tmp)
            removed.append(tmp)
        except OSError:
            continue  # a run writing it now
        finally:
            os.close(fd)
    return removed


def copy_metadata(source: str, st: os.stat_result, target: str) -> None:
    """Give `target` the owner, mode and extended attributes (SELinux label included) that
    `source` has (`st` its stat). ConfigError when one cannot be kept."""
    try:
        if (st.st_uid, st.st_gid) != (os.stat(target).st_uid, os.stat(target).st_gid):
            os.chown(target, st.st_uid, st.st_gid)
        os.chmod(target, st.st_mode & 0o7777)  # after chown, which clears set-id bits
    except OSError as exc:
        raise ConfigError(f"cannot keep the owner and mode: {exc.strerror}", source) from None
    try:
        names = os.listxattr(source)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.ENOENT):
            return
        raise ConfigError(f"cannot read extended attributes: {exc.strerror}", source) from None
    for name in names:
        try:
            os.setxattr(target, name, os.getxattr(source, name))
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                continue
            raise ConfigError(
                f"cannot keep extended attribute {name}: {exc.strerror}", source
            ) from None


def atomic_write(
    path: str,
    text: str | bytes,
    *,
    keep_metadata: bool = False,
    before_rename: Callable[[], None] | None = None,
) -> None:
    """Write `text` to `path`: readers (node_exporter, a browser) see the old file or the new.

    A temporary file in the same directory, fsync, then rename. The file gets the mode a new
    file would get (0666 less the umask), not mkstemp's 0600: a textfile collector usually
    runs as another user and must be able to read it; with `keep_metadata` an existing file
    keeps its mode, owner and extended attributes (configuration files). A symbolic link is
    followed: its target is written, the link stays. `before_rename` runs last, after the
    test hook's pause; what it raises leaves the file as it was.
    """
    # Onto a symbolic link: write the file it names and keep the link, as `>` would.
    path = os.path.realpath(path)
    st: os.stat_result | None = None
    if keep_metadata:
        with contextlib.suppress(OSError):
            st = os.stat(path)
    directory = os.path.dirname(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}{TEMP_MARK}", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", path) from None
    try:
        # Locked while this process lives: `stale_temporaries` leaves a living run's file.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        if st is not None:
            copy_metadata(path, st, tmp)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        with contextlib.suppress(ValueError):
            time.sleep(max(0.0, float(os.environ.get(PAUSE_ENV) or 0)))
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
        with contextlib.suppress(OSError):
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write: {exc.strerror}", path) from None
        raise


def write_output(path: str, data: bytes) -> None:
    """Write `data` to the --output target `path`. A regular file or a new path: atomically
    (a symbolic link's target, the link kept), cleaning what a killed run left for the same
    name. A character device or a FIFO (/dev/null, /dev/full, /dev/stdout, a named pipe):
    opened and written, never replaced. Anything else is refused. ConfigError on failure."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", path) from None
    # /dev/stdout (or the very file) onto a file the shell opened: written where the shell put
    # it (`>>` appends), never renamed over the file it holds.
    inherited = _inherited(st) if st is not None else None
    if st is None or (inherited is None and stat.S_ISREG(st.st_mode)):
        real = os.path.realpath(path)
        stale_temporaries(real)
        atomic_write(real, data)
        return
    if inherited is None and not (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise ConfigError("cannot write: not a regular file, character device or FIFO", path)
    if inherited is not None:
        sys.stdout.flush()
        fd = os.dup(inherited)
    else:
        fd = _open_target(path)
    try:
        os.set_blocking(fd, True)
        _write_all(fd, data)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", path) from None
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _inherited(st: os.stat_result) -> int | None:
    """Standard output or error when `st` is the regular file one of them writes."""
    if not stat.S_ISREG(st.st_mode):
        return None
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), st):
                return fd
    return None


def _open_target(path: str) -> int:
    """`path` opened for writing. Non-blocking: a FIFO nobody reads (ENXIO) is waited for
    FIFO_WAIT seconds, as a shell's `>` would wait, then an error rather than a hang."""
    deadline = time.monotonic() + FIFO_WAIT
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise ConfigError(f"cannot write: {exc.strerror}", path) from None
        if time.monotonic() > deadline:
            raise ConfigError(f"cannot write: no process read the FIFO in {FIFO_WAIT} s", path)
        time.sleep(0.05)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def emit(text: str, output: str | None, *, colour: bool = False) -> None:
    """Print, or write to `output` (`-` is standard output; see `write_output`), sanitized
    and as UTF-8 whatever the locale. A write that fails (a full disk, a closed pipe) is a
    ConfigError: one line and exit 2. `colour`: the text holds httpdlint's colour codes."""
    data = sanitize(text, colour=colour).encode("utf-8")
    if output and output != "-":
        write_output(output, data)
        return
    try:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # a test's captured stdout: text only
            sys.stdout.write(data.decode("utf-8"))
        else:
            buffer.write(data)
            buffer.flush()
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", "standard output") from None


def use_colour(stream=None) -> bool:
    """Colour on a terminal; NO_COLOR (set and not empty) turns it off, FORCE_COLOR (set and
    not empty) on even into a pipe, as no-color.org and force-color.org say."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream or sys.stdout
    return stream.isatty() and os.environ.get("TERM") != "dumb"
