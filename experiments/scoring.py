"""Grading one outcome as it completes: the task's graders, then the weighted quality."""

from __future__ import annotations

from experiments.graders.base import GradeResult, grade_all
from experiments.graders.combine import combine
from experiments.graders.environment import JudgeEnvironment, trial_graders
from experiments.kinds.base import Outcome
from experiments.plan import Cell, Plan
from experiments.roster import is_correct


class Scorer:
    """The per-trial graders of every task of a plan, judges bound to one environment."""

    def __init__(self, plan: Plan, judges: JudgeEnvironment) -> None:
        self.graders = {
            task.id: trial_graders(plan.graders_for(task), judges) for task in plan.tasks
        }
        self.agents = frozenset(arm.agent.name for arm in plan.arms)  # the agents under test
        self.weights = {
            task.id: {c.name: c.weight for c in plan.graders_for(task)} for task in plan.tasks
        }

    async def score(
        self, cell: Cell, outcome: Outcome
    ) -> tuple[tuple[GradeResult, ...], float | None]:
        """The grades of an outcome and its quality; a failed or empty one is not graded. A
        choice is scored against the task's ``expect``: 1 for the expected agent, else 0."""
        if outcome.error is None and outcome.choice is not None and cell.task.expect is not None:
            right = is_correct(outcome.choice, cell.task.expect, cell.arm.agent.name, self.agents)
            return (), float(right)
        if outcome.error is not None or outcome.text is None:
            return (), None
        grades = await grade_all(self.graders[cell.task.id], outcome.text, cell.task.material())
        quality = combine(grades, self.weights[cell.task.id]) if grades else None
        return grades, quality
