"""Grades: rows added per grading run, never changed. A re-grading is one transaction, so an
experiment's qualities never mix two runs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from experiments.graders.base import GradeResult
from registry.database import Database, utcnow

if TYPE_CHECKING:
    from experiments.graders.pairwise import TrialAnswer


def grade_values(trial_id: int, result: GradeResult, grading_run: int = 1) -> dict[str, Any]:
    """The column values of the ``Grade`` row that stores ``result`` for a trial."""
    return {
        "trial_id": trial_id,
        "grading_run": grading_run,
        "grader": result.grader,
        "score": result.score,
        "passed": result.passed,
        "reason": result.reason,
        "error": result.error,
        "cost_usd": result.cost_usd,
        "details": result.details,
        "created_at": utcnow(),
    }


def answered_trials(
    db: Database, experiment_id: int, task_ids: Collection[str]
) -> list[TrialAnswer]:
    """Every trial with an answer (no error) on one of these tasks, oldest first."""
    from sqlalchemy import select
    from sqlmodel import col

    from experiments.graders.pairwise import TrialAnswer
    from experiments.store.tables import Trial

    with db.session() as session:
        # Core select: five columns are more than sqlmodel's typed select() takes.
        rows = session.execute(
            select(
                col(Trial.id),
                col(Trial.variant),
                col(Trial.task_id),
                col(Trial.epoch),
                col(Trial.response_text),
            )
            .where(col(Trial.experiment_id) == experiment_id, col(Trial.error).is_(None))
            .where(col(Trial.response_text).is_not(None))
            .order_by(col(Trial.id))
        ).all()
    return [
        TrialAnswer(trial_id, variant, task_id, epoch, text)
        for trial_id, variant, task_id, epoch, text in rows
        if task_id in task_ids and trial_id is not None and text is not None
    ]


@dataclass(frozen=True)
class GradedTrial:
    trial_id: int
    quality: float | None
    grades: tuple[GradeResult, ...]


def add_grading_run(
    db: Database,
    experiment_id: int,
    graded: Sequence[GradedTrial],
    pair_grades: Sequence[tuple[int, GradeResult]],
) -> int:
    """Store a new grading run (numbered one above the newest) and set each trial's quality to
    its new grades' combination; returns the run's number."""
    from sqlalchemy import insert, update
    from sqlmodel import col, func, select

    from experiments.store.tables import Grade, Trial

    with db.session(write=True) as session:
        newest = session.exec(
            select(func.max(Grade.grading_run))
            .join(Trial, col(Grade.trial_id) == col(Trial.id))
            .where(Trial.experiment_id == experiment_id)
        ).one()
        run = (newest or 0) + 1
        for trial in graded:
            session.execute(
                update(Trial).where(col(Trial.id) == trial.trial_id).values(quality=trial.quality)
            )
        rows = [grade_values(t.trial_id, g, run) for t in graded for g in t.grades]
        rows += [grade_values(trial_id, g, run) for trial_id, g in pair_grades]
        if rows:
            session.execute(insert(Grade), rows)
        session.commit()
    return run


def graded_pairs(
    db: Database, experiment_id: int, graders: Collection[str], grading_run: int
) -> set[tuple[int, str]]:
    """(variant trial id, grader) of the pairwise grades ``graders`` stored in ``grading_run``."""
    if not graders:
        return set()
    marks = ", ".join("?" * len(graders))
    with db.connect() as conn:
        rows = conn.all(
            "SELECT grade.trial_id, grade.grader FROM grade"
            " JOIN trial ON grade.trial_id = trial.id WHERE trial.experiment_id = ?"
            f" AND grade.grading_run = ? AND grade.grader IN ({marks})",
            (experiment_id, grading_run, *graders),
        )
    return {(int(trial_id), str(grader)) for trial_id, grader in rows}


def add_pair_grades(
    db: Database, pair_grades: Sequence[tuple[int, GradeResult]], grading_run: int
) -> None:
    """Pairwise grades of a run's own grading run (they never change a trial's quality)."""
    from sqlalchemy import insert

    from experiments.store.tables import Grade

    if not pair_grades:
        return
    with db.session(write=True) as session:
        session.execute(
            insert(Grade), [grade_values(trial_id, g, grading_run) for trial_id, g in pair_grades]
        )
        session.commit()
