"""A sequential run's looks, as the runner takes them (the rule itself: ``sequential_rule``).

After each batch of task rows is stored, ``Monitor.look`` analyses every trial stored so far
with the decision rule's alpha replaced by the look's nominal alpha, stores the look, and says
whether the run stops. Invariants: a look is taken only when it has tasks the previous look did
not (so the information fraction increases); looks are stored before the run goes on, so a
kill loses at most the look in progress, and a resumed run continues their numbering.
"""

from __future__ import annotations

from dataclasses import replace

from experiments.plan import Plan
from experiments.report import Look
from experiments.reporting import analyse_stored
from experiments.sequential_rule import DECIDED, look_alpha, next_boundary, stop_note
from experiments.store.looks import add_look, experiment_looks
from experiments.store.reads import tasks_with_trials
from registry.database import Database


class Monitor:
    """The looks of one stored experiment's sequential run."""

    def __init__(self, db: Database, plan: Plan) -> None:
        assert plan.experiment_id is not None, "store the plan first"
        self.db = db
        self.plan = plan
        self.experiment_id = plan.experiment_id
        self.looks = list(experiment_looks(db, plan.experiment_id))

    @property
    def decided(self) -> str | None:
        """The stop note when an earlier look already decided (a resumed run runs no more)."""
        return next((stop_note(look) for look in self.looks if look.stopped), None)

    def look(self, cost_usd: float) -> Look | None:
        """Take and store a look at the trials stored so far (None when no new task has any);
        ``cost_usd`` is what the run has billed."""
        rule = self.plan.document.decision
        total = len(self.plan.tasks)
        seen = self.looks[-1].tasks if self.looks else 0
        # A task counts once any of its trials is stored: the runner admits whole task rows.
        tasks = tasks_with_trials(self.db, self.experiment_id)
        if tasks <= seen:
            return None
        boundary = next_boundary(self.looks, tasks, total, rule.alpha)
        alpha = look_alpha(boundary)
        at_look = replace(rule, alpha=alpha)
        verdict = analyse_stored(self.db, self.experiment_id, at_look, expected_tasks=tasks).verdict
        look = Look(
            look=len(self.looks) + 1,
            tasks=tasks,
            total_tasks=total,
            information=tasks / total,
            spent_alpha=boundary.spent_alpha,
            nominal_alpha=alpha,
            status=verdict.status,
            reason=verdict.text,
            stopped=verdict.status in DECIDED,
            cost_usd=cost_usd,
        )
        add_look(self.db, self.experiment_id, look)
        self.looks.append(look)
        return look
