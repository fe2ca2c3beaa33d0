"""Paired tests on per-task differences d_i = treatment_i - control_i.

Which p-value is primary is decided by ``experiments.stats.quality``; this module only computes:
- paired t (equal to scipy ``ttest_rel``), vectorised over replicate rows so that the
  validation simulations exercise exactly this code;
- exact sign-flip permutation p (full enumeration up to 2**20 patterns, seeded Monte Carlo above);
- Wilcoxon signed-rank with R's ``wilcox.test`` defaults (scipy's defaults differ);
- exact McNemar (binomial test on the discordant pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.stats.distributions import binom_cdf, norm_cdf, t_ppf, t_sf

PERMUTATION_BELOW_TASKS = 30  # below it the sign-flip test is primary (stats.quality, .equivalence)
EXACT_SIGN_FLIP_LIMIT = 20  # 2**20 sign patterns enumerate in a few milliseconds
MONTE_CARLO_RESAMPLES = 20_000
WILCOXON_EXACT_LIMIT = 50  # R uses the exact null distribution below 50 non-zero differences


@dataclass(frozen=True)
class PairedTArrays:
    """Paired t results for each row of a (replicates x tasks) array of differences."""

    n: int
    diff: np.ndarray
    sd: np.ndarray
    se: np.ndarray
    low: np.ndarray
    high: np.ndarray
    t: np.ndarray
    p: np.ndarray


@dataclass(frozen=True)
class PairedT:
    n: int
    df: int
    diff: float
    sd: float
    se: float
    ci: tuple[float, float]
    t: float
    p: float


@dataclass(frozen=True)
class SignFlip:
    p: float
    method: str  # "exact" or "monte_carlo"
    patterns: int  # sign patterns enumerated or sampled


@dataclass(frozen=True)
class Wilcoxon:
    p: float
    method: str  # "exact" or "approx (continuity-corrected)"
    n_nonzero: int


def paired_t_arrays(diffs: np.ndarray, confidence: float = 0.95) -> PairedTArrays:
    """One-sample t on each row of ``diffs`` (no NaN allowed; at least 2 columns).

    Rows whose differences are all equal have se = 0: p is 1 when the mean difference is 0
    and 0 otherwise, and the interval collapses to the point, instead of scipy's NaN.
    """
    d = np.atleast_2d(np.asarray(diffs, dtype=float))
    n = d.shape[1]
    if n < 2:
        raise ValueError("paired t needs at least 2 tasks")
    diff = d.mean(axis=1)
    sd = d.std(axis=1, ddof=1)
    se = sd / np.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, diff / se, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    p = 2 * t_sf(np.abs(t), n - 1)
    half = t_ppf(0.5 + confidence / 2, n - 1) * se
    return PairedTArrays(n=n, diff=diff, sd=sd, se=se, low=diff - half, high=diff + half, t=t, p=p)


def paired_t(diffs: np.ndarray, confidence: float = 0.95) -> PairedT:
    r = paired_t_arrays(np.asarray(diffs, dtype=float)[None, :], confidence)
    return PairedT(
        n=r.n,
        df=r.n - 1,
        diff=float(r.diff[0]),
        sd=float(r.sd[0]),
        se=float(r.se[0]),
        ci=(float(r.low[0]), float(r.high[0])),
        t=float(r.t[0]),
        p=float(r.p[0]),
    )


def _signed_sums(d: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """Every signed sum of ``d`` (exact, up to 2**20 patterns) or a seeded Monte Carlo sample."""
    if d.size <= EXACT_SIGN_FLIP_LIMIT:
        sums = np.zeros(1)
        for value in d:  # builds all 2**n signed sums, doubling per task
            sums = np.concatenate((sums + value, sums - value))
        return sums, "exact"
    rng = np.random.default_rng(seed)
    signs = rng.integers(0, 2, size=(MONTE_CARLO_RESAMPLES, d.size), dtype=np.int8) * 2 - 1
    return signs @ d, "monte_carlo"


def _flip_p(d: np.ndarray, statistic: np.ndarray, observed: float, method: str) -> SignFlip:
    # Ties between float sums that are equal in exact arithmetic must count as "as extreme".
    tolerance = 1e-9 * max(np.abs(d).sum(), 1e-300)
    extreme = int(np.count_nonzero(statistic >= observed - tolerance))
    if method == "exact":
        return SignFlip(p=extreme / statistic.size, method=method, patterns=statistic.size)
    # (1 + count) / (1 + B) keeps the Monte Carlo p valid (never 0).
    p = (1 + extreme) / (1 + statistic.size)
    return SignFlip(p=float(p), method=method, patterns=statistic.size)


def sign_flip_p(diffs: np.ndarray, *, seed: int = 0) -> SignFlip:
    """Two-sided sign-flip permutation p for the mean difference.

    Under H0 (exchangeable arms) each d_i is equally likely to have either sign. The statistic
    is |sum d_i|, which orders sign patterns exactly as |t| does (sum d_i^2 is invariant).
    With n tasks the smallest p it can give is 2/2**n (``experiments.stats.power``).
    """
    d = np.asarray(diffs, dtype=float)
    sums, method = _signed_sums(d, seed)
    return _flip_p(d, np.abs(sums), abs(d.sum()), method)


def sign_flip_greater_p(diffs: np.ndarray, *, seed: int = 0) -> SignFlip:
    """One-sided sign-flip p of H0 "the d_i are symmetric about 0" against a positive mean:
    the share of sign patterns whose sum is at least the observed one (smallest p 1/2**n)."""
    d = np.asarray(diffs, dtype=float)
    sums, method = _signed_sums(d, seed)
    return _flip_p(d, sums, float(d.sum()), method)


def average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks 1..n with ties sharing their average rank, and the size of every tie group."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    group_end = np.cumsum(counts)
    group_rank = group_end - (counts - 1) / 2
    return group_rank[inverse], counts


def _signed_rank_tails(statistic: float, n: int) -> tuple[float, float]:
    """P(V >= statistic) and P(V <= statistic) for the signed-rank V without ties, n tasks."""
    # Counts of sign patterns per rank sum, adding one rank at a time (exact below 2**53).
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    probability = counts / 2.0**n
    v = round(statistic)
    return float(probability[v:].sum()), float(probability[: v + 1].sum())


def wilcoxon_p(diffs: np.ndarray) -> Wilcoxon | None:
    """Two-sided Wilcoxon signed-rank p, exactly as R's ``wilcox.test(paired = TRUE)`` defaults.

    R drops zero differences, uses the exact null distribution when fewer than 50 non-zero
    differences remain and there are no ties or zeros, and otherwise the normal approximation
    with tie-corrected variance and a continuity correction. (scipy's ``wilcoxon`` defaults,
    ``correction=False, method='auto'``, give 0.0039 on R's ``sleep`` data where R gives 0.009091.)
    None when every difference is zero (R refuses too).
    """
    d = np.asarray(diffs, dtype=float)
    nonzero = d[d != 0]
    n = int(nonzero.size)
    if n == 0:
        return None
    ranks, ties = average_ranks(np.abs(nonzero))
    statistic = float(ranks[nonzero > 0].sum())
    if n < WILCOXON_EXACT_LIMIT and n == d.size and (ties == 1).all():
        upper, lower = _signed_rank_tails(statistic, n)
        tail = upper if statistic > n * (n + 1) / 4 else lower
        return Wilcoxon(p=min(1.0, 2 * tail), method="exact", n_nonzero=n)
    z = statistic - n * (n + 1) / 4
    sigma = np.sqrt(n * (n + 1) * (2 * n + 1) / 24 - np.sum(ties**3 - ties) / 48)
    if sigma == 0:
        return Wilcoxon(p=1.0, method="approx (continuity-corrected)", n_nonzero=n)
    z = (z - np.sign(z) * 0.5) / sigma
    p = float(2 * min(norm_cdf(z), norm_cdf(-z)))
    return Wilcoxon(p=min(1.0, p), method="approx (continuity-corrected)", n_nonzero=n)


def mcnemar_exact(improved: int, worsened: int) -> float:
    """Exact McNemar p: two-sided binomial test of the discordant pairs against 1/2.

    Equals statsmodels ``mcnemar(table, exact=True)`` and scipy ``binomtest``: with p = 1/2 the
    distribution is symmetric, so the two-sided p is twice the smaller tail, capped at 1.
    (R's ``mcnemar.test`` is the chi-squared version; the exact test suits small counts.)
    """
    discordant = improved + worsened
    if discordant == 0:
        return 1.0
    return min(1.0, 2 * float(binom_cdf(min(improved, worsened), discordant, 0.5)))
