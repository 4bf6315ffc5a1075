"""What httpd 2.2 and 2.4 know about their directives and modules.

The facts (each directive's module, contexts, override class, default, first release, the
MPMs that implement it; each module's identifier and source file) come from the table
``data/directives.json``, generated from the httpd manual by ``scripts/gen_directives.py``.
The model and the rules ask this module instead of reading the table: which module a
directive needs, whether a name is a directive at all (and what the user probably meant),
and whether an ``<IfModule>`` argument names a module any httpd release has; and the two
names every module goes by (``module_identifier``, ``module_source``).

Entries are the table's dicts, shared between callers: read them, do not modify them.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .syntax import ascii_lower

VERSIONS = ("2.2", "2.4")

# Below this difflib ratio a "did you mean" guess is more often wrong than helpful; a one-letter
# typo in even a four-letter name ("Usr" for "User") still scores 0.86.
_SUGGEST_CUTOFF = 0.8

Entry = dict[str, Any]


@dataclass(frozen=True)
class Knowledge:
    """The loaded table: directives keyed by lowercase name ("<virtualhost" for sections),
    modules keyed by manual name ("mod_ssl", "core", "prefork"), each module entry carrying its
    own "name" too; aliases maps lowercase 2.2 names httpd 2.4 still accepts to their new names.
    """

    directives: dict[str, Entry]
    modules: dict[str, Entry]
    aliases: dict[str, str]
    generated_from: dict[str, str]


@functools.cache
def load() -> Knowledge:
    """Read the generated table once per process."""
    path = resources.files(__package__) / "data" / "directives.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    return Knowledge(
        directives=table["directives"],
        modules={name: {"name": name, **entry} for name, entry in table["modules"].items()},
        aliases=table["aliases"],
        generated_from=table["generated_from"],
    )


def directive(name: str) -> Entry | None:
    """The entry for a directive, its name compared as httpd compares names (ASCII letters
    case-insensitively, nothing stripped or normalised: `ServerAdmin` with a no-break space
    or a Kelvin sign is another name); a section may be named "<VirtualHost",
    "<VirtualHost>" or "VirtualHost". None when neither httpd 2.2 nor 2.4 documents the name."""
    key = ascii_lower(name)
    if key[:1] == "<" and key[-1:] == ">":
        key = key[:-1]  # `<VirtualHost>`, as the manual writes a section
    directives = load().directives
    found = directives.get(key)
    if found is None and not key.startswith("<"):
        found = directives.get("<" + key)
    return found


@functools.cache
def _module_index() -> tuple[dict[str, Entry], dict[str, Entry]]:
    by_identifier: dict[str, Entry] = {}
    by_sourcefile: dict[str, Entry] = {}
    for entry in load().modules.values():
        # mpm_common is a manual page, not a module: it has neither name.
        if entry.get("identifier"):
            by_identifier[entry["identifier"]] = entry
        if entry.get("sourcefile"):
            by_sourcefile[entry["sourcefile"]] = entry
    return by_identifier, by_sourcefile


def module_by_identifier(ident: str) -> Entry | None:
    """The module whose identifier (as in LoadModule, e.g. "ssl_module") is ident.

    Exact match: httpd compares module names case-sensitively in <IfModule>."""
    return _module_index()[0].get(ident)


def module_by_sourcefile(src: str) -> Entry | None:
    """The module built from source file src ("mod_ssl.c", "prefork.c"), exact match."""
    return _module_index()[1].get(src)


def known_module_names() -> set[str]:
    """Every identifier and source file name of any module in httpd 2.2 or 2.4: the names
    <IfModule> accepts for a module that exists in some release."""
    by_identifier, by_sourcefile = _module_index()
    return set(by_identifier) | set(by_sourcefile)


@functools.cache
def _spellings(version: str) -> dict[str, str]:
    """Lowercase name without "<" -> the name to suggest, for directives of one version."""
    knowledge = load()
    names = {
        key.lstrip("<"): entry["name"]
        for key, entry in knowledge.directives.items()
        if version in entry["versions"]
    }
    if version == "2.4":
        # A near miss of an old name is best answered with the name 2.4 documents.
        for old, new in knowledge.aliases.items():
            names.setdefault(old, new)
    return names


def suggest(name: str, version: str = "2.4") -> str | None:
    """The known directive name closest to name in that httpd version, for "did you mean"
    messages: "ServerTokns" -> "ServerTokens", "<VirtualHst" -> "<VirtualHost". A correctly
    spelled name comes back in its documented spelling; None when nothing is close."""
    if version not in VERSIONS:
        raise ValueError(f"unknown Apache version {version!r}; expected one of {VERSIONS}")
    spellings = _spellings(version)
    bare = name.strip().lstrip("<").rstrip(">").lower()
    if not bare:
        return None
    matches = difflib.get_close_matches(bare, list(spellings), n=1, cutoff=_SUGGEST_CUTOFF)
    return spellings[matches[0]] if matches else None


# -- what a module is called: its identifier (LoadModule) and source file (<IfModule>) ------

_MPM_SOURCES = {
    "mpm_prefork_module": "prefork.c",
    "mpm_worker_module": "worker.c",
    "mpm_event_module": "event.c",
    "core_module": "core.c",
    "http_module": "http_core.c",
}


def module_source(ident: str, so_path: str | None = None) -> str:
    """The source-file name (`mod_ssl.c`) that `<IfModule>` also accepts for a module."""
    if ident in _MPM_SOURCES:
        return _MPM_SOURCES[ident]
    if ident.endswith("_module"):
        return "mod_" + ident[: -len("_module")] + ".c"
    if so_path:
        base = os.path.basename(so_path)
        if base.endswith(".so"):
            return base[:-3] + ".c"
    return ident


def module_identifier(name: str) -> str:
    """`ssl_module` for `mod_ssl.c` or `ssl_module`, as LoadModule names a module."""
    if name.endswith("_module"):
        return name
    for ident, src in _MPM_SOURCES.items():
        if src == name:
            return ident
    base = name[:-2] if name.endswith(".c") else name
    return (base[4:] if base.startswith("mod_") else base) + "_module"
