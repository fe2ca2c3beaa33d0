"""Paired comparison of a quality metric between a control and a treatment variant.

Inputs are ``tasks x epochs`` arrays aligned on tasks (NaN = no graded trial). Only tasks graded
in both arms are used. The primary p-value follows shared/notes/statistics.md section 3:

- binary metric with one epoch: exact McNemar on the discordant tasks;
- otherwise fewer than 30 tasks: exact (or Monte Carlo) sign-flip permutation, because the t
  distribution of task means is not trustworthy that small;
- otherwise: paired t on task means.

The interval is always the paired-t 95% CI of the mean difference, clipped to [-1, 1]; an arm's
interval is the t interval of its task means clipped to [0, 1] (``SCALE``): quality is a score in
[0, 1], and a t interval on a few tasks otherwise leaves it (clipping keeps the coverage of the
t interval, since the true value is inside the scale). Equivalence (``no_difference``) is the
TOST of ``experiments.stats.equivalence`` against the effect of interest. Wilcoxon signed-rank is
reported as a robustness figure only: it tests the pseudo-median, a different estimand, and must
never be swapped in because it happens to be significant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.stats.distributions import t_ppf
from experiments.stats.equivalence import Equivalence, equivalence_test
from experiments.stats.paired import (
    PERMUTATION_BELOW_TASKS,
    PairedT,
    SignFlip,
    Wilcoxon,
    mcnemar_exact,
    paired_t,
    sign_flip_p,
    wilcoxon_p,
)
from experiments.stats.power import (
    DEFAULT_POWER,
    epochs_needed,
    minimum_detectable_effect,
    tasks_needed,
)
from experiments.stats.taskmeans import complete_pairs, task_means, within_task_variance

SCALE = (0.0, 1.0)  # the range of a quality score
CI_METHOD = "t interval of task means, clipped to the [0, 1] scale"


@dataclass(frozen=True)
class ArmSummary:
    """Mean of task means, its SE (clustered by task) and a t interval."""

    n_tasks: int
    mean: float | None
    se: float | None
    ci: tuple[float, float] | None


@dataclass(frozen=True)
class Planning:
    """What this run could detect, and what it would take to detect ``effect``."""

    alpha: float
    power: float
    mde: float | None
    effect: float | None
    tasks_needed: float | None
    epochs_needed: float | None
    omega2: float | None  # between-task variance of the true paired difference
    sigma2_control: float | None  # mean within-task (epoch) variance
    sigma2_treatment: float | None


@dataclass(frozen=True)
class QualityComparison:
    n_tasks: int
    epochs: int
    control: ArmSummary
    treatment: ArmSummary
    diff: float | None
    ci: tuple[float, float] | None  # paired-t 95% interval of diff, clipped to [-1, 1]
    test: str | None  # "mcnemar_exact", "sign_flip_permutation" or "paired_t"
    p: float | None  # the primary test's p-value
    t: PairedT | None
    sign_flip: SignFlip | None
    wilcoxon: Wilcoxon | None
    mcnemar_p: float | None
    discordant: tuple[int, int] | None  # (tasks improved, tasks worsened), binary K=1 only
    correlation: float | None
    planning: Planning
    equivalence: Equivalence | None  # TOST against +/- the effect of interest


def _clip(low: float, high: float, bounds: tuple[float, float]) -> tuple[float, float]:
    return max(low, bounds[0]), min(high, bounds[1])


def summarise_arm(
    values: np.ndarray, confidence: float = 0.95, scale: tuple[float, float] = SCALE
) -> ArmSummary:
    """Summarise per-task values (NaN ignored): the SE is that of task means, i.e. clustered;
    the interval never leaves ``scale``."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return ArmSummary(n_tasks=0, mean=None, se=None, ci=None)
    mean = float(v.mean())
    if v.size < 2:
        return ArmSummary(n_tasks=1, mean=mean, se=None, ci=None)
    se = float(v.std(ddof=1) / np.sqrt(v.size))
    half = float(t_ppf(0.5 + confidence / 2, v.size - 1)) * se
    return ArmSummary(
        n_tasks=int(v.size), mean=mean, se=se, ci=_clip(mean - half, mean + half, scale)
    )


def _correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _planning(
    control: np.ndarray,
    treatment: np.ndarray,
    sd_diff: float | None,
    *,
    alpha: float,
    power: float,
    effect: float | None,
) -> Planning:
    n_tasks, epochs = control.shape
    sigma2_c = within_task_variance(control)
    sigma2_t = within_task_variance(treatment)
    needed_tasks = None
    if effect and sd_diff is not None:
        needed_tasks = tasks_needed(effect, sd_diff, alpha=alpha, power=power)
    omega2 = needed_epochs = None
    if sd_diff is not None and sigma2_c is not None and sigma2_t is not None:
        # Var(d_i) = omega^2 + (sigma_A^2 + sigma_B^2)/K; what is left after epoch noise.
        omega2 = max(0.0, sd_diff**2 - (sigma2_c + sigma2_t) / epochs)
        if effect:
            needed_epochs = epochs_needed(
                n_tasks,
                effect,
                omega2=omega2,
                sigma2_control=sigma2_c,
                sigma2_treatment=sigma2_t,
                alpha=alpha,
                power=power,
            )
    mde = (
        minimum_detectable_effect(n_tasks, sd_diff, alpha=alpha, power=power)
        if sd_diff is not None
        else None
    )
    return Planning(
        alpha=alpha,
        power=power,
        mde=mde,
        effect=effect,
        tasks_needed=needed_tasks,
        epochs_needed=needed_epochs,
        omega2=omega2,
        sigma2_control=sigma2_c,
        sigma2_treatment=sigma2_t,
    )


def compare_quality(
    control: np.ndarray,
    treatment: np.ndarray,
    *,
    binary: bool,
    alpha: float = 0.05,
    plan_alpha: float = 0.05,
    power: float = DEFAULT_POWER,
    effect_of_interest: float | None = None,
    seed: int = 0,
) -> QualityComparison:
    """Compare two ``tasks x epochs`` quality arrays aligned on tasks.

    ``alpha`` is the level of the equivalence test (each variant on its own: an
    intersection-union test needs no correction); ``plan_alpha`` is the level used for the MDE
    and the tasks/epochs needed (pass alpha/m when m comparisons share a Holm correction, so
    that the plan survives the correction).
    """
    control = np.asarray(control, dtype=float)
    treatment = np.asarray(treatment, dtype=float)
    epochs = control.shape[1]
    means_c, means_t = task_means(control), task_means(treatment)
    pairs = complete_pairs(means_c, means_t)
    c, t = means_c[pairs], means_t[pairs]
    d = t - c
    n = int(d.size)

    ttest = paired_t(d) if n >= 2 else None
    flip = sign_flip_p(d, seed=seed) if 0 < n < PERMUTATION_BELOW_TASKS else None
    mcnemar_p = discordant = None
    if binary and epochs == 1:
        discordant = (int(np.count_nonzero(d > 0)), int(np.count_nonzero(d < 0)))
        mcnemar_p = mcnemar_exact(*discordant)

    test, p = None, None
    if n >= 2:
        if mcnemar_p is not None:
            test, p = "mcnemar_exact", mcnemar_p
        elif flip is not None:
            test, p = "sign_flip_permutation", flip.p
        elif ttest is not None:  # always, with two tasks or more
            test, p = "paired_t", ttest.p

    return QualityComparison(
        n_tasks=n,
        epochs=epochs,
        control=summarise_arm(c),
        treatment=summarise_arm(t),
        diff=float(d.mean()) if n else None,
        ci=_clip(*ttest.ci, (SCALE[0] - SCALE[1], SCALE[1] - SCALE[0])) if ttest else None,
        test=test,
        p=p,
        t=ttest,
        sign_flip=flip,
        wilcoxon=wilcoxon_p(d) if n else None,
        mcnemar_p=mcnemar_p,
        discordant=discordant,
        correlation=_correlation(c, t),
        planning=_planning(
            control[pairs],
            treatment[pairs],
            ttest.sd if ttest else None,
            alpha=plan_alpha,
            power=power,
            effect=effect_of_interest,
        ),
        equivalence=(
            equivalence_test(d, effect_of_interest, alpha=alpha, seed=seed)
            if effect_of_interest
            else None
        ),
    )
