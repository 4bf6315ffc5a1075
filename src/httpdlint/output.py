"""Writing results: atomic files and terminal colour."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from .errors import ConfigError


def atomic_write(path: str, text: str) -> None:
    """Write `text` to `path`: readers (node_exporter, a browser) see the old file or the new.

    A temporary file in the same directory, fsync, then rename. The file gets the mode a new
    file would get (0666 less the umask), not mkstemp's 0600: a textfile collector usually
    runs as another user and must be able to read it. A symbolic link is followed: its
    target is written, the link stays.
    """
    # Onto a symbolic link: write the file it names and keep the link, as `>` would.
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", path) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
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
