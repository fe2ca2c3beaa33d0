"""The real Messages API through the ``anthropic`` SDK (2.x), streamed to time the first token.

- One attempt per call: the SDK's retries are off (``max_retries=0``) so that ``experiments.retry``
  sees and counts every retry.
- Time to first token is the first ``text_delta``; thinking deltas do not count, so a variant that
  thinks longer shows a later first token.
- Tool calls are assembled from the stream: a ``tool_use`` block's input arrives as
  ``input_json_delta`` pieces that only parse once joined, at the end of the block.
- The stream is read raw (``with_streaming_response``): its events are parsed by
  ``providers.sse`` and their JSON read as dicts, which costs a call a few tenths of a millisecond
  of CPU less than the SDK's event objects. An error status still raises the SDK's error when the
  response is entered; an ``event: error`` in the stream raises the ``APIStatusError`` (status
  200, the error's ``type``) that the SDK's own stream raises, so both are classified as before.
- Message Batches go through the provider's own client (``batches()``): one credential check,
  one connection pool, closed with the provider.
- The credential comes from the constructor or ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_AUTH_TOKEN``;
  and is scrubbed from every error message this module builds; ``repr`` never shows it.
- ``anthropic`` (about a second to import) is imported only when a client is made.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from experiments.providers.anthropic_sdk import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT_S,
    call_api,
    make_client,
    request_params,
    scrub_response,
    tool_input,
)
from experiments.providers.api_capabilities import messages_api_capabilities
from experiments.providers.base import (
    CallContext,
    Capabilities,
    ModelRequest,
    ModelResponse,
    ToolUse,
    Usage,
)
from experiments.providers.sse import aiter_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import anthropic
    import httpx2

    from experiments.providers.batches import MessageBatches


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
        response = await call_api(
            lambda: self._stream(params, settings), model=request.model, secret=self._secret
        )
        return scrub_response(response, self._secret)

    async def _stream(self, params: dict[str, Any], settings: dict[str, Any]) -> ModelResponse:
        # Settings go through extra_body: sent as given, also fields newer than this SDK.
        started = time.perf_counter()
        ttft: float | None = None
        parts: list[str] = []
        tools = _ToolCalls()
        usage = Usage()
        model = params["model"]
        stop_reason: str | None = None
        # An error status raises the SDK's error here, on entering.
        async with self._client.messages.with_streaming_response.create(
            **params, stream=True, extra_body=settings or None
        ) as response:
            request_id = response.headers.get("request-id")
            async for event in _stream_events(response):
                kind = event["type"]
                if kind == "content_block_delta":
                    delta = event["delta"]
                    if delta["type"] == "text_delta":
                        if ttft is None:
                            ttft = time.perf_counter() - started
                        parts.append(delta["text"])
                    elif delta["type"] == "input_json_delta":
                        tools.add(event["index"], delta["partial_json"])
                elif kind == "message_start":
                    usage = _usage(event["message"]["usage"], Usage())
                    model = event["message"]["model"]
                elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
                    tools.start(event["index"], event["content_block"]["name"])
                elif kind == "message_delta":
                    stop_reason = event["delta"].get("stop_reason")
                    usage = _usage(event["usage"], usage)
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
        # Server tools (web search, code execution, MCP) stream input too: not ours to return.
        if index in self._blocks:
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


async def _stream_events(
    response: anthropic.AsyncAPIResponse[Any],
) -> AsyncIterator[dict[str, Any]]:
    """The JSON of each event of the stream, as the SDK's stream yields them: ``ping`` and
    nameless events skipped, an ``error`` event raised."""
    async for sse in aiter_events(response.iter_bytes()):
        if sse.event == "error":
            raise _stream_error(sse.data, response.http_response)
        if sse.event not in (None, "ping") and sse.data:
            yield json.loads(sse.data)


def _stream_error(data: str, response: httpx2.Response) -> anthropic.APIStatusError:
    """An ``event: error`` of a 200 stream as the SDK's stream raises it: an ``APIStatusError``
    of status 200 whose ``type`` (``overloaded_error``, ...) ``call_api`` classifies."""
    import anthropic

    body: object
    try:
        body = json.loads(data)
        message = f"{body}"
    except ValueError:
        body = data
        message = data or f"Error code: {response.status_code}"
    return anthropic.APIStatusError(message, response=response, body=body)


def _usage(fields: dict[str, Any], base: Usage) -> Usage:
    """The usage of message_start (over an empty ``base``) or of message_delta over it: the
    final output count and, on newer APIs, final input counts; a count absent or null is kept."""
    return Usage(
        input_tokens=_pick(fields.get("input_tokens"), base.input_tokens),
        output_tokens=_pick(fields.get("output_tokens"), base.output_tokens),
        cache_write_tokens=_pick(
            fields.get("cache_creation_input_tokens"), base.cache_write_tokens
        ),
        cache_read_tokens=_pick(fields.get("cache_read_input_tokens"), base.cache_read_tokens),
    )


def _pick(new: int | None, old: int) -> int:
    return old if new is None else new
