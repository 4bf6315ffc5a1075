"""Writing results: atomic files and terminal colour."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


def atomic_write(path: str, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".httpdlint-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def emit(text: str, output: str | None) -> None:
    """Print, or write atomically to `output`."""
    if output:
        atomic_write(output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def use_colour(stream=None) -> bool:
    stream = stream or sys.stdout
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
