"""Read-side queries over stored experiments, shared by the CLI, the report and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from experiments.analysis import TrialRecord
from experiments.delegation_analysis import ChoiceRecord
from experiments.run_state import liveness
from experiments.store.tables import Experiment, ExperimentTask, ExperimentVariant, Grade, Trial
from registry.database import Database

if TYPE_CHECKING:
    from sqlmodel import Session


def experiment_summaries(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every experiment, newest first: status, trials done of planned, errors, cost. A run whose
    process is gone shows as ``interrupted`` (``run_state.liveness``, as of ``now``)."""
    from sqlmodel import case, col, func, select

    with db.session() as session:
        experiments = session.exec(select(Experiment).order_by(col(Experiment.id).desc())).all()
        counts = {
            row[0]: row[1:]
            for row in session.exec(
                select(
                    col(Trial.experiment_id),
                    func.count(),
                    func.sum(case((col(Trial.error).is_not(None), 1), else_=0)),
                    # billed: a cache hit's cost_usd is what the answer costs, not what was paid
                    func.sum(case((col(Trial.cached).is_(False), col(Trial.cost_usd)), else_=0.0)),
                ).group_by(col(Trial.experiment_id))
            ).all()
        }
        grade_costs = dict(
            session.exec(
                select(col(Trial.experiment_id), func.sum(Grade.cost_usd))
                .join(Grade, col(Grade.trial_id) == col(Trial.id))
                .group_by(col(Trial.experiment_id))
            ).all()
        )
        arms, tasks = _planned(session)
    rows = []
    now = now or datetime.now(UTC)
    for e in experiments:
        assert e.id is not None  # a stored row
        trials, errors, cost = counts.get(e.id, (0, 0, 0.0))
        rows.append(
            {
                "id": e.id,
                "name": e.name,
                # A run left `running` by a process that is gone is said to be interrupted.
                "status": liveness(e.status, e.owner, e.heartbeat_at, e.created_at, now),
                "provider": e.provider,
                "simulated": e.simulated,
                "variants": arms.get(e.id, 0),
                "tasks": tasks.get(e.id, 0),
                "epochs": e.epochs,
                "trials": trials,
                "total": arms.get(e.id, 0) * tasks.get(e.id, 0) * e.epochs,
                "errors": int(errors or 0),
                "cost_usd": float(cost or 0.0),
                "judge_cost_usd": float(grade_costs.get(e.id) or 0.0),
                "created_at": e.created_at,
                "finished_at": e.finished_at,
                "note": e.note,
                "owner": e.owner,
                "heartbeat_at": e.heartbeat_at,
            }
        )
    return rows


def experiment_choices(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every experiment, newest first, as a page picks one: id, name, status (as
    ``experiment_summaries`` says it) and trials planned. Its trials are not read: on 100,000 of
    them, counting and costing them is most of what ``experiment_summaries`` takes."""
    from sqlmodel import col, select

    with db.session() as session:
        experiments = session.exec(select(Experiment).order_by(col(Experiment.id).desc())).all()
        arms, tasks = _planned(session)
    now = now or datetime.now(UTC)
    rows = []
    for e in experiments:
        assert e.id is not None  # a stored row
        rows.append(
            {
                "id": e.id,
                "name": e.name,
                "status": liveness(e.status, e.owner, e.heartbeat_at, e.created_at, now),
                "total": arms.get(e.id, 0) * tasks.get(e.id, 0) * e.epochs,
            }
        )
    return rows


def _planned(session: Session) -> tuple[dict[int, int], dict[int, int]]:
    """Per experiment: its number of variants, and of tasks."""
    from sqlmodel import col, func, select

    arms = dict(
        session.exec(
            select(col(ExperimentVariant.experiment_id), func.count()).group_by(
                col(ExperimentVariant.experiment_id)
            )
        ).all()
    )
    tasks = dict(
        session.exec(
            select(col(ExperimentTask.experiment_id), func.count()).group_by(
                col(ExperimentTask.experiment_id)
            )
        ).all()
    )
    return arms, tasks


def trial_records(db: Database, experiment_id: int) -> list[TrialRecord]:
    """The columns the statistics need, for every trial of one experiment.

    Plain DB-API rows into named tuples: on 100,000 trials, ORM rows and SQLAlchemy's result
    processing cost more than the statistics themselves.
    """
    with db.connect() as conn:
        rows = conn.all(
            "SELECT variant, task_id, epoch, quality, cost_usd, latency_s, ttft_s, error, cached"
            " FROM trial WHERE experiment_id = ?",
            (experiment_id,),
        )
    return list(map(TrialRecord._make, rows))


def tasks_with_trials(db: Database, experiment_id: int) -> int:
    """How many of the experiment's tasks have at least one stored trial."""
    from sqlmodel import col, func, select

    with db.session() as session:
        return session.exec(
            select(func.count(func.distinct(col(Trial.task_id)))).where(
                Trial.experiment_id == experiment_id
            )
        ).one()


def choice_records(db: Database, experiment_id: int) -> list[ChoiceRecord]:
    """Which agent each trial of a delegation experiment picked, and what decided it."""
    from sqlalchemy import select
    from sqlmodel import col

    query = select(
        col(Trial.variant), col(Trial.task_id), col(Trial.epoch), col(Trial.choice),
        col(Trial.error), col(Trial.details),
    ).where(col(Trial.experiment_id) == experiment_id)  # fmt: skip
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        ChoiceRecord(
            variant, task_id, epoch, choice, error,
            (details or {}).get("router_version") if isinstance(details, dict) else None,
        )
        for variant, task_id, epoch, choice, error, details in rows
    ]  # fmt: skip


def session_details(db: Database, experiment_id: int) -> list[tuple[str, dict[str, Any]]]:
    """(variant, details) of each agentic trial that ran its session (no error)."""
    from sqlalchemy import select
    from sqlmodel import col

    query = select(col(Trial.variant), col(Trial.details)).where(
        col(Trial.experiment_id) == experiment_id, col(Trial.error).is_(None)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [(variant, details) for variant, details in rows if isinstance(details, dict)]


def trial_details(
    db: Database, experiment_id: int
) -> list[tuple[str, str, int, str | None, dict[str, Any]]]:
    """(variant, task_id, epoch, error, details) of each trial of one experiment that has details
    (an agentic trial's checks, diff, turns and tool calls), in no particular order."""
    from sqlalchemy import select
    from sqlmodel import col

    query = select(
        col(Trial.variant), col(Trial.task_id), col(Trial.epoch), col(Trial.error),
        col(Trial.details),
    ).where(col(Trial.experiment_id) == experiment_id)  # fmt: skip
    with db.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        (variant, task_id, epoch, error, details)
        for variant, task_id, epoch, error, details in rows
        if isinstance(details, dict)
    ]


def experiment_variants(db: Database, experiment_id: int) -> list[ExperimentVariant]:
    from sqlmodel import col, select

    with db.session() as session:
        return list(
            session.exec(
                select(ExperimentVariant)
                .where(ExperimentVariant.experiment_id == experiment_id)
                .order_by(col(ExperimentVariant.position))
            ).all()
        )


def experiment_tasks(db: Database, experiment_id: int) -> list[ExperimentTask]:
    from sqlmodel import col, select

    with db.session() as session:
        return list(
            session.exec(
                select(ExperimentTask)
                .where(ExperimentTask.experiment_id == experiment_id)
                .order_by(col(ExperimentTask.position))
            ).all()
        )


def get_experiment(db: Database, experiment_id: int) -> Experiment:
    from core.errors import NotFoundError

    with db.session() as session:
        found = session.get(Experiment, experiment_id)
        if found is None:
            raise NotFoundError(f"no experiment with id {experiment_id}")
        return found


def find_experiment_id(db: Database, ref: str) -> int:
    """An experiment by id, or by name (its newest run)."""
    from sqlmodel import col, select

    from core.errors import NotFoundError

    with db.session() as session:
        if ref.isdigit():
            # An id past 64 bits is no row's: asking the database would overflow its integers.
            found = (
                session.exec(select(Experiment.id).where(Experiment.id == int(ref))).first()
                if int(ref) < 2**63
                else None
            )
            if found is None:
                raise NotFoundError(f"no experiment with id {ref}")
            return found
        newest = session.exec(
            select(Experiment.id).where(Experiment.name == ref).order_by(col(Experiment.id).desc())
        ).first()
        if newest is None:
            raise NotFoundError(f"no experiment named {ref!r}")
        return newest


def pairwise_summary(db: Database, experiment_id: int) -> dict[str, Any]:
    """The pairwise results of an experiment's newest grading run that has them."""
    from sqlmodel import col, select

    from experiments.graders.pairwise import KIND, PairwiseRow, summarise

    control = get_experiment(db, experiment_id).control
    with db.session() as session:
        # Filtered in SQL (json_extract / ->>): the other grades of a big run are many.
        found = session.exec(
            select(Trial.variant, Grade.grading_run, Grade.error, Grade.details)
            .join(Grade, col(Grade.trial_id) == col(Trial.id))
            .where(Trial.experiment_id == experiment_id)
            .where(col(Grade.details)["kind"].as_string() == KIND)
        ).all()
    rows = [PairwiseRow(*r) for r in found]
    return summarise(rows, control)


def freshness(db: Database, experiment_id: int) -> tuple[str, int, int, int]:
    """(status, trials, newest trial id, newest grade id): changes whenever a run writes, so a
    cache keyed on it is recomputed as soon as there is something new to show."""
    from sqlmodel import col, func, select

    with db.session() as session:
        experiment = session.get(Experiment, experiment_id)
        status = experiment.status if experiment is not None else "missing"
        count, newest = session.exec(
            select(func.count(), func.max(Trial.id)).where(
                col(Trial.experiment_id) == experiment_id
            )
        ).one()
        newest_grade = session.exec(select(func.max(Grade.id))).one()
    return status, int(count), int(newest or 0), int(newest_grade or 0)


@dataclass(frozen=True)
class Answer:
    """One variant's trial of a task at one epoch, as the side-by-side view shows it."""

    variant: str
    model_id: str
    response_text: str | None
    quality: float | None
    cost_usd: float
    latency_s: float | None
    error: str | None


@dataclass(frozen=True)
class LatestGrade:
    """A trial's grade from its newest grading run that has this grader."""

    variant: str
    grader: str
    score: float | None
    passed: bool | None
    reason: str
    error: str | None


@dataclass(frozen=True)
class TaskAnswers:
    task_id: str
    prompt: str
    reference: tuple[str, ...]
    rubric: str | None
    answers: tuple[Answer, ...]  # in the experiment's variant order
    grades: tuple[LatestGrade, ...]


def task_answers(db: Database, experiment_id: int, task_id: str, epoch: int) -> TaskAnswers:
    """Every variant's answer to one task at one epoch, with the latest grades."""
    from sqlmodel import col, select

    order = {v.label: v.position for v in experiment_variants(db, experiment_id)}
    with db.session() as session:
        task = session.exec(
            select(ExperimentTask).where(
                ExperimentTask.experiment_id == experiment_id, ExperimentTask.task_id == task_id
            )
        ).one()
        trials = session.exec(
            select(Trial).where(
                Trial.experiment_id == experiment_id,
                Trial.task_id == task_id,
                Trial.epoch == epoch,
            )
        ).all()
        by_id = {t.id: t.variant for t in trials}
        grades = session.exec(select(Grade).where(col(Grade.trial_id).in_(list(by_id)))).all()
    latest = {}  # (trial, grader) -> the grade of the newest grading run
    for g in sorted(grades, key=lambda g: (g.grading_run, g.id or 0)):
        latest[(g.trial_id, g.grader)] = g
    ordered = sorted(trials, key=lambda t: order.get(t.variant, len(order)))
    return TaskAnswers(
        task.task_id,
        task.prompt,
        tuple(task.reference),
        task.rubric,
        tuple(
            Answer(
                t.variant, t.model_id, t.response_text, t.quality, t.cost_usd, t.latency_s, t.error
            )
            for t in ordered
        ),
        tuple(
            LatestGrade(by_id[g.trial_id], g.grader, g.score, g.passed, g.reason, g.error)
            for g in latest.values()
        ),
    )
