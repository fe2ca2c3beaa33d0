"""The comparison table: one row per variant, the report's figures side by side.

Built once from a ``Report``; ``experiments.render`` formats it as text and markdown, and the
dashboard (``dashboard.data``) as frames. A figure is None where there is nothing to show: the
control has no difference with itself, and a variant without graded pairs has no p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.report import Interval, Report


@dataclass(frozen=True)
class ComparisonRow:
    variant: str
    is_control: bool
    model: str | None
    trials: int
    errors: int
    quality: float | None
    quality_ci: Interval | None
    diff: float | None  # quality, variant minus control
    diff_ci: Interval | None
    p: float | None
    p_adjusted: float | None  # Holm
    cost_per_task: float | None
    cost_ratio: float | None  # variant over control
    latency_p50: float | None
    latency_p90: float | None


def comparison_rows(report: Report) -> list[ComparisonRow]:
    """The rows in the report's order of variants (the control first when it was listed so)."""
    rows = []
    for v in report.variants:
        c = report.comparison(v.label)
        rows.append(
            ComparisonRow(
                variant=v.label,
                is_control=v.label == report.control,
                model=v.model,
                trials=v.trials,
                errors=v.errors,
                quality=v.quality.mean,
                quality_ci=v.quality.ci,
                diff=c.quality.diff if c else None,
                diff_ci=c.quality.ci if c else None,
                p=c.quality.p if c else None,
                p_adjusted=c.quality.p_adjusted if c else None,
                cost_per_task=v.cost.mean,
                cost_ratio=c.cost.ratio if c else None,
                latency_p50=v.latency.p50,
                latency_p90=v.latency.p90,
            )
        )
    return rows
