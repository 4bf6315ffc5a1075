"""From the files a commit changes to the configuration trees that read them (pre-commit).

pre-commit hands `httpdlint check --changed` the Apache files a commit touches: a virtual host
in `sites-available/`, a snippet in `conf.d/`, the main file itself. Each is linted as part of
the tree httpd reads it in: walking up from its directory to the repository root, the first
httpd.conf or apache2.conf (or conf/httpd.conf) whose reading includes the file is its main
file, and each tree is linted once however many of its files changed. A file that no main file
reads is linted on its own as a fragment: what a rule would say about the whole tree (a setting
nobody sets, a module nobody loads) cannot be known from one file, and is skipped, and said so.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

__all__ = ["MAIN_NAMES", "group", "server_root_of"]

#: The names a main configuration file has, tried in each directory walking up.
MAIN_NAMES = ("httpd.conf", "apache2.conf", "conf/httpd.conf", "conf/apache2.conf")


def server_root_of(main: str, server_root: str | None) -> str:
    """The ServerRoot a tree in a checkout is read with: the one given, else where the main
    file lives (the ServerRoot line names the server's home, not this checkout)."""
    from .loader import default_server_root

    return server_root or default_server_root(main)


def _reads(main: str, server_root: str | None, cache: dict) -> set[str] | None:
    """The files httpd reads for `main` (resolved), None when it cannot be read."""
    if main not in cache:
        from .model import load_model

        try:
            model = load_model(main, server_root=server_root_of(main, server_root))
        except ConfigError:
            cache[main] = None
        else:
            cache[main] = {os.path.realpath(f) for f in model.config.files}
    return cache[main]


def group(
    files: list[str], root: str, server_root: str | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """(main file -> the changed files its tree reads, fragments no main file reads).

    A main file that cannot be read (a syntax error) still claims the files below its
    directory: linting it reports the error, which is what the commit must see.
    """
    top = Path(root).resolve()
    cache: dict[str, set[str] | None] = {}
    mains: dict[str, list[str]] = {}
    fragments: list[str] = []
    for name in files:
        path = Path(name).resolve()
        owner = None
        for directory in (path.parent, *path.parent.parents):
            for candidate in (directory / n for n in MAIN_NAMES):
                if not candidate.is_file():
                    continue
                main = str(candidate)
                read = _reads(main, server_root, cache)
                if read is None or str(path) in read or os.path.realpath(path) in read:
                    owner = main
                    break
            if owner or directory == top or top not in directory.parents:
                break
        if owner is None:
            fragments.append(str(path))
        else:
            mains.setdefault(owner, []).append(str(path))
    return mains, fragments
