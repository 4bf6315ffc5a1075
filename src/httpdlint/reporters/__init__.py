"""Output formats of `check`: text, json (schema 1), SARIF 2.1.0, GitHub workflow commands,
JUnit XML and GitLab code quality.

Every format renders a whole `Report`: findings, the rules that could not run (with what
they need) and the errors that stopped a configuration from being read. A run that read
nothing is still a valid document in every format, so CI shows the error instead of an
empty, passing page. Each format lives in its own module and is imported only when chosen:
`check` starts on every commit, and the XML library alone costs more than a small check.
"""

from __future__ import annotations

import importlib

from ._common import summary

__all__ = ["FORMATS", "render", "summary"]

FORMATS = ("text", "json", "sarif", "github", "junit", "gitlab")
_MODULES = {
    "text": "text",
    "json": "jsondoc",
    "sarif": "sarif",
    "github": "github",
    "junit": "junit",
    "gitlab": "gitlab",
}


def render(fmt: str, report, colour: bool = False, show_source: bool = False) -> str:
    """The report in format `fmt` (one of FORMATS), as the text to write."""
    if fmt not in _MODULES:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    module = importlib.import_module(f"{__name__}.{_MODULES[fmt]}")
    return module.render(report, colour=colour, show_source=show_source)
