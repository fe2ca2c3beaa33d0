"""The comparison table: one row per variant, the report's figures side by side.

Built once from a ``Report``; ``experiments.render`` formats it as text and markdown, and the
dashboard (``dashboard.data``) as frames. A figure is None where there is nothing to show: the
control has no difference with itself, and a variant without graded pairs has no p-value.
Quality is on the paired task set (the tasks graded in every variant with graded tasks), so the
rows compare like with like; where a variant's own tasks give another figure, the row carries it
as ``quality_unpaired``.
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
    failed: int  # failed or ungraded trials (errors included)
    quality: float | None  # on the paired task set
    quality_ci: Interval | None
    paired_tasks: int
    quality_unpaired: float | None  # on the variant's own tasks, when that differs; else None
    quality_unpaired_ci: Interval | None
    unpaired_tasks: int | None
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
        paired = v.quality_paired or v.quality
        differs = paired.n_tasks != v.quality.n_tasks
        counts = report.missing.by_variant.get(v.label)
        rows.append(
            ComparisonRow(
                variant=v.label,
                is_control=v.label == report.control,
                model=v.model,
                trials=v.trials,
                errors=v.errors,
                failed=v.errors + (counts.ungraded if counts else 0),
                quality=paired.mean,
                quality_ci=paired.ci,
                paired_tasks=paired.n_tasks,
                quality_unpaired=v.quality.mean if differs else None,
                quality_unpaired_ci=v.quality.ci if differs else None,
                unpaired_tasks=v.quality.n_tasks if differs else None,
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
