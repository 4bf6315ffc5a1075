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

KEYS = {
    "select",
    "ignore",
    "per-file-ignores",
    "severity",
    "apache-version",
    "modules",
    "defines",
    "fail-on",
}


def find(start: Path) -> tuple[Path, dict] | None:
    """The nearest settings file at or above `start`, and its httpdlint table."""
    start = start.resolve()
    for directory in [start, *start.parents]:
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
    unknown = set(data) - KEYS
    if unknown:
        raise ConfigError(f"unknown httpdlint setting(s): {', '.join(sorted(unknown))}", str(path))
    for code, sev in data.get("severity", {}).items():
        if sev not in SEVERITIES:
            raise ConfigError(
                f"severity of {code} must be one of {', '.join(SEVERITIES)}", str(path)
            )
    return data
