"""Simulations of the sequential rule through the project's analysis API (``analyse``).

Each replicate draws a paired suite (every task run by the control and the variant), then:
- the fixed design analyses the whole suite once at the decision rule's alpha;
- the sequential design looks after every ``batch`` tasks, analysing the tasks so far with the
  look's nominal alpha (``experiments.sequential_rule``), and stops when the verdict is decided.
Cost is counted in tasks run (every task costs the same here), as a share of the suite.

Run: python bench/sequential_simulations.py [--replicates 2000] [--seed 20261201]
Prints the A/A winner rates (fixed and sequential) and, for an effect of twice the design's MDE,
the power and the average cost of both designs. The tests call the same functions.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.analysis import TrialRecord, VariantInfo, analyse
from experiments.decision import DecisionRule
from experiments.report import ExperimentInfo, VerdictStatus
from experiments.sequential_rule import DECIDED, look_alpha, look_boundaries
from experiments.stats.power import minimum_detectable_effect

N_TASKS = 40
BATCH = 8
EPOCHS = 1
# The suite's noise: a task's quality differs between arms by N(0, INTERACTION_SD) around the
# arm's shift, and each trial by N(0, TRIAL_SD) around that (clipped to [0, 1]).
INTERACTION_SD = 0.03
TRIAL_SD = 0.08
SD_DIFF = math.sqrt(2 * (INTERACTION_SD**2 + TRIAL_SD**2 / EPOCHS))
VARIANTS = [VariantInfo("control", "agent@1"), VariantInfo("variant", "agent@2")]
RULE = DecisionRule()
# The quality test alone: what the sequential rule controls. The default guardrails can only
# withhold a winner (so they lower the A/A rate).
QUALITY_ONLY = DecisionRule(guardrails=())
RULES = {"default rule": RULE, "quality only": QUALITY_ONLY}


@dataclass(frozen=True)
class Replicate:
    """One simulated experiment under both designs."""

    fixed: VerdictStatus
    sequential: VerdictStatus
    tasks_run: int  # by the sequential design
    looks: int
    # Who was named winner under each design: "variant", "control" or None. The verdict can
    # name either side, each at a one-sided alpha/2, so each side is counted on its own.
    fixed_winner: str | None = None
    sequential_winner: str | None = None


@dataclass(frozen=True)
class Figures:
    """Rates over the replicates, each with its Monte Carlo standard error."""

    replicates: int
    seed: int
    effect: float
    rule: str  # a key of RULES
    fixed_winner_rate: float  # the variant named winner (the direction of a real gain)
    sequential_winner_rate: float
    fixed_control_rate: float  # the control named winner (the other one-sided test)
    sequential_control_rate: float
    mc_se: float  # of a rate near the larger of the two, sqrt(p(1-p)/n)
    sequential_cost_share: float  # mean tasks run / tasks in the suite (fixed: 1)
    mean_looks: float


def design_mde(n_tasks: int = N_TASKS) -> float:
    """The fixed design's minimum detectable effect at the rule's alpha and 80% power."""
    mde = minimum_detectable_effect(n_tasks, SD_DIFF, alpha=RULE.alpha)
    assert mde is not None
    return mde


def _trials(rng: np.random.Generator, effect: float, n_tasks: int) -> list[TrialRecord]:
    base = rng.uniform(0.3, 0.8, n_tasks)
    cost = np.exp(rng.normal(np.log(0.01), 0.4, n_tasks))
    latency = np.exp(rng.normal(np.log(4.0), 0.3, n_tasks))
    records = []
    for label, shift in (("control", 0.0), ("variant", effect)):
        truth = base + shift + rng.normal(0, INTERACTION_SD, n_tasks)
        quality = np.clip(truth[:, None] + rng.normal(0, TRIAL_SD, (n_tasks, EPOCHS)), 0, 1)
        costs = cost[:, None] * np.exp(rng.normal(0, 0.1, (n_tasks, EPOCHS)))
        latencies = latency[:, None] * np.exp(rng.normal(0, 0.2, (n_tasks, EPOCHS)))
        for task in range(n_tasks):
            for epoch in range(EPOCHS):
                records.append(
                    TrialRecord(
                        variant=label,
                        task_id=f"task-{task:03d}",
                        epoch=epoch + 1,
                        quality=float(quality[task, epoch]),
                        cost_usd=float(costs[task, epoch]),
                        latency_s=float(latencies[task, epoch]),
                        ttft_s=None,
                        error=None,
                    )
                )
    return records


def _status(
    trials: list[TrialRecord], n_tasks: int, rule: DecisionRule, alpha: float, seed: int
) -> tuple[VerdictStatus, str | None]:
    info = ExperimentInfo(1, "sim", "simulated", True, "completed", n_tasks, EPOCHS, None, "")
    kept = [t for t in trials if int(t.task_id[5:]) < n_tasks]
    report = analyse(
        experiment=info,
        variants=VARIANTS,
        control="control",
        trials=kept,
        rule=replace(rule, alpha=alpha),
        seed=seed,
    )
    return report.verdict.status, report.verdict.winner


def replicate(
    seed: int, effect: float, rule: DecisionRule, *, n_tasks: int = N_TASKS, batch: int = BATCH
) -> Replicate:
    rng = np.random.default_rng(seed)
    trials = _trials(rng, effect, n_tasks)
    looks = [*range(batch, n_tasks, batch), n_tasks]
    alphas = [look_alpha(b) for b in look_boundaries([k / n_tasks for k in looks], rule.alpha)]
    fixed, fixed_winner = _status(trials, n_tasks, rule, rule.alpha, seed)
    status: VerdictStatus = "inconclusive"
    winner: str | None = None
    for number, (tasks, alpha) in enumerate(zip(looks, alphas, strict=True), start=1):
        status, winner = _status(trials, tasks, rule, alpha, seed)
        if status in DECIDED:
            return Replicate(fixed, status, tasks, number, fixed_winner, winner)
    return Replicate(fixed, status, n_tasks, len(looks), fixed_winner, winner)


def simulate(
    replicates: int, seed: int, effect: float, rule: str = "quality only", *, n_tasks: int = N_TASKS
) -> Figures:
    """``replicates`` experiments with seeds ``seed``, ``seed + 1``, ... and a planted ``effect``,
    judged by ``RULES[rule]``."""
    runs = [replicate(seed + i, effect, RULES[rule], n_tasks=n_tasks) for i in range(replicates)]
    fixed = sum(r.fixed_winner == "variant" for r in runs) / replicates
    sequential = sum(r.sequential_winner == "variant" for r in runs) / replicates
    p = max(fixed, sequential, 0.025)
    return Figures(
        replicates=replicates,
        seed=seed,
        effect=effect,
        rule=rule,
        fixed_winner_rate=fixed,
        sequential_winner_rate=sequential,
        fixed_control_rate=sum(r.fixed_winner == "control" for r in runs) / replicates,
        sequential_control_rate=sum(r.sequential_winner == "control" for r in runs) / replicates,
        mc_se=math.sqrt(p * (1 - p) / replicates),
        sequential_cost_share=sum(r.tasks_run for r in runs) / (replicates * n_tasks),
        mean_looks=sum(r.looks for r in runs) / replicates,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--rule", choices=sorted(RULES), action="append")
    parser.add_argument("--effect", choices=("aa", "large"), action="append")
    args = parser.parse_args()
    mde = design_mde()
    print(
        f"design: {N_TASKS} tasks x {EPOCHS} epoch, looks every {BATCH} tasks, "
        f"alpha {RULE.alpha}, sd of the paired difference {SD_DIFF:.4f}, MDE {mde:.4f}"
    )
    effects = {"aa": ("A/A", 0.0), "large": ("effect 2 x MDE", 2 * mde)}
    for rule in args.rule or ["quality only", "default rule"]:
        for name, effect in (effects[key] for key in args.effect or ["aa", "large"]):
            _print(name, simulate(args.replicates, args.seed, effect, rule))


def _print(name: str, f: Figures) -> None:
    print(
        f"{name}, {f.rule} (effect {f.effect:.4f}, {f.replicates} replicates, seeds {f.seed}..."
        f"{f.seed + f.replicates - 1}): variant named winner fixed {f.fixed_winner_rate:.4f}, "
        f"sequential {f.sequential_winner_rate:.4f} (MC se {f.mc_se:.4f}); control named winner "
        f"fixed {f.fixed_control_rate:.4f}, sequential {f.sequential_control_rate:.4f}; "
        "sequential cost "
        f"{f.sequential_cost_share:.3f} of the fixed design, {f.mean_looks:.2f} looks on average"
    )


if __name__ == "__main__":
    main()
