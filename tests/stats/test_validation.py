"""The engine validated by simulation (notes section 5). Seeded, so the figures are stable.

Run with ``pytest -s`` to see the measured rates; the lead quotes them.
"""

from __future__ import annotations

import pytest

from experiments.stats.validation import (
    aa_false_positive_rate,
    aa_primary_test_rate,
    cost_ratio_coverage,
    planted_effect_power,
    quality_ci_coverage,
)

ALPHA = 0.05


def test_aa_false_positive_rate_of_task_level_paired_t_is_nominal():
    # Binary trials, task difficulty sd 1.5 on the logit, task x variant interaction, 5 epochs,
    # 40 tasks, 2000 replicates: within alpha +/- 3 MC-SE (+/- 0.0146).
    result = aa_false_positive_rate(replicates=2000, n_tasks=40, epochs=5, seed=11)
    print(f"\nA/A FPR (task-level paired t, n=40, K=5, 2000 reps): {result.rate:.4f}")
    assert result.within(ALPHA)


def test_aa_false_positive_rate_holds_with_strong_interaction_and_few_tasks():
    result = aa_false_positive_rate(
        replicates=2000, n_tasks=15, epochs=3, interaction_sd=1.5, seed=12
    )
    print(f"\nA/A FPR (n=15, K=3, interaction sd 1.5): {result.rate:.4f}")
    assert result.within(ALPHA)


@pytest.mark.slow
def test_aa_rate_of_the_primary_test_end_to_end_is_at_most_alpha():
    # n=15 tasks -> compare_quality uses the exact sign-flip test, which is conservative on
    # discrete task means (the notes measured 0.031): never above alpha + 3 MC-SE.
    result = aa_primary_test_rate(replicates=1000, n_tasks=15, epochs=3, seed=13)
    print(f"\nA/A FPR (compare_quality primary test, n=15, 1000 reps): {result.rate:.4f}")
    assert result.rate <= ALPHA + 3 * (ALPHA * (1 - ALPHA) / result.replicates) ** 0.5


def test_planted_effect_power_matches_the_noncentral_t_formula():
    check = planted_effect_power(replicates=2000, n_tasks=30, effect=0.3, seed=14)
    print(f"\npower: empirical {check.empirical.rate:.3f}, formula {check.predicted:.3f}")
    assert check.empirical.within(check.predicted)
    assert 0.3 < check.predicted < 0.8  # a regime where the comparison means something


def test_paired_t_interval_covers_the_planted_difference_95_percent_of_the_time():
    result = quality_ci_coverage(replicates=2000, n_tasks=20, seed=15)
    print(f"\nquality 95% CI coverage: {result.rate:.4f}")
    assert result.within(0.95)


def test_cost_ratio_interval_coverage_is_near_nominal():
    # Delta method on the log ratio of means, lognormal costs, 30 tasks.
    result = cost_ratio_coverage(replicates=1000, n_tasks=30, seed=16)
    print(f"\ncost ratio 95% CI coverage: {result.rate:.4f}")
    assert result.within(0.95)
