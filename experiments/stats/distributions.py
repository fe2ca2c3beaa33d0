"""The few distribution functions the engine needs, straight from ``scipy.special``.

``scipy.stats`` costs over a second to import (and ``scipy.optimize`` most of one) on a modest
machine, which every ``registry report`` would pay; ``scipy.special`` is a fraction of that.
The golden and cross-check tests compare these with ``scipy.stats`` and published R output.
All functions accept scalars or arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def t_sf(x: ArrayLike, df: ArrayLike) -> np.ndarray:
    """Upper tail P(T > x) of Student's t."""
    from scipy import special

    return special.stdtr(df, -np.asarray(x, dtype=float))


def t_ppf(p: ArrayLike, df: ArrayLike) -> np.ndarray:
    from scipy import special

    return special.stdtrit(df, p)


def nct_cdf(x: ArrayLike, df: ArrayLike, noncentrality: ArrayLike) -> np.ndarray:
    from scipy import special

    return special.nctdtr(df, noncentrality, x)


def norm_cdf(x: ArrayLike) -> np.ndarray:
    from scipy import special

    return special.ndtr(x)


def norm_ppf(p: ArrayLike) -> np.ndarray:
    from scipy import special

    return special.ndtri(p)


def chi2_sf(x: ArrayLike, df: ArrayLike) -> np.ndarray:
    from scipy import special

    return special.chdtrc(df, x)


def binom_cdf(k: ArrayLike, n: ArrayLike, p: ArrayLike) -> np.ndarray:
    """P(X <= k) for X ~ Binomial(n, p)."""
    from scipy import special

    return special.bdtr(k, n, p)
