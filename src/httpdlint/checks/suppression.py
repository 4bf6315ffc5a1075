"""COR099 is reported by the engine, which alone knows which suppressions matched."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import check


@check("COR098", "COR099")
def none(model, rule, settings) -> Iterator[Finding]:
    """Nothing here: see engine._suppress, which runs after every other rule."""
    return iter(())
