"""Multiple comparisons: Holm's step-down adjustment and the omnibus tests.

``holm`` is exactly R's ``p.adjust(method = "holm")``. Beware statsmodels: its ``multipletests``
defaults to Holm-Sidak ("hs"), which gives 0.0297 where Holm gives 0.03 for p = 0.01 among three.
Omnibus: Friedman over task means (tie-corrected like R's ``friedman.test``) and Cochran's Q for
binary outcomes with one epoch, both implemented here so that a report does not pay the import of
scipy.stats or statsmodels; tests check them against R's published values and those libraries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from experiments.stats.distributions import chi2_sf


@dataclass(frozen=True)
class Omnibus:
    test: str  # "friedman" or "cochran_q"
    statistic: float
    df: int
    p: float
    n_tasks: int


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values in the input order: cummax((m - i + 1) p_(i)), capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return [float(x) for x in adjusted]


def friedman(task_by_variant: np.ndarray) -> Omnibus | None:
    """Friedman test over a (tasks x variants) matrix of task means without NaN.

    Ranks within each task (ties share the average rank) and R's tie-corrected statistic
    12 sum_j (R_j - n(k+1)/2)^2 / (n k (k+1) - sum(t^3 - t)/(k-1)), chi-squared with k-1 df.
    None with fewer than 3 variants or 2 tasks, or when every task ties all variants.
    """
    x = np.asarray(task_by_variant, dtype=float)
    n, k = x.shape
    if k < 3 or n < 2:
        return None
    # Pairwise comparisons within a row give average ranks and tie sizes in one step (k small).
    less = (x[:, None, :] < x[:, :, None]).sum(axis=2)
    equal = (x[:, None, :] == x[:, :, None]).sum(axis=2)
    ranks = less + (equal + 1) / 2
    # Each tie group of size t has t members with equal == t: sum (equal^2 - 1) = sum (t^3 - t).
    tie_term = np.sum(equal**2 - 1)
    denominator = n * k * (k + 1) - tie_term / (k - 1)
    if denominator == 0:
        return None
    statistic = 12 * np.sum((ranks.sum(axis=0) - n * (k + 1) / 2) ** 2) / denominator
    return Omnibus("friedman", float(statistic), k - 1, float(chi2_sf(statistic, k - 1)), n)


def cochran_q(task_by_variant: np.ndarray) -> Omnibus | None:
    """Cochran's Q over a (tasks x variants) 0/1 matrix.

    Q = (k-1)(k sum_j C_j^2 - N^2) / (k N - sum_i R_i^2) with column totals C_j, row totals R_i
    and grand total N, referred to chi-squared with k-1 df. None with fewer than 3 variants or
    when no task is discordant (Q undefined).
    """
    x = np.asarray(task_by_variant, dtype=float)
    n, k = x.shape
    if k < 3 or n < 2:
        return None
    columns, rows = x.sum(axis=0), x.sum(axis=1)
    total = rows.sum()
    denominator = k * total - np.sum(rows**2)
    if denominator == 0:
        return None
    q = (k - 1) * (k * np.sum(columns**2) - total**2) / denominator
    return Omnibus("cochran_q", float(q), k - 1, float(chi2_sf(q, k - 1)), n)
