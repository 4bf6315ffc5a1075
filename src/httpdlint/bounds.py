"""Bounds on what a configuration can make this tool do: read files it names, run long, and
run programs (only root-owned binaries nobody else can write: `binary_refusal`).

A configuration comes from anyone (a pull request) and names paths of its choosing: its
`ErrorLog` may be a FIFO or /dev/zero, its `PidFile` /dev/urandom, an `envvars` beside it a
2 GB sparse file. `read_regular` reads only a regular file, never waits to open one (a FIFO
opens without a writer under O_NONBLOCK, then is refused), and reads at most a cap, or the
tail of a log. `--timeout` turns a run that is still going after N seconds into one error
line (exit 2): SIGALRM interrupts Python code and blocking reads alike (not a C-level regular
expression match, which the regex bounds look after).
"""

from __future__ import annotations

import os
import signal
import stat

__all__ = [
    "binary_refusal",
    "ENVVARS_MAX_BYTES",
    "RunTimeout",
    "NotRegular",
    "TooLarge",
    "arm_timeout",
    "disarm_timeout",
    "read_regular",
]

#: Debian's envvars is 2 KiB; a shell script of a megabyte is not one apache2ctl sources.
ENVVARS_MAX_BYTES = 1 << 20


class NotRegular(OSError):
    """The path names a FIFO, a device, a directory or a socket: not read."""


class TooLarge(OSError):
    """The file is larger than the cap its reader allows."""


def read_regular(path: str, cap: int, *, tail: bool = False) -> bytes:
    """The bytes of the regular file `path`, at most `cap` of them.

    NotRegular for anything but a regular file (checked on the open descriptor, so a path
    swapped between a stat and the open changes nothing); with `tail`, the last `cap` bytes
    of a larger file, else TooLarge. The file's size is what fstat says at the open; a file
    growing meanwhile is read no further than `cap` all the same.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(f"{path}: not a regular file")
        if info.st_size > cap:
            if not tail:
                raise TooLarge(f"{path}: larger than {cap} bytes")
            os.lseek(fd, info.st_size - cap, os.SEEK_SET)
        chunks: list[bytes] = []
        left = cap
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class RunTimeout(BaseException):  # noqa: N818 (not an Exception: no `except Exception` eats it)
    """The run went past --timeout. A BaseException, so that the many places that catch an
    OSError or a ConfigError to go on cannot swallow it; the CLI reports it (exit 2)."""

    def __init__(self, seconds: float):
        super().__init__(
            f"gave up after {seconds:g} s (--timeout {seconds:g}): the configuration takes "
            "too long to read or check; raise --timeout if it is legitimate"
        )
        self.seconds = seconds


def arm_timeout(seconds: float | None) -> None:
    """Raise RunTimeout in the main thread once `seconds` have passed (0 or None: never)."""
    if not seconds or seconds <= 0 or not hasattr(signal, "setitimer"):
        return

    def expired(signum, frame) -> None:
        disarm_timeout()
        raise RunTimeout(seconds)

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def disarm_timeout() -> None:
    """Stop the clock (before writing the result: a result is not cut half way)."""
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)


def binary_refusal(path: str) -> str | None:
    """Why `path` must not be run (httpd for `-V`, psql), or None: it (after its links) and
    its directory must belong to root and be writable by no one else, or anyone who could
    write them would run code as whoever runs httpdlint."""
    real = os.path.realpath(path)
    for what, where in (("binary", real), ("directory", os.path.dirname(real))):
        try:
            st = os.stat(where)
        except OSError as exc:
            return f"{where}: {exc.strerror}"
        if st.st_uid != 0:
            return f"its {what} {where} is owned by uid {st.st_uid}, not root"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"its {what} {where} is writable by group or others"
    return None
