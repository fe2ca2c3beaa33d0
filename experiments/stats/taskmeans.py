"""Task-level aggregation: the task, not the trial, is the unit of analysis.

A variant's raw data for one metric is an array whose last axis is the epochs of one task
(``tasks x epochs``, optionally with leading replicate axes), holding ``np.nan`` for a missing,
failed or ungraded trial. Epochs of a task are correlated (same prompt, same difficulty), so they
are averaged first and every test runs on the per-task means (Miller 2024, "Adding Error Bars to
Evals", recommendation 3). Treating the n*K trials as independent inflates the false-positive rate
to 7-12% (see shared/notes/statistics.md, section 5).
"""

from __future__ import annotations

import numpy as np


def task_means(trials: np.ndarray) -> np.ndarray:
    """Mean over the last axis (epochs), ignoring NaN; NaN where a task has no value at all."""
    values = np.asarray(trials, dtype=float)
    present = ~np.isnan(values)
    counts = present.sum(axis=-1)
    sums = np.where(present, values, 0.0).sum(axis=-1)
    out = np.full(counts.shape, np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def complete_pairs(control: np.ndarray, treatment: np.ndarray) -> np.ndarray:
    """Mask of tasks that have a value in both arms (the only tasks a paired test may use)."""
    return ~np.isnan(control) & ~np.isnan(treatment)


def within_task_variance(trials: np.ndarray) -> float | None:
    """Mean within-task sample variance E[sigma_i^2] (ddof=1) over tasks with >= 2 epochs.

    This is the response-noise part of Miller's decomposition Var(s) = Var(x) + E[sigma_i^2];
    it tells how much more epochs would help. None when no task has two epochs.
    """
    values = np.asarray(trials, dtype=float)
    present = ~np.isnan(values)
    counts = present.sum(axis=-1)
    usable = counts >= 2
    if not usable.any():
        return None
    means = task_means(values[usable])
    squares = np.where(present[usable], values[usable] - means[:, None], 0.0) ** 2
    return float(np.mean(squares.sum(axis=-1) / (counts[usable] - 1)))
