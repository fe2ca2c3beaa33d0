"""The small interface every model provider implements.

A provider turns one ``ModelRequest`` into one ``ModelResponse`` or raises a ``ProviderError``.
Retrying is the caller's job (see ``experiments.retry``): a provider makes exactly one attempt
and says, through the error type, whether another attempt may succeed and after how long.
Every model call goes through a provider (variants, judges, Message Batches), so a fix to how
models are called is made once. What a provider can do for a model is its ``Capabilities``:
callers choose how to ask from them, never from the model's name.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.errors import AgentRegistryError

# Characters per token, roughly: for estimates before any usage is known and for the simulator's
# usage; real usage comes back from the API.
CHARS_PER_TOKEN = 4
PROVIDER_NAMES = ("anthropic", "simulated")


@dataclass(frozen=True)
class TaskMaterial:
    """What the simulated provider and the graders may know about a task."""

    task_id: str
    prompt: str
    reference: tuple[str, ...] = ()
    rubric: str | None = None
    area: str | None = None  # the suite's grouping, for ``python`` graders that read it

    @property
    def id(self) -> str:
        """The task's id under the name ``Task`` gives it: a ``python`` grader's function, which
        receives this, was written against ``Task`` and may read ``task.id``."""
        return self.task_id


@dataclass(frozen=True)
class ModelRequest:
    """One Messages API call, exactly as it will be sent (minus credentials)."""

    model: str  # resolved model ID, never an alias
    # The system prompt: one text, or content blocks as Claude Code's main loop sends them.
    system: str | tuple[Mapping[str, Any], ...]
    messages: tuple[dict[str, Any], ...]
    max_tokens: int
    # Other request fields the current API accepts (thinking, output_config, ...), sent as is.
    settings: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The JSON body of the request."""
        return {
            "model": self.model,
            "system": self.system if isinstance(self.system, str) else list(self.system),
            "messages": list(self.messages),
            "max_tokens": self.max_tokens,
            **self.settings,
        }

    @property
    def system_text(self) -> str:
        """The system prompt as one text (its text blocks joined)."""
        if isinstance(self.system, str):
            return self.system
        return "\n".join(str(block.get("text", "")) for block in self.system)

    def cache_key(self, epoch: int, arm: Mapping[str, object]) -> str:
        """Key of the response cache: the exact request, the epoch and the arm that sent it
        (``Arm.cache_identity``), so that no two arms share an answer."""
        blob = json.dumps({"body": self.body(), "epoch": epoch, "arm": dict(arm)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0


@dataclass(frozen=True)
class ToolUse:
    """One ``tool_use`` block of a response: which tool the model called, with what input."""

    name: str
    # The input object; None when the model's JSON did not decode to an object (a call cut off
    # by max_tokens): the call happened, but there is nothing to read from it.
    input: dict[str, Any] | None


@dataclass(frozen=True)
class ModelResponse:
    text: str  # the text blocks, joined
    stop_reason: str | None
    usage: Usage
    model: str  # the model ID the provider reports having used
    latency_s: float  # request start to last byte
    ttft_s: float | None  # request start to first text token (None when not streamed)
    request_id: str | None = None
    tool_calls: tuple[ToolUse, ...] = ()  # in the order the model made them


SimulateToolCall = Callable[[random.Random], ToolUse]


@dataclass(frozen=True)
class CallContext:
    """Who is asking: lets the simulated provider be deterministic; never sent to a real API."""

    seed: int
    variant: str  # "" for a judge's call: judges are blind to the variant
    epoch: int
    task: TaskMaterial
    # A judge's call: the tool call a simulated judge makes, from a generator the simulated
    # provider seeds from (seed, epoch, request). Only the simulated provider reads it; it is
    # the grader's knowledge of what a judgement looks like, which no provider should have.
    simulate_tool_call: SimulateToolCall | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do for one model; callers choose how to ask from this.

    ``forced_tool_choice``: accepts ``tool_choice: {"type": "tool", ...}`` (Fable 5.1 and later
    reject it). ``structured_output``: accepts ``output_config: {"format": {"type":
    "json_schema", "schema": ...}}`` and answers with JSON text of that schema.
    """

    streaming: bool  # responses are streamed: time to first token is measured
    tool_use: bool  # accepts ``tools`` and returns ``tool_use`` blocks
    forced_tool_choice: bool
    structured_output: bool
    batches: bool  # ``Provider.batches()`` gives a Message Batches interface


REDACTED = "[redacted]"


def scrub(text: str, *secrets: str) -> str:
    """``text`` with every non-empty secret (an API key) replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def scrub_value(value: Any, *secrets: str) -> Any:
    """``value`` (text, or JSON-like lists and objects of it) with every secret redacted."""
    if isinstance(value, str):
        return scrub(value, *secrets)
    if isinstance(value, list):
        return [scrub_value(v, *secrets) for v in value]
    if isinstance(value, dict):
        return {scrub(str(k), *secrets): scrub_value(v, *secrets) for k, v in value.items()}
    return value


class ProviderError(AgentRegistryError):
    """A call that failed. ``retryable`` says whether another attempt may succeed."""

    retryable = False

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        # Retries made before this error was given up on; set by experiments.retry.
        self.retries = 0


class RetryableProviderError(ProviderError):
    """429, 529, 5xx, overloaded mid-stream, connection drop, timeout."""

    retryable = True


class UnreachableError(RetryableProviderError):
    """No response at all: the connection could not be made, nothing came back, or a download
    (a batch's results) broke off."""


class NotSentError(UnreachableError):
    """No connection was made: the request cannot have reached the API, so sending it again
    cannot do anything twice."""


class FatalProviderError(ProviderError):
    """400, 401, 403, 404 or a missing key: retrying cannot help; the message says what to fix."""


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    processing_status: str  # in_progress, canceling or ended
    counts: Mapping[str, int]  # processing, succeeded, errored, canceled, expired
    created_at: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    @property
    def requests(self) -> int:
        return sum(self.counts.values())


class Batches(Protocol):
    """Many requests sent at once, at the batch price; results matched by ``custom_id``."""

    async def submit(self, requests: Sequence[tuple[str, ModelRequest]]) -> str:
        """The new batch's id; ``NotSentError`` when the request cannot have reached the API
        (any other failure may have made a batch)."""
        ...

    async def poll(self, batch_id: str) -> BatchStatus: ...

    async def created_since(self, since: datetime) -> list[BatchStatus]: ...

    async def results(self, batch_id: str) -> dict[str, ModelResponse | ProviderError]: ...


class Provider(Protocol):
    name: str
    simulated: bool

    def capabilities(self, model: str) -> Capabilities: ...

    def batches(self) -> Batches:
        """The provider's batch interface, on its own client (closed with the provider);
        ``SpecError`` when ``capabilities(...).batches`` is False."""
        ...

    async def complete(self, request: ModelRequest, context: CallContext) -> ModelResponse: ...

    async def aclose(self) -> None: ...
