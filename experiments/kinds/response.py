"""The response trial: the variant's body as the system prompt, the task as the user message, one
answer. The default kind, and the one that can run through Message Batches."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from experiments.kinds.base import CellEstimate, ModelCalls, Outcome, register_trial_kind
from experiments.plan import Cell, Plan
from experiments.pricing import PriceTable, cost_usd
from experiments.providers.base import (
    CHARS_PER_TOKEN,
    CallContext,
    FatalProviderError,
    ModelRequest,
    ModelResponse,
    ProviderError,
    Usage,
)


class ResponseTrial:
    name = "response"

    def __init__(self, plan: Plan, prices: PriceTable) -> None:
        self.plan = plan
        self.prices = prices
        # The system prompt is recorded as its hash (the version holds the text): one per arm.
        self._system_hashes = {
            arm.label: hashlib.sha256(arm.system.encode()).hexdigest() for arm in plan.arms
        }

    def request(self, cell: Cell) -> ModelRequest:
        settings = self.plan.settings
        return ModelRequest(
            model=cell.arm.model_id,
            system=cell.arm.system,
            messages=({"role": "user", "content": cell.task.prompt},),
            max_tokens=settings.max_tokens,
            settings=dict(settings.request),
        )

    def estimate(self, cell: Cell, *, batch: bool = False) -> CellEstimate:
        """Input from the text's length, output the spec's ``estimate_output_tokens`` (at most
        ``max_tokens``); priced call by call, since a price tier depends on one request's size."""
        settings = self.plan.settings
        usage = Usage(
            input_tokens=(len(cell.arm.system) + len(cell.task.prompt)) // CHARS_PER_TOKEN + 1,
            output_tokens=min(settings.estimate_output_tokens, settings.max_tokens),
        )
        cost = cost_usd(cell.arm.model_id, usage, batch=batch, table=self.prices)
        return CellEstimate(1, usage.input_tokens, usage.output_tokens, cost)

    def cache_key(self, cell: Cell) -> str:
        return self.request(cell).cache_key(cell.epoch, cell.arm.cache_identity)

    async def run(self, cell: Cell, calls: ModelCalls) -> Outcome:
        context = CallContext(self.plan.seed, cell.arm.label, cell.epoch, cell.task.material())
        try:
            response = await calls.complete(self.request(cell), context)
        except FatalProviderError:
            raise  # no later call can succeed either: the runner stops the run
        except ProviderError as err:
            return self.failure(cell, err, batch=False, retries=calls.retries)
        outcome = self.outcome(cell, response, batch=False, retries=calls.retries)
        return _with_cache_record(outcome, response)

    def replay(self, cell: Cell, record: Mapping[str, Any]) -> Outcome:
        response = ModelResponse(
            text=record["text"],
            stop_reason=record.get("stop_reason"),
            usage=Usage(*record.get("usage", [0, 0, 0, 0])),
            model=record.get("model") or "",
            latency_s=record.get("latency_s") or 0.0,
            ttft_s=record.get("ttft_s"),
            request_id=record.get("request_id"),
        )
        return self.outcome(cell, response, batch=False, cached=True)

    def outcome(
        self,
        cell: Cell,
        response: ModelResponse,
        *,
        batch: bool,
        retries: int = 0,
        cached: bool = False,
    ) -> Outcome:
        return Outcome(
            text=response.text,
            model_id=response.model or cell.arm.model_id,
            stop_reason=response.stop_reason,
            usage=response.usage,
            cost_usd=cost_usd(cell.arm.model_id, response.usage, batch=batch, table=self.prices),
            # A batch has no per-request timing: no latency rather than a false zero.
            latency_s=None if batch else response.latency_s,
            ttft_s=None if batch else response.ttft_s,
            retries=retries,
            cached=cached,
            batch=batch,
            request=self._request_record(cell),
        )

    def failure(
        self, cell: Cell, error: ProviderError, *, batch: bool, retries: int = 0
    ) -> Outcome:
        return Outcome(
            error=str(error), retries=retries, batch=batch, request=self._request_record(cell)
        )

    def _request_record(self, cell: Cell) -> dict[str, Any]:
        """The request as sent, its system prompt replaced by the prompt's hash. Built per
        trial, not kept per cell: memory must not grow with the size of the run."""
        record = self.request(cell).body()
        del record["system"]
        record["system_sha256"] = self._system_hashes[cell.arm.label]
        return record


def _with_cache_record(outcome: Outcome, response: ModelResponse) -> Outcome:
    record = {
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
    return replace(outcome, cache_record=record)


register_trial_kind("response", ResponseTrial)
