"""Run the cells of an experiment: every (variant, task, epoch) once, concurrently, safely.

Invariants:
- Exactly one trial row per cell. Cells with a stored successful trial are never run again;
  a resumed run first removes the failed ones and retries them.
- Each trial is written as soon as it completes (a writer drains a queue in small transactions
  on a worker thread, so the event loop keeps measuring latency while the database works). A
  kill -9 loses at most the calls in flight and the few results not yet committed.
- The budget admits whole task rows (every variant and epoch of one task) and only when the
  money spent, plus what admitted rows are expected to cost, plus this row's estimate, stays
  within ``max_cost_usd``; so a stop never leaves one variant with fewer answers than another.
- A response cache hit (same request, same epoch; off unless the spec or ``--cache`` asks) is
  marked ``cached``: it is billed nothing, its ``cost_usd`` is what the answer costs (so arms
  stay comparable), and its latency is kept out of the statistics.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import AgentRegistryError
from experiments.graders.base import GradeResult, grade_all
from experiments.graders.combine import combine
from experiments.graders.environment import JudgeEnvironment, trial_graders
from experiments.plan import Arm, Plan, cell_estimate
from experiments.providers.base import (
    CallContext,
    FatalProviderError,
    ModelResponse,
    Provider,
    ProviderError,
    Usage,
)
from experiments.retry import call_with_retries
from experiments.store.tables import Experiment, Grade, ResponseCache, Trial, grade_values
from experiments.tasks import Task
from registry.database import Database
from registry.models import utcnow

WRITE_BATCH = 256


@dataclass(frozen=True)
class Cell:
    arm: Arm
    task: Task
    epoch: int


@dataclass
class RunState:
    """What the progress display and the summary read."""

    total: int
    done: int = 0  # already stored before this run, plus completed in it
    failed: int = 0
    cached: int = 0
    cost_usd: float = 0.0
    reserved_usd: float = 0.0
    stopped: str | None = None  # why the run stopped early, if it did
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class RunSummary:
    experiment_id: int
    status: str  # completed, stopped, failed
    total: int
    done: int
    failed: int
    cached: int
    cost_usd: float
    elapsed_s: float
    note: str | None


@dataclass
class _Result:
    # Column values of the trial row: building ORM objects cost more CPU than the API call.
    trial: dict[str, Any]
    grades: list[GradeResult]
    cache_entry: dict[str, Any] | None = None


@dataclass(frozen=True)
class Pending:
    rows: list[list[Cell]]  # cells still to run, grouped in task rows, in suite order
    stored: int  # cells that already have a trial
    billed_usd: float  # what the stored trials cost (cache hits cost nothing)


def pending_cells(db: Database, plan: Plan) -> Pending:
    """What is left to run; failed trials are removed first, so that they run again."""
    from sqlmodel import col, delete, func, select

    with db.session(write=True) as session:
        failed_ids = session.exec(
            select(Trial.id).where(
                Trial.experiment_id == plan.experiment_id, col(Trial.error).is_not(None)
            )
        ).all()
        if failed_ids:  # retried on resume: a failed attempt is not an answer
            session.exec(delete(Grade).where(col(Grade.trial_id).in_(failed_ids)))  # type: ignore[call-overload]
            session.exec(delete(Trial).where(col(Trial.id).in_(failed_ids)))  # type: ignore[call-overload]
            session.commit()
        stored = set(
            session.exec(
                select(Trial.variant, Trial.task_id, Trial.epoch).where(
                    Trial.experiment_id == plan.experiment_id
                )
            ).all()
        )
        billed = session.exec(
            select(func.sum(Trial.cost_usd)).where(
                Trial.experiment_id == plan.experiment_id, col(Trial.cached).is_(False)
            )
        ).one()
    rows = []
    for task in plan.tasks:
        row = [
            Cell(arm, task, epoch)
            for epoch in range(1, plan.epochs + 1)
            for arm in plan.arms
            if (arm.label, task.id, epoch) not in stored
        ]
        if row:
            rows.append(row)
    return Pending(rows, len(stored), float(billed or 0.0))


class Runner:
    def __init__(
        self,
        db: Database,
        plan: Plan,
        provider: Provider,
        *,
        on_progress: Callable[[RunState], None] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        assert plan.experiment_id is not None
        self.db = db
        self.plan = plan
        self.provider = provider
        self.on_progress = on_progress or (lambda state: None)
        self.sleep = sleep
        # Judge graders call a model of their own: they get the experiment's provider and seed.
        self.judges = JudgeEnvironment(
            provider, seed=plan.seed, max_attempts=plan.max_attempts, sleep=sleep
        )
        self.graders = {
            task.id: trial_graders(plan.graders_for(task), self.judges) for task in plan.tasks
        }
        self.weights = {
            task.id: {c.name: c.weight for c in plan.graders_for(task)} for task in plan.tasks
        }
        self._arm_costs: dict[str, list[float]] = {arm.label: [] for arm in plan.arms}
        from experiments.pricing import load_price_table

        self.prices = load_price_table()
        self._trial_defaults = _column_defaults(Trial)
        # The system prompt is recorded as its hash (the version holds the text): one per arm.
        self._system_hashes = {
            arm.label: hashlib.sha256(arm.system.encode()).hexdigest() for arm in plan.arms
        }

    async def run(self) -> RunSummary:
        pending = pending_cells(self.db, self.plan)
        # The budget covers the whole experiment, resumed runs included.
        state = RunState(
            total=self.plan.total_cells, done=pending.stored, cost_usd=pending.billed_usd
        )
        self.on_progress(state)
        queue: asyncio.Queue[_Result | None] = asyncio.Queue()
        fatal: list[BaseException] = []
        writer = asyncio.create_task(self._write(queue, fatal))
        interrupted = False
        try:
            await self._schedule(pending.rows, state, queue, fatal)
            await queue.put(None)
            await writer
            if not fatal and not state.stopped:
                # Pairwise judges compare whole answers, so they run once every trial is stored.
                from experiments.grading import run_pairwise

                await run_pairwise(self.db, self.plan, self.judges)
        except (asyncio.CancelledError, KeyboardInterrupt):
            interrupted = True
            raise
        finally:
            if not writer.done():
                await queue.put(None)
                await asyncio.shield(writer)
            await self.judges.aclose()
            status, note = run_status(state, fatal, interrupted)
            self.finish(status, note)
            self.on_progress(state)
        if fatal:
            raise fatal[0]
        return RunSummary(
            self.plan.experiment_id,  # type: ignore[arg-type]
            status,
            state.total,
            state.done,
            state.failed,
            state.cached,
            state.cost_usd,
            time.monotonic() - state.started,
            note,
        )

    async def _schedule(
        self,
        rows: list[list[Cell]],
        state: RunState,
        queue: asyncio.Queue[_Result | None],
        fatal: list[BaseException],
    ) -> None:
        cache = self._load_cache(rows) if self.plan.cache else {}
        limit = asyncio.Semaphore(self.plan.concurrency)
        running: set[asyncio.Task[None]] = set()

        async def one(cell: Cell, estimate: float) -> None:
            try:
                result = await self._run_cell(cell, cache)
            except FatalProviderError as err:
                fatal.append(err)
                return
            finally:
                limit.release()
                state.reserved_usd -= estimate
            state.done += 1
            state.cost_usd += 0.0 if result.trial["cached"] else result.trial["cost_usd"]
            state.failed += result.trial["error"] is not None
            state.cached += result.trial["cached"]
            if result.trial["error"] is None and not result.trial["cached"]:
                self._arm_costs[cell.arm.label].append(result.trial["cost_usd"])
            await queue.put(result)
            self.on_progress(state)

        try:
            for row in rows:
                if fatal:
                    break
                estimates = [self._estimate(cell) for cell in row]
                budget = self.plan.max_cost_usd
                if budget is not None and (
                    state.cost_usd + state.reserved_usd + sum(estimates) > budget
                ):
                    state.stopped = (
                        f"budget: ${state.cost_usd:.4f} spent and ${state.reserved_usd:.4f} in "
                        f"flight; the next task row (~${sum(estimates):.4f}) would pass "
                        f"max_cost_usd ${budget:.2f}"
                    )
                    break
                state.reserved_usd += sum(estimates)
                for cell, estimate in zip(row, estimates, strict=True):
                    await limit.acquire()
                    if fatal:
                        limit.release()
                        state.reserved_usd -= estimate
                        continue
                    task = asyncio.create_task(one(cell, estimate))
                    running.add(task)
                    task.add_done_callback(running.discard)
            if running:
                await asyncio.gather(*running)
        except BaseException:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise

    def _estimate(self, cell: Cell) -> float:
        seen = self._arm_costs[cell.arm.label]
        if len(seen) >= 3:  # real answers say more than a character count
            return sum(seen) / len(seen)
        return cell_estimate(self.plan, cell.arm, cell.task, table=self.prices)

    def _load_cache(self, rows: list[list[Cell]]) -> dict[str, dict[str, Any]]:
        from sqlmodel import col, select

        keys = [self._cache_key(cell) for row in rows for cell in row]
        found: dict[str, dict[str, Any]] = {}
        with self.db.session() as session:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                for entry in session.exec(
                    select(ResponseCache).where(col(ResponseCache.key).in_(chunk))
                ).all():
                    found[entry.key] = entry.response
        return found

    def _cache_key(self, cell: Cell) -> str:
        return self.plan.request_for(cell.arm, cell.task).cache_key(cell.epoch)

    def new_trial(self, cell: Cell) -> dict[str, Any]:
        """A trial row with every column set (defaults as in ``Trial``)."""
        return {
            **self._trial_defaults,
            "experiment_id": self.plan.experiment_id,
            "variant": cell.arm.label,
            "task_id": cell.task.id,
            "epoch": cell.epoch,
            "provider": self.provider.name,
            "model_id": cell.arm.model_id,
            "request": self._request_record(cell),
            "created_at": utcnow(),
        }

    def _request_record(self, cell: Cell) -> dict[str, Any]:
        """The request as sent, its system prompt replaced by the prompt's hash. Built per
        trial, not kept per cell: memory must not grow with the size of the run."""
        record = self.plan.request_for(cell.arm, cell.task).body()
        del record["system"]
        record["system_sha256"] = self._system_hashes[cell.arm.label]
        return record

    async def _run_cell(self, cell: Cell, cache: dict[str, dict[str, Any]]) -> _Result:
        request = self.plan.request_for(cell.arm, cell.task)
        key = request.cache_key(cell.epoch)
        trial = self.new_trial(cell)
        cached = cache.get(key)
        if cached is not None:
            trial["cached"] = True
            return await self.complete(cell, trial, _response_from(cached))
        context = CallContext(self.plan.seed, cell.arm.label, cell.epoch, cell.task.material())
        try:
            response, trial["retries"] = await call_with_retries(
                lambda: self.provider.complete(request, context),
                max_attempts=self.plan.max_attempts,
                sleep=self.sleep,
            )
        except FatalProviderError:
            raise
        except ProviderError as err:
            trial["error"] = str(err)
            trial["retries"] = getattr(err, "retries", 0)
            return _Result(trial, [])
        result = await self.complete(cell, trial, response)
        # Always kept, so that a later run asked to reuse answers (``--cache``) finds this one.
        result.cache_entry = {
            "key": key,
            "response": _response_record(response),
            "created_at": utcnow(),
        }
        return result

    async def complete(
        self, cell: Cell, trial: dict[str, Any], response: ModelResponse, *, batch: bool = False
    ) -> _Result:
        """Fill ``trial`` from ``response``, price it and grade it."""
        from experiments.pricing import cost_usd

        usage = response.usage
        trial.update(
            model_id=response.model or cell.arm.model_id,
            response_text=response.text,
            stop_reason=response.stop_reason,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            batch=batch,
            # What the answer costs, cached or not (so that arms stay comparable); the budget
            # and the progress bar count only what was billed (see ``one``).
            cost_usd=cost_usd(cell.arm.model_id, usage, batch=batch, table=self.prices),
            # A batch has no per-request timing: no latency rather than a false zero.
            latency_s=None if batch else response.latency_s,
            ttft_s=None if batch else response.ttft_s,
        )
        grades = list(
            await grade_all(self.graders[cell.task.id], response.text, cell.task.material())
        )
        trial["quality"] = combine(grades, self.weights[cell.task.id]) if grades else None
        return _Result(trial, grades)

    async def _write(
        self, queue: asyncio.Queue[_Result | None], fatal: list[BaseException]
    ) -> None:
        """Store results in small transactions until the None sentinel; a failure to store is
        fatal (no more calls are made), and what follows it is drained unstored."""
        done = False
        while not done:
            batch: list[_Result] = []
            item = await queue.get()
            while True:
                if item is None:
                    done = True
                    break
                batch.append(item)
                if len(batch) >= WRITE_BATCH or queue.empty():
                    break
                item = queue.get_nowait()
            if batch and not fatal:
                try:
                    await asyncio.to_thread(self.store, batch)
                except Exception as err:  # any database failure stops the run
                    fatal.append(_store_error(err, self.plan.experiment_id))

    def store(self, batch: list[_Result]) -> None:
        """Insert a batch of trials, their grades and cache entries in one transaction."""
        from sqlalchemy import insert

        with self.db.session(write=True) as session:
            ids = session.scalars(
                insert(Trial).returning(Trial.id, sort_by_parameter_order=True),  # type: ignore[arg-type]
                [r.trial for r in batch],
            ).all()
            grades = [
                grade_values(trial_id, g)
                for trial_id, r in zip(ids, batch, strict=True)
                for g in r.grades
            ]
            if grades:
                session.execute(insert(Grade), grades)
            entries = {e["key"]: e for r in batch if (e := r.cache_entry) is not None}
            if entries:
                from sqlmodel import col, select

                known = set(
                    session.exec(
                        select(ResponseCache.key).where(col(ResponseCache.key).in_(list(entries)))
                    ).all()
                )
                fresh = [e for k, e in entries.items() if k not in known]
                if fresh:
                    session.execute(insert(ResponseCache), fresh)
            session.commit()

    def finish(self, status: str, note: str | None) -> None:
        with self.db.session(write=True) as session:
            experiment = session.get(Experiment, self.plan.experiment_id)
            assert experiment is not None
            experiment.status = status
            experiment.note = note
            experiment.finished_at = utcnow()
            session.add(experiment)
            session.commit()


def run_status(
    state: RunState, fatal: list[BaseException], interrupted: bool
) -> tuple[str, str | None]:
    """The experiment's status after a run, and the note that explains it."""
    if fatal:
        return "failed", str(fatal[0])
    if interrupted:
        return "stopped", "interrupted"
    if state.stopped:
        return "stopped", state.stopped
    if state.failed:
        return "incomplete", f"{state.failed} trials failed after retries; resume to retry them"
    return "completed", None


def _store_error(err: Exception, experiment_id: int | None) -> AgentRegistryError:
    from sqlalchemy.exc import IntegrityError

    if isinstance(err, IntegrityError):
        return AgentRegistryError(
            f"experiment {experiment_id}: a cell already has a trial; is another "
            "`registry run --resume` writing it? Stop it first"
        )
    reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
    return AgentRegistryError(f"could not store trials, run stopped: {reason}")


def _column_defaults(model: type[Trial]) -> dict[str, Any]:
    """Every column of ``model`` that has a plain default, with that default."""
    defaults: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == "id":
            continue
        defaults[name] = None if info.is_required() else info.get_default(call_default_factory=True)
    return defaults


def _response_record(response: ModelResponse) -> dict[str, Any]:
    return {
        "text": response.text,
        "stop_reason": response.stop_reason,
        "model": response.model,
        "usage": [
            response.usage.input_tokens,
            response.usage.output_tokens,
            response.usage.cache_write_tokens,
            response.usage.cache_read_tokens,
        ],
        "latency_s": response.latency_s,
        "ttft_s": response.ttft_s,
        "request_id": response.request_id,
    }


def _response_from(record: dict[str, Any]) -> ModelResponse:
    return ModelResponse(
        text=record["text"],
        stop_reason=record.get("stop_reason"),
        usage=Usage(*record.get("usage", [0, 0, 0, 0])),
        model=record.get("model") or "",
        latency_s=record.get("latency_s") or 0.0,
        ttft_s=record.get("ttft_s"),
        request_id=record.get("request_id"),
    )
