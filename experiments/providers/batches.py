"""Message Batches: submit many requests at half price, poll, then collect results by custom_id.

A batch has no per-request timing, so its responses carry ``latency_s=0.0`` and ``ttft_s=None``:
latency statistics of a batch-run experiment are meaningless and should not be reported.
Results come back out of order; ``custom_id`` (unique within the batch, at most 64 characters of
``[a-zA-Z0-9_-]``) is the only link to the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from experiments.providers.anthropic import (
    DEFAULT_TIMEOUT_S,
    call_api,
    classify_error,
    make_client,
    request_params,
    response_usage,
)
from experiments.providers.base import (
    ModelRequest,
    ModelResponse,
    ProviderError,
    RetryableProviderError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    processing_status: str  # in_progress, canceling or ended
    counts: Mapping[str, int]  # processing, succeeded, errored, canceled, expired

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"


class MessageBatches:
    """The Batches endpoints of one ``AsyncAnthropic`` client; the credential is checked at once."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._client, self._secret = make_client(api_key, base_url, timeout=timeout)
        self._models: dict[str, dict[str, str]] = {}  # batch id -> custom_id -> model

    def __repr__(self) -> str:
        return f"MessageBatches(base_url={str(self._client.base_url)!r})"

    async def submit(self, requests: Sequence[tuple[str, ModelRequest]]) -> str:
        """Create a batch; returns its id."""
        ids = [custom_id for custom_id, _ in requests]
        if len(set(ids)) != len(ids):
            raise ValueError("custom_id values must be unique within a batch")
        body = [{"custom_id": cid, "params": request_params(req)} for cid, req in requests]
        batch = await self._call(lambda: self._client.messages.batches.create(requests=body))
        self._models[batch.id] = {cid: req.model for cid, req in requests}
        return batch.id

    async def poll(self, batch_id: str) -> BatchStatus:
        batch = await self._call(lambda: self._client.messages.batches.retrieve(batch_id))
        return BatchStatus(batch.id, batch.processing_status, batch.request_counts.to_dict())

    async def wait(
        self,
        batch_id: str,
        *,
        interval: float = 60.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> BatchStatus:
        """Poll every ``interval`` seconds until the batch has ended."""
        while not (status := await self.poll(batch_id)).ended:
            await sleep(interval)
        return status

    async def results(self, batch_id: str) -> dict[str, ModelResponse | ProviderError]:
        """Each custom_id's response, or the error it ended with (canceled/expired: retryable)."""
        models = self._models.get(batch_id, {})
        decoder = await self._call(lambda: self._client.messages.batches.results(batch_id))
        out: dict[str, ModelResponse | ProviderError] = {}
        async for line in decoder:
            out[line.custom_id] = self._result(line.result, models.get(line.custom_id, "unknown"))
        return out

    def _result(self, result: Any, model: str) -> ModelResponse | ProviderError:
        if result.type == "succeeded":
            message = result.message
            return ModelResponse(
                text="".join(b.text for b in message.content if b.type == "text"),
                stop_reason=message.stop_reason,
                usage=response_usage(message.usage),
                model=message.model,
                latency_s=0.0,
                ttft_s=None,
                request_id=None,
            )
        if result.type == "errored":
            error = result.error.error
            return classify_error(
                status=None,
                error_type=error.type,
                api_message=error.message,
                model=model,
                secret=self._secret,
            )
        return RetryableProviderError(f"batch request {result.type} before it ran")

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        return await call_api(fn, model=None, secret=self._secret)

    async def aclose(self) -> None:
        await self._client.close()
