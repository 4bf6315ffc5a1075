"""Arguments httpd refuses (COR019) or reads otherwise than written (COR020), and what the
reading itself met (COR021: httpd's warnings, and what httpdlint could not check).

arguments.py holds httpd's argument rules (each directive's kind and the values its handler
checks, generated from the modules' sources); this module asks it about every directive httpd
reads, plus the refusals the loader met while reading (Define, LoadModule...). httpd stops at
the first refusal; httpdlint reports each one and goes on linting.

On a tree of hundreds of thousands of lines what costs is calling the full check per line, so
a directive whose kind only counts words (TAKE1, TAKE12, ...) and whose text holds no quote or
backslash is judged by counting its words, and every distinct text is judged once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .. import arguments
from ..findings import Finding
from ..loader import EXEC_ON_READ
from ..mpm import MPM_SETTINGS
from ..registry import check
from ..scopes import context_pass

_MPM_NAMES = frozenset().union(*MPM_SETTINGS.values())
_ZERO = bytes.maketrans(b"123456789", b"000000000")
_AH_CODE = re.compile(r"AH\d{5}(?=: )")


def _problems(model) -> dict[tuple[str, str], list[arguments.Problem]]:
    """(name, text) -> what httpd says of it, for every directive that has something said."""
    key = "arguments.problems"
    found = model.cache.get(key)
    if found is not None:
        return found
    found = model.cache[key] = {}
    for lname, nodes in context_pass(model).by_name.items():
        # The loader judges what httpd runs while reading; the MPM model its own settings.
        if lname in EXEC_ON_READ or lname in _MPM_NAMES:
            continue
        judge = arguments.checker(lname, model.version)
        if judge is None or judge is arguments.nothing:
            continue
        seen: set[str] = set()
        shapes: dict[bytes, list] = {}
        digits_matter = judge.digits_matter
        for node in nodes:
            raw = node.raw
            if raw in seen:
                continue
            seen.add(raw)
            if digits_matter:
                problems = judge(raw)
            else:
                # 10,000 virtual hosts differ in their numbers, not in their words' shape.
                shape = raw.encode("utf-8", "surrogateescape").translate(_ZERO)
                problems = shapes.get(shape)
                if problems is None:
                    problems = shapes[shape] = judge(raw)
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


_IF_FAMILY = {"<if": "if", "<elseif": "elseif", "<else": "else"}
_ORPHAN = "<Else> or <ElseIf> section without previous <If> or <ElseIf> section in same scope"


def _orphan_elses(model) -> Iterator:
    """<Else> and <ElseIf> sections whose scope's previous <If>-family section is no <If> or
    <ElseIf> (core.c ap_add_if_conf: other directives between them do not matter)."""
    by_name = context_pass(model).by_name
    scopes = {n.parent for name in ("<else", "<elseif") for n in by_name.get(name, ())}
    for scope in scopes:
        siblings = scope.children if scope is not None else model.config.tree
        last = None
        for node in siblings or ():
            kind = _IF_FAMILY.get(node.lname)
            if kind is None:
                continue
            if kind != "if" and last not in ("if", "elseif"):
                yield node
            last = kind


@check("COR019")
def refused_by_httpd(model, rule, settings) -> Iterator[Finding]:
    for file, line, message in model.config.refusals:
        yield rule.finding(message, file=file, line=line, httpd_code=arguments.SYNTAX_ERROR)
    for node, problem in _at(model, "error"):
        yield rule.finding(problem.message, node, httpd_code=problem.code)
    for node in _orphan_elses(model):
        yield rule.finding(_ORPHAN, node, httpd_code=arguments.SYNTAX_ERROR)


@check("COR020")
def ignored_arguments(model, rule, settings) -> Iterator[Finding]:
    for node, problem in _at(model, "warning"):
        yield rule.finding(problem.message, node)


@check("COR021")
def reading_notes(model, rule, settings) -> Iterator[Finding]:
    # A note with httpd's AH code is a warning httpd logs at startup; the others say where
    # httpdlint reads less than httpd does, which is worth knowing but not a fault.
    for file, line, message in model.config.notes:
        code = _AH_CODE.match(message)
        yield rule.finding(
            message[code.end() + 2 :] if code else message,
            file=file,
            line=line or None,
            httpd_code=code.group() if code else None,
            severity=None if code else "info",
        )
