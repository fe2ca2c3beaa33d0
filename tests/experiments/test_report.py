"""The typed report: its comparison table, and its JSON (the contract in DESIGN.md)."""

from __future__ import annotations

from experiments.analysis import analyse
from experiments.comparison_table import comparison_rows
from experiments.decision import DecisionRule
from experiments.report import Report
from tests.stats.synthetic import Arm, experiment, make_trials, variants


def crafted() -> Report:
    arms = {"control": Arm(), "tight": Arm(quality_shift=0.1), "broken": Arm(fail_rate=1.0)}
    return analyse(
        experiment=experiment(30, 2),
        variants=variants(*arms),
        control="control",
        trials=make_trials(arms, n_tasks=30, epochs=2, seed=2),
        rule=DecisionRule(),
        seed=2,
    )


def test_comparison_rows_put_each_variants_figures_next_to_its_comparison() -> None:
    report = crafted()
    control, tight, broken = comparison_rows(report)
    assert [r.variant for r in (control, tight, broken)] == ["control", "tight", "broken"]
    assert control.is_control and not tight.is_control
    assert (control.diff, control.diff_ci, control.p, control.p_adjusted) == (None,) * 4
    assert control.cost_ratio is None
    summary, comparison = report.variants[1], report.comparison("tight")
    assert comparison is not None
    assert (tight.quality, tight.quality_ci) == (summary.quality.mean, summary.quality.ci)
    assert (tight.diff, tight.diff_ci) == (comparison.quality.diff, comparison.quality.ci)
    assert (tight.p, tight.p_adjusted) == (comparison.quality.p, comparison.quality.p_adjusted)
    assert (tight.cost_per_task, tight.cost_ratio) == (summary.cost.mean, comparison.cost.ratio)
    assert (tight.latency_p50, tight.latency_p90) == (summary.latency.p50, summary.latency.p90)
    assert (tight.trials, tight.errors) == (60, 0)
    # Every trial of broken failed: it is listed, with nothing to compare.
    assert broken.errors == 60 and broken.diff is None and broken.p is None
