"""Which function checks which rule: the binding between rules/*.toml and checks/.

A rule file holds the rule's metadata and documentation; its logic, unless the file declares
it in a `[match]` table, is a function in a module of `httpdlint.checks` registered with
`@check("CODE")`. engine.catalog() imports every check module and refuses a rule without a
function, a function for a rule that does not exist, and a code bound twice: a typo is an
error when the catalog loads, not when the rule first runs.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CHECKS", "check"]

#: Rule code -> the function that checks it: f(model, rule, settings) -> Iterator[Finding].
CHECKS: dict[str, Callable] = {}


def check(*codes: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as the check of each rule code given."""

    def bind(function: Callable) -> Callable:
        for code in codes:
            bound = CHECKS.get(code)
            if bound is not None and bound is not function:
                raise RuntimeError(f"{code} is bound twice: {bound.__name__}, {function.__name__}")
            CHECKS[code] = function
        return function

    return bind
