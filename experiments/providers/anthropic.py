"""The real Messages API through the ``anthropic`` SDK (2.x), streamed to time the first token.

- One attempt per call: the SDK's retries are off (``max_retries=0``) so that ``experiments.retry``
  sees and counts every retry.
- Time to first token is the first ``text_delta``; thinking deltas do not count, so a variant that
  thinks longer shows a later first token.
- Tool calls are assembled from the stream: a ``tool_use`` block's input arrives as
  ``input_json_delta`` pieces that only parse once joined, at the end of the block.
- Message Batches go through the provider's own client (``batches()``): one credential check,
  one connection pool, closed with the provider.
- The credential comes from the constructor or ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_AUTH_TOKEN``
  and is scrubbed from every error message this module builds; ``repr`` never shows it.
- ``anthropic`` (about a second to import) is imported only when a client is made.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from experiments.providers.api_capabilities import messages_api_capabilities
from experiments.providers.base import (
    CallContext,
    Capabilities,
    FatalProviderError,
    ModelRequest,
    ModelResponse,
    ProviderError,
    RetryableProviderError,
    ToolUse,
    Usage,
)

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

    from experiments.providers.batches import MessageBatches

T = TypeVar("T")

MISSING_KEY = (
    "no Anthropic credential: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment, "
    "or use the simulated provider"
)
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_MAX_CONNECTIONS = 256
# Error types that can arrive inside a 200 stream (or a batch result) and may succeed on retry.
RETRYABLE_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
# HTTP status of each error type, for errors that carry no status (batch results).
STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def make_client(
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> tuple[AsyncAnthropic, str]:
    """An ``AsyncAnthropic`` without SDK retries, and the secret it uses (for scrubbing).

    Raises ``FatalProviderError`` before any request when no credential is set.
    ``base_url`` falls back to ``ANTHROPIC_BASE_URL`` (the SDK reads it). Up to
    ``max_connections`` connections are kept alive: the SDK default keeps 100, so a run at higher
    concurrency would reconnect on every call. The transport is the SDK's aiohttp one: on this
    project's benchmark it takes 4-6 ms of CPU per streamed call where httpx2 takes about 10,
    which decides how close a run at concurrency 128 comes to the latency-bound limit.
    """
    api_key = api_key or os.environ.get("ANTHROPIC_API_KEY") or None
    auth_token = None if api_key else os.environ.get("ANTHROPIC_AUTH_TOKEN") or None
    secret = api_key or auth_token
    if not secret:
        raise FatalProviderError(MISSING_KEY)
    import anthropic
    import httpx2

    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    client = anthropic.AsyncAnthropic(
        api_key=api_key,
        auth_token=auth_token,
        base_url=base_url,
        max_retries=0,
        timeout=timeout,
        http_client=anthropic.DefaultAioHttpClient(limits=limits, timeout=timeout),
    )
    return client, secret


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, else ``retry-after`` (secs or date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def classify_error(
    *,
    status: int | None,
    error_type: str | None,
    api_message: str | None,
    model: str | None,
    secret: str,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """Map an API error to a retryable or a fatal ``ProviderError`` whose message says what to do.

    ``status`` is None or 200 for errors delivered inside a stream or a batch result; then the
    error type decides. ``model`` is None for calls that name no model (batch retrieval).
    """
    if status in (None, 200):
        status = STATUS_OF_TYPE.get(error_type or "", status)
    detail = api_message or error_type or "no details"
    label = f"{status} {error_type}" if error_type else str(status)
    if status in (408, 409, 429) or (status or 0) >= 500 or error_type in RETRYABLE_TYPES:
        message = f"Anthropic API {label}: {detail}"
        return RetryableProviderError(
            scrub(message, secret), status=status, retry_after=parse_retry_after(headers)
        )
    if status == 401:
        message = (
            "ANTHROPIC_API_KEY was rejected (401 authentication_error): check that the key (or "
            "ANTHROPIC_AUTH_TOKEN) is current and belongs to this API endpoint"
        )
    elif status == 403:
        message = f"permission denied (403): this key may not use model {model}: {detail}"
    elif status == 404 and model:
        message = f"model {model} not found: check data/models.yaml or the spec ({detail})"
    elif status == 400:
        message = f"the API rejected the request (400 invalid_request_error): {detail}"
    else:
        message = f"Anthropic API {label}: {detail}"
    return FatalProviderError(scrub(message, secret), status=status)


def scrub(message: str, secret: str) -> str:
    return message.replace(secret, "[redacted]") if secret else message


async def call_api(fn: Callable[[], Awaitable[T]], *, model: str | None, secret: str) -> T:
    """Await one SDK call, turning SDK and transport errors into ``ProviderError``."""
    import anthropic
    import httpx2

    try:
        return await fn()
    except anthropic.APIStatusError as err:
        raise classify_error(
            status=err.status_code,
            error_type=err.type,
            api_message=err.api_message,
            model=model,
            secret=secret,
            headers=err.response.headers,
        ) from err
    except (anthropic.APIConnectionError, httpx2.TransportError) as err:
        # No response, or the connection broke mid-stream: another attempt may succeed.
        message = f"connection to the Anthropic API failed: {type(err).__name__}: {err}"
        raise RetryableProviderError(scrub(message, secret)) from err


def request_params(request: ModelRequest) -> dict[str, Any]:
    """The request body; an empty system prompt is left out (the API rejects empty text)."""
    body = request.body()
    if not body["system"]:
        del body["system"]
    return body


def tool_input(value: object) -> dict[str, Any] | None:
    """A tool call's input as ``ToolUse`` keeps it: an object, else None."""
    return value if isinstance(value, dict) else None


def message_tool_calls(content: Any) -> tuple[ToolUse, ...]:
    """The ``tool_use`` blocks of a whole (not streamed) message."""
    return tuple(ToolUse(b.name, tool_input(b.input)) for b in content if b.type == "tool_use")


def response_usage(usage: Any) -> Usage:
    """Our ``Usage`` from the SDK's ``Usage`` (cache counts may be None)."""
    return Usage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_write_tokens=usage.cache_creation_input_tokens or 0,
        cache_read_tokens=usage.cache_read_input_tokens or 0,
    )


class AnthropicProvider:
    """``Provider`` over ``AsyncAnthropic``; fails at construction when no key is set."""

    name = "anthropic"
    simulated = False

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._client, self._secret = make_client(
            api_key, base_url, timeout=timeout, max_connections=max_connections
        )

    def __repr__(self) -> str:
        return f"AnthropicProvider(base_url={str(self._client.base_url)!r})"

    def capabilities(self, model: str) -> Capabilities:
        return messages_api_capabilities(model, streaming=True, batches=True)

    def batches(self) -> MessageBatches:
        from experiments.providers.batches import MessageBatches

        return MessageBatches(self._client, self._secret)

    async def complete(self, request: ModelRequest, context: CallContext) -> ModelResponse:
        params = request_params(request)
        settings = {k: params.pop(k) for k in request.settings}
        return await call_api(
            lambda: self._stream(params, settings), model=request.model, secret=self._secret
        )

    async def _stream(self, params: dict[str, Any], settings: dict[str, Any]) -> ModelResponse:
        # Settings go through extra_body: sent as given, also fields newer than this SDK.
        started = time.perf_counter()
        stream = await self._client.messages.create(
            **params, stream=True, extra_body=settings or None
        )
        request_id = stream.response.headers.get("request-id")
        ttft: float | None = None
        parts: list[str] = []
        tools = _ToolCalls()
        usage = Usage()
        model = params["model"]
        stop_reason: str | None = None
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    usage = response_usage(event.message.usage)
                    model = event.message.model
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    tools.start(event.index, event.content_block.name)
                elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                    if ttft is None:
                        ttft = time.perf_counter() - started
                    parts.append(event.delta.text)
                elif event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                    tools.add(event.index, event.delta.partial_json)
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason
                    usage = _merge_delta_usage(usage, event.usage)
        return ModelResponse(
            text="".join(parts),
            stop_reason=stop_reason,
            usage=usage,
            model=model,
            latency_s=time.perf_counter() - started,
            ttft_s=ttft,
            request_id=request_id,
            tool_calls=tools.calls(),
        )

    async def aclose(self) -> None:
        await self._client.close()


class _ToolCalls:
    """``tool_use`` blocks of a stream, by block index, their input JSON collected in pieces."""

    def __init__(self) -> None:
        self._blocks: dict[int, tuple[str, list[str]]] = {}

    def start(self, index: int, name: str) -> None:
        self._blocks[index] = (name, [])

    def add(self, index: int, partial_json: str) -> None:
        self._blocks[index][1].append(partial_json)

    def calls(self) -> tuple[ToolUse, ...]:
        return tuple(
            ToolUse(name, _decoded("".join(pieces)))
            for _, (name, pieces) in sorted(self._blocks.items())
        )


def _decoded(input_json: str) -> dict[str, Any] | None:
    # A tool without input sends no delta at all: its input is the empty object.
    if not input_json:
        return {}
    try:
        return tool_input(json.loads(input_json))
    except ValueError:  # cut off mid-object (max_tokens): the call has no readable input
        return None


def _merge_delta_usage(usage: Usage, delta: Any) -> Usage:
    """message_delta carries the final output count and, on newer APIs, final input counts."""
    return Usage(
        input_tokens=_pick(delta.input_tokens, usage.input_tokens),
        output_tokens=delta.output_tokens,
        cache_write_tokens=_pick(delta.cache_creation_input_tokens, usage.cache_write_tokens),
        cache_read_tokens=_pick(delta.cache_read_input_tokens, usage.cache_read_tokens),
    )


def _pick(new: int | None, old: int) -> int:
    return old if new is None else new
