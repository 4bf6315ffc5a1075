"""Baselines for `check`: a legacy tree adopts the linter and fails only on new findings.

`check --write-baseline FILE` records the findings of today as entries keyed like the
fingerprints (fingerprints.key: rule, file relative to the repository root, enclosing sections,
the directive as written; never the line number), each with how many findings share that key.
`check --baseline FILE` then allows that many findings per key: the first ones of a key in file
order are known, the rest new (a second identical line is new), and a key with fewer findings
than its count has the difference fixed. Paths are relative to Report.root, so a baseline
written on a laptop applies unchanged in CI, where the checkout lives elsewhere.

The file is JSON, one entry per key, sorted, so that a change to it reads well in a diff:

    {
      "schema": 1,
      "version": "0.1.0",
      "findings": [
        {
          "rule": "SEC002",
          "file": "conf/httpd.conf",
          "section": ["VirtualHost *:80"],
          "source": "ServerSignature On",
          "message": "ServerSignature On in <VirtualHost *:80>: ...",
          "count": 1
        }
      ]
    }
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace

from . import __version__
from .errors import ConfigError
from .findings import Finding
from .fingerprints import key, relative
from .output import atomic_write
from .report import Report

__all__ = ["SCHEMA", "Entry", "Baseline", "Applied", "write", "load", "apply"]

SCHEMA = 1
TOP_KEYS = ("schema", "version", "findings")
ENTRY_KEYS = ("rule", "file", "section", "source", "message", "count")
SURROGATE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class Entry:
    """Findings of one key: where (relative to the root), what, and how many."""

    rule: str
    file: str | None
    section: tuple[str, ...]
    source: str
    message: str
    count: int = 1

    def as_json(self) -> dict:
        return {
            "rule": self.rule,
            "file": self.file,
            "section": list(self.section),
            "source": self.source,
            "message": self.message,
            "count": self.count,
        }

    def sort_key(self) -> tuple:
        return (self.file or "", self.rule, self.section, self.source, self.message)

    def __str__(self) -> str:
        where = self.file or "-"
        if self.section:
            where += f" <{'> <'.join(self.section)}>"
        times = f" (x{self.count})" if self.count > 1 else ""
        return f"{where}: {self.rule} {self.source or self.message}{times}"


@dataclass
class Baseline:
    """A baseline file as read: its entries and the version of httpdlint that wrote it."""

    entries: list[Entry] = field(default_factory=list)
    version: str = __version__
    path: str | None = None


@dataclass
class Applied:
    """A report measured against a baseline.

    `new` fails the run; `known` is in the baseline; `fixed` are entries (count: how many
    findings of the key are gone) no longer found. Entries of rules this run skipped are
    `unchecked`, not fixed: nothing looked for them.
    """

    new: list[Finding] = field(default_factory=list)
    known: list[Finding] = field(default_factory=list)
    fixed: list[Entry] = field(default_factory=list)
    unchecked: list[Entry] = field(default_factory=list)


def write(report: Report, path: str) -> int:
    """Write the report's findings as a baseline to `path`, atomically; the number of entries.

    A report whose configuration could not be read is refused: its baseline would lack the
    findings of what was not read, and every one of them would fail a later run as new.
    """
    if report.errors:
        raise ConfigError(f"not writing a baseline: {report.errors[0]}", path)
    root = _root(report)
    counts: Counter[str] = Counter()
    first: dict[str, Entry] = {}
    for f in sorted(report.findings, key=Finding.sort_key):
        entry = _entry(f, root)
        k = _key(entry, root)
        counts[k] += 1
        first.setdefault(k, entry)
    entries = sorted((replace(first[k], count=n) for k, n in counts.items()), key=Entry.sort_key)
    document = {
        "schema": SCHEMA,
        "version": __version__,
        "findings": [e.as_json() for e in entries],
    }
    # Readable non-ASCII text in the diff, but bytes that are not UTF-8 (kept by the reader as
    # lone surrogates, which UTF-8 cannot encode) as \udcXX escapes that json reads back.
    text = json.dumps(document, indent=2, ensure_ascii=False)
    text = SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    atomic_write(path, text + "\n")
    return len(entries)


def load(path: str) -> Baseline:
    """Read and validate a baseline file; ConfigError, one line, when it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"cannot read baseline: {exc.strerror}", path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not a baseline: not UTF-8 ({exc.reason})", path) from None
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not a baseline: invalid JSON: {exc.msg}", path, exc.lineno) from None
    except ValueError as exc:
        raise ConfigError(f"not a baseline: {exc}", path) from None

    def bad(message: str) -> ConfigError:
        return ConfigError(f"not a baseline: {message}", path)

    if not isinstance(document, dict):
        raise bad(f"expected a JSON object, found {_kind(document)}")
    _check_keys(document, TOP_KEYS, "", bad)
    schema = document["schema"]
    if not _is_int(schema):
        raise bad(f'"schema" must be a number, not {_kind(schema)}')
    if schema != SCHEMA:
        raise bad(
            f"schema {schema} is not one httpdlint {__version__} reads (it reads schema "
            f"{SCHEMA}); write the baseline again with --write-baseline"
        )
    if not isinstance(document["version"], str):
        raise bad(f'"version" must be a string, not {_kind(document["version"])}')
    if not isinstance(document["findings"], list):
        raise bad(f'"findings" must be a list, not {_kind(document["findings"])}')
    entries = [_parse_entry(item, i, bad) for i, item in enumerate(document["findings"], 1)]
    return Baseline(entries=entries, version=document["version"], path=path)


def apply(baseline: Baseline, report: Report) -> Applied:
    """Split the report's findings into new and known, and find the entries that are fixed."""
    root = _root(report)
    # Entries of one key may appear more than once (two baselines merged by hand or by git):
    # their counts add up.
    allowed: Counter[str] = Counter()
    entry_of: dict[str, Entry] = {}
    for entry in baseline.entries:
        k = _key(entry, root)
        allowed[k] += entry.count
        entry_of.setdefault(k, entry)
    seen: Counter[str] = Counter()
    known_ids: set[int] = set()
    # The first findings of a key in file order are the known ones; the report's own order is
    # kept in the lists returned.
    for f in sorted(report.findings, key=Finding.sort_key):
        k = _key(_entry(f, root), root)
        seen[k] += 1
        if seen[k] <= allowed[k]:
            known_ids.add(id(f))
    applied = Applied()
    for f in report.findings:
        (applied.known if id(f) in known_ids else applied.new).append(f)
    # A configuration that could not be read hides its findings: they are not fixed.
    if report.errors:
        return applied
    skipped = {s.rule for s in report.skipped}
    for k, count in allowed.items():
        gone = count - seen[k]
        if gone <= 0:
            continue
        entry = replace(entry_of[k], count=gone)
        (applied.unchecked if entry.rule in skipped else applied.fixed).append(entry)
    applied.fixed.sort(key=Entry.sort_key)
    applied.unchecked.sort(key=Entry.sort_key)
    return applied


def _root(report: Report) -> str:
    return os.path.abspath(report.root or ".")


def _entry(f: Finding, root: str) -> Entry:
    """A finding as a baseline entry: its file relative to the root, its message free of it."""
    path = relative(f.file, root)
    bases = [root, os.path.realpath(root)]
    if path is not None and os.path.isabs(path) and f.file:
        # The root comes from project_root, which resolves symlinks, while configuration paths
        # are only made absolute: /tmp/x on macOS is /private/tmp/x. Compare real paths before
        # calling a file outside the tree, whose absolute path would differ between checkouts.
        real = relative(os.path.realpath(f.file), os.path.realpath(root))
        if real is not None and not os.path.isabs(real):
            path = real
            # The root as this finding's paths spell it, for the message.
            alias = os.path.normpath(f.file)
            for _ in real.split("/"):
                alias = os.path.dirname(alias)
            # A symlink inside the tree (sites-enabled/ to sites-available/) breaks the count.
            if os.path.realpath(alias) == os.path.realpath(root):
                bases.append(alias)
    return Entry(
        rule=f.rule,
        file=path,
        section=tuple(f.section),
        source=f.source,
        message=_without_root(f.message, bases),
    )


def _without_root(message: str, bases: list[str]) -> str:
    """The message with the checkout's absolute path made relative.

    A finding about what is absent has no directive to quote, so its message is its identity,
    and some messages name a path under the server root ("logs/error_log under ServerRoot
    (/home/me/repo/logs/error_log)"): as written, such a finding would be new in every other
    checkout.
    """
    # Longest first: a symlinked spelling of the root may lie under the root itself.
    for base in sorted(set(bases), key=len, reverse=True):
        if os.path.dirname(base) == base:
            continue  # the root is /: every absolute path lies under it, and stays as it is
        message = re.sub(
            re.escape(base) + r"(?:/|(?![\w.-]))",
            lambda m: "" if m.group().endswith("/") else ".",
            message,
        )
    return message


def _key(entry: Entry, root: str) -> str:
    """The fingerprint key of an entry: one function for findings and for entries read back,
    so that both sides of a match are keyed alike whatever fingerprints.key looks at."""
    path = entry.file
    if path is not None and not os.path.isabs(path):
        path = os.path.join(root, path)
    f = Finding(
        entry.rule,
        "",
        "",
        entry.message,
        path,
        None,
        section=entry.section,
        source=entry.source,
    )
    return key(f, root)


def _parse_entry(item: object, index: int, bad) -> Entry:
    where = f"entry {index}"
    if not isinstance(item, dict):
        raise bad(f"{where}: expected a JSON object, found {_kind(item)}")
    _check_keys(item, ENTRY_KEYS, f"{where}: ", bad)
    for name in ("rule", "source", "message"):
        if not isinstance(item[name], str):
            raise bad(f'{where}: "{name}" must be a string, not {_kind(item[name])}')
    if not item["rule"]:
        raise bad(f'{where}: "rule" is empty')
    if item["file"] is not None and not (isinstance(item["file"], str) and item["file"]):
        raise bad(f'{where}: "file" must be a path or null, not {_kind(item["file"])}')
    section = item["section"]
    if not isinstance(section, list):
        raise bad(f'{where}: "section" must be a list of strings, not {_kind(section)}')
    for part in section:
        if not isinstance(part, str):
            raise bad(f'{where}: "section" must be a list of strings, and holds {_kind(part)}')
    count = item["count"]
    if not _is_int(count) or count < 1:
        raise bad(f'{where}: "count" must be a whole number of at least 1, not {_kind(count)}')
    return Entry(
        rule=item["rule"],
        file=item["file"],
        section=tuple(section),
        source=item["source"],
        message=item["message"],
        count=count,
    )


def _check_keys(obj: dict, allowed: tuple[str, ...], where: str, bad) -> None:
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        raise bad(f'{where}unknown key "{unknown[0]}" (expected {", ".join(allowed)})')
    missing = [k for k in allowed if k not in obj]
    if missing:
        raise bad(f'{where}missing "{missing[0]}"')


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    # json keeps the last of two equal keys silently; in a hand-edited baseline that hides a
    # mistake, so it is one.
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f'key "{k}" appears twice in one object')
        out[k] = v
    return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {json.dumps(value)}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, list):
        return "a list"
    return "an object"
