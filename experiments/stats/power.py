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
