"""Run an experiment through the Message Batches API: half price, no latency figures.

The batch id is stored on the experiment as soon as the batch exists, so ``--resume`` after an
interruption (or a kill) collects the same batch instead of paying for a second one. Once its
results are written the id is cleared: a later resume sends a new batch for whatever is still
missing (errored or expired requests). Only a trial kind whose cell is one request
(``SingleRequestKind``) can run this way.

The request that creates a batch is recorded (when, how many requests) before it is sent. If it
gets no answer after it went out, the API may have made the batch: resume looks for a batch of
that many requests created since then and collects it, sends again when there is none, and
refuses to send again without ``--resend-batch`` when it cannot tell. The batch list says no more
than sizes and times, so the one found may be another experiment's: every ``custom_id`` leads
with the experiment's tag, and a found batch whose results carry another is not stored. (One the
experiment itself sent earlier carries its tag: its answers are to the same cells' requests.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from core.errors import ConflictError, SpecError
from experiments.graders.environment import JudgeEnvironment
from experiments.kinds import SingleRequestKind, TrialKind, trial_kind
from experiments.plan import Cell, Plan
from experiments.pricing import load_price_table
from experiments.providers.anthropic_sdk import DEFAULT_TIMEOUT_S
from experiments.providers.base import (
    Batches,
    BatchStatus,
    ModelResponse,
    NotSentError,
    Provider,
    ProviderError,
    UnreachableError,
)
from experiments.retry import call_with_retries
from experiments.run_state import (
    FOREIGN_BATCH,
    RunState,
    RunSummary,
    run_status,
    unreachable_note,
)
from experiments.runner import UNREACHABLE_CELLS, heartbeat
from experiments.scoring import Scorer, judge_estimate
from experiments.store.trials import BatchSent, TrialResult, TrialStore
from registry.database import Database

T = TypeVar("T")
# A batch made by a request sent at T was created between T (less this, for the clocks of this
# machine and the API differing) and the end of that request's timeout (plus this).
CLOCK_SKEW = timedelta(minutes=5)


def cell_key(cell: Cell, plan: Plan) -> str:
    """The cell's place in the plan, as its ``custom_id`` ends: ``a{arm}-t{task}-e{epoch}``."""
    arm = [a.label for a in plan.arms].index(cell.arm.label)
    task = [t.id for t in plan.tasks].index(cell.task.id)
    return f"a{arm}-t{task}-e{cell.epoch}"


def custom_id(cell: Cell, plan: Plan, tag: str) -> str:
    """Unique in the batch and within the API's 64 characters of [A-Za-z0-9_-]; ``tag``
    (``TrialStore.batch_tag``) leads, so that a result tells whose request it answers. (Before
    the tag, a custom id was the cell key alone: a batch of then is collected as ever.)"""
    return f"{tag}-{cell_key(cell, plan)}"


def batch_kind(
    plan: Plan,
    kind: TrialKind,
    provider: Provider | None = None,
    batches: Batches | None = None,
) -> SingleRequestKind:
    """``kind``, when its trials can go through Message Batches: one request per cell, to
    models the provider batches (or to ``batches``, given); ``SpecError`` otherwise. Checked
    before the experiment is stored, so that a refused run leaves nothing behind; without a
    ``provider`` (a dry run makes none), the kind alone."""
    if not isinstance(kind, SingleRequestKind):
        how = "with this router " if plan.kind == "delegation" else ""
        raise SpecError(
            f"--batch: a trial of kind {plan.kind} {how}is not one request; run it without --batch"
        )
    if provider is None:
        return kind
    # The models the requests go to (a delegation trial asks the main loop's model).
    models = {kind.request(Cell(arm, plan.tasks[0], 1)).model for arm in plan.arms}
    unbatched = sorted(m for m in models if not provider.capabilities(m).batches)
    if batches is None and unbatched:
        raise SpecError(
            f"--batch: the {provider.name} provider has no Message Batches for "
            f"{', '.join(unbatched)}; --batch needs provider: anthropic"
        )
    return kind


async def run_batch(
    db: Database,
    plan: Plan,
    provider: Provider,
    *,
    on_progress: Callable[[RunState], None] | None = None,
    batches: Batches | None = None,
    poll_interval: float = 30.0,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    kind: TrialKind | None = None,
    resend_batch: bool = False,
) -> RunSummary:
    """``resend_batch``: send a new batch even when an earlier request may have made one that
    cannot be found (the user's say-so that a second batch may be paid for)."""
    kind = batch_kind(plan, kind or trial_kind(plan, load_price_table()), provider, batches)
    # The provider's own client: closed with the provider, by whoever opened it.
    batches = batches or provider.batches()
    report = on_progress or (lambda state: None)
    store = TrialStore(db, plan)
    judges = JudgeEnvironment(
        provider.name, seed=plan.seed, max_attempts=plan.settings.max_attempts
    )
    scorer = Scorer(plan, judges)
    pending = store.pending()
    state = RunState(
        total=plan.total_cells,
        done=pending.stored,
        cost_usd=pending.billed_usd,
        judge_cost_usd=pending.judged_usd,
    )
    batch_id = store.batch_id()
    fatal: list[BaseException] = []
    interrupted = False

    async def result(cell: Cell, answer: ModelResponse | ProviderError) -> TrialResult:
        if isinstance(answer, ProviderError):
            return TrialResult(cell, kind.failure(cell, answer, batch=True), provider.name)
        outcome = kind.outcome(cell, answer, batch=True)
        grades, quality = await scorer.score(cell, outcome)
        return TrialResult(cell, outcome, provider.name, grades, quality)

    async def retried(fn: Callable[[], Awaitable[T]]) -> T:
        answer, _ = await call_with_retries(
            fn, max_attempts=plan.settings.max_attempts, sleep=sleep
        )
        return answer

    heart = await heartbeat(store)
    try:
        if batch_id is None and (sent := store.batch_sent()) is not None:
            batch_id = await _made_by(
                sent,
                lambda since: retried(lambda: batches.created_since(since)),
                resend=resend_batch,
            )
            if batch_id is not None:  # a guess: the sent record stays until it is collected
                store.set_batch_id(batch_id, found_for=sent)
        # A batch already sent is paid for: collect all of it. A new one admits what the budget
        # allows.
        cells = (
            [c for row in pending.rows for c in row]
            if batch_id is not None
            else _admit(plan, kind, pending.rows, state)
        )
        tag = store.batch_tag()
        by_key = {cell_key(cell, plan): cell for cell in cells}
        if batch_id is None and by_key:
            requests = [(custom_id(c, plan, tag), kind.request(c)) for c in by_key.values()]
            # Recorded first: a request that went out may have made a batch even with no answer,
            # and a second one would be paid for again.
            store.set_batch_sent(len(requests))
            try:
                batch_id = await batches.submit(requests)
            except ProviderError as err:
                if isinstance(err, NotSentError) or err.status is not None:
                    store.set_batch_sent(None)  # not sent, or answered: no batch was made
                raise
            store.set_batch_id(batch_id)
        if batch_id is not None:
            sent_id = batch_id
            # Each poll is retried on its own: only failures in a row stop the wait.
            while not (await retried(lambda: batches.poll(sent_id))).ended:
                await sleep(poll_interval)
            answers = await retried(lambda: batches.results(sent_id))
            # Only a batch found for a lost request can be another's (had that request made one,
            # two would have matched): its every result must carry this experiment's tag.
            guessed = store.batch_sent() is not None
            foreign = next((c for c in answers if guessed and not c.startswith(f"{tag}-")), None)
            if foreign is not None:
                store.set_batch_id(None)
                state.stopped = (
                    f"{FOREIGN_BATCH}: batch {sent_id}, found for the request that got no answer, "
                    f"holds requests this experiment did not send ({foreign}); nothing of it "
                    f"was stored. Resume (--resume {store.experiment_id}) to send this "
                    "experiment's own batch"
                )
            else:
                keyed = {c.removeprefix(f"{tag}-"): answer for c, answer in answers.items()}
                results, judged = await _scored(keyed, by_key, result, judges)
                store.insert(results)
                for r in results:
                    state.done += 1
                    state.failed += r.outcome.error is not None
                    state.count_spend(r.billed_usd, r.judge_cost_usd)
                if judged is None:
                    store.set_batch_id(None)
                else:  # the batch id is kept: resume grades the rest of its results
                    state.stopped = unreachable_note(
                        f"the judges, for {UNREACHABLE_CELLS} results of batch {batch_id} in a "
                        "row,",
                        judged,
                    )
            report(state)
    except UnreachableError as err:  # stopped, not failed: resume sends or collects the batch
        if isinstance(err, NotSentError):
            what = "the request that sends the batch"
        elif batch_id is None:
            what = "the request that sends the batch (it went out: resume looks for its batch)"
        else:
            what = f"batch {batch_id}, after {err.retries + 1} attempts,"
        state.stopped = unreachable_note(what, err)
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


async def _made_by(
    sent: BatchSent,
    created_since: Callable[[datetime], Awaitable[list[BatchStatus]]],
    *,
    resend: bool,
) -> str | None:
    """The batch the request recorded in ``sent`` made, None when it made none; ``ConflictError``
    when that cannot be told, unless ``resend`` says to send a new one anyway."""
    latest = sent.at + timedelta(seconds=DEFAULT_TIMEOUT_S) + CLOCK_SKEW
    created: list[BatchStatus] | None
    try:
        created = await created_since(sent.at - CLOCK_SKEW)
    except ProviderError as err:
        if isinstance(err, UnreachableError):
            raise
        created, why = None, f"the batches could not be listed ({err})"
    if created is not None:
        made = [
            b.batch_id
            for b in created
            if b.requests == sent.requests and (b.created_at is None or b.created_at <= latest)
        ]
        if len(made) <= 1:
            return made[0] if made else None
        why = f"{len(made)} batches of that size were created since then ({', '.join(made)})"
    if resend:
        return None
    raise ConflictError(
        f"a request sending a batch of {sent.requests} requests at {sent.at:%Y-%m-%d %H:%M:%S} UTC "
        f"got no answer and may have made one, but {why}: resume with --resend-batch to send "
        "another (it may be paid twice)"
    )


async def _scored(
    answers: Mapping[str, ModelResponse | ProviderError],
    by_key: Mapping[str, Cell],
    result: Callable[[Cell, ModelResponse | ProviderError], Awaitable[TrialResult]],
    judges: JudgeEnvironment,
) -> tuple[list[TrialResult], UnreachableError | None]:
    """The batch's results graded, one after another; with the last judge error when the judges
    got no response for ``UNREACHABLE_CELLS`` results in a row (those are left out, ungraded)."""
    done: list[TrialResult] = []
    held: list[TrialResult] = []  # graded while judges got no response: kept if it passes
    for key, answer in answers.items():
        if key not in by_key:  # stored by an earlier collection of this batch
            continue
        before = judges.unreachable
        graded = await result(by_key[key], answer)
        if judges.unreachable == before:
            done += [*held, graded]
            held = []
            continue
        held.append(graded)
        if len(held) >= UNREACHABLE_CELLS:
            return done, judges.last_unreachable
    return [*done, *held], None


def _admit(
    plan: Plan, kind: SingleRequestKind, rows: list[list[Cell]], state: RunState
) -> list[Cell]:
    """Whole task rows, as many as the budget allows beside what the experiment has spent: the
    answers at the batch price, their judges (graded live) at the full one."""
    admitted: list[Cell] = []
    planned = state.spent_usd
    for row in rows:
        judged = judge_estimate(plan, row[0].task)[1] if row else 0.0
        cost = sum(kind.estimate(c, batch=True).cost_usd + judged for c in row)
        if plan.max_cost_usd is not None and planned + cost > plan.max_cost_usd:
            state.stopped = (
                f"budget: ${state.spent_usd:.4f} spent, and the next task row (~${cost:.4f} with "
                f"its judges) would pass max_cost_usd ${plan.max_cost_usd:.2f}; "
                f"{len(admitted)} requests sent"
            )
            break
        planned += cost
        admitted.extend(row)
    return admitted
