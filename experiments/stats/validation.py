"""Seeded simulations that validate the engine itself (notes section 5).

Each function returns a ``RateEstimate`` with its Monte Carlo standard error, so tests can assert
"within target +/- 3 MC-SE" and print the measured figure. The simulations call the same
functions the analysis uses (``task_means``, ``paired_t_arrays``, ``compare_quality``,
``ratio_of_means``), vectorised over replicates where the function allows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from experiments.stats.cost import ratio_of_means
from experiments.stats.paired import paired_t_arrays
from experiments.stats.power import power_paired
from experiments.stats.quality import compare_quality
from experiments.stats.taskmeans import task_means


@dataclass(frozen=True)
class RateEstimate:
    rate: float
    replicates: int

    @property
    def mc_se(self) -> float:
        return math.sqrt(max(self.rate * (1 - self.rate), 1e-12) / self.replicates)

    def within(self, target: float, k: float = 3.0) -> bool:
        """Whether ``target`` lies within k Monte Carlo SEs (computed at the target) of the rate."""
        se_at_target = math.sqrt(target * (1 - target) / self.replicates)
        return abs(self.rate - target) <= k * se_at_target


def _binary_trials(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    epochs: int,
    task_logit: np.ndarray,
    interaction_sd: float,
    shift: float = 0.0,
) -> np.ndarray:
    """0/1 trials (... x tasks x epochs): logit = task difficulty + task x variant + shift."""
    logit = task_logit + rng.normal(0.0, interaction_sd, shape) + shift
    probability = 1 / (1 + np.exp(-logit))
    return (rng.random((*shape, epochs)) < probability[..., None]).astype(float)


def aa_false_positive_rate(
    *,
    replicates: int = 2000,
    n_tasks: int = 40,
    epochs: int = 5,
    alpha: float = 0.05,
    task_sd: float = 1.5,
    interaction_sd: float = 0.7,
    seed: int = 0,
) -> RateEstimate:
    """A/A rejection rate of the task-level paired t on binary trials with task heterogeneity.

    Both arms share each task's difficulty (logit ~ N(0, task_sd^2)) and get their own task x
    variant interaction; the null holds because the arms are identically distributed.
    """
    rng = np.random.default_rng(seed)
    shape = (replicates, n_tasks)
    difficulty = rng.normal(0.0, task_sd, shape)
    control = task_means(_binary_trials(rng, shape, epochs, difficulty, interaction_sd))
    treatment = task_means(_binary_trials(rng, shape, epochs, difficulty, interaction_sd))
    p = paired_t_arrays(treatment - control).p
    return RateEstimate(rate=float(np.mean(p < alpha)), replicates=replicates)


def aa_primary_test_rate(
    *,
    replicates: int = 1000,
    n_tasks: int = 15,
    epochs: int = 3,
    alpha: float = 0.05,
    task_sd: float = 1.5,
    interaction_sd: float = 0.7,
    seed: int = 0,
) -> RateEstimate:
    """A/A rejection rate of ``compare_quality``'s primary p (the analysis path end to end)."""
    rng = np.random.default_rng(seed)
    rejections = 0
    for replicate in range(replicates):
        difficulty = rng.normal(0.0, task_sd, n_tasks)
        control = _binary_trials(rng, (n_tasks,), epochs, difficulty, interaction_sd)
        treatment = _binary_trials(rng, (n_tasks,), epochs, difficulty, interaction_sd)
        result = compare_quality(control, treatment, binary=True, seed=replicate)
        rejections += result.p is not None and result.p < alpha
    return RateEstimate(rate=rejections / replicates, replicates=replicates)


def _normal_scores(
    rng: np.random.Generator,
    replicates: int,
    n_tasks: int,
    epochs: int,
    effect: float,
    omega: float,
    within_sd: float,
) -> np.ndarray:
    """Per-task differences of epoch means under a normal model with a planted mean effect."""
    shape = (replicates, n_tasks)
    difficulty = rng.normal(0.0, 1.0, shape)
    truth_t = difficulty + effect + rng.normal(0.0, omega, shape)
    control = difficulty[..., None] + rng.normal(0.0, within_sd, (*shape, epochs))
    treatment = truth_t[..., None] + rng.normal(0.0, within_sd, (*shape, epochs))
    return task_means(treatment) - task_means(control)


@dataclass(frozen=True)
class PowerCheck:
    empirical: RateEstimate
    predicted: float


def planted_effect_power(
    *,
    replicates: int = 2000,
    n_tasks: int = 30,
    epochs: int = 3,
    effect: float = 0.3,
    omega: float = 0.5,
    within_sd: float = 0.8,
    alpha: float = 0.05,
    seed: int = 0,
) -> PowerCheck:
    """Empirical power of the paired t against ``power_paired`` with the true paired SD."""
    rng = np.random.default_rng(seed)
    d = _normal_scores(rng, replicates, n_tasks, epochs, effect, omega, within_sd)
    rate = float(np.mean(paired_t_arrays(d).p < alpha))
    sd_diff = math.sqrt(omega**2 + 2 * within_sd**2 / epochs)
    return PowerCheck(
        empirical=RateEstimate(rate=rate, replicates=replicates),
        predicted=power_paired(n_tasks, effect / sd_diff, alpha),
    )


def quality_ci_coverage(
    *,
    replicates: int = 2000,
    n_tasks: int = 20,
    epochs: int = 3,
    effect: float = 0.3,
    omega: float = 0.5,
    within_sd: float = 0.8,
    seed: int = 0,
) -> RateEstimate:
    """Share of paired-t 95% intervals that cover the planted mean difference."""
    rng = np.random.default_rng(seed)
    d = _normal_scores(rng, replicates, n_tasks, epochs, effect, omega, within_sd)
    result = paired_t_arrays(d)
    covered = (result.low <= effect) & (effect <= result.high)
    return RateEstimate(rate=float(np.mean(covered)), replicates=replicates)


def cost_ratio_coverage(
    *,
    replicates: int = 1000,
    n_tasks: int = 30,
    true_ratio: float = 1.2,
    task_sd: float = 0.5,
    noise_sd: float = 0.4,
    seed: int = 0,
) -> RateEstimate:
    """Coverage of the delta-method ratio-of-means interval on paired lognormal costs.

    Costs share a task effect; independent lognormal noise of equal spread in both arms makes
    E[treatment]/E[control] exactly ``true_ratio``.
    """
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(replicates):
        task = rng.normal(-4.0, task_sd, n_tasks)
        control = np.exp(task + rng.normal(0.0, noise_sd, n_tasks))
        treatment = np.exp(task + math.log(true_ratio) + rng.normal(0.0, noise_sd, n_tasks))
        interval = ratio_of_means(control, treatment)
        # No interval (fewer than two tasks) covers nothing.
        covered += interval is not None and interval.ci[0] <= true_ratio <= interval.ci[1]
    return RateEstimate(rate=covered / replicates, replicates=replicates)
