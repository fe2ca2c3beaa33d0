"""Run an experiment through the Message Batches API: half price, no latency figures.

The batch id is stored on the experiment as soon as the batch exists, so ``--resume`` after an
interruption (or a kill) collects the same batch instead of paying for a second one. Once its
results are written the id is cleared: a later resume sends a new batch for whatever is still
missing (errored or expired requests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from core.errors import SpecError
from experiments.plan import Plan, cell_estimate
from experiments.providers.base import ModelResponse, Provider, ProviderError
from experiments.runner import (
    Cell,
    Runner,
    RunState,
    RunSummary,
    _Result,
    pending_cells,
    run_status,
)
from experiments.store.tables import Experiment
from registry.database import Database


def custom_id(cell: Cell, plan: Plan) -> str:
    """Unique in the batch and within the API's 64 characters of [A-Za-z0-9_-]."""
    arm = [a.label for a in plan.arms].index(cell.arm.label)
    task = [t.id for t in plan.tasks].index(cell.task.id)
    return f"a{arm}-t{task}-e{cell.epoch}"


async def run_batch(
    db: Database,
    plan: Plan,
    provider: Provider,
    *,
    on_progress: Callable[[RunState], None] | None = None,
    batches: Any = None,
    poll_interval: float = 30.0,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> RunSummary:
    if plan.provider != "anthropic":
        raise SpecError("--batch needs provider: anthropic (the Message Batches API)")
    if batches is None:
        batches = provider.batches()
    report = on_progress or (lambda state: None)
    runner = Runner(db, plan, provider)
    pending = pending_cells(db, plan)
    state = RunState(total=plan.total_cells, done=pending.stored, cost_usd=pending.billed_usd)
    batch_id = _stored_batch_id(db, plan)
    # A batch already sent is paid for: collect all of it. A new one admits what the budget allows.
    cells = (
        [c for row in pending.rows for c in row]
        if batch_id is not None
        else _admit(plan, pending.rows, state)
    )
    by_id = {custom_id(cell, plan): cell for cell in cells}
    fatal: list[BaseException] = []
    interrupted = False
    try:
        if batch_id is None and by_id:
            requests = [(cid, plan.request_for(c.arm, c.task)) for cid, c in by_id.items()]
            batch_id = await batches.submit(requests)
            _set_batch_id(db, plan, batch_id)
        if batch_id is not None:
            await batches.wait(batch_id, interval=poll_interval, sleep=sleep)
            outcomes = await batches.results(batch_id)
            results = [
                await _result(runner, by_id[cid], outcome)
                for cid, outcome in outcomes.items()
                if cid in by_id  # others were stored by an earlier collection of this batch
            ]
            runner.store(results)
            for r in results:
                state.done += 1
                state.failed += r.trial["error"] is not None
                state.cost_usd += r.trial["cost_usd"]
            _set_batch_id(db, plan, None)
            report(state)
    except (asyncio.CancelledError, KeyboardInterrupt):
        interrupted = True
        raise
    except ProviderError as err:
        fatal.append(err)
        raise
    finally:
        await runner.judges.aclose()
        status, note = run_status(state, fatal, interrupted)
        runner.finish(status, note)
    return RunSummary(
        plan.experiment_id,  # type: ignore[arg-type]
        status,
        state.total,
        state.done,
        state.failed,
        0,
        state.cost_usd,
        time.monotonic() - state.started,
        note,
    )


def _admit(plan: Plan, rows: list[list[Cell]], state: RunState) -> list[Cell]:
    """Whole task rows, as many as the budget allows at the batch price."""
    from experiments.pricing import load_price_table

    discount = 1.0 - load_price_table().batch_discount
    admitted: list[Cell] = []
    planned = 0.0
    for row in rows:
        cost = sum(cell_estimate(plan, c.arm, c.task) for c in row) * discount
        if plan.max_cost_usd is not None and planned + cost > plan.max_cost_usd:
            state.stopped = (
                f"budget: the next task row (~${cost:.4f}) would pass max_cost_usd "
                f"${plan.max_cost_usd:.2f}; {len(admitted)} requests sent"
            )
            break
        planned += cost
        admitted.extend(row)
    return admitted


async def _result(runner: Runner, cell: Cell, outcome: ModelResponse | ProviderError) -> _Result:
    trial = runner.new_trial(cell)
    if isinstance(outcome, ProviderError):
        trial.update(error=str(outcome), batch=True)
        return _Result(trial, [])
    return await runner.complete(cell, trial, outcome, batch=True)


def _stored_batch_id(db: Database, plan: Plan) -> str | None:
    with db.session() as session:
        experiment = session.get(Experiment, plan.experiment_id)
        return experiment.batch_id if experiment else None


def _set_batch_id(db: Database, plan: Plan, batch_id: str | None) -> None:
    with db.session(write=True) as session:
        experiment = session.get(Experiment, plan.experiment_id)
        assert experiment is not None
        experiment.batch_id = batch_id
        session.add(experiment)
        session.commit()
