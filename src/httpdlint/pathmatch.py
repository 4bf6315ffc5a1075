"""The files an Include names, found as httpd finds them (server/config.c's include walk).

Wildcards are APR's (apr_fnmatch_test, apr_fnmatch with APR_FNM_PERIOD): a backslash escapes,
`[^...]` and `[!...]` negate, a leading dot is matched only by a dot. Python's fnmatch and glob
differ in each, and in the order and the errors, so httpd's walk is followed here."""

from __future__ import annotations

import errno
import functools
import os
import re

from .errors import ConfigError

# httpd's own guard against include recursion (AP_MAX_INCLUDE_DEPTH in server/core.c).
MAX_INCLUDE_DEPTH = 128


def fnmatch_test(pattern: str) -> bool:
    """Whether a path is a wildcard pattern, as `apr_fnmatch_test` decides.

    `*` and `?` are wildcards; `[` only with a `]` after it; a backslash hides the next
    character. Anything else is a plain path, read as it is.
    """
    nesting = False
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*" or c == "?":
            return True
        if c == "\\":
            i += 1
            if i >= n:
                return False
        elif c == "[":
            nesting = True
        elif c == "]" and nesting:
            return True
        i += 1
    return False


def fnmatch(pattern: str, name: str, period: bool = True) -> bool:
    """`apr_fnmatch(pattern, name, APR_FNM_PERIOD)` for one path component (without
    `period`: `APR_FNM_PATHNAME` alone, as <Directory> and <Files> wildcards match).

    Differs from Python's fnmatch: a backslash escapes the next character, `[^...]` negates
    like `[!...]`, a `[` without its `]` is an ordinary character, and a leading dot in the
    name must be matched by a literal dot (`*`, `?` and `[.]` do not match it).
    """
    if period and name[:1] == ".":
        if pattern[:1] == ".":
            pattern = pattern[1:]
        elif pattern[:2] == "\\.":
            pattern = pattern[2:]
        else:
            return False
        name = name[1:]
    return _fnmatch_regex(pattern).fullmatch(name) is not None


@functools.lru_cache(maxsize=256)
def _fnmatch_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
            i += 1
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[":
            cls, end = _bracket(pattern, i + 1)
            if cls is None:
                out.append(re.escape("["))
                i += 1
            else:
                out.append(cls)
                i = end
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _bracket(p: str, j: int) -> tuple[str | None, int]:
    """A `[...]` expression from just after its `[` (apr's fnmatch_ch): (regex, end), or
    (None, 0) when it is not closed and the `[` is an ordinary character."""
    n = len(p)
    negate = j < n and p[j] in "!^"
    if negate:
        j += 1
    items: list[str] = []
    lead = j < n and p[j] == "]"  # a `]` right after `[` or `[!` is an ordinary character
    while j < n:
        if not lead:
            if p[j] == "]":
                if not items:
                    return ("." if negate else "(?!)"), j + 1
                return "[" + ("^" if negate else "") + "".join(items) + "]", j + 1
            if p[j] == "\\":
                j += 1
                if j >= n:
                    break
        lead = False
        lo = p[j]
        if j + 1 < n and p[j + 1] == "-" and (j + 2 >= n or p[j + 2] != "]"):
            j += 3 if j + 2 < n and p[j + 2] == "\\" else 2
            if j >= n:
                break
            hi = p[j]
            if lo <= hi:
                items.append(re.escape(lo) + "-" + re.escape(hi))
            j += 1
            continue
        items.append(re.escape(lo))
        j += 1
    return None, 0


def include_files(path: str, optional: bool, file: str, line: int) -> list[str]:
    """Files an Include names, in httpd's order (`ap_dir_fnmatch`/`ap_dir_nofnmatch`).

    A failure raises ConfigError at the Include's `file` and `line`.
    """
    where = (file, line)
    if not fnmatch_test(path):
        return _no_glob(path, optional, where, 0)
    parts = path.strip("/").split("/")
    return _glob("/", parts, optional, where)


def _no_glob(path: str, optional: bool, where: tuple[str, int], depth: int) -> list[str]:
    if os.path.isdir(path):
        if depth > MAX_INCLUDE_DEPTH:
            raise ConfigError(
                f"Directory '{path}' exceeds the maximum include directory nesting level",
                *where,
            )
        try:
            names = os.listdir(path)
        except OSError as exc:
            raise ConfigError(
                f"Could not open directory {path}: {os.strerror(exc.errno or errno.EIO)}",
                *where,
            ) from None
        out: list[str] = []
        for name in sorted(names, key=os.fsencode):
            out.extend(_no_glob(os.path.join(path, name), optional, where, depth + 1))
        return out
    if optional and not os.path.exists(path):
        return []
    return [path]


def _glob(base: str, parts: list[str], optional: bool, where: tuple[str, int]) -> list[str]:
    head, rest = parts[0], parts[1:]
    if not fnmatch_test(head):
        path = os.path.join(base, head)
        if not rest:
            return _no_glob(path, optional, where, 0)
        return _glob(path, rest, optional, where)
    try:
        with os.scandir(base) as it:
            # Inside the path only directories go on; the type is the directory entry's
            # (readdir's d_type), so a symbolic link to a directory is skipped as httpd does.
            entries = [(e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in it]
    except OSError as exc:
        if optional and exc.errno == errno.ENOENT:
            return []
        raise ConfigError(
            f"Include/IncludeOptional: Could not open directory {base}: "
            f"{os.strerror(exc.errno or errno.EIO)}",
            *where,
        ) from None
    matches = []
    plain_files = set()  # neither a directory nor a link: no need to stat them again
    for name, is_dir, is_link in entries:
        if rest and not is_dir:
            continue
        if fnmatch(head, name):
            full = os.path.join(base, name)
            matches.append(full)
            if not is_dir and not is_link:
                plain_files.add(full)
    if not matches:
        if optional:
            return []
        raise ConfigError(
            f"Include/IncludeOptional: No matches for the wildcard '{head}' in '{base}', failing",
            *where,
        )
    out: list[str] = []
    for full in sorted(matches, key=os.fsencode):
        if rest:
            out.extend(_glob(full, rest, optional, where))
        elif full in plain_files:
            out.append(full)
        else:
            out.extend(_no_glob(full, optional, where, 0))
    return out


def include_reads(pattern: str, path: str) -> bool:
    """Whether `Include pattern` would read a file at `path`, were one there.

    A plain path reads itself, or everything under it when it is a directory (httpd recurses
    into a directory, dot files included); a wildcard reads what its components match one by
    one (APR's rules: a leading dot only by a dot) and, when a match is a directory,
    everything under it. Both are absolute, as the loader resolves them.
    """
    pattern = os.path.normpath(pattern)
    path = os.path.normpath(path)
    if not fnmatch_test(pattern):
        return path == pattern or path.startswith(pattern.rstrip("/") + "/")
    wanted = pattern.strip("/").split("/")
    parts = path.strip("/").split("/")
    if len(parts) < len(wanted):
        return False
    return all(
        fnmatch(p, name) if fnmatch_test(p) else p == name
        for p, name in zip(wanted, parts[: len(wanted)], strict=True)
    )
