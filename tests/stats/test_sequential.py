"""Alpha spending and the group-sequential boundaries, against published and scipy values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from experiments.report import Look
from experiments.sequential_rule import (
    look_alpha,
    look_boundaries,
    next_boundary,
    sequential_summary,
    summary_sentence,
)
from experiments.stats.sequential import boundaries, obrien_fleming_spending

# gsDesign::gsDesign(k, test.type = 1, alpha = 0.025, sfu = sfLDOF)$upper$bound (also rpact's
# getDesignGroupSequential(typeOfDesign = "asOF")): equally spaced looks.
GSDESIGN_K3 = (3.7103, 2.5114, 1.9930)
GSDESIGN_K5 = (4.8769, 3.3569, 2.6803, 2.2898, 2.0310)


def test_spending_function_spends_nothing_at_the_start_and_alpha_at_the_end():
    assert obrien_fleming_spending(0.0, 0.025) == 0.0
    assert obrien_fleming_spending(1.0, 0.025) == pytest.approx(0.025, abs=1e-15)
    # 2 (1 - Phi(z_{1 - alpha/2} / sqrt(t))), by hand at t = 1/2
    expected = 2 * stats.norm.sf(stats.norm.isf(0.0125) / math.sqrt(0.5))
    assert obrien_fleming_spending(0.5, 0.025) == pytest.approx(expected, rel=1e-12)
    spent = [obrien_fleming_spending(t, 0.05) for t in np.linspace(0.05, 1, 20)]
    assert spent == sorted(spent) and spent[-1] == pytest.approx(0.05)


@pytest.mark.parametrize("published", [GSDESIGN_K3, GSDESIGN_K5])
def test_boundaries_match_published_obrien_fleming_type_boundaries(published):
    k = len(published)
    found = boundaries([i / k for i in range(1, k + 1)], 0.025)
    assert [round(b.z, 4) for b in found] == pytest.approx(published, abs=2e-4)
    assert [b.look for b in found] == list(range(1, k + 1))
    assert found[-1].spent_alpha == pytest.approx(0.025)
    for b in found:
        assert b.nominal_alpha == pytest.approx(stats.norm.sf(b.z))


def test_crossing_probabilities_equal_the_spent_alpha_for_unequal_looks():
    """Under the null, P(crossing by look k) is alpha(t_k), by scipy's multivariate normal."""
    fractions = [0.3, 0.55, 0.8, 1.0]
    found = boundaries(fractions, 0.025)
    t = np.array(fractions)
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    z = np.array([b.z for b in found])
    for k in range(1, len(t) + 1):
        mvn = stats.multivariate_normal(
            mean=np.zeros(k), cov=corr[:k, :k], seed=1, maxpts=2_000_000, abseps=1e-8, releps=1e-8
        )
        crossed = 1 - mvn.cdf(z[:k])
        assert crossed == pytest.approx(found[k - 1].spent_alpha, abs=2e-5)


def test_a_later_look_does_not_change_the_earlier_boundaries():
    three = boundaries([0.25, 0.5, 0.75], 0.025)
    four = boundaries([0.25, 0.5, 0.75, 1.0], 0.025)
    assert [b.z for b in four[:3]] == pytest.approx([b.z for b in three], abs=1e-9)


@pytest.mark.parametrize("fractions", [[0.5, 0.5], [0.6, 0.4], [0.0, 1.0], [0.5, 1.2]])
def test_fractions_must_increase_within_zero_and_one(fractions):
    with pytest.raises(ValueError):
        boundaries(fractions, 0.025)


def _look(number: int, tasks: int, *, stopped: bool = False, cost: float = 0.0) -> Look:
    return Look(number, tasks, 40, tasks / 40, 0.0, 0.0, "inconclusive", "", stopped, cost)


def test_a_look_spends_half_the_two_sided_alpha_on_the_winning_side():
    final = look_boundaries([0.2, 0.4, 1.0], 0.05)
    assert final[-1].spent_alpha == pytest.approx(0.025)
    # the analysis' two-sided tests get twice the one-sided level
    assert look_alpha(final[-1]) == pytest.approx(2 * final[-1].nominal_alpha)
    resumed = next_boundary([_look(1, 8), _look(2, 16)], 40, 40, 0.05)
    assert resumed.z == pytest.approx(final[-1].z, abs=1e-9)
    assert resumed.look == 3


def test_summary_extrapolates_the_fixed_cost_and_says_why_it_stopped():
    looks = [_look(1, 8, cost=1.0), _look(2, 16, stopped=True, cost=2.0)]
    summary = sequential_summary(looks, 0.05)
    assert summary.stopped_at == 2 and summary.full_cost_usd == pytest.approx(5.0)
    assert summary.saved_usd == pytest.approx(3.0) and summary.saved_share == pytest.approx(0.6)
    assert "stopped at look 2" in summary_sentence(summary) and "60%" in summary_sentence(summary)
    # cut short without a decision (budget): unfinished, not a saving
    unfinished = sequential_summary([_look(1, 8, cost=1.0)], 0.05)
    assert unfinished.stopped_at is None and unfinished.saved_usd is None
    assert unfinished.stop_reason.startswith("not decided yet")
