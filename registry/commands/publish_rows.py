"""The rows ``registry publish`` and ``registry derive`` print: one per version published.

Each row's keys are in a fixed order (ref, status, path, label, then base and levels for a
derived variant), which is the order of the JSON objects and of the text columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.store import PublishedVariant, PublishResult


def version_row(result: PublishResult, path: str) -> dict[str, Any]:
    """A published file: ``path`` is where it came from (a file, a spec or a command)."""
    return {
        "ref": result.ref,
        "status": "new" if result.created else "unchanged",
        "path": path,
        "label": result.label,
    }


def variant_row(published: PublishedVariant, origin: str) -> dict[str, Any]:
    """A variant derived by the spec ``origin``: also its base and, in a factorial, its levels."""
    row = version_row(published.result, origin)
    row["base"] = str(published.derived.base)
    levels = published.derived.variant.levels
    if levels is not None:
        row["levels"] = dict(levels)
    return row
