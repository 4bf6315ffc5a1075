"""What the formats share: counts, paths relative to the root, URIs, the offending lines.

Paths: a finding's file is absolute, as httpd reads it. Machine formats (SARIF, GitHub,
GitLab, JUnit) name it relative to the repository root (`Report.root`) so a laptop and a CI
agent agree; a file outside the root keeps its absolute path. Text names it relative to the
working directory, as compilers and linters print, so a terminal can open it.
"""

from __future__ import annotations

import os
from collections import Counter

from ..findings import SEVERITIES, Finding

#: Rule code prefix -> what the category is called (SARIF tags, JUnit names).
CATEGORY = {
    "CAP": "capacity",
    "SEC": "security",
    "TLS": "tls",
    "COR": "correctness",
    "LOG": "logging",
    "UPG": "upgrade",
}
SECURITY = ("SEC", "TLS")


def summary(findings: list[Finding]) -> dict[str, int]:
    """Findings by severity, worst first: {"error": n, "warning": n, "info": n}."""
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in reversed(SEVERITIES)}


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(report) -> str:
    """One line for humans: the findings by severity, the rules skipped, the input errors.
    "No findings" is never said of a run that read nothing: that is not a pass."""
    findings = report.findings
    sentences = []
    if findings:
        counts = ", ".join(plural(n, s) for s, n in summary(findings).items() if n)
        sentences.append(f"Found {plural(len(findings), 'finding')}: {counts}")
    elif report.models:
        sentences.append("No findings")
    if report.skipped:
        sentences.append(f"{plural(len(unique_skipped(report)), 'rule')} skipped")
    if report.errors:
        sentences.append(plural(len(report.errors), "input error"))
    if not report.models:
        sentences.append("nothing was checked")
    line = "; ".join(sentences) + "."
    return line[0].upper() + line[1:]


def unique_skipped(report) -> list:
    """Skipped rules once each: the same rule skipped for the same reason in several
    configurations is one note, named by configuration only when there are several."""
    seen = set()
    out = []
    for s in report.skipped:
        key = (s.rule, s.needs, s.config if len(report.models) > 1 else None)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def rel(path: str | None, root: str) -> str | None:
    """`path` relative to the root with forward slashes, or absolute when outside it."""
    from ..fingerprints import relative  # hashlib: only the formats that name paths pay for it

    if not path:
        return None
    return relative(os.path.abspath(path), os.path.abspath(root))


def file_uri(path: str) -> str:
    """An absolute `file:` URI, percent-encoded byte by byte (non-UTF-8 names included)."""
    from urllib.parse import quote  # only SARIF needs it: not on every start of the CLI

    encoded = quote(os.path.abspath(path).encode("utf-8", "surrogateescape"), safe="/")
    return "file://" + (encoded if encoded.startswith("/") else "/" + encoded)


def uri_path(path: str) -> str:
    """A relative path as a URI reference: every byte but unreserved ones and `/` encoded, so
    a `:` cannot read as a scheme, nor a space, `,`, `#` or `%` break the reference."""
    from urllib.parse import quote

    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


def first_model_file(report) -> str | None:
    """Where a finding without a file is shown: the main file of the configuration read."""
    return report.models[0].config.root if report.models else None


def clean(text: str) -> str:
    """Text any XML or JSON reader accepts (XML 1.0 forbids control characters and lone
    surrogates): `output.sanitize`, bytes that were not UTF-8 shown as `\\xNN`."""
    from ..output import sanitize

    return sanitize(text)


def source_lines(path: str | None, line: int | None, cache: dict) -> list[tuple[int, str]]:
    """The physical lines of the directive at `path:line` as they are in the file, or [] when
    it cannot be read. A directive continued with a backslash spans several lines, and httpd
    (so the loader) numbers it by its last: the lines before that end in `\\` belong to it."""
    if not path or not line:
        return []
    if path not in cache:
        try:
            # Split on LF only, as httpd does (str.splitlines would also split on \f, \v...).
            with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
                cache[path] = [text.rstrip("\r") for text in fh.read().split("\n")]
        except OSError:
            cache[path] = []
    lines = cache[path]
    if not 0 < line <= len(lines):
        return []
    # A bound on continuations: a pathological file cannot turn one finding into pages.
    first = line
    while first > 1 and line - first < 20 and lines[first - 2].endswith("\\"):
        first -= 1
    last = line
    while last < len(lines) and last - first < 20 and lines[last - 1].endswith("\\"):
        last += 1
    return [(n, lines[n - 1]) for n in range(first, last + 1)]
