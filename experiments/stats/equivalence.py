"""Equivalence of two paired arms: two one-sided tests (TOST) against +/- a margin.

H0: |mean difference| >= margin, against H1: it lies inside (-margin, +margin). Each side is a
one-sided test at ``alpha``; equivalence holds when both reject, which is the same as the
(1 - 2 alpha) paired-t interval lying inside the margins. Below 30 tasks the two sides are the
exact one-sided sign-flip tests of d_i + margin and margin - d_i (the primary test's family),
and the t interval must lie inside as well, so that a handful of tied tasks (no spread, a
degenerate interval) never reads as equivalence: with n tasks a side cannot go below 1/2^n.
Equivalence is an intersection-union test: several variants each equivalent at ``alpha`` need
no multiplicity correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.stats.distributions import t_sf
from experiments.stats.paired import PERMUTATION_BELOW_TASKS, paired_t, sign_flip_greater_p


@dataclass(frozen=True)
class Equivalence:
    margin: float
    confidence: float  # 1 - 2 alpha
    ci: tuple[float, float]  # the (1 - 2 alpha) paired-t interval of the mean difference
    p: float  # the larger of the two one-sided p-values
    method: str  # "tost_sign_flip" or "tost_paired_t"
    equivalent: bool  # p < alpha and the interval inside (-margin, +margin)


def equivalence_test(
    diffs: np.ndarray, margin: float, *, alpha: float = 0.05, seed: int = 0
) -> Equivalence | None:
    """TOST of the paired differences against +/- ``margin``; None below two tasks."""
    d = np.asarray(diffs, dtype=float)
    if d.size < 2:
        return None
    interval = paired_t(d, confidence=1 - 2 * alpha)
    low, high = interval.ci
    if d.size < PERMUTATION_BELOW_TASKS:
        method = "tost_sign_flip"
        p = max(
            sign_flip_greater_p(d + margin, seed=seed).p,
            sign_flip_greater_p(margin - d, seed=seed).p,
        )
    else:
        method = "tost_paired_t"
        if interval.se > 0:
            df = d.size - 1
            p_lower = float(t_sf((interval.diff + margin) / interval.se, df))
            p_upper = float(t_sf((margin - interval.diff) / interval.se, df))
            p = max(p_lower, p_upper)
        else:
            p = 0.0 if abs(interval.diff) < margin else 1.0
    inside = -margin < low and high < margin
    return Equivalence(
        margin=margin,
        confidence=1 - 2 * alpha,
        ci=(low, high),
        p=p,
        method=method,
        equivalent=inside and p < alpha,
    )
