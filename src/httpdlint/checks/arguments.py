"""Arguments httpd refuses (COR019) or reads otherwise than written (COR020).

arguments.py holds httpd's argument rules (each directive's kind and the values its handler
checks, generated from the modules' sources); this module asks it about every directive httpd
reads, plus the refusals the loader met while reading (Define, LoadModule...). httpd stops at
the first refusal; httpdlint reports each one and goes on linting.

On a tree of hundreds of thousands of lines what costs is calling the full check per line, so
a directive whose kind only counts words (TAKE1, TAKE12, ...) and whose text holds no quote or
backslash is judged by counting its words, and every distinct text is judged once.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import arguments
from ..findings import Finding
from ..loader import EXEC_ON_READ
from ..mpm import MPM_SETTINGS
from ..registry import check
from ..scopes import context_pass

# Kinds whose only rule is a word count: (fewest, most) words; an empty word ("") ends the
# arguments for httpd, so a text with quotes takes the full check.
_COUNTED = {
    "TAKE1": (1, 1),
    "TAKE2": (2, 2),
    "TAKE3": (3, 3),
    "TAKE12": (1, 2),
    "TAKE23": (2, 3),
    "TAKE123": (1, 3),
    "ITERATE": (1, None),
}
_MPM_NAMES = frozenset().union(*MPM_SETTINGS.values())


def _problems(model) -> dict[tuple[str, str], list[arguments.Problem]]:
    """(name, text) -> what httpd says of it, for every directive that has something said."""
    key = "arguments.problems"
    found = model.cache.get(key)
    if found is not None:
        return found
    found = model.cache[key] = {}
    table = arguments.load()
    version = model.version
    for lname, nodes in context_pass(model).by_name.items():
        # The loader judges what httpd runs while reading; the MPM model its own settings.
        if lname in EXEC_ON_READ or lname in _MPM_NAMES:
            continue
        if lname not in table.directives:
            continue
        decls = arguments.declarations(lname, version)
        if not decls:
            continue
        decl = arguments.declaration(lname, version)
        counted = None
        if len(decls) == 1 and lname not in table.values and not lname.startswith("<"):
            counted = _COUNTED.get(decl["kind"]) if decl.get("declared") != "NO_ARGS" else None
        seen: dict[str, list[arguments.Problem]] = {}
        for node in nodes:
            raw = node.raw
            if raw in seen:
                continue
            if counted is not None and '"' not in raw and "'" not in raw and "\\" not in raw:
                words = len(raw.split())
                low, high = counted
                if words >= low and (high is None or words <= high):
                    seen[raw] = []
                    continue
            seen[raw] = arguments.problems(node.name, raw, version)
        for raw, problems in seen.items():
            if problems:
                found[(lname, raw)] = problems
    return found


def _at(model, severity: str) -> Iterator[tuple[object, arguments.Problem]]:
    by_name = context_pass(model).by_name
    for (lname, raw), problems in _problems(model).items():
        chosen = [p for p in problems if p.severity == severity]
        if chosen:
            for node in by_name[lname]:
                if node.raw == raw:
                    yield from ((node, p) for p in chosen)


@check("COR019")
def refused_by_httpd(model, rule, settings) -> Iterator[Finding]:
    for file, line, message in model.config.refusals:
        yield rule.finding(message, file=file, line=line, httpd_code=arguments.SYNTAX_ERROR)
    for node, problem in _at(model, "error"):
        yield rule.finding(problem.message, node, httpd_code=problem.code)


@check("COR020")
def ignored_arguments(model, rule, settings) -> Iterator[Finding]:
    for node, problem in _at(model, "warning"):
        yield rule.finding(problem.message, node)
