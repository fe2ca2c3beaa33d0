"""Trials as a run writes them: what is left to run, the results as they complete, how it ended.

Exactly one trial row per cell: the unique constraint on (experiment, variant, task, epoch) turns
a second writer into an IntegrityError, reported as such. Rows are built from plain column values
and written in plain SQL on ``Database.connect`` (no SQLAlchemy on a run's hot path), in one
transaction per batch of results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import AgentRegistryError
from experiments.graders.base import GradeResult
from experiments.kinds.base import Outcome
from experiments.plan import Cell, Plan
from experiments.store.grades import grade_values
from registry.database import Connection, Database, utcnow

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

    @property
    def billed_usd(self) -> float:
        """What the answer was billed: nothing for a cache hit."""
        return 0.0 if self.outcome.cached else self.outcome.cost_usd

    @property
    def judge_cost_usd(self) -> float:
        """What the judges that graded it cost."""
        return sum(grade.cost_usd for grade in self.grades)


@dataclass(frozen=True)
class Pending:
    rows: list[list[Cell]]  # cells still to run, grouped in task rows, in suite order
    stored: int  # cells that already have a trial
    billed_usd: float  # what the stored trials cost (cache hits cost nothing)
    judged_usd: float  # what their judges cost, as the run graded them (not later grade runs)


@dataclass(frozen=True)
class BatchSent:
    """A request creating a batch that went out and got no answer: it may have made one."""

    at: datetime  # just before it was sent
    requests: int  # how many requests the batch carried


class TrialStore:
    """The trial tables of one stored experiment, in plain SQL."""

    def __init__(self, db: Database, plan: Plan) -> None:
        assert plan.experiment_id is not None, "store the plan first"
        self.db = db
        self.plan = plan
        self.experiment_id = plan.experiment_id

    def pending(self, *, retry_failed: bool = True) -> Pending:
        """What is left to run; failed trials are removed first, so that they run again, unless
        ``retry_failed`` is off (a sequential run already decided keeps what it decided on)."""
        failed = "SELECT id FROM trial WHERE experiment_id = ? AND error IS NOT NULL"
        with self.db.connect(write=retry_failed) as conn:
            if retry_failed:  # a failed attempt is not an answer
                conn.execute(
                    f"DELETE FROM grade WHERE trial_id IN ({failed})", (self.experiment_id,)
                )
                conn.execute(
                    "DELETE FROM trial WHERE experiment_id = ? AND error IS NOT NULL",
                    (self.experiment_id,),
                )
            stored = set(
                conn.all(
                    "SELECT variant, task_id, epoch FROM trial WHERE experiment_id = ?",
                    (self.experiment_id,),
                )
            )
            [(billed,)] = conn.all(
                "SELECT SUM(cost_usd) FROM trial WHERE experiment_id = ? AND cached = ?",
                (self.experiment_id, False),
            )
            # Pairwise judges (comparators) are not part of a run's budget: left out here too.
            comparators = [c.name for c in self.plan.comparators]
            besides = f" AND grade.grader NOT IN ({', '.join('?' * len(comparators))})"
            [(judged,)] = conn.all(
                "SELECT SUM(grade.cost_usd) FROM grade JOIN trial ON grade.trial_id = trial.id"
                " WHERE trial.experiment_id = ? AND grade.grading_run = 1"
                + (besides if comparators else ""),
                (self.experiment_id, *comparators),
            )
        rows = []
        for task in self.plan.tasks:
            row = [
                cell
                for cell in self.plan.cells(task)
                if (cell.arm.label, task.id, cell.epoch) not in stored
            ]
            if row:
                rows.append(row)
        return Pending(rows, len(stored), float(billed or 0.0), float(judged or 0.0))

    def cached_records(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored answers under these cache keys."""
        found: dict[str, dict[str, Any]] = {}
        with self.db.connect() as conn:
            for start in range(0, len(keys), CACHE_LOOKUP_CHUNK):
                chunk = list(keys[start : start + CACHE_LOOKUP_CHUNK])
                marks = ", ".join("?" for _ in chunk)
                for key, response in conn.all(
                    f"SELECT key, response FROM response_cache WHERE key IN ({marks})", chunk
                ):
                    found[key] = conn.from_json(response)
        return found

    def insert(self, results: Sequence[TrialResult]) -> None:
        """Insert trials, their grades and their cache entries in one transaction."""
        if not results:
            return
        with self.db.connect(write=True) as conn:
            now = conn.timestamp(utcnow())
            grades = []
            for result in results:
                trial_id = conn.insert("trial", self._row(result, conn, now))
                grades += [_grade_row(grade_values(trial_id, g), conn, now) for g in result.grades]
            conn.insert_many("grade", grades)
            entries = {
                r.cache_key: r.outcome.cache_record
                for r in results
                if r.cache_key is not None and r.outcome.cache_record is not None
            }
            if entries:
                marks = ", ".join("?" for _ in entries)
                known = {
                    key
                    for (key,) in conn.all(
                        f"SELECT key FROM response_cache WHERE key IN ({marks})", list(entries)
                    )
                }
                conn.insert_many(
                    "response_cache",
                    [
                        {"key": key, "response": conn.json(dict(record)), "created_at": now}
                        for key, record in entries.items()
                        if key not in known
                    ],
                )

    def _row(self, result: TrialResult, conn: Connection, now: Any) -> dict[str, Any]:
        cell, outcome = result.cell, result.outcome
        usage = outcome.usage
        return {
            "experiment_id": self.experiment_id,
            "variant": cell.arm.label,
            "task_id": cell.task.id,
            "epoch": cell.epoch,
            "provider": result.provider,
            "model_id": outcome.model_id or cell.arm.model_id,
            "request": conn.json(dict(outcome.request)),
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
            "details": conn.json(dict(outcome.details) if outcome.details is not None else None),
            "created_at": now,
        }

    def claim(self, owner: str) -> None:
        """Mark the experiment running, by ``owner``, alive now (a resumed run too)."""
        with self.db.connect(write=True) as conn:
            changed = conn.execute(
                "UPDATE experiment SET status = 'running', note = NULL, finished_at = NULL,"
                " owner = ?, heartbeat_at = ? WHERE id = ?",
                (owner, conn.timestamp(utcnow()), self.experiment_id),
            )
        assert changed == 1  # the plan was stored before the run began

    def heartbeat(self) -> None:
        """Say the run is still alive."""
        with self.db.connect(write=True) as conn:
            conn.execute(
                "UPDATE experiment SET heartbeat_at = ? WHERE id = ?",
                (conn.timestamp(utcnow()), self.experiment_id),
            )

    def finish(self, status: str, note: str | None) -> None:
        """Record how the run ended (see ``experiments.run_state.run_status``)."""
        with self.db.connect(write=True) as conn:
            changed = conn.execute(
                "UPDATE experiment SET status = ?, note = ?, finished_at = ? WHERE id = ?",
                (status, note, conn.timestamp(utcnow()), self.experiment_id),
            )
        assert changed == 1  # the plan was stored before the run began

    def batch_tag(self) -> str:
        """Eight hex digits that tell this experiment's batch requests from any other's: a hash
        of its id and the instant it was stored (an id alone repeats across registries)."""
        with self.db.connect() as conn:
            [(created,)] = conn.all(
                "SELECT created_at FROM experiment WHERE id = ?", (self.experiment_id,)
            )
        stamp = Connection.utc(created).isoformat()
        return hashlib.sha256(f"{self.experiment_id}@{stamp}".encode()).hexdigest()[:8]

    def batch_id(self) -> str | None:
        """The Message Batch sent for this experiment and not yet collected, if any."""
        with self.db.connect() as conn:
            found = conn.all("SELECT batch_id FROM experiment WHERE id = ?", (self.experiment_id,))
        return found[0][0] if found else None

    def set_batch_id(self, batch_id: str | None, *, found_for: BatchSent | None = None) -> None:
        """Record the batch (None: collected). ``found_for``: the batch is the one found for this
        request, sent without answer, which stays recorded (``batch_sent``) until collection;
        otherwise that request is settled."""
        self._set_batch(batch_id, found_for)

    def batch_sent(self) -> BatchSent | None:
        """The batch request that went out with no answer, and may have made a batch (the one
        ``batch_id`` names, when a batch was found for it)."""
        with self.db.connect() as conn:
            found = conn.all(
                "SELECT batch_sent_at, batch_requests FROM experiment WHERE id = ?",
                (self.experiment_id,),
            )
        if not found or found[0][0] is None:
            return None
        return BatchSent(Connection.utc(found[0][0]), found[0][1] or 0)

    def set_batch_sent(self, requests: int | None) -> None:
        """Record, now, a batch request of ``requests`` requests about to go out (None: settled
        with no batch made)."""
        sent = None if requests is None else BatchSent(utcnow(), requests)
        self._set_batch(None, sent)

    def _set_batch(self, batch_id: str | None, sent: BatchSent | None) -> None:
        with self.db.connect(write=True) as conn:
            changed = conn.execute(
                "UPDATE experiment SET batch_id = ?, batch_sent_at = ?, batch_requests = ?"
                " WHERE id = ?",
                (
                    batch_id,
                    conn.timestamp(sent.at) if sent else None,
                    sent.requests if sent else None,
                    self.experiment_id,
                ),
            )
        assert changed == 1


def _grade_row(values: dict[str, Any], conn: Connection, now: Any) -> dict[str, Any]:
    return {**values, "details": conn.json(values["details"]), "created_at": now}


def storage_error(err: Exception, experiment_id: int) -> AgentRegistryError:
    """A database failure while storing trials, as the one line the user sees."""
    driver_error = getattr(err, "orig", None) or err  # SQLAlchemy wraps the driver's error
    # Every DB-API driver names it so (sqlite3, psycopg), as SQLAlchemy does.
    if any(c.__name__ == "IntegrityError" for c in type(driver_error).__mro__):
        return AgentRegistryError(
            f"experiment {experiment_id}: a cell already has a trial; is another "
            "`registry run --resume` writing it? Stop it first"
        )
    reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
    return AgentRegistryError(f"could not store trials, run stopped: {reason}")
