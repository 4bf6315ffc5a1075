"""The one walk over the evaluated tree that every rule shares: each node's context.

A `Pass` groups the nodes httpd reads in place by name (without the bodies httpd does not read
as directives: <Perl> sections, POD with mod_perl), and answers, computed once per model,
where a node stands (the context class of its innermost section, inside <Limit>?, its virtual
host), which sections hold a name, and which names stand in each kind of section. Rules ask
`context_pass(model)`, `named`, `nodes_named`, `direct`: none walks the tree its own way.
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from .facts import LIMIT_SECTIONS, OPAQUE_SECTIONS, SECTION_CLASS
from .findings import Finding
from .syntax import Directive


def unique(check):
    """Apache 2.2 has no AH message numbers, so findings on a 2.2 tree carry none.
    (The engine already keeps one finding per rule, place and message.)"""

    @functools.wraps(check)
    def run(model, rule, settings) -> Iterator[Finding]:
        for f in check(model, rule, settings):
            if model.version == "2.2":
                f.httpd_code = None  # AH numbers came with 2.3/2.4; 2.2 prints none
            yield f

    return run


class Where(NamedTuple):
    """Where a directive stands: the context class of its innermost section (None inside a
    section whose body this module does not judge), inside <Limit>?, and the section.
    (A named tuple: a large tree has tens of thousands of sections, each with its own.)"""

    cls: str | None
    limit: bool
    section: Directive | None
    vhost: Directive | None


TOP = Where("top", False, None, None)


# C-level attribute readers, for map() and set() over thousands of nodes at once.
PARENT = operator.attrgetter("parent")


RAW = operator.attrgetter("raw")


LNAME = operator.attrgetter("lname")


CHILDREN = operator.attrgetter("children")


_POD_START = ("=pod", "=back", "=head1", "=head2", "=begin", "=over")


def index_nodes(nodes: list[Directive], perl: bool) -> tuple[dict[str, list[Directive]], bool]:
    """Every node httpd reads as a directive, grouped by lowercase name in reading order, and
    whether anything was left out: the bodies of <Perl> sections (Perl code, not directives)
    and, with mod_perl, POD blocks and what follows __END__. The model's index is this one, so
    that every rule and `find` give one answer on those bodies. No recursion (httpd accepts
    sections nested deeper than Python's call stack), no per-node objects (on a 200,000-line
    tree they would set off the cyclic collector's full passes)."""
    by_name: dict[str, list[Directive]] = {}
    get = by_name.get
    skipped = False
    if not perl:
        stack = list(reversed(nodes))
        while stack:
            node = stack.pop()
            lname = node.lname
            group = get(lname)
            if group is None:
                by_name[lname] = [node]
            else:
                group.append(node)
            children = node.children
            if children:
                if lname in OPAQUE_SECTIONS:
                    skipped = True
                else:
                    stack.extend(reversed(children))
        return by_name, skipped
    frames: list[list] = [[iter(nodes), False]]  # the siblings left, and inside POD?
    while frames:
        frame = frames[-1]
        node = next(frame[0], None)
        if node is None:
            frames.pop()
            continue
        lname = node.lname
        if frame[1]:
            skipped = True
            if lname == "=cut":
                frame[1] = False
            continue
        if lname == "__end__":
            skipped = True
            frames.pop()
            continue
        if lname in _POD_START:
            frame[1] = True
        group = get(lname)
        if group is None:
            by_name[lname] = [node]
        else:
            group.append(node)
        if node.children:
            if lname in OPAQUE_SECTIONS:
                skipped = True
            else:
                frames.append([iter(node.children), False])
    return by_name, skipped


def reaches(nodes: set, targets: set) -> bool:
    """Whether any of `nodes` (sections, or None for server level) is one of `targets` or
    lies inside one: one set operation per nesting level instead of a walk per node."""
    if not targets:
        return False
    level = nodes - {None} if None in nodes else nodes
    while level:
        if not level.isdisjoint(targets):
            return True
        level = set(map(PARENT, level))
        level.discard(None)
    return False


class Pass:
    """The nodes httpd reads in place, grouped by lowercase name (in reading order within a
    name), shared by every check, with what the checks ask of them computed once: the
    context of each section (when asked), the sections around a name's nodes, the sections
    of each context class, and the names that stand inside <Directory>-like sections.

    On a large tree what costs is visiting nodes (each visit is a cache miss), so the
    questions are answered from the name index and from the few nodes inside sections,
    and each node's context is computed only for the names that may be misplaced."""

    def __init__(self, by_name: dict[str, list[Directive]], top, exact: bool):
        #: Read only: without Perl or macro bodies this is the model's own index.
        self.by_name = by_name
        #: The server-level nodes of a name (`model.top`): all those of `by_name`, or more.
        self.top = top
        #: Whether `by_name` holds every node of the tree (nothing skipped).
        self.exact = exact
        self.wheres: dict[Directive | None, Where] = {None: TOP}
        self._parents: dict[str, set] = {}
        self._classes: dict[tuple, set] = {}
        self._names_in: dict[str, collections.Counter[str]] = {}

    def where(self, node: Directive) -> Where:
        """The context a node stands in: that of its innermost enclosing section."""
        parent = node.parent
        found = self.wheres.get(parent)
        if found is None:
            found = self._section(parent)
        return found

    def within(self, section: Directive | None) -> Where:
        """The context the nodes directly inside a section (None: server level) stand in."""
        found = self.wheres.get(section)
        if found is None:
            found = self._section(section)
        return found

    def _section(self, section: Directive | None) -> Where:
        chain = []
        while section not in self.wheres:
            chain.append(section)
            section = section.parent  # type: ignore[union-attr]
        where = self.wheres[section]
        for sec in reversed(chain):
            lname = sec.lname
            if lname in LIMIT_SECTIONS:
                where = Where(where.cls, True, where.section, where.vhost)
            elif lname in SECTION_CLASS:
                cls = SECTION_CLASS[lname]
                vhost = sec if cls == "vhost" else where.vhost
                where = Where(cls, where.limit, sec, vhost)
            else:
                where = Where(None, where.limit, sec, where.vhost)
            self.wheres[sec] = where
        return where

    def parents(self, lname: str) -> set:
        """The sections (None: server level) that hold a node of this name directly."""
        found = self._parents.get(lname)
        if found is None:
            found = self._parents[lname] = set(map(PARENT, self.by_name.get(lname, ())))
        return found

    def sections_of(self, classes: Iterable[str]) -> set:
        """The sections whose body has one of these context classes (`directory`, `vhost`,
        ...), built once per combination."""
        key = tuple(classes)
        found = self._classes.get(key)
        if found is None:
            found = set()
            for lname, cls in SECTION_CLASS.items():
                if cls in key:
                    found.update(self.by_name.get(lname, ()))
            self._classes[key] = found
        return found

    def named_sections(self, lnames: tuple[str, ...]) -> set:
        """The sections with these names."""
        found = self._classes.get(lnames)
        if found is None:
            found = set()
            for lname in lnames:
                found.update(self.by_name.get(lname, ()))
            self._classes[lnames] = found
        return found

    def names_in(self, cls: str) -> collections.Counter[str]:
        """How many nodes of each name stand directly inside the sections of a context
        class other than `vhost`: one pass over the few nodes there answers for every
        name, where looking at each name's nodes would visit most of a large tree."""
        found = self._names_in.get(cls)
        if found is None:
            sections = itertools.chain.from_iterable(
                self.by_name.get(lname, ()) for lname, c in SECTION_CLASS.items() if c == cls
            )
            children = itertools.chain.from_iterable(map(CHILDREN, sections))
            found = self._names_in[cls] = collections.Counter(map(LNAME, children))
        return found

    def limits(self) -> set:
        """The <Limit> and <LimitExcept> sections."""
        return self.named_sections(_LIMITS)

    def may_stand_in(self, lname: str, classes: Iterable[str]) -> bool:
        """Whether some node of this name may stand in one of these context classes
        ("top" for server level), or inside a <Limit>: a cheap test that may say yes
        wrongly, never no wrongly. It looks at the name's own nodes only when `vhost` is
        asked and they do not all stand in <Directory>-like sections."""
        nodes = self.by_name.get(lname, ())
        if self.exact and len(self.top(lname)) == len(nodes):
            # All at server level (the model's index is this one: its server-level nodes
            # of the name are among these).
            return "top" in classes
        if "top" in classes and self.top(lname):
            return True
        inner = 0  # how many of the nodes stand directly in <Directory>-like sections
        for cls in _INNER_CLASSES:
            count = self.names_in(cls).get(lname, 0)
            if count and cls in classes:
                return True
            inner += count
        if "vhost" in classes and not (self.exact and inner == len(nodes)):
            # Unless every node stands in a <Directory>-like section, look at each one's.
            sections = self.sections_of(("vhost",))
            if sections and not sections.isdisjoint(map(PARENT, nodes)):
                return True
        limits = self.limits()
        return bool(limits) and reaches(self.parents(lname), limits)


_LIMITS = tuple(sorted(LIMIT_SECTIONS))


_INNER_CLASSES = ("directory", "location", "files", "if", "proxy")


_PASS_KEY = "correctness.context_pass"


def context_pass(model) -> Pass:
    """The shared walk for this model, computed once (kept in the model's cache)."""
    found = model.cache.get(_PASS_KEY)
    if found is not None:
        return found
    by_name, skipped = model.indexed()
    found = model.cache[_PASS_KEY] = Pass(by_name, model.top, not skipped)
    return found


def named(model, *names: str) -> list[tuple[Directive, Where]]:
    """(node, Where) of the directives with these names, in reading order."""
    ctx = context_pass(model)
    found = [(node, ctx.where(node)) for n in names for node in ctx.by_name.get(n.lower(), ())]
    if len(names) > 1:
        found.sort(key=lambda item: (item[0].file, item[0].line))
    return found


def file_line(node: Directive) -> tuple[str, int]:
    return node.file, node.line


def nodes_named(model, *names: str) -> list[Directive]:
    """The directives with these names, in reading order (as `named`, without contexts)."""
    by_name = context_pass(model).by_name
    if len(names) == 1:
        return by_name.get(names[0].lower(), [])
    found = [node for n in names for node in by_name.get(n.lower(), ())]
    found.sort(key=file_line)
    return found


def vhost_nodes(model) -> set[Directive]:
    """The `<VirtualHost>` sections at server level, as a set (built once per model)."""
    found = model.cache.get("correctness.vhost_nodes")
    if found is None:
        found = model.cache["correctness.vhost_nodes"] = set(model.top("<VirtualHost"))
    return found


_C_SPACE = " \t\n\v\f\r"


_STRIP_SPACE = operator.methodcaller("strip", _C_SPACE)


_FIRST_PLAIN = re.compile(r"[^ \t\n\v\f\r]+[ \t\n\v\f\r]*")


def after_first_word(raw: str) -> str | None:
    """The text after a directive's first word (whose words then are the directive's words
    after the first), or None when that takes a full parse (an escape in a quoted word).
    Cheaper than `node.args`: rules that want the second word need not split the first."""
    if raw[:1] in _C_SPACE:
        raw = raw.lstrip(_C_SPACE)
    quote = raw[:1]
    if quote == '"' or quote == "'":
        end = raw.find(quote, 1)
        if end < 0:
            return ""  # an unclosed quote runs to the end: one word
        if "\\" in raw[:end]:
            return None
        return raw[end + 1 :]
    m = _FIRST_PLAIN.match(raw)
    return raw[m.end() :] if m else ""


def direct(model, name: str) -> dict[Directive | None, list[Directive]]:
    """The directives of this name directly in each section (None: at server level)."""
    out: dict[Directive | None, list[Directive]] = {}
    for node in context_pass(model).by_name.get(name.lower(), ()):
        group = out.get(node.parent)
        if group is None:
            out[node.parent] = [node]
        else:
            group.append(node)
    return out
