"""Seeded cluster bootstrap over tasks, shared by every metric of one analysis.

A replicate is a vector of counts: how often each task was drawn (n draws with replacement).
All epochs of a drawn task come along, and every variant sees the same draws, so bootstrap
differences between variants stay paired on tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class TaskResample:
    """Draw counts of every replicate (rows) for every task (columns); rows sum to n_tasks."""

    counts: np.ndarray  # uint8 when every count fits (the usual case), else int32
    weights: np.ndarray  # the same counts as float64, for BLAS matrix products

    @property
    def n_resamples(self) -> int:
        return self.counts.shape[0]


def task_resample(
    n_tasks: int, n_resamples: int = DEFAULT_RESAMPLES, *, seed: int = 0
) -> TaskResample:
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_tasks, size=(n_resamples, n_tasks))
    # Offsetting each row by its index lets one bincount count all rows at once.
    offsets = np.arange(n_resamples)[:, None] * n_tasks
    counts = np.bincount((draws + offsets).ravel(), minlength=n_resamples * n_tasks)
    counts = counts.reshape(n_resamples, n_tasks)
    # Small counts gathered as bytes move a quarter of the memory in the latency bootstrap.
    small = counts.size == 0 or counts.max() <= np.iinfo(np.uint8).max
    return TaskResample(
        counts=counts.astype(np.uint8 if small else np.int32), weights=counts.astype(float)
    )


def percentile_interval(
    replicates: np.ndarray, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Two-sided percentile interval, ignoring NaN replicates; None when none are finite."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def upper_bound(replicates: np.ndarray, confidence: float = 0.95) -> float | None:
    """One-sided upper percentile bound; None when no replicate is finite."""
    finite = replicates[np.isfinite(replicates)]
    return float(np.percentile(finite, confidence * 100)) if finite.size else None


def lower_bound(replicates: np.ndarray, confidence: float = 0.95) -> float | None:
    """One-sided lower percentile bound; None when no replicate is finite."""
    finite = replicates[np.isfinite(replicates)]
    return float(np.percentile(finite, (1 - confidence) * 100)) if finite.size else None
