"""The sequential rule's error rate and savings, simulated through ``analyse``
(``bench/sequential_simulations.py``; the 2,000-replicate runs are marked slow).

The A/A bound is 2.5% for each side the verdict can name (the variant, or the control: each a
one-sided test at alpha/2) plus two Monte Carlo standard errors. The effect runs plant twice the
fixed design's MDE and compare the sequential design with the fixed one on the same replicates.
The 2,000-replicate runs take several minutes each, longer than the suite's per-test timeout:
they are marked ``long`` and run on request
(``pytest -m long tests/stats/test_sequential_simulations.py``).
"""

from __future__ import annotations

import pytest

from bench.sequential_simulations import design_mde, simulate

SEED = 20261201
# Deselected by default (pyproject: -m "not long"), so never counted as a skipped test.
long_simulation = [pytest.mark.slow, pytest.mark.long, pytest.mark.timeout(3600)]


def _aa(replicates: int) -> None:
    figures = simulate(replicates, SEED, 0.0)
    for rate in (figures.sequential_winner_rate, figures.fixed_winner_rate,
                 figures.sequential_control_rate, figures.fixed_control_rate):  # fmt: skip
        assert rate <= 0.025 + 2 * figures.mc_se, figures


def _large_effect(replicates: int) -> None:
    figures = simulate(replicates, SEED, 2 * design_mde())
    assert figures.sequential_cost_share <= 0.60, figures
    assert figures.sequential_winner_rate >= figures.fixed_winner_rate - 0.05, figures


def test_aa_with_a_look_every_8_tasks_keeps_the_winner_rate():
    _aa(120)


def test_a_large_effect_stops_early_without_losing_power():
    _large_effect(60)


@pytest.mark.parametrize("replicates", [pytest.param(2000, marks=long_simulation)])
def test_aa_with_a_look_every_8_tasks_keeps_the_winner_rate_2000_replicates(replicates: int):
    _aa(replicates)


@pytest.mark.parametrize("replicates", [pytest.param(2000, marks=long_simulation)])
def test_a_large_effect_stops_early_without_losing_power_2000_replicates(replicates: int):
    _large_effect(replicates)
