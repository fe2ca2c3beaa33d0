"""The verdict's error rates, simulated through ``analyse`` (issue 12's figures).

The default run checks a small seeded version of every scenario against its target with a
Monte Carlo allowance; ``-m slow`` runs the 2,000-replicate versions against the issue's
bounds. ``python bench/verdict_simulations.py`` prints every figure.
"""

from __future__ import annotations

import math

import pytest

from experiments.stats.power import power_paired
from tests.stats.simulate import (
    ALPHA,
    N_TASKS,
    Tally,
    aa,
    design_mde,
    design_sd,
    differential_failures,
    latency_regression,
    mc_bound,
    planted,
    simulate,
)

SMALL, FULL = 200, 2000
SEED = 12


def _formula_power() -> float:
    return power_paired(N_TASKS, design_mde() / design_sd(), ALPHA)


def _se(rate: float, replicates: int) -> float:
    return math.sqrt(rate * (1 - rate) / replicates)


def _check_aa(tally: Tally, fpr_bounds: tuple[float, float], k: float) -> None:
    assert fpr_bounds[0] <= tally.false_positive.rate <= fpr_bounds[1]
    # The verdict is one-sided: a variant wins only on a significant gain (alpha/2).
    assert tally.variant_winner.rate <= mc_bound(ALPHA / 2, tally.replicates, k)


def _check_power(tally: Tally, tolerance: float, blocked: float) -> None:
    assert abs(tally.power.rate - _formula_power()) <= tolerance
    assert tally.blocked.rate <= blocked


def test_aa_verdicts_hold_their_level() -> None:
    tally = simulate(aa(), replicates=SMALL, seed=SEED)
    allowance = 3 * _se(ALPHA, SMALL)
    _check_aa(tally, (ALPHA - allowance, ALPHA + allowance), k=3)


def test_a_planted_effect_has_its_power_and_the_default_guardrails_do_not_block_it() -> None:
    tally = simulate(planted("harm"), replicates=SMALL, seed=SEED)
    _check_power(tally, 3 * _se(0.8, SMALL), blocked=mc_bound(0.02, tally.power.replicates, 3))


def test_a_latency_regression_of_twice_the_margin_is_blocked() -> None:
    tally = simulate(latency_regression("harm"), replicates=SMALL, seed=SEED)
    assert tally.blocked.rate >= 0.8 - 3 * _se(0.8, tally.blocked.replicates)


def test_failures_that_go_with_bad_answers_make_no_winner() -> None:
    tally = simulate(differential_failures(), replicates=SMALL // 2, seed=SEED)
    assert tally.variant_winner.rate <= mc_bound(ALPHA, tally.replicates, 3)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_aa_verdicts_hold_their_level_at_2000_replicates() -> None:
    _check_aa(simulate(aa(), replicates=FULL, seed=SEED, workers=2), (0.035, 0.065), k=2)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_power_and_guardrail_blocking_at_2000_replicates() -> None:
    tally = simulate(planted("harm"), replicates=FULL, seed=SEED, workers=2)
    _check_power(tally, 0.05, blocked=0.02)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_latency_regression_blocked_at_2000_replicates() -> None:
    tally = simulate(latency_regression("harm"), replicates=FULL, seed=SEED, workers=2)
    assert tally.blocked.rate >= 0.8


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_differential_failures_at_2000_replicates() -> None:
    tally = simulate(differential_failures(), replicates=FULL, seed=SEED, workers=2)
    assert tally.variant_winner.rate <= ALPHA
