"""The trial-kind seam: the runner schedules cells, a trial kind executes one and says what it made.

The runner owns everything that is the same for every kind of trial: which cells are left
(resume), the budget, concurrency, the response cache, grading, progress and storage. A trial kind
owns what one cell is: how much it is expected to cost, how it is executed (one model call,
several, or a subprocess), and the ``Outcome`` it produced: a text to grade, a choice, or both,
with its cost and timing. A kind calls models only through the ``ModelCalls`` it is given, so
retries are counted on the trial and a fatal provider error stops the whole run.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.errors import SpecError
from experiments.providers.base import (
    CallContext,
    ModelRequest,
    ModelResponse,
    Provider,
    ProviderError,
    UnreachableError,
    Usage,
)
from experiments.retry import call_with_retries

if TYPE_CHECKING:
    from experiments.plan import Cell, Plan
    from experiments.pricing import PriceTable


@dataclass(frozen=True)
class Outcome:
    """What one cell produced. A failed cell has ``error`` set and is retried on resume."""

    text: str | None = None  # what the graders read; None: nothing to grade
    choice: str | None = None  # for kinds whose result is a choice (which agent was picked)
    error: str | None = None
    model_id: str | None = None  # the model that answered, when the kind knows it
    stop_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0  # what the answer costs, cached or not, so that arms stay comparable
    latency_s: float | None = None  # None: not measured (a batch), never a false zero
    ttft_s: float | None = None
    retries: int = 0
    cached: bool = False  # replayed from the response cache: billed nothing, no latency
    batch: bool = False
    request: Mapping[str, Any] = field(default_factory=dict)  # what was sent, as recorded
    details: Mapping[str, Any] | None = None  # kind-specific facts (turns, tools, exit codes)
    # What a later run that reuses answers (``--cache``) may replay, under ``cache_key``.
    cache_record: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class CellEstimate:
    """A cell's expected calls, tokens and cost before anything is known of its answers."""

    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    model_id: str | None = None  # the model called, when it is not the variant's own


class ModelCalls:
    """A trial kind's door to the provider for one cell: every call retried and counted."""

    def __init__(
        self,
        provider: Provider,
        *,
        max_attempts: int,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.provider = provider
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.retries = 0  # over every call of the cell
        # The last call got no response at all (None: no call made): the API may be unreachable.
        self.unreachable: bool | None = None

    async def complete(self, request: ModelRequest, context: CallContext) -> ModelResponse:
        """One answer, after retries; ``ProviderError`` when it failed for good (a
        ``FatalProviderError`` means no later call can succeed either)."""
        try:
            response, retries = await call_with_retries(
                lambda: self.provider.complete(request, context),
                max_attempts=self.max_attempts,
                sleep=self.sleep,
            )
        except ProviderError as err:
            self.retries += err.retries
            self.unreachable = isinstance(err, UnreachableError)
            raise
        self.retries += retries
        self.unreachable = False
        return response

    def reached(self, responded: bool) -> None:
        """What requests made outside ``complete`` (a CLI session's own) found: whether any got
        a response; the runner counts cells without one as it counts unreachable calls."""
        self.unreachable = not responded


class TrialKind(Protocol):
    """How one cell of an experiment is executed."""

    name: str

    def estimate(self, cell: Cell, *, batch: bool = False) -> CellEstimate: ...

    def cache_key(self, cell: Cell) -> str | None:
        """The response-cache key of the cell (its exact request and epoch); None: never cached."""
        ...

    def replay(self, cell: Cell, record: Mapping[str, Any]) -> Outcome:
        """The outcome of a cache hit, from a ``cache_record`` stored by an earlier run."""
        ...

    async def run(self, cell: Cell, calls: ModelCalls) -> Outcome:
        """Execute the cell. A ``ProviderError`` raised here fails the trial (a fatal one stops
        the run); any other failure the kind can explain goes in ``Outcome.error``."""
        ...


@runtime_checkable
class SingleRequestKind(TrialKind, Protocol):
    """A kind whose cell is one Messages request: it can also run through Message Batches."""

    def request(self, cell: Cell) -> ModelRequest: ...

    def outcome(self, cell: Cell, response: ModelResponse, *, batch: bool) -> Outcome: ...

    def failure(
        self, cell: Cell, error: ProviderError, *, batch: bool, retries: int = 0
    ) -> Outcome: ...


@dataclass(frozen=True)
class ArmEstimate:
    label: str
    model_id: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def estimate_arms(plan: Plan, kind: TrialKind, *, batch: bool = False) -> list[ArmEstimate]:
    """Planned calls and estimated cost per arm, before any request (the dry run)."""
    from experiments.plan import Cell

    rows = []
    for arm in plan.arms:
        cells = [kind.estimate(Cell(arm, task, 1), batch=batch) for task in plan.tasks]
        rows.append(
            ArmEstimate(
                arm.label,
                next((c.model_id for c in cells if c.model_id), arm.model_id),
                calls=sum(c.calls for c in cells) * plan.epochs,
                input_tokens=sum(c.input_tokens for c in cells) * plan.epochs,
                output_tokens=sum(c.output_tokens for c in cells) * plan.epochs,
                cost_usd=sum(c.cost_usd for c in cells) * plan.epochs,
            )
        )
    return rows


TrialKindFactory = Callable[["Plan", "PriceTable"], TrialKind]
_KINDS: dict[str, TrialKindFactory] = {}
# The built-in kinds, each imported (and so registered) when a plan first asks for it: a response
# run then never loads the agentic kind's workspace, sandbox and Claude Code code, nor the
# delegation kind's routers, before its first request.
BUILTIN_KINDS = {
    "response": "experiments.kinds.response",
    "delegation": "experiments.kinds.delegation",
    "agentic": "experiments.kinds.agentic",
}


def _loaded(name: str) -> str:
    """``name``, its module imported (and so its kind registered) if it is a built-in one."""
    if name not in _KINDS and name in BUILTIN_KINDS:
        importlib.import_module(BUILTIN_KINDS[name])
    return name


def register_trial_kind(name: str, factory: TrialKindFactory, *, replace: bool = False) -> None:
    """Make ``name`` a trial kind a plan can ask for (a built-in one is loaded first, so that it
    is replaced, never registered over later)."""
    if _loaded(name) in _KINDS and not replace:
        raise ValueError(f"trial kind {name!r} is already registered")
    _KINDS[name] = factory


def trial_kind(plan: Plan, prices: PriceTable) -> TrialKind:
    """The trial kind the plan asks for, made for this plan."""
    factory = _KINDS.get(_loaded(plan.kind))
    if factory is None:
        known = ", ".join(sorted({*_KINDS, *BUILTIN_KINDS}))
        raise SpecError(f"unknown trial kind {plan.kind!r}; one of {known}")
    return factory(plan, prices)
