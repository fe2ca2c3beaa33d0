"""Run the cells of an experiment: every (variant, task, epoch) once, concurrently, safely.

The runner schedules; a trial kind (``experiments.kinds``) executes one cell. Invariants:
- Exactly one trial row per cell. Cells with a stored successful trial are never run again;
  a resumed run first removes the failed ones and retries them.
- Each trial is written as soon as it completes (a writer drains a queue in small transactions
  on a worker thread, so the event loop keeps measuring latency while the database works). A
  kill -9 loses at most the cells in flight and the few results not yet committed.
- The budget admits whole task rows (every variant and epoch of one task) and only when the
  money spent (answers and the judges that graded them), plus what admitted rows are expected
  to cost, plus this row's estimate, stays within ``max_cost_usd``; so a stop never leaves one
  variant with fewer answers than another.
- A sequential run (``sequential_batch_tasks``) runs the rows in batches of that many tasks;
  after each batch is stored, a look (``experiments.sequential``) may stop the run with its
  verdict decided: status ``completed``, the note saying at which look and why.
- A response cache hit (same request, same epoch; off unless the spec or ``--cache`` asks) is
  marked ``cached``: it is billed nothing, its ``cost_usd`` is what the answer costs (so arms
  stay comparable), and its latency is kept out of the statistics.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from experiments.graders.environment import JudgeEnvironment
from experiments.kinds import ModelCalls, Outcome, TrialKind, trial_kind
from experiments.plan import Cell, Plan
from experiments.pricing import load_price_table
from experiments.providers.base import FatalProviderError, Provider, ProviderError
from experiments.run_state import (
    HEARTBEAT_S,
    UNREACHABLE,
    RunState,
    RunSummary,
    owner_id,
    run_status,
    unreachable_note,
)
from experiments.scoring import Scorer, judge_estimate
from experiments.store.trials import TrialResult, TrialStore, storage_error
from registry.database import Database

WRITE_BATCH = 256
# This many cells in a row that got no response at all, after their retries, stop the run: the
# API is unreachable, and every further cell would only spend its retries.
UNREACHABLE_CELLS = 5
# Real answers say more about a cell's cost than an estimate from its length, after this many.
ESTIMATE_FROM_ANSWERS = 3


async def heartbeat(store: TrialStore) -> asyncio.Task[None]:
    """Claim the experiment for this process, then say it is alive every ``HEARTBEAT_S`` until
    the task returned is cancelled: a run killed with -9 is then told from one in progress."""
    await asyncio.to_thread(store.claim, owner_id())

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            with contextlib.suppress(Exception):  # a missed beat only makes the run look stale
                await asyncio.to_thread(store.heartbeat)

    return asyncio.create_task(beat())


class Runner:
    def __init__(
        self,
        db: Database,
        plan: Plan,
        provider: Provider,
        *,
        on_progress: Callable[[RunState], None] | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        kind: TrialKind | None = None,
    ):
        assert plan.experiment_id is not None, "store the plan first"
        self.db = db
        self.plan = plan
        self.provider = provider
        self.on_progress = on_progress or (lambda state: None)
        self.sleep = sleep
        self.store = TrialStore(self.db, plan)
        self.kind = kind or trial_kind(plan, load_price_table())
        # Judge graders call a model of their own: a provider of the experiment's kind, made by
        # name so that judge calls never wait on the variants' connections (or count in their
        # latency), and the experiment's seed.
        self.judges = JudgeEnvironment(
            provider.name, seed=plan.seed, max_attempts=plan.settings.max_attempts, sleep=sleep
        )
        self.scorer = Scorer(plan, self.judges)
        self._arm_costs: dict[str, list[float]] = {arm.label: [] for arm in plan.arms}
        self._judge_costs: dict[str, float] = {}  # per task: its judges' estimate, per trial
        self._unreachable_cells = 0  # consecutive cells that got no response at all
        self.monitor = None
        if plan.settings.sequential_batch_tasks is not None:
            from experiments.sequential import Monitor  # the analysis, only for a sequential run

            self.monitor = Monitor(self.db, plan)

    async def run(self) -> RunSummary:
        # A sequential run that already decided runs nothing more, and keeps its failed trials:
        # they are part of the evidence the decision was taken on.
        decided = self.monitor is not None and self.monitor.decided is not None
        pending = self.store.pending(retry_failed=not decided)
        # The budget covers the whole experiment, resumed runs included.
        state = RunState(
            total=self.plan.total_cells,
            done=pending.stored,
            cost_usd=pending.billed_usd,
            judge_cost_usd=pending.judged_usd,
        )
        self.on_progress(state)
        queue: asyncio.Queue[TrialResult | None] = asyncio.Queue()
        fatal: list[BaseException] = []
        writer: asyncio.Task[None] | None = None
        interrupted = False
        heart = await heartbeat(self.store)
        try:
            for batch in self._batches(pending.rows, state):
                writer = asyncio.create_task(self._write(queue, fatal))
                await self._schedule(batch, state, queue, fatal)
                # A look reads what is stored: the batch's writer finishes first.
                await queue.put(None)
                await writer
                if fatal:
                    break
                if self.monitor is not None and not (state.stopped or "").startswith(UNREACHABLE):
                    from experiments.sequential_rule import stop_note

                    look = await asyncio.to_thread(self.monitor.look, state.spent_usd)
                    if look is not None and look.stopped:
                        state.concluded = stop_note(look)
                if state.stopped or state.concluded:
                    break
            if not fatal and not state.stopped and self.plan.comparators:
                # Pairwise judges compare whole answers, so they run once every trial is stored.
                from experiments.grading import run_pairwise

                await run_pairwise(self.db, self.plan, self.judges)
        except (asyncio.CancelledError, KeyboardInterrupt):
            interrupted = True
            raise
        except Exception as err:  # an unforeseen failure: the run did not complete
            fatal.append(err)
            raise
        finally:
            heart.cancel()
            if writer is not None and not writer.done():
                await queue.put(None)
                await asyncio.shield(writer)
            await self.judges.aclose()
            status, note = run_status(state, fatal, interrupted)
            self.store.finish(status, note)
            self.on_progress(state)
        if fatal:
            raise fatal[0]
        return RunSummary.of(self.store.experiment_id, state, status, note)

    def _batches(self, rows: list[list[Cell]], state: RunState) -> list[list[list[Cell]]]:
        """The rows in the batches a look follows: one batch for a fixed design, none when a
        resumed sequential run has already decided (``state.concluded`` says so), and one empty
        batch when nothing is left, so that a look a kill interrupted is taken now."""
        if self.monitor is None:
            return [rows]
        state.concluded = self.monitor.decided
        if state.concluded:
            return []
        size = self.plan.settings.sequential_batch_tasks or len(rows)
        return [rows[start : start + size] for start in range(0, len(rows), size)] or [[]]

    async def _schedule(
        self,
        rows: list[list[Cell]],
        state: RunState,
        queue: asyncio.Queue[TrialResult | None],
        fatal: list[BaseException],
    ) -> None:
        """Run ``rows`` on ``concurrency`` workers. A worker that finishes a cell takes the next one
        at once, in the same step of the event loop: when many answers land together (they do,
        at a fixed latency), each next request goes out right behind its answer instead of after
        all of them have been handled, which keeps more calls in flight."""
        cache = self._load_cache(rows) if self.plan.settings.cache else {}
        remaining = iter(rows)
        admitted: collections.deque[tuple[Cell, float]] = collections.deque()

        def next_cell() -> tuple[Cell, float] | None:
            """The next cell to run and its reserved estimate; None once the run must stop or
            nothing is left. A task row is admitted whole, when its first cell is due."""
            if fatal or state.stopped:
                return None
            if not admitted:
                row = next(remaining, None)
                if row is None:
                    return None
                estimates = [self._estimate(cell) for cell in row]
                budget = self.plan.max_cost_usd
                if budget is not None and (
                    state.spent_usd + state.reserved_usd + sum(estimates) > budget
                ):
                    judges = (
                        f" (judges ${state.judge_cost_usd:.4f})" if state.judge_cost_usd else ""
                    )
                    state.stopped = (
                        f"budget: ${state.spent_usd:.4f} spent{judges} and "
                        f"${state.reserved_usd:.4f} in "
                        f"flight; the next task row (~${sum(estimates):.4f}) would pass "
                        f"max_cost_usd ${budget:.2f}"
                    )
                    return None
                state.reserved_usd += sum(estimates)
                admitted.extend(zip(row, estimates, strict=True))
            return admitted.popleft()

        async def worker() -> None:
            while (item := next_cell()) is not None:
                cell, estimate = item
                try:
                    result = await self._run_cell(cell, cache)
                except Exception as err:  # fatal provider error, or a bug in a kind or a grader
                    fatal.append(err)  # no more cells start; the run ends failed and says why
                    break
                finally:
                    state.reserved_usd -= estimate
                self._count(cell, result, state)
                queue.put_nowait(result)  # unbounded: never waits
                self.on_progress(state)
            # Cells admitted but never started (a stop) hold no reservation any more.
            while admitted and (fatal or state.stopped):
                state.reserved_usd -= admitted.popleft()[1]

        cells = sum(len(row) for row in rows)
        workers = [
            asyncio.create_task(worker()) for _ in range(min(self.plan.settings.concurrency, cells))
        ]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise

    def _count(self, cell: Cell, result: TrialResult, state: RunState) -> None:
        outcome = result.outcome
        state.done += 1
        state.count_spend(result.billed_usd, result.judge_cost_usd)
        state.failed += outcome.error is not None
        state.cached += outcome.cached
        if outcome.error is None and not outcome.cached:  # what a cell costs, its judges included
            self._arm_costs[cell.arm.label].append(outcome.cost_usd + result.judge_cost_usd)
        if self._unreachable_cells >= UNREACHABLE_CELLS and not state.stopped:
            state.stopped = unreachable_note(
                f"{self._unreachable_cells} trials in a row", outcome.error
            )

    def _estimate(self, cell: Cell) -> float:
        """What a cell should cost, its judges included: from answers once a few are in."""
        seen = self._arm_costs[cell.arm.label]
        if len(seen) >= ESTIMATE_FROM_ANSWERS:
            return sum(seen) / len(seen)
        task = cell.task
        if task.id not in self._judge_costs:
            self._judge_costs[task.id] = judge_estimate(self.plan, task)[1]
        return self.kind.estimate(cell).cost_usd + self._judge_costs[task.id]

    def _load_cache(self, rows: list[list[Cell]]) -> dict[str, dict[str, Any]]:
        keys = [key for row in rows for cell in row if (key := self.kind.cache_key(cell))]
        return self.store.cached_records(keys)

    async def _run_cell(self, cell: Cell, cache: dict[str, dict[str, Any]]) -> TrialResult:
        key = self.kind.cache_key(cell)
        cached = cache.get(key) if key is not None else None
        if cached is not None:
            outcome = self.kind.replay(cell, cached)
        else:
            calls = ModelCalls(
                self.provider, max_attempts=self.plan.settings.max_attempts, sleep=self.sleep
            )
            try:
                outcome = await self.kind.run(cell, calls)
            except FatalProviderError:
                raise
            except ProviderError as err:  # the kind let it through: the trial failed
                outcome = Outcome(error=str(err), retries=calls.retries)
            if calls.unreachable is not None:  # a cell that made no call says nothing
                self._unreachable_cells = self._unreachable_cells + 1 if calls.unreachable else 0
        grades, quality = await self.scorer.score(cell, outcome)
        # Answers are always kept, so that a later run asked to reuse them (--cache) finds them.
        return TrialResult(cell, outcome, self.provider.name, grades, quality, key)

    async def _write(
        self, queue: asyncio.Queue[TrialResult | None], fatal: list[BaseException]
    ) -> None:
        """Store results in small transactions until the None sentinel; a failure to store is
        fatal (no more calls are made), and what follows it is drained unstored."""
        done = False
        while not done:
            batch: list[TrialResult] = []
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
                    await asyncio.to_thread(self.store.insert, batch)
                except Exception as err:  # any database failure stops the run
                    fatal.append(storage_error(err, self.store.experiment_id))
