"""The figures of an agentic experiment: what each variant's sessions did (turns, tool calls by
tool, file tool calls denied by tool, how they ended, checks passed), read from the details of
the trials that did not fail. The statistics and the verdict are the quality's (the checks and
graders), unchanged."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from experiments.report import AgenticSummary, VariantAgentic


def agentic_figures(
    sessions: Iterable[tuple[str, Mapping[str, Any]]],
) -> dict[str, VariantAgentic]:
    """Per variant label, from (variant, details) of the trials whose session ran."""
    by_variant: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for variant, details in sessions:
        by_variant[variant].append(details)
    figures = {}
    for variant, rows in by_variant.items():
        tools: Counter[str] = Counter()
        denied: Counter[str] = Counter()
        for row in rows:
            tools.update(row.get("tool_calls") or {})
            denied.update(row.get("denied") or {})
        checks = [check for row in rows for check in row.get("checks") or []]
        n = len(rows)
        figures[variant] = VariantAgentic(
            sessions=n,
            mean_turns=sum(int(row.get("turns") or 0) for row in rows) / n,
            mean_tool_calls=sum(tools.values()) / n,
            tool_calls={tool: count / n for tool, count in sorted(tools.items())},
            denied={tool: count / n for tool, count in sorted(denied.items())},
            ended=dict(sorted(Counter(str(row.get("ended")) for row in rows).items())),
            checks_passed=sum(bool(c.get("passed")) for c in checks) / len(checks)
            if checks
            else None,
        )
    return figures


def agentic_summary(
    sessions: Iterable[Mapping[str, Any]], *, runtime: str, max_turns: int, time_limit_s: float
) -> AgenticSummary:
    versions = sorted({str(d["runtime_version"]) for d in sessions if d.get("runtime_version")})
    return AgenticSummary(runtime, tuple(versions), max_turns, time_limit_s)
