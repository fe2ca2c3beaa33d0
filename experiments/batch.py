"""Run an experiment through the Message Batches API: half price, no latency figures.

The batch id is stored on the experiment as soon as the batch exists, so ``--resume`` after an
interruption (or a kill) collects the same batch instead of paying for a second one. Once its
results are written the id is cleared: a later resume sends a new batch for whatever is still
missing (errored or expired requests). Only a trial kind whose cell is one request
(``SingleRequestKind``) can run this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from core.errors import SpecError
from experiments.graders.environment import JudgeEnvironment
from experiments.kinds import SingleRequestKind, TrialKind, trial_kind
from experiments.plan import Cell, Plan
from experiments.pricing import load_price_table
from experiments.providers.base import Batches, ModelResponse, Provider, ProviderError
from experiments.run_state import RunState, RunSummary, run_status
from experiments.runner import heartbeat
from experiments.scoring import Scorer
from experiments.store.connection import RunDatabase
from experiments.store.trials import TrialResult, TrialStore
from registry.database import Database


def custom_id(cell: Cell, plan: Plan) -> str:
    """Unique in the batch and within the API's 64 characters of [A-Za-z0-9_-]."""
    arm = [a.label for a in plan.arms].index(cell.arm.label)
    task = [t.id for t in plan.tasks].index(cell.task.id)
    return f"a{arm}-t{task}-e{cell.epoch}"


async def run_batch(
    db: RunDatabase | Database,
    plan: Plan,
    provider: Provider,
    *,
    on_progress: Callable[[RunState], None] | None = None,
    batches: Batches | None = None,
    poll_interval: float = 30.0,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    kind: TrialKind | None = None,
) -> RunSummary:
    kind = kind or trial_kind(plan, load_price_table())
    if not isinstance(kind, SingleRequestKind):
        raise SpecError(
            f"--batch: a {plan.kind} trial with this router is not one request; "
            "run it without --batch"
        )
    # The models the requests go to (a delegation trial asks the main loop's model).
    models = {kind.request(Cell(arm, plan.tasks[0], 1)).model for arm in plan.arms}
    unbatched = sorted(m for m in models if not provider.capabilities(m).batches)
    if batches is None and unbatched:
        raise SpecError(
            f"--batch: the {provider.name} provider has no Message Batches for "
            f"{', '.join(unbatched)}; --batch needs provider: anthropic"
        )
    # The provider's own client: closed with the provider, by whoever opened it.
    batches = batches or provider.batches()
    report = on_progress or (lambda state: None)
    store = TrialStore(db, plan)
    judges = JudgeEnvironment(
        provider.name, seed=plan.seed, max_attempts=plan.settings.max_attempts
    )
    scorer = Scorer(plan, judges)
    pending = store.pending()
    state = RunState(total=plan.total_cells, done=pending.stored, cost_usd=pending.billed_usd)
    batch_id = store.batch_id()
    # A batch already sent is paid for: collect all of it. A new one admits what the budget allows.
    cells = (
        [c for row in pending.rows for c in row]
        if batch_id is not None
        else _admit(plan, kind, pending.rows, state)
    )
    by_id = {custom_id(cell, plan): cell for cell in cells}
    fatal: list[BaseException] = []
    interrupted = False

    async def result(cell: Cell, answer: ModelResponse | ProviderError) -> TrialResult:
        if isinstance(answer, ProviderError):
            return TrialResult(cell, kind.failure(cell, answer, batch=True), provider.name)
        outcome = kind.outcome(cell, answer, batch=True)
        grades, quality = await scorer.score(cell, outcome)
        return TrialResult(cell, outcome, provider.name, grades, quality)

    heart = await heartbeat(store)
    try:
        if batch_id is None and by_id:
            batch_id = await batches.submit([(cid, kind.request(c)) for cid, c in by_id.items()])
            store.set_batch_id(batch_id)
        if batch_id is not None:
            await batches.wait(batch_id, interval=poll_interval, sleep=sleep)
            answers = await batches.results(batch_id)
            results = [
                await result(by_id[cid], answer)
                for cid, answer in answers.items()
                if cid in by_id  # others were stored by an earlier collection of this batch
            ]
            store.insert(results)
            for r in results:
                state.done += 1
                state.failed += r.outcome.error is not None
                state.cost_usd += r.outcome.cost_usd
            store.set_batch_id(None)
            report(state)
    except (asyncio.CancelledError, KeyboardInterrupt):
        interrupted = True
        raise
    except Exception as err:  # a provider error, or an unforeseen failure: not completed
        fatal.append(err)
        raise
    finally:
        heart.cancel()
        await judges.aclose()
        status, note = run_status(state, fatal, interrupted)
        store.finish(status, note)
    return RunSummary.of(store.experiment_id, state, status, note)


def _admit(
    plan: Plan, kind: SingleRequestKind, rows: list[list[Cell]], state: RunState
) -> list[Cell]:
    """Whole task rows, as many as the budget allows at the batch price."""
    admitted: list[Cell] = []
    planned = 0.0
    for row in rows:
        cost = sum(kind.estimate(c, batch=True).cost_usd for c in row)
        if plan.max_cost_usd is not None and planned + cost > plan.max_cost_usd:
            state.stopped = (
                f"budget: the next task row (~${cost:.4f}) would pass max_cost_usd "
                f"${plan.max_cost_usd:.2f}; {len(admitted)} requests sent"
            )
            break
        planned += cost
        admitted.extend(row)
    return admitted
