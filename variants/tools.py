"""Read a ``tools`` / ``disallowedTools`` value the way Claude Code does."""

from __future__ import annotations

from typing import Any


def split_tools(value: Any) -> list[str] | None:
    """``None`` when absent (inherit all); a YAML list kept; a comma string split paren-aware.

    ``"Read, Agent(a, b), Grep"`` -> ``["Read", "Agent(a, b)", "Grep"]``: a comma inside
    parentheses belongs to the tool pattern, not to the list.
    """
    if value is None:
        return None
    if isinstance(value, list):
        return [str(item).strip() for item in value]
    names: list[str] = []
    depth = 0
    current: list[str] = []
    for char in str(value):
        if char == "," and depth == 0:
            names.append("".join(current))
            current = []
            continue
        depth += (char == "(") - (char == ")")
        depth = max(depth, 0)
        current.append(char)
    names.append("".join(current))
    return [name.strip() for name in names if name.strip()]
