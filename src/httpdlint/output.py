"""Writing results: atomic files (with their metadata kept, for `suggest --apply`) and colour.

Every file httpdlint writes goes through `atomic_write`: a temporary file named
`.NAME.httpdlint-tmp.XXXXXXXX` in the same directory, fsync, rename. A run that is killed
between the write and the rename leaves only such a file, which `leftovers` finds and a later
`--apply` removes. HTTPDLINT_PAUSE_BEFORE_RENAME=SECONDS is a test hook: it pauses after the
temporary file is written and before the rename.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable

from .errors import ConfigError

TEMP_MARK = ".httpdlint-tmp."
#: Test hook: seconds to sleep after the temporary file is written, before the rename.
PAUSE_ENV = "HTTPDLINT_PAUSE_BEFORE_RENAME"
_LEFTOVER = re.compile(r"\..+" + re.escape(TEMP_MARK) + r"[A-Za-z0-9_]{6,}\Z", re.S)


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


def emit(text: str, output: str | None) -> None:
    """Print, or write atomically to `output` (`-` is standard output)."""
    if output and output != "-":
        atomic_write(output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def use_colour(stream=None) -> bool:
    """Colour on a terminal; NO_COLOR (set and not empty) turns it off, FORCE_COLOR (set and
    not empty) on even into a pipe, as no-color.org and force-color.org say."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream or sys.stdout
    return stream.isatty() and os.environ.get("TERM") != "dumb"
