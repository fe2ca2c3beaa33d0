"""Intervals for a share (a proportion), the unit being the task."""

from __future__ import annotations

import math
from dataclasses import dataclass

from experiments.stats.distributions import norm_ppf


@dataclass(frozen=True)
class Share:
    """A share with its Wilson interval; ``n`` is the number of tasks it is measured on."""

    rate: float | None  # None: measured on no task
    ci: tuple[float, float] | None
    n: int


def wilson_interval(rate: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a share ``rate`` observed on ``n`` units.

    ``rate`` may be a mean of per-task shares (epochs averaged first): the variance of such a mean
    is at most rate*(1-rate)/n, so treating each task as one observation keeps the interval's
    coverage, conservatively when epochs agree less than perfectly.
    """
    if n <= 0:
        raise ValueError("a share needs at least one unit")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a share is between 0 and 1, got {rate}")
    z = float(norm_ppf(0.5 + confidence / 2))
    z2 = z * z
    centre = (rate + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def task_share(per_task: list[float], confidence: float = 0.95) -> Share:
    """The mean of per-task shares, with its Wilson interval over the tasks."""
    if not per_task:
        return Share(None, None, 0)
    rate = sum(per_task) / len(per_task)
    return Share(rate, wilson_interval(rate, len(per_task), confidence), len(per_task))
