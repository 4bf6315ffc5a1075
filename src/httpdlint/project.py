"""Project settings: `[tool.httpdlint]` in pyproject.toml or `.httpdlint.toml`, nearest wins."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli before it joined the stdlib
    import tomli as tomllib

from .errors import ConfigError
from .findings import SEVERITIES

#: Each setting and the type its value must have: a string where a list is wanted would be
#: read character by character (`select = "SEC001"` selecting S*, E*, C*...).
KEYS = {
    "select": "list of strings",
    "ignore": "list of strings",
    "per-file-ignores": "table of lists of strings",
    "severity": "table of strings",
    "apache-version": "string",
    "modules": "list of strings",
    "defines": "list of strings",
    "fail-on": "string",
    "fail-on-skipped": "boolean",
    "profile": "string",
}


def _has_type(value, kind: str) -> bool:
    def strings(v) -> bool:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)

    if kind == "list of strings":
        return strings(value)
    if kind == "table of lists of strings":
        return isinstance(value, dict) and all(strings(v) for v in value.values())
    if kind == "table of strings":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def find(start: Path, stop: str | None = None) -> tuple[Path, dict] | None:
    """The nearest settings file at or above `start` (not above `stop`, with --confine),
    and its httpdlint table."""
    start = start.resolve()
    for directory in [start, *start.parents]:
        if stop is not None and not str(directory).startswith(stop):
            break
        dot = directory / ".httpdlint.toml"
        if dot.is_file():
            return dot, _read(dot, None)
        py = directory / "pyproject.toml"
        if py.is_file():
            table = _read(py, ("tool", "httpdlint"))
            if table is not None:
                return py, table
    return None


def parse_toml(text: str):
    """TOML text as a dict; raises TOMLDecodeError (the one reader for settings and rules)."""
    return tomllib.loads(text)


TOMLDecodeError = tomllib.TOMLDecodeError


def _read(path: Path, keys: tuple[str, ...] | None) -> dict | None:
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read settings: {exc}", str(path)) from None
    except TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", str(path)) from None
    if keys:
        for key in keys:
            data = data.get(key) if isinstance(data, dict) else None
            if data is None:
                return None
    import difflib

    for key, value in data.items():
        if key not in KEYS:
            close = difflib.get_close_matches(key, sorted(KEYS), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"unknown httpdlint setting {key!r}{hint}", str(path))
        if not _has_type(value, KEYS[key]):
            raise ConfigError(
                f"{key} must be a {KEYS[key]}, not {type(value).__name__} {value!r}", str(path)
            )
    for code, sev in data.get("severity", {}).items():
        if sev not in SEVERITIES:
            raise ConfigError(
                f"severity of {code} must be one of {', '.join(SEVERITIES)}", str(path)
            )
    if data.get("fail-on", "warning") not in SEVERITIES:
        raise ConfigError(f"fail-on must be one of {', '.join(SEVERITIES)}", str(path))
    if data.get("apache-version", "2.4") not in ("2.2", "2.4"):
        raise ConfigError("apache-version must be 2.2 or 2.4", str(path))
    return data
