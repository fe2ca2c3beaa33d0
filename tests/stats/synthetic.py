"""Synthetic trial records with known structure, for the analysis tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.analysis import TrialRecord, VariantInfo
from experiments.report import ExperimentInfo


@dataclass(frozen=True)
class Arm:
    quality_shift: float = 0.0  # added to every task's true quality
    cost_factor: float = 1.0  # multiplies every task's cost
    latency_factor: float = 1.0  # multiplies every trial's latency
    fail_rate: float = 0.0  # share of trials that error (quality, cost and latency None)
    # Share of the trials that would have scored below 0.5 which error instead: failures that
    # go with bad answers (a timeout on the hard tasks), the case attrition checks catch.
    fail_when_bad: float = 0.0


def make_trials(
    arms: dict[str, Arm],
    *,
    n_tasks: int,
    epochs: int,
    seed: int = 0,
    binary: bool = False,
    interaction_sd: float = 0.03,
    epoch_sd: float = 0.08,
    latency_sd: float = 0.2,  # a trial's log-latency spread around its task's
) -> list[TrialRecord]:
    """Paired trials: every arm runs the same tasks, which differ in difficulty, cost and speed."""
    rng = np.random.default_rng(seed)
    base_quality = rng.uniform(0.3, 0.8, n_tasks)
    base_cost = np.exp(rng.normal(np.log(0.01), 0.4, n_tasks))
    base_latency = np.exp(rng.normal(np.log(4.0), 0.3, n_tasks))
    records = []
    for label, arm in arms.items():
        truth = base_quality + arm.quality_shift + rng.normal(0, interaction_sd, n_tasks)
        for task in range(n_tasks):
            for epoch in range(epochs):
                failed = rng.random() < arm.fail_rate
                if binary:
                    quality = float(rng.random() < np.clip(truth[task], 0, 1))
                else:
                    quality = float(np.clip(truth[task] + rng.normal(0, epoch_sd), 0, 1))
                # Drawn only when asked for, so other arms keep their random streams.
                if arm.fail_when_bad and quality < 0.5:
                    failed = failed or rng.random() < arm.fail_when_bad
                cost = base_cost[task] * arm.cost_factor * np.exp(rng.normal(0, 0.1))
                latency = (
                    base_latency[task] * arm.latency_factor * np.exp(rng.normal(0, latency_sd))
                )
                records.append(
                    TrialRecord(
                        variant=label,
                        task_id=f"task-{task:03d}",
                        epoch=epoch + 1,
                        quality=None if failed else quality,
                        cost_usd=None if failed else float(cost),
                        latency_s=None if failed else float(latency),
                        ttft_s=None if failed else float(latency / 4),
                        error="overloaded_error" if failed else None,
                    )
                )
    return records


def experiment(n_tasks: int, epochs: int, simulated: bool = True) -> ExperimentInfo:
    return ExperimentInfo(
        id=1,
        name="backend-wording",
        provider="simulated" if simulated else "anthropic",
        simulated=simulated,
        status="completed",
        tasks=n_tasks,
        epochs=epochs,
        suite="backend",
        created_at="2026-01-01T00:00:00+00:00",
    )


def variants(*labels: str) -> list[VariantInfo]:
    return [VariantInfo(label, f"backend-logic-implementer@{label}") for label in labels]
