"""Golden numbers: published R outputs (help-page examples) and closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from experiments.stats.multiplicity import cochran_q, friedman, holm
from experiments.stats.paired import mcnemar_exact, paired_t, sign_flip_p, wilcoxon_p
from experiments.stats.power import power_paired, tasks_needed

# R's `sleep` data: extra sleep of 10 patients under two drugs (paired by ID).
SLEEP_1 = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
SLEEP_2 = np.array([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])

# R's friedman.test help example (Hollander & Wolfe, Table 7.1): rows are blocks.
ROUNDING_TIMES = np.array(
    [
        [5.40, 5.50, 5.55], [5.85, 5.70, 5.75], [5.20, 5.60, 5.50], [5.55, 5.50, 5.40],
        [5.90, 5.85, 5.70], [5.45, 5.55, 5.60], [5.40, 5.40, 5.35], [5.45, 5.50, 5.35],
        [5.25, 5.15, 5.00], [5.85, 5.80, 5.70], [5.25, 5.20, 5.10], [5.65, 5.55, 5.45],
        [5.60, 5.35, 5.45], [5.05, 5.00, 4.95], [5.50, 5.50, 5.40], [5.45, 5.55, 5.50],
        [5.55, 5.55, 5.35], [5.45, 5.50, 5.55], [5.50, 5.45, 5.25], [5.65, 5.60, 5.40],
        [5.70, 5.65, 5.55], [6.30, 6.30, 6.25],
    ]
)  # fmt: skip


def test_paired_t_matches_r_t_test_on_sleep():
    # R: t.test(extra ~ group, data = sleep, paired = TRUE)
    result = paired_t(SLEEP_1 - SLEEP_2)
    assert result.t == pytest.approx(-4.0621, abs=5e-5)
    assert result.df == 9
    assert result.p == pytest.approx(0.002833, abs=5e-7)
    assert result.ci[0] == pytest.approx(-2.4598858, abs=1e-7)
    assert result.ci[1] == pytest.approx(-0.7001142, abs=1e-7)


def test_wilcoxon_matches_r_defaults_on_sleep_not_scipy_defaults():
    # R: wilcox.test(..., paired = TRUE) gives V = 0, p = 0.009091 (zero and ties -> normal
    # approximation with continuity correction). scipy's defaults would give 0.0039.
    result = wilcoxon_p(SLEEP_1 - SLEEP_2)
    assert result.p == pytest.approx(0.009091, abs=5e-7)
    assert result.method.startswith("approx")
    assert result.n_nonzero == 9


def test_wilcoxon_is_exact_without_ties_or_zeros():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0, -6.0])
    # Exact null: V = 15 of max 21. V >= 15 means the negative ranks sum to <= 6; 14 of the
    # 64 subsets of {1..6} do ({}, six singletons, {1,2} {1,3} {1,4} {1,5} {2,3} {2,4}, {1,2,3}),
    # so P(V >= 15) = 14/64 and the two-sided p is 28/64.
    result = wilcoxon_p(d)
    assert result.method == "exact"
    assert result.p == pytest.approx(28 / 64)


def test_wilcoxon_of_all_zero_differences_is_undefined():
    assert wilcoxon_p(np.zeros(5)) is None


def test_mcnemar_exact_is_the_binomial_tail_of_discordant_pairs():
    # 1 task improved, 9 worsened: p = 2 * P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11/1024.
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    # Symmetric counts: the two tails cover everything.
    assert mcnemar_exact(5, 5) == pytest.approx(1.0)
    assert mcnemar_exact(0, 0) == 1.0


def test_mcnemar_exact_agrees_with_statsmodels():
    from statsmodels.stats.contingency_tables import mcnemar

    for improved, worsened in [(3, 12), (7, 2), (20, 31)]:
        table = [[10, improved], [worsened, 10]]
        assert mcnemar_exact(improved, worsened) == pytest.approx(mcnemar(table, exact=True).pvalue)


def test_holm_matches_r_p_adjust_on_a_textbook_vector():
    # p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm"): sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1,
    # then the running maximum keeps 0.06 for the last one.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_is_not_statsmodels_default_holm_sidak():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.02, 0.04]
    assert holm(p)[0] == pytest.approx(0.03)
    assert multipletests(p)[1][0] == pytest.approx(1 - 0.99**3)  # Holm-Sidak 0.0297
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_holm_caps_at_one_and_handles_empty():
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    assert holm([]) == []


def test_friedman_matches_r_help_example():
    # R: friedman.test(RoundingTimes) -> chi-squared = 11.143, df = 2, p-value = 0.003805
    result = friedman(ROUNDING_TIMES)
    assert result.statistic == pytest.approx(11.143, abs=5e-4)
    assert result.df == 2
    assert result.p == pytest.approx(0.003805, abs=5e-7)
    assert result.n_tasks == 22


def test_friedman_needs_three_variants():
    assert friedman(ROUNDING_TIMES[:, :2]) is None


def test_cochran_q_agrees_with_statsmodels():
    from statsmodels.stats.contingency_tables import cochrans_q

    rng = np.random.default_rng(3)
    x = (rng.random((30, 4)) < [0.3, 0.5, 0.6, 0.4]).astype(float)
    ours = cochran_q(x)
    theirs = cochrans_q(x)
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert ours.p == pytest.approx(theirs.pvalue)
    assert ours.df == 3


def test_cochran_q_undefined_when_no_task_is_discordant():
    assert cochran_q(np.ones((5, 3))) is None


def test_power_anchor_d1_power_09_needs_12_585_tasks():
    # Same definition as R power.t.test(delta = 1, sd = 1, power = .9, type = "paired").
    assert tasks_needed(1.0, 1.0, power=0.9) == pytest.approx(12.585, abs=5e-4)
    assert power_paired(12.585460, 1.0) == pytest.approx(0.9, abs=1e-6)


def test_power_agrees_with_statsmodels_ttestpower():
    from statsmodels.stats.power import TTestPower

    for n, size in [(5, 0.5), (40, 0.3), (300, 0.1)]:
        assert power_paired(n, size) == pytest.approx(TTestPower().power(size, n, 0.05))


def test_exact_sign_flip_counts_patterns():
    # Four equal positive differences: only all-plus and all-minus reach |sum| = 4 -> 2/16.
    result = sign_flip_p(np.ones(4))
    assert result.method == "exact"
    assert result.patterns == 16
    assert result.p == pytest.approx(2 / 16)


def test_exact_sign_flip_agrees_with_scipy_permutation_test():
    from scipy import stats

    d = np.random.default_rng(5).normal(0.4, 1.0, 12)
    reference = stats.permutation_test(
        (d,), np.mean, permutation_type="samples", n_resamples=np.inf
    )
    assert sign_flip_p(d).p == pytest.approx(reference.pvalue)


def test_monte_carlo_sign_flip_is_seeded_and_close_to_the_t_test():
    d = np.random.default_rng(6).normal(0.5, 1.0, 25)
    first, second = sign_flip_p(d, seed=1), sign_flip_p(d, seed=1)
    assert first.method == "monte_carlo"
    assert first.p == second.p
    assert first.p == pytest.approx(paired_t(d).p, abs=0.01)
    assert not math.isclose(first.p, sign_flip_p(d, seed=2).p, abs_tol=1e-12)


def test_own_wilcoxon_agrees_with_scipy_configured_like_r():
    from scipy import stats

    rng = np.random.default_rng(21)
    for n in (6, 15, 40, 120):
        d = rng.normal(0.3, 1.0, n)
        exact = n < 50
        expected = stats.wilcoxon(d, method="exact" if exact else "approx", correction=True)
        assert wilcoxon_p(d).p == pytest.approx(expected.pvalue, rel=1e-9)
    tied = np.round(rng.normal(0.2, 1.0, 30), 1)  # ties and zeros -> approximation
    expected = stats.wilcoxon(tied, zero_method="wilcox", correction=True, method="approx")
    assert wilcoxon_p(tied).p == pytest.approx(expected.pvalue, rel=1e-9)


def test_own_friedman_agrees_with_scipy_on_tied_data():
    from scipy import stats

    x = np.round(np.random.default_rng(22).normal(0, 1, (25, 4)), 0)  # many ties
    ours = friedman(x)
    theirs = stats.friedmanchisquare(*x.T)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    assert ours.p == pytest.approx(theirs.pvalue, rel=1e-9)


def test_mcnemar_agrees_with_scipy_binomtest():
    from scipy import stats

    for improved, worsened in [(0, 7), (4, 11), (30, 18), (12, 12)]:
        expected = stats.binomtest(improved, improved + worsened, 0.5).pvalue
        assert mcnemar_exact(improved, worsened) == pytest.approx(expected, rel=1e-12)


def test_analysis_never_imports_scipy_stats_or_statsmodels():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from experiments.analysis import analyse\n"
        "from tests.stats.synthetic import Arm, experiment, make_trials, variants\n"
        "from experiments.decision import DecisionRule\n"
        "arms = {'control': Arm(), 'a': Arm(0.1), 'b': Arm()}\n"
        "analyse(experiment=experiment(12, 2), variants=variants(*arms), control='control',\n"
        "        trials=make_trials(arms, n_tasks=12, epochs=2), rule=DecisionRule())\n"
        "heavy = ('scipy.stats', 'scipy.optimize', 'statsmodels')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert result.stdout.strip() == ""
