"""Message Batches: submit many requests at half price, poll, then collect results by custom_id.

A batch has no per-request timing, so its responses carry ``latency_s=0.0`` and ``ttft_s=None``:
latency statistics of a batch-run experiment are meaningless and should not be reported.
Results come back out of order; ``custom_id`` (unique within the batch, at most 64 characters of
``[a-zA-Z0-9_-]``) is the only link to the request.

``AnthropicProvider.batches()`` makes one on the provider's client: the provider owns the client
and closes it, so this class has nothing of its own to close. Each method makes one attempt;
retrying (and waiting between polls) is the caller's job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
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
    NotSentError,
    ProviderError,
    RetryableProviderError,
    UnreachableError,
    scrub,
)

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic
    from anthropic.types.messages import MessageBatch
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
        """Create a batch; returns its id. ``NotSentError`` when no connection was made."""
        ids = [custom_id for custom_id, _ in requests]
        if len(set(ids)) != len(ids):
            raise ValueError("custom_id values must be unique within a batch")
        # The body is built as plain JSON (settings may hold fields newer than the SDK's
        # TypedDicts), so it is declared to be what the SDK expects rather than checked as such.
        body = cast(
            "list[Request]",
            [{"custom_id": cid, "params": request_params(req)} for cid, req in requests],
        )
        try:
            batch = await self._call(lambda: self._client.messages.batches.create(requests=body))
        except UnreachableError as err:
            if _never_connected(err):
                raise NotSentError(str(err)) from err
            raise
        self._models[batch.id] = {cid: req.model for cid, req in requests}
        return batch.id

    async def poll(self, batch_id: str) -> BatchStatus:
        return _status(await self._call(lambda: self._client.messages.batches.retrieve(batch_id)))

    async def created_since(self, since: datetime) -> list[BatchStatus]:
        """The batches of this key's workspace created at ``since`` or later, newest first."""

        async def listed() -> list[BatchStatus]:
            found: list[BatchStatus] = []
            async for batch in self._client.messages.batches.list(limit=100):  # newest first
                if batch.created_at < since:
                    break
                found.append(_status(batch))
            return found

        return await self._call(listed)

    async def results(self, batch_id: str) -> dict[str, ModelResponse | ProviderError]:
        """Each custom_id's response, or the error it ended with (canceled/expired: retryable).

        The whole results file is read in one attempt: a download that breaks off is
        ``UnreachableError`` (retryable), never a part of the results.
        """
        import httpx2

        models = self._models.get(batch_id, {})

        async def download() -> dict[str, ModelResponse | ProviderError]:
            decoder = await self._client.messages.batches.results(batch_id)
            out: dict[str, ModelResponse | ProviderError] = {}
            try:
                async for line in decoder:
                    model = models.get(line.custom_id, "unknown")
                    out[line.custom_id] = self._result(line.result, model)
            except httpx2.TransportError as err:
                message = f"the results of batch {batch_id} broke off: {type(err).__name__}: {err}"
                raise UnreachableError(scrub(message, self._secret)) from err
            return out

        return await self._call(download)

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


def _status(batch: MessageBatch) -> BatchStatus:
    counts = batch.request_counts.model_dump()
    return BatchStatus(batch.id, batch.processing_status, counts, batch.created_at)


def _never_connected(err: BaseException) -> bool:
    """Whether the error chain shows the connection was never made (DNS, refused, TLS, connect
    timeout): then nothing was sent. aiohttp's other connection errors (a reset, a server that
    closed a kept-alive connection) can come after the request went out."""
    import aiohttp

    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
