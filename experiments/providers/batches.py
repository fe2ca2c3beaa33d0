"""Message Batches: submit many requests at half price, poll, then collect results by custom_id.

A batch has no per-request timing, so its responses carry ``latency_s=0.0`` and ``ttft_s=None``:
latency statistics of a batch-run experiment are meaningless and should not be reported.
Results come back out of order; ``custom_id`` (unique within the batch, at most 64 characters of
``[a-zA-Z0-9_-]``) is the only link to the request.

``AnthropicProvider.batches()`` makes one on the provider's client: the provider owns the client
and closes it, so this class has nothing of its own to close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from experiments.providers.anthropic_sdk import (
    call_api,
    classify_error,
    message_tool_calls,
    request_params,
    response_usage,
    scrub_response,
)
from experiments.providers.base import (
    BatchStatus,
    ModelRequest,
    ModelResponse,
    ProviderError,
    RetryableProviderError,
)

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic
    from anthropic.types.messages.batch_create_params import Request

T = TypeVar("T")


class MessageBatches:
    """The Batches endpoints of an ``AsyncAnthropic`` client; ``secret`` is scrubbed from errors."""

    def __init__(self, client: AsyncAnthropic, secret: str) -> None:
        self._client = client
        self._secret = secret
        self._models: dict[str, dict[str, str]] = {}  # batch id -> custom_id -> model

    def __repr__(self) -> str:
        return f"MessageBatches(base_url={str(self._client.base_url)!r})"

    async def submit(self, requests: Sequence[tuple[str, ModelRequest]]) -> str:
        """Create a batch; returns its id."""
        ids = [custom_id for custom_id, _ in requests]
        if len(set(ids)) != len(ids):
            raise ValueError("custom_id values must be unique within a batch")
        # The body is built as plain JSON (settings may hold fields newer than the SDK's
        # TypedDicts), so it is declared to be what the SDK expects rather than checked as such.
        body = cast(
            "list[Request]",
            [{"custom_id": cid, "params": request_params(req)} for cid, req in requests],
        )
        batch = await self._call(lambda: self._client.messages.batches.create(requests=body))
        self._models[batch.id] = {cid: req.model for cid, req in requests}
        return batch.id

    async def poll(self, batch_id: str) -> BatchStatus:
        batch = await self._call(lambda: self._client.messages.batches.retrieve(batch_id))
        return BatchStatus(batch.id, batch.processing_status, batch.request_counts.model_dump())

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
            response = ModelResponse(
                text="".join(b.text for b in message.content if b.type == "text"),
                stop_reason=message.stop_reason,
                usage=response_usage(message.usage),
                model=message.model,
                latency_s=0.0,
                ttft_s=None,
                request_id=None,
                tool_calls=message_tool_calls(message.content),
            )
            return scrub_response(response, self._secret)
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
