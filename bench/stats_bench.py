"""Time ``analyse`` on 10 variants x 1,000 tasks x 5 epochs (50,000 trial records).

Run: python bench/stats_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.analysis import TrialRecord, VariantInfo, analyse
from experiments.decision import DecisionRule
from experiments.report import ExperimentInfo

N_VARIANTS, N_TASKS, N_EPOCHS = 10, 1000, 5


def synthetic_records(seed: int = 0) -> list[TrialRecord]:
    """Paired records with task heterogeneity, small variant effects and ~1% failures."""
    rng = np.random.default_rng(seed)
    shape = (N_VARIANTS, N_TASKS, N_EPOCHS)
    difficulty = rng.uniform(0.2, 0.9, N_TASKS)[None, :, None]
    shift = np.linspace(0.0, 0.04, N_VARIANTS)[:, None, None]
    quality = np.clip(difficulty + shift + rng.normal(0, 0.15, shape), 0, 1)
    cost = np.exp(rng.normal(np.log(0.01), 0.4, N_TASKS))[None, :, None] * rng.lognormal(
        0, 0.1, shape
    )
    latency = np.exp(rng.normal(np.log(4), 0.3, N_TASKS))[None, :, None] * rng.lognormal(
        0, 0.25, shape
    )
    failed = rng.random(shape) < 0.01
    records = []
    for v, t, e in np.ndindex(shape):
        bad = bool(failed[v, t, e])
        records.append(
            TrialRecord(
                variant=f"v{v}",
                task_id=f"task-{t:04d}",
                epoch=e + 1,
                quality=None if bad else float(quality[v, t, e]),
                cost_usd=float(cost[v, t, e]),
                latency_s=None if bad else float(latency[v, t, e]),
                ttft_s=None,
                error="api_error" if bad else None,
            )
        )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    records = synthetic_records()
    built = time.perf_counter() - started
    experiment = ExperimentInfo(
        id=0,
        name="bench",
        provider="simulated",
        simulated=True,
        status="completed",
        tasks=N_TASKS,
        epochs=N_EPOCHS,
        suite=None,
        created_at="",
    )
    variants = [VariantInfo(f"v{i}", f"agent@{i + 1}") for i in range(N_VARIANTS)]
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        report = analyse(
            experiment=experiment,
            variants=variants,
            control="v0",
            trials=records,
            rule=DecisionRule(),
        )
        timings.append(time.perf_counter() - started)
    print(f"records: {len(records):,} built in {built:.2f} s")
    print(f"analyse: first {timings[0]:.3f} s (includes scipy import), best {min(timings):.3f} s")
    print(f"verdict: {report.verdict.status}: {report.verdict.text}")


if __name__ == "__main__":
    main()
