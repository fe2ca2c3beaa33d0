"""The boundary with the ``anthropic`` SDK, shared by the provider and Message Batches: the client,
errors turned into ``ProviderError``, and request and response shapes.

The credential is scrubbed from every error message built here; ``anthropic`` (about a second to
import) is imported only when a client is made or a call is awaited.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from experiments.providers.base import (
    FatalProviderError,
    ModelRequest,
    ModelResponse,
    ProviderError,
    RetryableProviderError,
    ToolUse,
    UnreachableError,
    Usage,
    scrub,
    scrub_value,
)

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

T = TypeVar("T")

MISSING_KEY = (
    "no Anthropic credential: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment, "
    "or use the simulated provider"
)
DEFAULT_TIMEOUT_S = 600.0
# A connection not made within this long counts as no response (``UnreachableError``): a network
# that drops packets would otherwise hold every attempt for the whole timeout. The SDK's own
# default is 5 s; this leaves room for a slow proxy.
CONNECT_TIMEOUT_S = 10.0
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

    Raises ``FatalProviderError`` before any request when no credential is set. ``timeout``
    bounds a call; making the connection gets ``CONNECT_TIMEOUT_S`` of it.
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
    timeouts = httpx2.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S))
    client = anthropic.AsyncAnthropic(
        api_key=api_key,
        auth_token=auth_token,
        base_url=base_url,
        max_retries=0,
        timeout=timeouts,
        http_client=anthropic.DefaultAioHttpClient(limits=limits, timeout=timeouts),
        open_telemetry=telemetry_option(),
    )
    return client, secret


def telemetry_option() -> Literal[False] | None:
    """The client's ``open_telemetry``: ``False`` (no spans) when nothing in this process could
    record one, else ``None`` (the SDK decides, from ``ANTHROPIC_OPEN_TELEMETRY*``).

    With its traces on, the SDK builds each call's span attributes even when OpenTelemetry has no
    tracer provider and drops them: on this project's benchmark about 7% of a streamed call's
    CPU, which at concurrency 128 keeps fewer calls in flight. A provider set before the client
    is made (``opentelemetry-instrument registry run ...``, or ``OTEL_PYTHON_TRACER_PROVIDER``)
    or any ``ANTHROPIC_OPEN_TELEMETRY*`` variable leaves the SDK's own behaviour.
    """
    if any(name.startswith("ANTHROPIC_OPEN_TELEMETRY") for name in os.environ):
        return None
    try:
        from opentelemetry import trace

        provider = trace.get_tracer_provider()  # loads the one the environment names, if any
    except Exception:  # a provider named but not installed: the SDK reports it as it does
        return None
    return False if isinstance(provider, trace.ProxyTracerProvider) else None


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


def scrub_response(response: ModelResponse, secret: str) -> ModelResponse:
    """The response with ``secret`` redacted from all its text, tool inputs included: an endpoint
    that echoes the credential must not get it stored with the answer."""
    return replace(
        response,
        text=scrub(response.text, secret),
        model=scrub(response.model, secret),
        stop_reason=scrub_value(response.stop_reason, secret),
        request_id=scrub_value(response.request_id, secret),
        tool_calls=tuple(
            replace(call, name=scrub(call.name, secret), input=scrub_value(call.input, secret))
            for call in response.tool_calls
        ),
    )


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
    except anthropic.APIConnectionError as err:
        # No response at all (refused, DNS, timeout): another attempt may succeed.
        message = f"connection to the Anthropic API failed: {type(err).__name__}: {err}"
        raise UnreachableError(scrub(message, secret)) from err
    except httpx2.TransportError as err:
        # The connection broke mid-stream: another attempt may succeed.
        message = f"connection to the Anthropic API failed: {type(err).__name__}: {err}"
        raise RetryableProviderError(scrub(message, secret)) from err


def request_params(request: ModelRequest) -> dict[str, Any]:
    """The request body; an empty system prompt is left out (the API rejects empty text)."""
    body = request.body()
    if not body["system"]:
        del body["system"]
    return body


def wire_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` as structured outputs and strict tools accept it: every object closed
    (``additionalProperties: false``), keywords the API does not take (``minimum``, ...) moved
    into the description. The answer is still validated against the full schema."""
    from anthropic import transform_schema

    return transform_schema(dict(schema))


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
