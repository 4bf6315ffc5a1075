"""The `[match]` tables of rule files: "directive X, in scope Y, must (not) have value Z"."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding


def _value(args: list[str]) -> str:
    return " ".join(args)


def evaluate(model, rule, match: dict) -> Iterator[Finding]:
    """Findings for one declarative rule.

    scope "server": the server-level value, or httpd's `default` when absent (reported at
    the main file's first line), and each virtual host's own override. scope "any": every
    occurrence anywhere.
    """
    modules = match.get("modules")
    if modules and not any(model.has_module(m) for m in modules):
        return
    if match.get("version") and match["version"] != model.version:
        return
    name = match["directive"]
    scope = match.get("scope", "any")
    allowed = {v.lower() for v in match.get("allowed", [])}
    forbidden = {v.lower() for v in match.get("forbidden", [])}
    words = {v.lower() for v in match.get("forbidden_words", [])}
    template = match.get("message", "{directive} {value}: " + rule.summary)

    def bad(value: str, args: list[str]) -> bool:
        low = value.lower()
        if allowed and low not in allowed:
            return True
        if low in forbidden:
            return True
        return bool(words and any(a.lower().lstrip("+") in words for a in args))

    def message(value: str) -> str:
        return template.format(directive=name, value=value, default=match.get("default", ""))

    if scope == "server":
        node = model.server_directive(name)
        if node is None:
            default = match.get("default")
            if default is not None and bad(default, default.split()):
                yield rule.finding(
                    message(default) + " (not set: httpd's default applies)",
                    model=model,
                )
        elif bad(_value(node.args), node.args):
            yield rule.finding(message(_value(node.args)), node)
        for vhost in model.virtual_hosts():
            own = vhost.own(name)
            if own is not None and bad(_value(own.args), own.args):
                yield rule.finding(message(_value(own.args)), own)
        return
    for node in model.find(name):
        if bad(_value(node.args), node.args):
            yield rule.finding(message(_value(node.args)), node)
