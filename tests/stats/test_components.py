"""Behaviour of the statistics building blocks on small, hand-checkable inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from experiments.stats import latency
from experiments.stats.attrition import compare_failures
from experiments.stats.bootstrap import percentile_interval, task_resample
from experiments.stats.cost import compare_cost, ratio_of_means
from experiments.stats.equivalence import equivalence_test
from experiments.stats.latency import compare_latency, latency_arm, weighted_quantiles
from experiments.stats.paired import paired_t, paired_t_arrays, sign_flip_greater_p
from experiments.stats.power import (
    check_design,
    epochs_needed,
    min_tasks,
    minimum_detectable_effect,
    smallest_p,
    tasks_needed,
)
from experiments.stats.quality import compare_quality, summarise_arm
from experiments.stats.taskmeans import complete_pairs, task_means, within_task_variance

NAN = np.nan


def test_task_means_average_epochs_and_ignore_missing():
    trials = np.array([[1.0, 0.0, 1.0], [0.5, NAN, NAN], [NAN, NAN, NAN]])
    means = task_means(trials)
    assert means[:2] == pytest.approx([2 / 3, 0.5])
    assert np.isnan(means[2])


def test_complete_pairs_need_both_arms():
    mask = complete_pairs(np.array([1.0, NAN, 2.0]), np.array([1.0, 3.0, NAN]))
    assert mask.tolist() == [True, False, False]


def test_within_task_variance_uses_tasks_with_two_epochs():
    trials = np.array([[1.0, 3.0], [2.0, NAN], [0.0, 4.0]])
    # sample variances 2 and 8 (ddof=1); the single-epoch task carries no information.
    assert within_task_variance(trials) == pytest.approx(5.0)
    assert within_task_variance(np.array([[1.0], [2.0]])) is None


def test_paired_t_handles_constant_differences():
    assert paired_t(np.zeros(5)).p == 1.0
    shifted = paired_t(np.full(5, 0.2))
    assert shifted.p == 0.0
    assert shifted.ci == pytest.approx((0.2, 0.2))


def test_paired_t_arrays_match_scipy_row_by_row():
    from scipy import stats

    d = np.random.default_rng(1).normal(0.1, 1, (5, 12))
    rows = paired_t_arrays(d)
    for i in range(5):
        assert rows.p[i] == pytest.approx(stats.ttest_1samp(d[i], 0).pvalue)


def test_summarise_arm_is_clustered_by_task():
    summary = summarise_arm(np.array([0.2, 0.4, 0.6, NAN]))
    assert summary.n_tasks == 3
    assert summary.mean == pytest.approx(0.4)
    assert summary.se == pytest.approx(0.2 / np.sqrt(3))
    assert summarise_arm(np.array([NAN])).mean is None


def test_bootstrap_counts_are_seeded_and_each_row_draws_every_task_slot():
    resample = task_resample(7, 50, seed=4)
    counts = resample.counts
    assert counts.shape == (50, 7)
    assert (counts.sum(axis=1) == 7).all()
    assert (resample.weights == counts).all()
    assert (counts == task_resample(7, 50, seed=4).counts).all()
    assert not (counts == task_resample(7, 50, seed=5).counts).all()


def test_percentile_interval_ignores_nan_replicates():
    assert percentile_interval(np.array([NAN, 1.0, 2.0, 3.0]), 0.5) == pytest.approx((1.5, 2.5))
    assert percentile_interval(np.array([NAN])) is None


def _assert_matches_expanded(values, task_index, resample, quantiles, rows):
    got = weighted_quantiles(values, task_index, resample, quantiles)
    for b in rows:
        expanded = np.repeat(values, resample.counts[b, task_index].astype(int))
        assert got[b] == pytest.approx(np.quantile(expanded, quantiles), rel=1e-12)


def test_weighted_quantiles_equal_quantiles_of_the_expanded_sample():
    rng = np.random.default_rng(2)
    values = rng.lognormal(1.0, 0.5, (9, 4)).ravel()
    task_index = np.repeat(np.arange(9), 4)
    quantiles = (0.0, 0.5, 0.9, 1.0)
    _assert_matches_expanded(
        values, task_index, task_resample(9, 300, seed=3), quantiles, range(300)
    )


def test_windowed_quantiles_stay_exact_for_many_tasks_and_uneven_epochs():
    rng = np.random.default_rng(7)
    latencies = rng.lognormal(1.0, 0.6, (500, 4))
    latencies[rng.random((500, 4)) < 0.2] = NAN  # uneven epochs per task
    present = ~np.isnan(latencies)
    values, task_index = latencies[present], np.nonzero(present)[0]
    resample = task_resample(500, 400, seed=1)
    _assert_matches_expanded(values, task_index, resample, (0.5, 0.9), range(0, 400, 3))


def test_replicates_outside_the_window_are_recomputed_exactly(monkeypatch):
    monkeypatch.setattr(latency, "_WINDOW_SDS", 0.2)  # a window most replicates miss
    rng = np.random.default_rng(8)
    values = rng.lognormal(1.0, 0.6, 1500)
    task_index = np.repeat(np.arange(500), 3)
    resample = task_resample(500, 200, seed=2)
    _assert_matches_expanded(values, task_index, resample, (0.5, 0.9), range(200))


def test_latency_difference_is_paired_on_resampled_tasks():
    rng = np.random.default_rng(8)
    base = rng.lognormal(1.0, 0.8, (60, 3))
    resample = task_resample(60, 1000, seed=1)
    same = compare_latency(latency_arm(base, resample), latency_arm(base, resample))
    assert same.get(0.9).diff == 0.0
    assert same.get(0.9).ci == (0.0, 0.0)  # same tasks drawn for both arms
    slower = compare_latency(latency_arm(base, resample), latency_arm(base * 1.5, resample))
    p90 = slower.get(0.9)
    assert p90.ratio == pytest.approx(1.5)
    assert p90.ratio_lower == pytest.approx(1.5) and p90.ratio_upper == pytest.approx(1.5)
    assert p90.ci[0] > 0


def test_latency_comparison_needs_data_in_both_arms():
    resample = task_resample(3, 10)
    empty = latency_arm(np.full((3, 2), NAN), resample)
    assert empty.values is None
    assert compare_latency(empty, latency_arm(np.ones((3, 2)), resample)) is None


def test_ratio_of_means_interval_contains_the_ratio_and_orders_bounds():
    rng = np.random.default_rng(3)
    control = rng.lognormal(-4, 0.5, 40)
    treatment = control * 1.3 * rng.lognormal(0, 0.1, 40)
    r = ratio_of_means(control, treatment)
    assert r.ratio == pytest.approx(treatment.mean() / control.mean())
    assert r.ci[0] < r.lower < r.ratio < r.upper < r.ci[1]
    assert ratio_of_means(np.zeros(3), np.ones(3)) is None


def test_compare_cost_uses_complete_pairs_and_bootstrap_agrees_with_t():
    rng = np.random.default_rng(4)
    control = rng.lognormal(-4, 0.5, (50, 2))
    treatment = control * 0.8
    treatment[0] = NAN  # a task without cost data in one arm is dropped from the pair
    result = compare_cost(control, treatment, resample=task_resample(50, 2000, seed=0))
    assert result.n_tasks == 49
    assert result.ratio.ratio == pytest.approx(0.8)
    low, high = result.diff_ci
    boot_low, boot_high = result.bootstrap_diff_ci
    assert low < result.diff < high
    assert boot_low == pytest.approx(low, rel=0.25) and boot_high == pytest.approx(high, rel=0.25)


def test_quality_test_choice_follows_the_notes():
    rng = np.random.default_rng(5)
    binary_k1 = (rng.random((40, 1)) < 0.5).astype(float), (rng.random((40, 1)) < 0.7).astype(float)
    assert compare_quality(*binary_k1, binary=True).test == "mcnemar_exact"
    small = rng.random((12, 3)), rng.random((12, 3))
    assert compare_quality(*small, binary=False).test == "sign_flip_permutation"
    large = rng.random((40, 3)), rng.random((40, 3))
    result = compare_quality(*large, binary=False)
    assert result.test == "paired_t"
    assert result.p == result.t.p
    assert result.sign_flip is None


def test_mcnemar_counts_discordant_tasks():
    control = np.array([[1.0], [1.0], [0.0], [0.0], [0.0], [1.0]])
    treatment = np.array([[1.0], [0.0], [1.0], [1.0], [1.0], [1.0]])
    result = compare_quality(control, treatment, binary=True)
    assert result.discordant == (3, 1)
    assert result.p == pytest.approx(0.625)  # 2 * P(Bin(4, .5) <= 1) = 2 * 5/16


def test_quality_comparison_drops_incomplete_pairs():
    control = np.array([[0.5, 0.7], [0.4, NAN], [NAN, NAN], [0.9, 0.8]])
    treatment = np.array([[0.6, 0.6], [NAN, NAN], [0.3, 0.3], [0.7, 1.0]])
    result = compare_quality(control, treatment, binary=False)
    assert result.n_tasks == 2
    assert result.diff == pytest.approx(((0.6 - 0.6) + (0.85 - 0.85)) / 2)


def test_mde_and_tasks_needed_are_inverse():
    n = tasks_needed(0.1, 0.3, alpha=0.05, power=0.8)
    assert minimum_detectable_effect(n, 0.3) == pytest.approx(0.1, rel=1e-4)
    assert minimum_detectable_effect(1, 0.3) is None
    # No spread, no noise estimate: never an MDE of 0 (two tied tasks used to report 0.00).
    assert minimum_detectable_effect(10, 0.0) is None
    assert tasks_needed(0.1, 0.0) is None


def test_no_plan_falls_below_what_the_sign_flip_test_can_reach():
    # With n tasks the smallest two-sided p is 2/2^n: 5 tasks give 0.0625, 6 give 0.031.
    assert smallest_p(5) == 0.0625 and smallest_p(6) == 0.03125
    assert min_tasks(0.05) == 6 and min_tasks(0.05 / 3) == 7
    assert minimum_detectable_effect(5, 0.3) is None
    assert minimum_detectable_effect(6, 0.3) is not None
    # A huge effect would need 2 tasks by the t formula: the plan still asks for 6.
    assert tasks_needed(1.0, 0.01) == 6
    assert epochs_needed(5, 0.1, omega2=0.0, sigma2_control=0.2, sigma2_treatment=0.2) is None


def test_equivalence_is_two_one_sided_tests_on_the_90_percent_interval():
    rng = np.random.default_rng(3)
    d = rng.normal(0.0, 0.05, 40)
    e = equivalence_test(d, 0.05)
    t = stats.ttest_1samp(d, 0.0)
    low, high = t.confidence_interval(0.90)
    assert e.method == "tost_paired_t" and e.confidence == pytest.approx(0.9)
    assert e.ci == pytest.approx((low, high))
    lower = stats.ttest_1samp(d, -0.05, alternative="greater").pvalue
    upper = stats.ttest_1samp(d, 0.05, alternative="less").pvalue
    assert e.p == pytest.approx(max(lower, upper))
    assert e.equivalent == (e.p < 0.05)
    # A real difference is never equivalence, however tight.
    assert not equivalence_test(d + 0.3, 0.05).equivalent


def test_tied_tasks_never_make_equivalence():
    # Two tied tasks: a degenerate interval [0, 0], but each one-sided p is at least 1/4.
    tied = equivalence_test(np.zeros(2), 0.05)
    assert tied.ci == (0.0, 0.0) and tied.p == 0.25 and not tied.equivalent
    # Four tasks all +0.30 apart: certainly not within +/-0.05.
    assert not equivalence_test(np.full(4, 0.3), 0.05).equivalent
    # The sign-flip sides match scipy's exact one-sided permutation test of d + margin.
    d = np.array([0.02, -0.01, 0.03, 0.0, -0.02, 0.01, 0.04, -0.03])
    reference = stats.permutation_test(
        (d + 0.05,), np.mean, permutation_type="samples", n_resamples=np.inf,
        alternative="greater",
    )  # fmt: skip
    assert sign_flip_greater_p(d + 0.05).p == pytest.approx(reference.pvalue)


def test_failures_are_compared_cell_by_cell_with_exact_mcnemar():
    recorded = np.ones((10, 2), dtype=bool)
    control = np.ones((10, 2), dtype=bool)
    variant = control.copy()
    variant[:5, 0] = False  # 6 cells missing in the variant only
    variant[0, 1] = False
    result = compare_failures(control, variant, recorded)
    assert result.discordant == (6, 0) and result.cells == 20
    assert result.p == pytest.approx(stats.binomtest(6, 6, 0.5).pvalue)
    assert result.higher
    # Cells not run in one arm (a budget stop) are not attrition.
    result = compare_failures(control, variant, recorded & variant)
    assert result.discordant == (0, 0) and not result.higher


def test_arm_intervals_stay_on_the_quality_scale():
    summary = summarise_arm(np.array([0.0, 1.0, 1.0]))  # a t interval of about [-0.8, 2.1]
    assert summary.ci == (0.0, 1.0)


def test_epochs_needed_follows_miller_and_detects_hopeless_cases():
    from scipy import stats

    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    k = epochs_needed(50, 0.1, omega2=0.01, sigma2_control=0.2, sigma2_treatment=0.2)
    assert k == pytest.approx(z**2 * 0.4 / (50 * 0.01 - z**2 * 0.01))
    # Between-task spread alone already needs more tasks than we have: no epochs help.
    assert epochs_needed(5, 0.1, omega2=0.05, sigma2_control=0.2, sigma2_treatment=0.2) is None


def test_planning_reports_tasks_and_epochs_for_the_effect_of_interest():
    rng = np.random.default_rng(9)
    base = rng.random((20, 1))
    control = base + rng.normal(0, 0.2, (20, 4))
    treatment = base + rng.normal(0, 0.2, (20, 4))
    plan = compare_quality(control, treatment, binary=False, effect_of_interest=0.05).planning
    assert plan.tasks_needed > 20
    assert plan.sigma2_control == pytest.approx(0.04, rel=0.3)
    assert plan.epochs_needed is None or plan.epochs_needed > 4


def test_the_design_check_warns_below_the_floor_and_names_what_would_detect():
    floor = check_design(4, 1, effect=0.05, alpha=0.05)
    assert not floor.detects and floor.mde is None and floor.min_tasks == 6
    assert floor.warning().startswith("4 tasks cannot detect any effect")
    # Pass/fail at 50%, no interaction: Var(d) = 0.5/K; the t plan for 0.05 at K=1.
    check = check_design(40, 2, effect=0.05, alpha=0.05)
    assert check.sd_diff == pytest.approx(0.5)
    assert check.tasks_needed == pytest.approx(tasks_needed(0.05, 0.5))
    assert "40 tasks x 2 epochs can only detect differences of" in check.warning()
    assert check_design(2000, 5, effect=0.05, alpha=0.05).warning() is None
