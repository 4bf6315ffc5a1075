"""What a request meets: access control as mod_authz_core and mod_access_compat judge it,
and Options as core's set_options applies its words.

`access(section)` is a section's own verdict (open, restricted, denied, or None when it says
nothing) and `options_granted` is what one Options line turns on. What a request meets after
every section httpd merges is `merge.resolve` and `outcome.access`; the rules ask those, and
these for what one section says by itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .syntax import Directive

_OPTION_BITS = {
    "indexes": {"indexes"},
    "includes": {"includes", "inc_exec"},
    "includesnoexec": {"includes"},
    "followsymlinks": {"symlinks"},
    "symlinksifownermatch": {"symowner"},
    "execcgi": {"execcgi"},
    "multiviews": {"multi"},
    "runscripts": {"multi", "execcgi"},
    "none": set(),
    "all": {"indexes", "includes", "inc_exec", "symlinks", "execcgi"},
}


def options_bits(word: str) -> set[str] | None:
    """The option bits one Options word names (None: not an option)."""
    bits = _OPTION_BITS.get(word.lower())
    return set(bits) if bits is not None else None


def options_granted(node: Directive) -> set[str]:
    """What one Options line turns on: its whole set when it names an option without + or -,
    else what its + words add to the inherited set."""
    opts: set[str] = set()
    adds: set[str] = set()
    absolute = False
    for word in node.args:
        action = ""
        if word.startswith(("+", "-")):  # "" is a word too, not an action
            action, word = word[0], word[1:]
        elif not absolute:
            opts = set()
            absolute = True
        bits = _OPTION_BITS.get(word.lower())
        if bits is None:
            continue
        if action == "-":
            adds -= bits
            opts -= bits
        else:
            opts |= bits
            if action == "+":
                adds |= bits
    return opts if absolute else adds


def option_word(node: Directive, *names: str) -> str:
    """The word of an Options line that switches an option on, for messages."""
    for word in node.args:
        bare = word.lstrip("+").lower()
        if word[:1] != "-" and bare in names:
            return word
    return "All"


def options_with(model, bit: str) -> Iterator[Directive]:
    for node in model.find("Options"):
        if bit in options_granted(node):
            yield node


_STRICT = {"open": 0, "restricted": 1, "denied": 2}


_AUTHZ_CONTAINERS = {"<requireany", "<requireall", "<requirenone", "<limit", "<limitexcept"}


def _least(verdicts: Iterable[str | None]) -> str | None:
    vs = [v for v in verdicts if v]
    return min(vs, key=_STRICT.__getitem__) if vs else None


def _most(verdicts: Iterable[str | None]) -> str | None:
    vs = [v for v in verdicts if v]
    return max(vs, key=_STRICT.__getitem__) if vs else None


def _require(node: Directive) -> str | None:
    args = [a.lower() for a in node.args]
    if not args:
        return None
    if args[0] == "all":
        return "open" if args[1:2] == ["granted"] else "denied"
    if args[0] == "not":
        return None  # a negation only ever narrows what something else grants
    if args[0] == "method":
        return "open"  # anyone, with these methods
    return "restricted"  # local, ip, host, valid-user, user, group, env, expr, ...


def _authz(nodes: list[Directive], combine) -> str | None:
    out = []
    for d in nodes:
        if d.lname == "require":
            out.append(_require(d))
        elif d.lname in ("<requireany", "<limit", "<limitexcept"):
            out.append(_authz(d.children or [], _least))
        elif d.lname == "<requireall":
            out.append(_authz(d.children or [], _most))
        elif d.lname == "<requirenone":
            out.append(None)
    return combine(out)


def _legacy(nodes: list[Directive]) -> str | None:
    """Order/Allow/Deny: whether an arbitrary client is let in, None when none is set."""
    order = None
    allow: list[str] = []
    deny: list[str] = []
    for d in _own_authz(nodes):
        if d.lname == "order":
            order = "".join(d.args).lower()
        elif d.lname == "allow":
            allow += [a.lower() for a in d.args[1:]]
        elif d.lname == "deny":
            deny += [a.lower() for a in d.args[1:]]
    if order is None and not allow and not deny:
        return None
    if order in (None, "deny,allow"):
        if "all" in deny and "all" not in allow:
            return "restricted" if allow else "denied"
        return "open"
    # allow,deny and mutual-failure: only what Allow names and Deny does not
    if "all" in deny:
        return "denied"
    if "all" in allow:
        return "open"
    return "restricted" if allow else "denied"


def _own_authz(nodes: list[Directive]) -> Iterator[Directive]:
    for d in nodes:
        yield d
        if d.lname in _AUTHZ_CONTAINERS:
            yield from _own_authz(d.children or [])


def access(section: Directive) -> str | None:
    """How a section's own access control treats an arbitrary client: "open", "restricted"
    or "denied"; None when the section sets none (it inherits)."""
    nodes = section.children or []
    authz = _authz(nodes, _least)
    legacy = _legacy(nodes)
    satisfy = "all"
    for d in _own_authz(nodes):
        if d.lname == "satisfy" and d.args:
            satisfy = d.args[0].lower()
    if satisfy == "any":
        return _least([authz, legacy])
    return _most([authz, legacy])


def restrict_hint(model) -> str:
    if model.version == "2.4":
        return "Require local, or Require ip 192.0.2.0/24"
    return "Order deny,allow, Deny from all, Allow from 192.0.2.0/24"


def grant_node(section: Directive) -> Directive | None:
    """The line that lets everyone in: `Require all granted` or `Allow from all`."""
    for d in _own_authz(section.children or []):
        args = [a.lower() for a in d.args]
        if d.lname == "require" and args[:2] == ["all", "granted"]:
            return d
        if d.lname == "allow" and "all" in args[1:]:
            return d
    return None


def is_root_dir(section: Directive) -> bool:
    return (
        section.lname == "<directory"
        and len(section.args) == 1
        and section.args[0] != ""
        and section.args[0].strip("/") == ""
    )
