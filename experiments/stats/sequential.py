"""Group-sequential boundaries: Lan-DeMets alpha spending with the O'Brien-Fleming-type function.

A sequential experiment looks at its evidence after each batch of tasks. Testing every look at
the fixed design's alpha would inflate the false-positive rate (about 19% with ten looks, see the
shared statistics notes); spending the alpha over the looks keeps it at the design's level.

- The spending function is Lan and DeMets' O'Brien-Fleming type,
  ``alpha(t) = 2 * (1 - Phi(z_{1 - alpha/2} / sqrt(t)))``, over the information fraction ``t``
  (tasks analysed / tasks in the suite). It spends almost nothing early and nearly the whole
  alpha at ``t = 1``, so a run that goes to the end loses very little power to the looks.
- Looks may fall anywhere (a last batch that is short, a resumed run, a budget stop): the
  boundary of look ``k`` depends only on the fractions of looks ``1..k``, never on how many looks
  will follow.
- The boundaries are one-sided (a winner must be better than the control), on the z scale of the
  canonical joint distribution: ``Z_k`` standard normal, ``corr(Z_i, Z_j) = sqrt(t_i / t_j)``.
  They are computed by numerical integration of that distribution (the recursion of Armitage,
  McPherson and Rowe, 1969, with Simpson's rule on a grid of the score ``S_k = Z_k sqrt(t_k)``):
  exact for the model up to the grid (tripling it moves a boundary by < 1e-9), not a closed-form
  approximation; the tests check gsDesign's published boundaries and scipy's multivariate normal.
  With no futility boundary the crossing probabilities are those of the upper boundary alone
  (non-binding futility).

Invariants: the spent alpha never decreases and never exceeds ``alpha``; the nominal one-sided
level of a look is ``1 - Phi(boundary)``; the probability under the null of crossing at look
``k`` (and not before) equals the alpha spent at ``k``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SPENDING_FUNCTION = "Lan-DeMets O'Brien-Fleming-type alpha spending"
# Grid of the score S = Z sqrt(t): points per unit of S, and how far below zero it reaches (in
# standard deviations of S at the look). Three times finer moves the boundaries by < 1e-9.
_POINTS_PER_UNIT = 100
_LOWER_SD = 8.0
# A boundary beyond this z spends nothing that floating point can see.
_MAX_Z = 12.0


@dataclass(frozen=True)
class Boundary:
    """One look's share of the alpha, and the level its test must reach to stop."""

    look: int  # 1, 2, ...
    information: float  # the information fraction t, in (0, 1]
    spent_alpha: float  # cumulative one-sided alpha spent by this look, alpha(t)
    alpha_increment: float  # spent at this look alone
    z: float  # the one-sided boundary on the z scale
    nominal_alpha: float  # one-sided p-value a test must go below at this look: 1 - Phi(z)


def obrien_fleming_spending(information: float, alpha: float) -> float:
    """The alpha spent by information fraction ``information`` (0 at t = 0, ``alpha`` at 1)."""
    from scipy import stats  # a second to import: only a sequential run or report needs it

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if information <= 0:
        return 0.0
    t = min(information, 1.0)
    return float(2.0 * stats.norm.sf(stats.norm.isf(alpha / 2.0) / math.sqrt(t)))


def boundaries(fractions: Sequence[float], alpha: float) -> tuple[Boundary, ...]:
    """The one-sided boundaries of looks at ``fractions`` (increasing, in (0, 1]) spending a
    total one-sided ``alpha``."""
    from scipy import stats

    if any(not 0 < t <= 1 for t in fractions):
        raise ValueError(f"information fractions must lie in (0, 1], got {list(fractions)}")
    if any(b <= a for a, b in itertools.pairwise(fractions)):
        raise ValueError(f"information fractions must increase, got {list(fractions)}")
    result: list[Boundary] = []
    grid = weights = density = None  # the continuation density of S at the previous look
    previous_t = 0.0
    previous_spent = 0.0
    for look, t in enumerate(fractions, start=1):
        spent = obrien_fleming_spending(t, alpha)
        increment = max(spent - previous_spent, 0.0)
        if grid is None or density is None or weights is None:
            z = _first_boundary(increment)
        else:
            z = _next_boundary(grid, weights, density, t - previous_t, t, increment)
        result.append(Boundary(look, t, spent, increment, z, float(stats.norm.sf(z))))
        grid, weights, density = _continue(grid, weights, density, previous_t, t, z)
        previous_t, previous_spent = t, spent
    return tuple(result)


def _first_boundary(increment: float) -> float:
    from scipy import stats

    return _MAX_Z if increment <= 0 else min(float(stats.norm.isf(increment)), _MAX_Z)


def _next_boundary(
    grid: np.ndarray,
    weights: np.ndarray,
    density: np.ndarray,
    step: float,
    t: float,
    increment: float,
) -> float:
    """The z at which crossing now (having not crossed before) has probability ``increment``."""
    from scipy import optimize, special

    sd = math.sqrt(step)
    mass = weights * density

    def crossing(z: float) -> float:
        return float(np.sum(mass * special.ndtr((grid - z * math.sqrt(t)) / sd))) - increment

    if increment <= 0 or crossing(_MAX_Z) >= 0:
        return _MAX_Z
    return float(optimize.brentq(crossing, -_MAX_Z, _MAX_Z, xtol=1e-10))


def _continue(
    grid: np.ndarray | None,
    weights: np.ndarray | None,
    density: np.ndarray | None,
    previous_t: float,
    t: float,
    z: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The density of S at this look on the runs that have not crossed (S < z sqrt(t)), on a
    grid with Simpson weights."""
    from scipy import stats

    upper = z * math.sqrt(t)
    lower = -_LOWER_SD * math.sqrt(t)
    points = max(int((upper - lower) * _POINTS_PER_UNIT) | 1, 101)  # odd, for Simpson
    new_grid = np.linspace(lower, upper, points)
    h = (upper - lower) / (points - 1)
    new_weights = np.full(points, 2.0)
    new_weights[1::2] = 4.0
    new_weights[0] = new_weights[-1] = 1.0
    new_weights *= h / 3.0
    if grid is None or weights is None or density is None:
        new_density = stats.norm.pdf(new_grid, scale=math.sqrt(t))
    else:
        sd = math.sqrt(t - previous_t)
        kernel = np.exp(-0.5 * ((new_grid[:, None] - grid[None, :]) / sd) ** 2)
        kernel /= sd * math.sqrt(2 * math.pi)
        new_density = kernel @ (weights * density)
    return new_grid, new_weights, new_density
