"""Latency quantiles (p50, p90) per variant over trials, and their differences between variants.

Estimand: the difference of quantiles (p90 of treatment trials minus p90 of control trials), not
the quantile of per-task differences; the two differ. The interval is a seeded cluster bootstrap
over tasks: a replicate redraws tasks with replacement (shared by all variants, so differences
stay paired), takes all epochs of each drawn task, and recomputes each quantile. Quantiles use
numpy's default (linear interpolation, R type 7) so replicates match ``np.quantile`` on the
expanded sample. Percentile intervals are somewhat liberal with few tasks (FPR 0.089 at n=15 in
the notes' simulation), which the report shows next to the task count.

The bootstrap is vectorised: trials are sorted once, each replicate weights a trial by its task's
draw count, and the quantile rank is found by one ``searchsorted`` over the row-offset cumulative
weights of all replicates. Only a window of sorted trials around each quantile is scanned (the
weight before it comes from one matrix product); replicates whose rank falls outside the window
are recomputed over all trials, so the result stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.stats.bootstrap import (
    TaskResample,
    lower_bound,
    percentile_interval,
    upper_bound,
)

QUANTILES = (0.5, 0.9)
_CHUNK_ROWS = 256  # replicates per pass; keeps the working set in cache
_WINDOW_SDS = 8.0  # half-width of the scanned window of sorted trials, in bootstrap sds


@dataclass(frozen=True)
class LatencyArm:
    n_trials: int
    quantiles: tuple[float, ...]
    values: tuple[float, ...] | None  # quantiles of all the arm's trials, None without trials
    replicates: np.ndarray  # (resamples x len(quantiles)); NaN where a replicate has no trial


@dataclass(frozen=True)
class QuantileDiff:
    quantile: float
    diff: float
    ci: tuple[float, float] | None
    ratio: float | None
    ratio_lower: float | None  # one-sided bounds on treatment/control
    ratio_upper: float | None


@dataclass(frozen=True)
class LatencyComparison:
    by_quantile: tuple[QuantileDiff, ...]

    def get(self, quantile: float) -> QuantileDiff:
        return next(q for q in self.by_quantile if q.quantile == quantile)


def _values_at_ranks(
    sorted_values: np.ndarray,
    window_tasks: np.ndarray,
    window_start: int,
    counts: np.ndarray,
    prefix: np.ndarray,
    ranks: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Values at 0-based ``ranks`` (rows x k) of each replicate's expanded sample.

    Only the sorted trials ``window_start : window_start + len(window_tasks)`` are scanned;
    ``prefix`` holds each replicate's weight before the window. Returns the values and a mask
    of the ranks that fall inside the window (the others must be recomputed without a window).
    """
    n_rows, width = counts.shape[0], window_tasks.size
    values = np.full(ranks.shape, np.nan)
    inside = np.zeros(ranks.shape, dtype=bool)
    if width == 0 or n_rows == 0:
        return values, inside
    gathered = np.empty((min(_CHUNK_ROWS, n_rows), width), dtype=counts.dtype)
    cumulative = np.empty(gathered.shape, dtype=np.int64)
    for start in range(0, n_rows, _CHUNK_ROWS):
        rows = min(_CHUNK_ROWS, n_rows - start)
        block = slice(start, start + rows)
        np.take(counts[block], window_tasks, axis=1, out=gathered[:rows])
        # cumsum along the contiguous axis into a reused buffer: page faults on fresh
        # allocations otherwise dominate the run time.
        np.cumsum(gathered[:rows], axis=1, out=cumulative[:rows])
        local = ranks[block] - prefix[block, None]  # rank counted from the window start
        window_total = cumulative[:rows, -1]
        inside[block] = (local >= 0) & (local < window_total[:, None])
        # Rows are non-decreasing and bounded by their total; offsetting row r by r*step
        # makes the flattened block globally sorted, so one searchsorted serves all rows.
        step = int(window_total.max()) + 1
        offsets = np.arange(rows, dtype=np.int64) * step
        cumulative[:rows] += offsets[:, None]
        query = np.clip(local, 0, step - 1) + offsets[:, None]
        index = np.searchsorted(cumulative[:rows].ravel(), query, side="right")
        column = np.clip(index - np.arange(rows)[:, None] * width, 0, width - 1)
        values[block] = sorted_values[window_start + column]
    return values, inside


def _window(trial_tasks: np.ndarray, per_task: np.ndarray, quantile: float) -> tuple[int, int]:
    """Sorted positions that hold the quantile of almost every bootstrap replicate.

    Under task resampling the share of the expanded sample below the full-sample quantile
    varies with sd ~ sqrt(T var(a_t)) / N, where a_t = (task t's trials below) - q * n_t.
    The window spans ``_WINDOW_SDS`` such sds either side; misses are recomputed exactly.
    """
    n_trials = trial_tasks.size
    split = int(quantile * (n_trials - 1)) + 1
    excess = np.bincount(trial_tasks[:split], minlength=per_task.size) - quantile * per_task
    spread = np.sqrt(per_task.size * excess.var()) / n_trials
    half = _WINDOW_SDS * spread + 2 / n_trials
    low = max(0, int(np.floor((quantile - half) * n_trials)))
    high = min(n_trials, int(np.ceil((quantile + half) * n_trials)) + 1)
    return low, high


def weighted_quantiles(
    values: np.ndarray,
    task_index: np.ndarray,
    resample: TaskResample,
    quantiles: tuple[float, ...],
) -> np.ndarray:
    """Type-7 quantiles of ``values`` for each replicate of ``resample``.

    Equivalent to ``np.quantile(np.repeat(values, counts[b, task_index]), quantiles)`` for every
    replicate b, without materialising the expanded samples. Returns (replicates x quantiles).
    """
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    trial_tasks = task_index[order]
    counts = resample.counts
    n_tasks = counts.shape[1]
    out = np.full((resample.n_resamples, len(quantiles)), np.nan)
    if sorted_values.size == 0:
        return out
    per_task = np.bincount(trial_tasks, minlength=n_tasks)
    windows = [_window(trial_tasks, per_task, q) for q in quantiles]
    # One pass over the weights gives every replicate's sample size and the weight before each
    # window (exact: float64 products of small integers).
    columns = [per_task]
    columns += [np.bincount(trial_tasks[:low], minlength=n_tasks) for low, _ in windows]
    sums = np.rint(resample.weights @ np.stack(columns, axis=1)).astype(np.int64)
    totals = sums[:, 0]
    drawn = totals > 0
    for column, (quantile, (low, high)) in enumerate(zip(quantiles, windows, strict=True)):
        position = quantile * (totals - 1)
        below = np.floor(position).astype(np.int64)
        ranks = np.stack([below, np.minimum(below + 1, totals - 1)], axis=1)
        found, inside = _values_at_ranks(
            sorted_values, trial_tasks[low:high], low, counts, sums[:, column + 1], ranks
        )
        missed = drawn & ~inside.all(axis=1)
        if missed.any():
            found[missed], _ = _values_at_ranks(
                sorted_values,
                trial_tasks,
                0,
                counts[missed],
                np.zeros(int(missed.sum()), dtype=np.int64),
                ranks[missed],
            )
        result = found[:, 0] + (position - below) * (found[:, 1] - found[:, 0])
        out[:, column] = np.where(drawn, result, np.nan)
    return out


def latency_arm(
    latency: np.ndarray, resample: TaskResample, quantiles: tuple[float, ...] = QUANTILES
) -> LatencyArm:
    """Quantiles and their bootstrap replicates for one variant's ``tasks x epochs`` latencies.

    NaN cells (missing, failed or cached trials) are left out.
    """
    present = ~np.isnan(latency)
    task_index = np.nonzero(present)[0]
    values = latency[present]
    point = tuple(float(v) for v in np.quantile(values, quantiles)) if values.size else None
    return LatencyArm(
        n_trials=int(values.size),
        quantiles=quantiles,
        values=point,
        replicates=weighted_quantiles(values, task_index, resample, quantiles),
    )


def compare_latency(
    control: LatencyArm, treatment: LatencyArm, confidence: float = 0.95
) -> LatencyComparison | None:
    """Treatment minus control for each quantile; None when either arm has no latency data."""
    if control.values is None or treatment.values is None:
        return None
    diffs = []
    for column, quantile in enumerate(control.quantiles):
        base, other = control.values[column], treatment.values[column]
        boot_c, boot_t = control.replicates[:, column], treatment.replicates[:, column]
        with np.errstate(divide="ignore", invalid="ignore"):
            boot_ratio = boot_t / boot_c
        diffs.append(
            QuantileDiff(
                quantile=quantile,
                diff=other - base,
                ci=percentile_interval(boot_t - boot_c, confidence),
                ratio=other / base if base > 0 else None,
                ratio_lower=lower_bound(boot_ratio, confidence) if base > 0 else None,
                ratio_upper=upper_bound(boot_ratio, confidence) if base > 0 else None,
            )
        )
    return LatencyComparison(by_quantile=tuple(diffs))
