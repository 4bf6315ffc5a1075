"""`--confine DIR`: read nothing outside one directory (CI on untrusted pull requests).

A pull request can write `Include /etc/shadow`, `Include /root/.ssh/*`, or a symbolic link
inside the checkout that points out of it. Under `--confine DIR` the main file and every
include must lie in DIR after following each symbolic link, one link at a time, so that a
link is refused before anything it points at is looked at. Whatever else would reach outside
DIR (the filesystem rules, measuring this machine, running httpd, settings files above DIR)
is not done, and the rules that need it are reported as skipped.
"""

from __future__ import annotations

import os

from .errors import ConfigError

_MAX_LINKS = 40  # as the kernel's own limit on links followed in one lookup


class Confinement:
    """The directory everything read must lie in."""

    def __init__(self, root: str):
        # Resolving DIR itself looks at its own parents: that much is DIR's, not the input's.
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise ConfigError(f"--confine {root}: not a directory")

    def inside(self, path: str) -> bool:
        """Whether a path lies in DIR by its text alone (no link followed, nothing looked at)."""
        path = os.path.normpath(os.path.abspath(path))
        return path == self.root or path.startswith(self.root.rstrip("/") + "/")

    def check(self, path: str, file: str | None = None, line: int | None = None) -> str:
        """`path` with its symbolic links followed, if it stays in DIR; else ConfigError at
        `file`:`line`. Each link is read (lstat, readlink: the link is inside DIR) and its
        target judged by its text before anything is looked up there."""
        current = os.path.normpath(os.path.abspath(path))
        for _ in range(_MAX_LINKS):
            if not self.inside(current):
                break
            rel = os.path.relpath(current, self.root)
            parts = [] if rel == "." else rel.split(os.sep)
            prefix = self.root
            for i, part in enumerate(parts):
                prefix = os.path.join(prefix, part)
                if os.path.islink(prefix):
                    target = os.readlink(prefix)
                    base = os.path.dirname(prefix)
                    rest = parts[i + 1 :]
                    current = os.path.normpath(os.path.join(base, target, *rest))
                    break
            else:
                return current
        raise ConfigError(f"{path} is outside --confine {self.root}", file, line)

    def refuse(self, what: str) -> ConfigError:
        return ConfigError(f"{what} reads outside --confine {self.root}: not with --confine")
