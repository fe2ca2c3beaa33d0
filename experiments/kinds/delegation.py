"""The delegation trial: does Claude Code's main loop hand a request to the agent under test?

One cell offers the main loop the variant's own agent, the roster and the router's built-in
agents, asks it the task's request, and records the agent it picked (``Outcome.choice``). The
trial's quality is 1 when the pick is the task's ``expect`` and 0 otherwise (``scoring``), so the
paired statistics, the verdict and the power analysis apply unchanged. The router decides how the
question is put (``experiments.routers``) and is recorded, with its version, on every trial.

With the ``messages`` router a cell is one Messages request, so it can also go through Message
Batches (``MessagesDelegationTrial`` is a ``SingleRequestKind``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.errors import SpecError
from experiments.kinds.base import CellEstimate, ModelCalls, Outcome, register_trial_kind
from experiments.plan import Cell, Delegation, Plan
from experiments.pricing import PriceTable, cost_usd
from experiments.providers.base import (
    FatalProviderError,
    ModelRequest,
    ModelResponse,
    ProviderError,
    Usage,
)
from experiments.roster import GENERAL_PURPOSE, NONE
from experiments.routers.base import Decision, Router, RouterOptions, RoutingQuestion
from experiments.routers.registry import make_router

if TYPE_CHECKING:
    from experiments.routers.messages import MessagesRouter


class DelegationTrial:
    name = "delegation"

    def __init__(self, plan: Plan, prices: PriceTable, router: Router | None = None) -> None:
        if plan.document.delegation is None:
            raise SpecError(f"experiment {plan.name!r}: a delegation plan without its roster")
        self.plan = plan
        self.prices = prices
        self.delegation: Delegation = plan.document.delegation
        options = RouterOptions(
            timeout_s=self.delegation.timeout_s, capture=self.delegation.capture
        )
        self.router = router or make_router(self.delegation.router, options)
        check_expectations(plan, self.router)

    @property
    def model_id(self) -> str:
        return self.delegation.main_model_id

    def question(self, cell: Cell) -> RoutingQuestion:
        return RoutingQuestion(
            prompt=cell.task.prompt,
            agents=(cell.arm.agent, *self.delegation.roster),
            model_id=self.model_id,
            seed=self.plan.seed,
            arm_label=cell.arm.label,
            task_id=cell.task.id,
            epoch=cell.epoch,
        )

    def estimate(self, cell: Cell, *, batch: bool = False) -> CellEstimate:
        usage = self.router.estimate(self.question(cell))
        cost = cost_usd(self.model_id, usage, batch=batch, table=self.prices)
        return CellEstimate(1, usage.input_tokens, usage.output_tokens, cost, self.model_id)

    def cache_key(self, cell: Cell) -> str:
        """The exact question as this router puts it: the agents' files (every byte Claude Code
        reads), the request, the model, the router's version, the epoch and the arm (its label
        and version: no two arms share a decision); the seed too when the router draws them."""
        question = self.question(cell)
        blob = {
            "kind": self.name,
            "router": self.router.version,
            "model": question.model_id,
            "agents": [agent.to_json() for agent in question.agents],
            "prompt": question.prompt,
            "epoch": cell.epoch,
            "arm": cell.arm.cache_identity,
            **({"seed": self.plan.seed} if self.router.simulated else {}),
        }
        return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()

    async def run(self, cell: Cell, calls: ModelCalls) -> Outcome:
        try:
            decision = await self.router.decide(self.question(cell), calls)
        except FatalProviderError:
            raise  # no later trial can succeed either: the runner stops the run
        except ProviderError as err:
            return self.failure(cell, err, batch=False, retries=calls.retries)
        outcome = self.decided(cell, decision, batch=False, retries=calls.retries)
        return replace(outcome, cache_record=_cache_record(decision))

    def replay(self, cell: Cell, record: Mapping[str, Any]) -> Outcome:
        decision = Decision(
            choice=record["choice"],
            usage=Usage(*record.get("usage", [0, 0, 0, 0])),
            cost_usd=record.get("cost_usd"),
            model_id=record.get("model_id"),
            details=record.get("details") or {},
        )
        return self.decided(cell, decision, batch=False, cached=True)

    def decided(
        self,
        cell: Cell,
        decision: Decision,
        *,
        batch: bool,
        retries: int = 0,
        cached: bool = False,
    ) -> Outcome:
        cost = decision.cost_usd
        if cost is None:
            cost = cost_usd(self.model_id, decision.usage, batch=batch, table=self.prices)
        return Outcome(
            choice=decision.choice,
            model_id=decision.model_id or self.model_id,
            usage=decision.usage,
            cost_usd=cost,
            latency_s=None if batch or cached else decision.latency_s,
            ttft_s=None if batch or cached else decision.ttft_s,
            retries=retries,
            cached=cached,
            batch=batch,
            request=self._request_record(cell),
            details={**self._trial_facts(cell), **decision.details},
        )

    def failure(
        self, cell: Cell, error: ProviderError, *, batch: bool, retries: int = 0
    ) -> Outcome:
        return Outcome(
            error=str(error),
            retries=retries,
            batch=batch,
            request=self._request_record(cell),
            details=self._trial_facts(cell),
        )

    def warnings(self) -> list[str]:
        """What to say before anything is spent: a capture of another Claude Code version, or
        taken on another model (its texts name that model, and its layout depends on it)."""
        if self.delegation.router != "messages":
            return []
        router = self._messages_router()
        warnings = [router.stale] if router.stale else []
        captured = router.capture.body.get("model")
        if captured and captured != self.model_id:
            warnings.append(
                f"the Claude Code capture was taken on {captured}, the experiment asks "
                f"{self.model_id}: re-run `registry capture-claude-code --model {self.model_id}`"
            )
        return warnings

    def _messages_router(self) -> MessagesRouter:
        from experiments.routers.messages import MessagesRouter

        assert isinstance(self.router, MessagesRouter)
        return self.router

    def _trial_facts(self, cell: Cell) -> dict[str, Any]:
        return {
            "router": self.router.name,
            "router_version": self.router.version,
            "expected": cell.task.expect,
        }

    def _request_record(self, cell: Cell) -> dict[str, Any]:
        """What was asked, without the agents' texts (the versions and the plan hold them)."""
        return {
            "router": self.router.name,
            "router_version": self.router.version,
            "model": self.model_id,
            "agents": [cell.arm.agent.name, *(a.name for a in self.delegation.roster)],
            "prompt_sha256": hashlib.sha256(cell.task.prompt.encode()).hexdigest(),
        }


class MessagesDelegationTrial(DelegationTrial):
    """A delegation trial whose cell is one Messages request (the ``messages`` router)."""

    def request(self, cell: Cell) -> ModelRequest:
        return self._messages_router().request(self.question(cell))

    def outcome(self, cell: Cell, response: ModelResponse, *, batch: bool) -> Outcome:
        decision = self._messages_router().decision(response)
        return self.decided(cell, decision, batch=batch)


def check_expectations(plan: Plan, router: Router) -> None:
    """Every task's ``expect`` names an agent the main loop can pick, or none: a typo would
    otherwise score every trial of that task 0 and still look like a measurement."""
    delegation = plan.document.delegation
    assert delegation is not None
    known = {
        *(arm.agent.name for arm in plan.arms),
        *(agent.name for agent in delegation.roster),
        *(agent.name for agent in router.builtins()),
        GENERAL_PURPOSE,
        NONE,
    }
    for task in plan.tasks:
        if task.expect not in known:
            names = ", ".join(sorted(known, key=str.lower))
            raise SpecError(
                f"{plan.document.tasks_path or 'the task suite'}: task {task.id!r}: expect "
                f"{task.expect!r} is not in the roster; one of {names}"
            )


def _cache_record(decision: Decision) -> dict[str, Any]:
    return {
        "choice": decision.choice,
        "usage": [
            decision.usage.input_tokens,
            decision.usage.output_tokens,
            decision.usage.cache_write_tokens,
            decision.usage.cache_read_tokens,
        ],
        "cost_usd": decision.cost_usd,
        "model_id": decision.model_id,
        "details": dict(decision.details),
    }


def delegation_trial(plan: Plan, prices: PriceTable) -> DelegationTrial:
    delegation = plan.document.delegation
    if delegation is not None and delegation.router == "messages":
        return MessagesDelegationTrial(plan, prices)
    return DelegationTrial(plan, prices)


register_trial_kind("delegation", delegation_trial)
