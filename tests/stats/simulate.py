"""Seeded simulations of whole verdicts, through ``experiments.analysis.analyse``.

Each scenario draws synthetic experiments (``tests.stats.synthetic``), analyses them exactly as
``registry report`` does, and counts outcomes. Replicate r of a scenario seeded s uses seed
``s * 1_000_003 + r``, so a figure does not depend on how replicates are split across workers.
``bench/verdict_simulations.py`` prints the figures at 2,000 replicates; the tests run smaller
seeded versions by default and the full ones under ``-m slow``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from experiments.analysis import analyse
from experiments.decision import DecisionRule, parse_decision
from experiments.stats.power import minimum_detectable_effect
from experiments.stats.validation import RateEstimate
from tests.stats.synthetic import Arm, experiment, make_trials, variants

ALPHA = 0.05
N_TASKS, EPOCHS = 40, 3  # the design of the power, guardrail and A/A scenarios
INTERACTION_SD, EPOCH_SD = 0.03, 0.08  # tests.stats.synthetic's defaults
LATENCY_SD, NOISY_LATENCY_SD = 0.2, 0.6  # a trial's log-latency spread: calm, and heavy-tailed
LATENCY_MARGIN = DecisionRule().guardrails[1].margin  # p90 latency, 0.30


@dataclass(frozen=True)
class Scenario:
    name: str
    arms: dict[str, Arm]
    n_tasks: int = N_TASKS
    epochs: int = EPOCHS
    rule: DecisionRule = field(default_factory=DecisionRule)
    binary: bool = False
    latency_sd: float = LATENCY_SD


@dataclass(frozen=True)
class Outcome:
    """What one replicate concluded about the variant named ``variant``."""

    rejected: bool  # the primary test's raw p < alpha, either direction
    better: bool  # significantly better after Holm
    status: str
    winner: str | None


@dataclass(frozen=True)
class Tally:
    scenario: str
    replicates: int
    seed: int
    outcomes: tuple[Outcome, ...]

    def rate(self, predicate: Callable[[Outcome], bool]) -> RateEstimate:
        hits = sum(predicate(o) for o in self.outcomes)
        return RateEstimate(rate=hits / self.replicates, replicates=self.replicates)

    @property
    def false_positive(self) -> RateEstimate:
        return self.rate(lambda o: o.rejected)

    @property
    def variant_winner(self) -> RateEstimate:
        return self.rate(lambda o: o.winner == "variant")

    @property
    def control_winner(self) -> RateEstimate:
        return self.rate(lambda o: o.winner == "control")

    @property
    def power(self) -> RateEstimate:
        return self.rate(lambda o: o.better)

    @property
    def blocked(self) -> RateEstimate:
        """Of the runs significantly better on quality, the share left without a winner."""
        better = [o for o in self.outcomes if o.better]
        blocked = sum(o.winner != "variant" for o in better)
        return RateEstimate(rate=blocked / max(len(better), 1), replicates=max(len(better), 1))


def mc_bound(target: float, replicates: int, k: float = 2.0) -> float:
    """``target`` plus k Monte Carlo standard errors at ``replicates``."""
    return target + k * math.sqrt(target * (1 - target) / replicates)


def _one(scenario: Scenario, seed: int) -> Outcome:
    trials = make_trials(
        scenario.arms,
        n_tasks=scenario.n_tasks,
        epochs=scenario.epochs,
        seed=seed,
        binary=scenario.binary,
        interaction_sd=INTERACTION_SD,
        epoch_sd=EPOCH_SD,
        latency_sd=scenario.latency_sd,
    )
    report = analyse(
        experiment=experiment(scenario.n_tasks, scenario.epochs),
        variants=variants(*scenario.arms),
        control="control",
        trials=trials,
        rule=scenario.rule,
        seed=seed,
    )
    q = report.comparisons[0].quality
    significant = q.p_adjusted is not None and q.p_adjusted < scenario.rule.alpha
    return Outcome(
        rejected=q.p is not None and q.p < scenario.rule.alpha,
        better=significant and q.diff is not None and q.diff > 0,
        status=report.verdict.status,
        winner=report.verdict.winner,
    )


def simulate(scenario: Scenario, *, replicates: int, seed: int, workers: int = 1) -> Tally:
    seeds = [seed * 1_000_003 + r for r in range(replicates)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            outcomes = tuple(pool.map(partial(_one, scenario), seeds, chunksize=50))
    else:
        outcomes = tuple(_one(scenario, s) for s in seeds)
    return Tally(scenario.name, replicates, seed, outcomes)


def design_sd() -> float:
    """The SD of a task's paired difference of epoch means in the synthetic model."""
    return math.sqrt(2 * INTERACTION_SD**2 + 2 * EPOCH_SD**2 / EPOCHS)


def design_mde() -> float:
    """The effect the design detects with 80% power (the noncentral t formula)."""
    mde = minimum_detectable_effect(N_TASKS, design_sd(), alpha=ALPHA)
    assert mde is not None
    return mde


def aa() -> Scenario:
    return Scenario("A/A", {"control": Arm(), "variant": Arm()})


def _latency_name(latency_sd: float) -> str:
    return "noisy latency" if latency_sd == NOISY_LATENCY_SD else "calm latency"


def planted(mode: str = "harm", latency_sd: float = LATENCY_SD) -> Scenario:
    """A quality gain at the design's 80% power, latency and cost identical in both arms."""
    arms = {"control": Arm(), "variant": Arm(quality_shift=design_mde())}
    return Scenario(
        f"planted MDE, {_latency_name(latency_sd)}, {mode}",
        arms,
        rule=parse_decision({"guardrail_mode": mode}),
        latency_sd=latency_sd,
    )


def latency_regression(mode: str = "harm", latency_sd: float = LATENCY_SD) -> Scenario:
    """A clear quality gain whose latency is 1 + 2 x margin times the control's."""
    arms = {
        "control": Arm(),
        "variant": Arm(quality_shift=0.1, latency_factor=1 + 2 * LATENCY_MARGIN),
    }
    name = f"latency x{1 + 2 * LATENCY_MARGIN:.1f}, {_latency_name(latency_sd)}, {mode}"
    return Scenario(
        name, arms, rule=parse_decision({"guardrail_mode": mode}), latency_sd=latency_sd
    )


def differential_failures() -> Scenario:
    """The null on pass/fail trials, but the variant fails on half of the trials it would have
    failed (90 tasks x 5 epochs = 450 trials per variant, as in issue 12)."""
    arms = {"control": Arm(), "variant": Arm(fail_when_bad=0.5)}
    return Scenario("differential failures", arms, n_tasks=90, epochs=5, binary=True)
