"""The looks of sequential runs: written once each, as the runner takes them, never rewritten.

A look is identified by (experiment, look number); the unique constraint makes a second writer
of the same look an error rather than a silent duplicate.
"""

from __future__ import annotations

from typing import cast

from experiments.report import Look, VerdictStatus
from experiments.store.tables import ExperimentLook
from registry.database import Database


def add_look(db: Database, experiment_id: int, look: Look) -> None:
    with db.session(write=True) as session:
        session.add(
            ExperimentLook(
                experiment_id=experiment_id,
                look=look.look,
                tasks=look.tasks,
                total_tasks=look.total_tasks,
                spent_alpha=look.spent_alpha,
                nominal_alpha=look.nominal_alpha,
                status=look.status,
                reason=look.reason,
                stopped=look.stopped,
                cost_usd=look.cost_usd,
            )
        )
        session.commit()


def experiment_looks(db: Database, experiment_id: int) -> tuple[Look, ...]:
    """The experiment's looks in the order they were taken (none for a fixed design)."""
    from sqlmodel import col, select

    with db.session() as session:
        rows = session.exec(
            select(ExperimentLook)
            .where(ExperimentLook.experiment_id == experiment_id)
            .order_by(col(ExperimentLook.look))
        ).all()
        return tuple(
            Look(
                look=row.look,
                tasks=row.tasks,
                total_tasks=row.total_tasks,
                information=row.tasks / row.total_tasks,
                spent_alpha=row.spent_alpha,
                nominal_alpha=row.nominal_alpha,
                status=cast(VerdictStatus, row.status),
                reason=row.reason,
                stopped=row.stopped,
                cost_usd=row.cost_usd,
            )
            for row in rows
        )
