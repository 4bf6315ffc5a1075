"""What identifies a finding when lines move: for SARIF's partialFingerprints and baselines.

A finding is keyed by its rule, its file relative to the repository root (so a laptop and CI
agree), the sections that enclose its directive, and the directive as written. Lines inserted
above it change none of these. Two identical directives in one file and section would share a
key, so the occurrence index among the findings of that key (in file order) is part of the
fingerprint: the second identical line is a finding of its own. A finding about something
absent has no directive; its message is no key either (it may hold a path of the checkout,
a line number or a size measured today), so it is keyed by rule, file and section alone.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from .findings import Finding

__all__ = ["project_root", "relative", "key", "fingerprints"]


def project_root(start: str | None = None, stop: str | None = None) -> str:
    """The repository root: the nearest directory at or above `start` (default: the working
    directory) holding .git, else `start` itself; not above `stop` (--confine)."""
    here = Path(start or os.getcwd()).resolve()
    for directory in (here, *here.parents):
        if stop is not None and not str(directory).startswith(stop):
            break
        if (directory / ".git").exists():
            return str(directory)
    return str(here)


def relative(path: str | None, root: str) -> str | None:
    """`path` relative to `root` with forward slashes, or absolute when it lies outside."""
    if not path:
        return None
    for candidate, base in ((path, root), (os.path.realpath(path), os.path.realpath(root))):
        try:
            rel = os.path.relpath(candidate, base)
        except ValueError:
            continue
        if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
            return rel.replace(os.sep, "/")
    # Outside the root even with links resolved (/tmp -> /private/tmp): absolute.
    return path


def key(f: Finding, root: str) -> str:
    """The finding's identity without its occurrence index, as readable text."""
    where = relative(f.file, root) or "-"
    return "\x1f".join([f.rule, where, "\x1e".join(f.section), f.source])


def fingerprints(findings: Iterable[Finding], root: str) -> list[str]:
    """One stable fingerprint per finding, in the order given (findings sorted by file and line:
    the occurrence index counts identical findings from the top of their file)."""
    seen: dict[str, int] = {}
    out = []
    for f in findings:
        k = key(f, root)
        index = seen.get(k, 0)
        seen[k] = index + 1
        out.append(hashlib.sha256(f"{k}\x1f{index}".encode("utf-8", "surrogateescape")).hexdigest())
    return out
