"""Power and planning for the paired task-level t test.

Sample sizes use the noncentral t (the same definition as R's ``power.t.test(type="paired")`` and
statsmodels ``TTestPower``); anchor: effect size 1, power 0.9, alpha 0.05 -> n = 12.585 tasks.
Epoch planning uses Miller (2024) eq. R5 with normal quantiles:

    n = z^2 (omega^2 + sigma_A^2/K + sigma_B^2/K) / delta^2,   z = z_{1-alpha/2} + z_{power}

solved for K at fixed n: K = z^2 (sigma_A^2 + sigma_B^2) / (n delta^2 - z^2 omega^2), impossible
(no number of epochs suffices) when n delta^2 <= z^2 omega^2.

Below 30 tasks the primary test is the exact sign-flip (or McNemar on the discordant tasks),
whose smallest two-sided p with n tasks is 2/2^n: no effect is detectable below
``min_tasks(alpha)``, so every figure here is floored there (None below it), and a run whose
tasks show no spread at all has no noise estimate, hence no MDE (never 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from experiments.stats.distributions import nct_cdf, norm_ppf, t_ppf

DEFAULT_POWER = 0.8
_MAX_TASKS = 1e7


def smallest_p(n_tasks: int) -> float:
    """The smallest two-sided p the exact sign-flip (or McNemar) test gives on n tasks."""
    return min(1.0, 2.0 / 2.0**n_tasks) if n_tasks > 0 else 1.0


def min_tasks(alpha: float) -> int:
    """The fewest tasks on which the primary test can reach p < ``alpha`` at all."""
    return max(2, math.floor(math.log2(2 / alpha)) + 1)


def power_paired(n: float, effect_size: float, alpha: float = 0.05) -> float:
    """Power of the two-sided one-sample t test on n paired differences (n may be fractional)."""
    df = n - 1
    critical = float(t_ppf(1 - alpha / 2, df))
    noncentrality = effect_size * math.sqrt(n)
    upper = 1 - float(nct_cdf(critical, df, noncentrality))
    lower = float(nct_cdf(-critical, df, noncentrality))
    # The noncentral t CDF can come back NaN for a far tail it cannot resolve; that tail is ~0.
    return upper + (0.0 if math.isnan(lower) else lower)


def _solve_increasing(
    f: Callable[[float], float], low: float, high: float, rel_tol: float = 1e-10
) -> float:
    """Root of an increasing function with f(low) < 0 <= f(high), by bisection."""
    while high - low > rel_tol * high:
        middle = (low + high) / 2
        if f(middle) < 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def tasks_needed(
    effect: float, sd_diff: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> float | None:
    """Tasks (continuous, round up to use) so a paired t detects ``effect`` with ``power``.

    Never fewer than ``min_tasks(alpha)``. None when the effect is 0, the differences have no
    spread to plan with, or the answer exceeds ten million tasks.
    """
    if effect == 0 or sd_diff == 0:
        return None
    floor = float(min_tasks(alpha))
    size = abs(effect) / sd_diff
    if power_paired(floor, size, alpha) >= power:
        return floor
    if power_paired(_MAX_TASKS, size, alpha) < power:
        return None
    return _solve_increasing(lambda n: power_paired(n, size, alpha) - power, floor, _MAX_TASKS)


def minimum_detectable_effect(
    n_tasks: int, sd_diff: float, *, alpha: float = 0.05, power: float = DEFAULT_POWER
) -> float | None:
    """Smallest true mean difference the run detects with ``power``; None when the test cannot
    reach ``alpha`` with so few tasks or the differences have no spread to estimate noise."""
    if n_tasks < min_tasks(alpha) or sd_diff == 0:
        return None
    # Power rises monotonically with the effect size: widen the bracket until it is reached.
    high = 1.0
    while power_paired(n_tasks, high, alpha) < power:
        high *= 2
    size = _solve_increasing(lambda es: power_paired(n_tasks, es, alpha) - power, 0.0, high)
    return size * sd_diff


def epochs_needed(
    n_tasks: int,
    effect: float,
    *,
    omega2: float,
    sigma2_control: float,
    sigma2_treatment: float,
    alpha: float = 0.05,
    power: float = DEFAULT_POWER,
) -> float | None:
    """Epochs per task (continuous) that detect ``effect`` with the current ``n_tasks``.

    ``omega2`` is the between-task variance of the true paired difference, ``sigma2_*`` the mean
    within-task (epoch) variance of each arm. None when no number of epochs is enough (also
    when ``n_tasks`` is below ``min_tasks(alpha)``: epochs do not lower the p floor).
    """
    if n_tasks < min_tasks(alpha):
        return None
    z = float(norm_ppf(1 - alpha / 2) + norm_ppf(power))
    room = n_tasks * effect**2 - z**2 * omega2
    if room <= 0:
        return None
    return z**2 * (sigma2_control + sigma2_treatment) / room


# Planning before any trial: the noise of a pass/fail trial at a 50% success rate (variance
# 1/4 per arm, the largest a [0, 1] score can have) and no task-by-variant interaction, so
# Var(d_i) = 2 * (1/4) / K. An interaction adds to it; consistent tasks take from it.
PLANNING_TRIAL_VARIANCE = 0.25


@dataclass(frozen=True)
class DesignCheck:
    """What a planned design (n tasks x K epochs) can detect, before any trial is run.

    Invariant: ``detects`` is False whenever ``n_tasks < min_tasks`` (no effect is detectable
    there, whatever the noise), and ``tasks_needed`` is never below ``min_tasks``.
    """

    n_tasks: int
    epochs: int
    alpha: float  # per comparison (alpha / m)
    effect: float
    sd_diff: float  # the assumed SD of a task's paired difference
    min_tasks: int
    mde: float | None
    tasks_needed: float | None
    epochs_needed: float | None

    @property
    def detects(self) -> bool:
        return self.mde is not None and self.mde <= self.effect

    def warning(self) -> str | None:
        """One line saying what the design cannot detect and what would, or None."""
        if self.detects:
            return None
        if self.n_tasks < self.min_tasks:
            head = (
                f"{self.n_tasks} tasks cannot detect any effect (the primary test's smallest p "
                f"is {smallest_p(self.n_tasks):.3g}, not below {self.alpha:.3g})"
            )
        else:
            assert self.mde is not None  # sd_diff > 0 and n_tasks >= min_tasks
            head = (
                f"{self.n_tasks} tasks x {self.epochs} epochs can only detect differences of "
                f"{self.mde:.2g} with {DEFAULT_POWER:.0%} power, not {self.effect:g}"
            )
        remedy = []
        if self.tasks_needed is not None:
            remedy.append(f"about {math.ceil(self.tasks_needed)} tasks")
        if self.epochs_needed is not None:
            remedy.append(f"{math.ceil(self.epochs_needed)} epochs per task")
        wanted = " or ".join(remedy) or "a larger suite"
        return (
            f"{head}; {wanted} would detect the effect of interest {self.effect:g} (assuming "
            "pass/fail trials near 50% success and no task-by-variant interaction)"
        )


def check_design(
    n_tasks: int, epochs: int, *, effect: float, alpha: float, power: float = DEFAULT_POWER
) -> DesignCheck:
    """Check a design against ``effect`` at ``alpha`` per comparison (pass alpha/m)."""
    sigma2 = PLANNING_TRIAL_VARIANCE
    sd_diff = math.sqrt(2 * sigma2 / epochs)
    return DesignCheck(
        n_tasks=n_tasks,
        epochs=epochs,
        alpha=alpha,
        effect=effect,
        sd_diff=sd_diff,
        min_tasks=min_tasks(alpha),
        mde=minimum_detectable_effect(n_tasks, sd_diff, alpha=alpha, power=power),
        tasks_needed=tasks_needed(effect, sd_diff, alpha=alpha, power=power),
        epochs_needed=epochs_needed(
            n_tasks,
            effect,
            omega2=0.0,
            sigma2_control=sigma2,
            sigma2_treatment=sigma2,
            alpha=alpha,
            power=power,
        ),
    )
