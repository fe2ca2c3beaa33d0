"""Trials as a run writes them: what is left to run, the results as they complete, how it ended.

Exactly one trial row per cell: the unique constraint on (experiment, variant, task, epoch) turns
a second writer into an IntegrityError, reported as such. Rows are built from plain column values
(building ORM objects cost more CPU than the API call), in one transaction per batch of results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import AgentRegistryError
from experiments.graders.base import GradeResult
from experiments.kinds.base import Outcome
from experiments.plan import Cell, Plan
from experiments.store.grades import grade_values
from experiments.store.tables import Experiment, Grade, ResponseCache, Trial
from registry.database import Database
from registry.models import utcnow

CACHE_LOOKUP_CHUNK = 500  # keys per IN (...) query


@dataclass(frozen=True)
class TrialResult:
    """A finished cell, ready to store: its outcome, its grades and the quality they make."""

    cell: Cell
    outcome: Outcome
    provider: str
    grades: tuple[GradeResult, ...] = ()
    quality: float | None = None
    cache_key: str | None = None  # where ``outcome.cache_record`` is kept for ``--cache``


@dataclass(frozen=True)
class Pending:
    rows: list[list[Cell]]  # cells still to run, grouped in task rows, in suite order
    stored: int  # cells that already have a trial
    billed_usd: float  # what the stored trials cost (cache hits cost nothing)


@dataclass(frozen=True)
class BatchSent:
    """A request creating a batch that went out and got no answer: it may have made one."""

    at: datetime  # just before it was sent
    requests: int  # how many requests the batch carried


class TrialStore:
    """The trial tables of one stored experiment."""

    def __init__(self, db: Database, plan: Plan) -> None:
        assert plan.experiment_id is not None, "store the plan first"
        self.db = db
        self.plan = plan
        self.experiment_id = plan.experiment_id

    def pending(self, *, retry_failed: bool = True) -> Pending:
        """What is left to run; failed trials are removed first, so that they run again, unless
        ``retry_failed`` is off (a sequential run already decided keeps what it decided on)."""
        from sqlmodel import col, delete, func, select

        with self.db.session(write=True) as session:
            failed_ids = session.exec(
                select(Trial.id).where(
                    Trial.experiment_id == self.experiment_id, col(Trial.error).is_not(None)
                )
            ).all()
            if failed_ids and retry_failed:  # a failed attempt is not an answer
                session.execute(delete(Grade).where(col(Grade.trial_id).in_(failed_ids)))
                session.execute(delete(Trial).where(col(Trial.id).in_(failed_ids)))
                session.commit()
            stored = set(
                session.exec(
                    select(Trial.variant, Trial.task_id, Trial.epoch).where(
                        Trial.experiment_id == self.experiment_id
                    )
                ).all()
            )
            billed = session.exec(
                select(func.sum(Trial.cost_usd)).where(
                    Trial.experiment_id == self.experiment_id, col(Trial.cached).is_(False)
                )
            ).one()
        rows = []
        for task in self.plan.tasks:
            row = [
                cell
                for cell in self.plan.cells(task)
                if (cell.arm.label, task.id, cell.epoch) not in stored
            ]
            if row:
                rows.append(row)
        return Pending(rows, len(stored), float(billed or 0.0))

    def cached_records(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored answers under these cache keys."""
        from sqlmodel import col, select

        found: dict[str, dict[str, Any]] = {}
        with self.db.session() as session:
            for start in range(0, len(keys), CACHE_LOOKUP_CHUNK):
                chunk = list(keys[start : start + CACHE_LOOKUP_CHUNK])
                for entry in session.exec(
                    select(ResponseCache).where(col(ResponseCache.key).in_(chunk))
                ).all():
                    found[entry.key] = entry.response
        return found

    def insert(self, results: Sequence[TrialResult]) -> None:
        """Insert trials, their grades and their cache entries in one transaction."""
        from sqlalchemy import insert
        from sqlmodel import col, select

        if not results:
            return
        with self.db.session(write=True) as session:
            returned = session.scalars(
                insert(Trial).returning(col(Trial.id), sort_by_parameter_order=True),
                [self._row(r) for r in results],
            ).all()
            # The model types ``id`` as optional (unset before insert); RETURNING gives each one.
            ids = [trial_id for trial_id in returned if trial_id is not None]
            grades = [
                grade_values(trial_id, g)
                for trial_id, r in zip(ids, results, strict=True)
                for g in r.grades
            ]
            if grades:
                session.execute(insert(Grade), grades)
            entries = {
                r.cache_key: r.outcome.cache_record
                for r in results
                if r.cache_key is not None and r.outcome.cache_record is not None
            }
            if entries:
                known = set(
                    session.exec(
                        select(ResponseCache.key).where(col(ResponseCache.key).in_(list(entries)))
                    ).all()
                )
                fresh = [
                    {"key": key, "response": dict(record), "created_at": utcnow()}
                    for key, record in entries.items()
                    if key not in known
                ]
                if fresh:
                    session.execute(insert(ResponseCache), fresh)
            session.commit()

    def _row(self, result: TrialResult) -> dict[str, Any]:
        cell, outcome = result.cell, result.outcome
        usage = outcome.usage
        return {
            "experiment_id": self.experiment_id,
            "variant": cell.arm.label,
            "task_id": cell.task.id,
            "epoch": cell.epoch,
            "provider": result.provider,
            "model_id": outcome.model_id or cell.arm.model_id,
            "request": dict(outcome.request),
            "response_text": outcome.text,
            "stop_reason": outcome.stop_reason,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cost_usd": outcome.cost_usd,
            "latency_s": outcome.latency_s,
            "ttft_s": outcome.ttft_s,
            "retries": outcome.retries,
            "error": outcome.error,
            "cached": outcome.cached,
            "batch": outcome.batch,
            "quality": result.quality,
            "choice": outcome.choice,
            "details": dict(outcome.details) if outcome.details is not None else None,
            "created_at": utcnow(),
        }

    def claim(self, owner: str) -> None:
        """Mark the experiment running, by ``owner``, alive now (a resumed run too)."""
        with self.db.session(write=True) as session:
            experiment = session.get(Experiment, self.experiment_id)
            assert experiment is not None  # the plan was stored before the run began
            experiment.status = "running"
            experiment.note = None
            experiment.finished_at = None
            experiment.owner = owner
            experiment.heartbeat_at = utcnow()
            session.add(experiment)
            session.commit()

    def heartbeat(self) -> None:
        """Say the run is still alive."""
        from sqlmodel import col, update

        with self.db.session(write=True) as session:
            session.exec(
                update(Experiment)
                .where(col(Experiment.id) == self.experiment_id)
                .values(heartbeat_at=utcnow())
            )
            session.commit()

    def finish(self, status: str, note: str | None) -> None:
        """Record how the run ended (see ``experiments.run_state.run_status``)."""
        with self.db.session(write=True) as session:
            experiment = session.get(Experiment, self.experiment_id)
            assert experiment is not None  # the plan was stored before the run began
            experiment.status = status
            experiment.note = note
            experiment.finished_at = utcnow()
            session.add(experiment)
            session.commit()

    def batch_id(self) -> str | None:
        """The Message Batch sent for this experiment and not yet collected, if any."""
        with self.db.session() as session:
            experiment = session.get(Experiment, self.experiment_id)
            return experiment.batch_id if experiment else None

    def set_batch_id(self, batch_id: str | None) -> None:
        """Record the batch (None: collected); a batch request sent without answer is settled."""
        self._set_batch(batch_id, None)

    def batch_sent(self) -> BatchSent | None:
        """The batch request that went out with no answer, and may have made a batch."""
        with self.db.session() as session:
            experiment = session.get(Experiment, self.experiment_id)
            if experiment is None or experiment.batch_sent_at is None:
                return None
            return BatchSent(experiment.batch_sent_at, experiment.batch_requests or 0)

    def set_batch_sent(self, requests: int | None) -> None:
        """Record, now, a batch request of ``requests`` requests about to go out (None: settled
        with no batch made)."""
        self._set_batch(None, None if requests is None else BatchSent(utcnow(), requests))

    def _set_batch(self, batch_id: str | None, sent: BatchSent | None) -> None:
        with self.db.session(write=True) as session:
            experiment = session.get(Experiment, self.experiment_id)
            assert experiment is not None
            experiment.batch_id = batch_id
            experiment.batch_sent_at = sent.at if sent else None
            experiment.batch_requests = sent.requests if sent else None
            session.add(experiment)
            session.commit()


def storage_error(err: Exception, experiment_id: int) -> AgentRegistryError:
    """A database failure while storing trials, as the one line the user sees."""
    from sqlalchemy.exc import IntegrityError

    if isinstance(err, IntegrityError):
        return AgentRegistryError(
            f"experiment {experiment_id}: a cell already has a trial; is another "
            "`registry run --resume` writing it? Stop it first"
        )
    reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
    return AgentRegistryError(f"could not store trials, run stopped: {reason}")
