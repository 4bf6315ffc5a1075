"""Configuration on disk that httpd never reads: files an Include wildcard passes over, and
Apache 2.2's conf.d left behind on a 2.4 layout.

Both look at directories on the machine (needs = ["filesystem"]): the loader records every
Include path with the line that named it (Config.includes, Config.include_nodes), and these
checks list the directories those paths read. A file counts when it reads as configuration
(a directive httpd knows outside comments) and no other Include reads it: a README or a file
included by name is not configuration left unread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from .. import knowledge
from ..findings import Finding
from ..merge import under
from ..pathmatch import fnmatch, fnmatch_test
from ..registry import check
from ..syntax import Directive

# Names an administrator parks on purpose beside live files (editor and package-manager
# copies, switched-off files): a wildcard that skips them does its job.
_PARKED = (
    "~",
    ".bak",
    ".back",
    ".backup",
    ".orig",
    ".old",
    ".save",
    ".swp",
    ".tmp",
    ".disabled",
    ".disable",
    ".off",
    ".dist",
    ".sample",
    ".example",
    ".rpmnew",
    ".rpmsave",
    ".rpmorig",
    ".dpkg-old",
    ".dpkg-dist",
    ".dpkg-new",
    ".dpkg-bak",
    ".dpkg-tmp",
    ".dpkg-remove",
    ".ucf-old",
    ".ucf-dist",
    ".ucf-new",
)
_SHOWN = 3  # file names listed in one finding


def parked(name: str) -> bool:
    """A hidden file, or a copy or switched-off file by its suffix."""
    low = name.lower()
    return low.startswith(".") or low.endswith(_PARKED) or ".dpkg-" in low or ".ucf-" in low


_PEEK = 16384  # bytes of a skipped file read to tell configuration from notes


def configuration(path: str) -> bool:
    """Whether a file reads as httpd configuration: a line (not a comment) that opens a
    section or starts with a directive httpd knows. A README or notes beside the live files
    are not configuration left unread."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(_PEEK).decode("utf-8", "replace")
    except OSError:
        return False
    for line in text.splitlines():
        words = line.split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        word = words[0].rstrip(">")
        entry = knowledge.directive(word)
        # A section must open with `<`: "Files in this directory..." is prose.
        if entry is not None and bool(entry.get("section")) == word.startswith("<"):
            return True
    return False


def _files(directory: str) -> list[str]:
    """Regular files (or links to them) in a directory, in httpd's byte order; [] when it
    cannot be listed."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted((n for n in names if os.path.isfile(os.path.join(directory, n))), key=os.fsencode)


def _wildcards(model) -> dict[str, list[tuple[str, Directive]]]:
    """Directory -> (wildcard of its last component, Include line) for each Include whose
    wildcard is in the file name only (`sites-enabled/*.conf`)."""
    out: dict[str, list[tuple[str, Directive]]] = {}
    for path, node in zip(model.config.includes, model.config.include_nodes, strict=False):
        directory, pattern = os.path.split(path)
        if fnmatch_test(pattern) and not fnmatch_test(directory):
            out.setdefault(directory, []).append((pattern, node))
    return out


def _named(model) -> set[str]:
    """Paths an Include inside a false condition names (`<IfDefine DEFAULT_VHOST>` on Gentoo):
    read when the condition holds, so not forgotten."""
    out = set()
    for _cond, _file, _line, word, rest in model.config.skipped:
        if word.lower() in ("include", "includeoptional") and rest.split():
            arg = rest.split()[0].strip("\"'")
            out.add(os.path.normpath(os.path.join(model.config.server_root, arg)))
    return out


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


@check("COR030")
def include_wildcard_skips_file(model, rule, settings) -> Iterator[Finding]:
    read = set(model.config.files) | _named(model)
    for directory, globs in _wildcards(model).items():
        skipped = [
            name
            for name in _files(directory)
            if not parked(name)
            and not any(fnmatch(p, name) for p, _ in globs)
            and os.path.join(directory, name) not in read  # another Include names it
            and configuration(os.path.join(directory, name))
        ]
        if not skipped:
            continue
        node = globs[0][1]
        patterns = " and ".join(sorted({f"{n.name} {' '.join(n.args)}" for _, n in globs}))
        hint = ""
        if os.path.basename(directory) in ("sites-enabled", "conf-enabled"):
            hint = " (a2ensite and a2enconf enable only names ending in .conf)"
        yield rule.finding(
            f"{_names(skipped)} in {directory} {'is' if len(skipped) == 1 else 'are'} never "
            f"read: {patterns} reads only the names its wildcard matches; rename "
            f"to match{hint}, or move the file out of the directory",
            node,
        )


@check("COR031")
def conf_d_not_read(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.4":
        return
    roots = {model.config.server_root, os.path.dirname(model.config.root)}
    for base in sorted(roots):
        confd = os.path.join(base, "conf.d")
        if any(under(path, confd) for path in model.config.includes):
            continue
        live = [n for n in _files(confd) if not parked(n) and configuration(os.path.join(confd, n))]
        if not live:
            continue
        instead = (
            "conf-available/ and enable them with a2enconf"
            if os.path.isdir(os.path.join(base, "conf-enabled"))
            else "a directory an Include reads"
        )
        yield rule.finding(
            f"{_names(live)} in {confd} {'is' if len(live) == 1 else 'are'} never read: Apache "
            f"2.2 packages included conf.d, this 2.4 configuration includes nothing there; "
            f"move what is still wanted to {instead}",
            model=model,
        )
