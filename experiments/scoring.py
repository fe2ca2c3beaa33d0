"""Grading one outcome as it completes: the task's graders, then the weighted quality."""

from __future__ import annotations

from experiments.graders.base import (
    GRADED_TEXTS,
    GradeResult,
    PricedGrader,
    build_grader,
    grade_all,
)
from experiments.graders.combine import combine
from experiments.graders.environment import JudgeEnvironment, trial_graders
from experiments.kinds.base import Outcome
from experiments.plan import Cell, Plan
from experiments.roster import is_correct
from experiments.tasks import Task


def judge_estimate(plan: Plan, task: Task) -> tuple[int, float]:
    """The judge calls grading one trial of ``task`` should make and cost, before any answer (an
    answer of the spec's ``estimate_output_tokens``); comparators (pairwise) are not counted."""
    if plan.document.delegation is not None:  # a choice is scored by ``expect``, never graded
        return 0, 0.0
    answer_tokens = min(plan.settings.estimate_output_tokens, plan.settings.max_tokens)
    graders = [build_grader(config) for config in plan.graders_for(task)]
    estimates = [
        grader.estimate(task.material(), answer_tokens)
        for grader in graders
        if isinstance(grader, PricedGrader)
    ]
    return sum(calls for calls, _ in estimates), sum(cost for _, cost in estimates)


class Scorer:
    """The per-trial graders of every task of a plan, judges bound to one environment."""

    def __init__(self, plan: Plan, judges: JudgeEnvironment) -> None:
        # Per task, the graders of each text they read (GRADED_TEXTS): the answer, the diff.
        self.graders = {
            task.id: {
                on: trial_graders([c for c in plan.graders_for(task) if c.on == on], judges)
                for on in GRADED_TEXTS
            }
            for task in plan.tasks
        }
        self.agents = frozenset(arm.agent.name for arm in plan.arms)  # the agents under test
        self.weights = {
            task.id: {
                **{c.name: c.weight for c in plan.graders_for(task)},
                **{c.name: c.weight for c in (task.agentic.checks if task.agentic else ())},
            }
            for task in plan.tasks
        }

    async def score(
        self, cell: Cell, outcome: Outcome
    ) -> tuple[tuple[GradeResult, ...], float | None]:
        """The grades of an outcome and its quality; a failed or empty one is not graded. A
        choice is scored against the task's ``expect``: 1 for the expected agent, else 0. An
        agentic outcome's checks are grades too; its graders read its answer ("" without one), or
        its diff (``on: diff``)."""
        if outcome.error is None and outcome.choice is not None and cell.task.expect is not None:
            right = is_correct(outcome.choice, cell.task.expect, cell.arm.agent.name, self.agents)
            return (), float(right)
        checks: tuple[GradeResult, ...] = ()
        if outcome.error is None and cell.task.agentic is not None:
            from experiments.kinds.agentic import check_grades  # loaded: the plan is agentic

            checks = check_grades(outcome)
        if outcome.error is not None or (outcome.text is None and not checks):
            return (), None
        texts = {"answer": outcome.text or "", "diff": (outcome.details or {}).get("diff") or ""}
        material = cell.task.material()
        graded = [
            grade
            for on, graders in self.graders[cell.task.id].items()
            if graders
            for grade in await grade_all(graders, texts[on], material)
        ]
        grades = (*checks, *graded)
        quality = combine(grades, self.weights[cell.task.id]) if grades else None
        return grades, quality
