"""A loopback fake of the Anthropic Messages API, for tests that go through the real SDK.

``with fake_anthropic(script=[...]) as fake:`` serves on ``fake.base_url`` (127.0.0.1, a free port)
until the block ends. Each ``POST /v1/messages`` (and each request of a batch) takes the next reply
of ``script``; when the script runs out (or is empty) ``default`` answers. ``script`` may also be a
function of the request body returning a reply. Replies:

- ``Text``: a normal answer, streamed as SSE when the body says ``"stream": true`` (message_start
  with usage incl. cache tokens, content_block_start, text deltas, content_block_stop,
  message_delta with stop_reason and output tokens, message_stop), else one JSON message. Delays
  before the first token and between chunks are configurable.
- ``ToolCall``: an answer that calls a tool (after optional text), the way the API answers a
  request with ``tools``; streamed, the ``tool_use`` block's input arrives as ``input_json_delta``
  pieces (``cut_at`` ends it mid-object, as max_tokens would). ``ToolCall(None)``: prose only.
- ``HttpError``: an HTTP error with an Anthropic error body and optional headers (``retry-after``,
  ``retry-after-ms``); ``http_error(status)`` fills in the type for 400-404, 429, 500, 529.
- ``StreamError``: a 200 stream that breaks with ``event: error`` (overloaded_error by default).
- ``Drop``: the connection is closed in the middle of the stream.
- ``RawStream``: a 200 event stream of exactly the given bytes, each piece written and flushed on
  its own, a number among them a pause of that many seconds (streamed calls only): what the fake
  would not send otherwise (``ping``, event types the client does not know, comments, CRLF line
  ends, thinking). ``sse_frame`` makes one event's bytes.

``fake.reset``, a predicate of (method, path), resets the connection of every request it holds
for, before anything is answered: what a client sees when the API is unreachable mid-run.
``fake.reset_after``, the same, acts on the request first (a batch is created) and resets instead
of answering: a reply lost on its way back.

Batches: ``POST /v1/messages/batches`` answers every request from the script at once (``Text`` ->
succeeded, ``HttpError``/``StreamError`` -> errored, ``Drop`` -> expired); the batch reports
``in_progress`` for ``batch_polls`` retrievals, then ``ended`` with a ``results_url`` serving JSONL;
the next ``fake.cut_results`` downloads of it send the first line, then reset the connection;
``fake.results_left_out = N`` leaves a batch's last N results out of every download (which the
API never does: for a client's guard).
``GET /v1/messages/batches`` lists every batch, newest first, in one page;
``fake.submit_batch(body)`` makes one as that request would, ``fake.batches`` lists their ids.

Every request needs ``Authorization: Bearer <api_key>`` (401 otherwise); with
``fake_anthropic(x_api_key=True)`` an ``x-api-key: <api_key>`` header is accepted too, as the API
does: the Claude Code CLI authenticates that way. Like the API, a forced
``tool_choice`` (``{"type": "tool"}``) for Fable 5.1 or later is a 400, before any script reply is
taken, and so is a schema of structured outputs (``output_config.format``, a ``strict`` tool) with
an object not closed by ``additionalProperties: false`` or a ``minimum``/``maximum``. A request
with ``output_config.format`` is answered as structured outputs answer: a ``ToolCall``'s input
comes back as the JSON text of the message (``ToolCall(None, text=...)``: that text).
``fake.requests`` records method, path, lower-cased headers (``anthropic-version`` among them) and
the JSON body; ``fake.calls`` the (start, end) of each message call on the monotonic clock.

The server is one asyncio loop in a daemon thread speaking HTTP/1.1 with keep-alive, so hundreds
of concurrent streams with scripted latency cost no threads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

DEFAULT_KEY = "sk-ant-fake-test-key"
_MESSAGE_IDS = itertools.count(1)  # every message gets its own id, as the API's do
# Models that reject a forced tool choice; written out here, not taken from the code under test.
NO_FORCED_TOOL_CHOICE = frozenset({"claude-fable-5-1", "claude-fable-5-2"})


@dataclass(frozen=True)
class Text:
    text: str = "Hello from the fake API."
    chunks: int = 3  # number of text deltas the text is split into
    first_token_delay: float = 0.0  # seconds between message_start and the first text delta
    chunk_delay: float = 0.0  # seconds between later deltas
    stop_reason: str = "end_turn"
    input_tokens: int | None = None  # None: len(request body) // 4
    output_tokens: int | None = None  # None: len(text) // 4 + 1
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    model: str | None = None  # None: echo the requested model


@dataclass(frozen=True)
class ToolCall:
    input: dict[str, Any] | None  # None: the model answered in prose, no tool_use block
    name: str = "record_grade"
    text: str = ""
    input_tokens: int = 1000
    output_tokens: int = 200
    chunks: int = 3  # input_json_delta pieces, when streamed
    cut_at: int | None = None  # streamed input JSON ends after this many characters (max_tokens)
    id: str = "toolu_fake"  # the tool_use block's id (a multi-turn session needs one per call)


@dataclass(frozen=True)
class HttpError:
    status: int
    error_type: str
    message: str = "error from the fake API"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamError:
    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    after_chunks: int = 1


@dataclass(frozen=True)
class Drop:
    after_chunks: int = 1


@dataclass(frozen=True)
class RawStream:
    pieces: Sequence[bytes | float]


Reply = Text | ToolCall | HttpError | StreamError | Drop | RawStream
Script = Sequence[Reply] | Callable[[dict[str, Any]], Reply]

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def http_error(status: int, message: str | None = None, **headers: str) -> HttpError:
    """An error reply; keyword headers use underscores: ``http_error(429, retry_after="0")``."""
    return HttpError(
        status,
        ERROR_TYPES.get(status, "api_error"),
        message or f"fake {status}",
        {k.replace("_", "-"): v for k, v in headers.items()},
    )


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _Batch:
    id: str
    created_at: datetime
    lines: list[dict[str, Any]]
    counts: dict[str, int]
    polls: int = 0


class FakeAnthropic:
    """State of one fake server; use through ``fake_anthropic()``."""

    def __init__(
        self,
        script: Script,
        default: Reply,
        api_key: str | None,
        batch_polls: int,
        x_api_key: bool = False,
    ):
        self._script = script if callable(script) else None
        self._queue: deque[Reply] = deque(() if callable(script) else script)
        self._default = default
        self.api_key = api_key
        self.x_api_key = x_api_key
        self.batch_polls = batch_polls
        self.requests: list[RecordedRequest] = []
        # (start, end) on the monotonic clock of every POST /v1/messages, for calls in flight.
        self.calls: list[tuple[float, float]] = []
        self.base_url = ""
        self._ids = itertools.count(1)
        self._batches: dict[str, _Batch] = {}
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.reset: Callable[[str, str], bool] | None = None
        self.reset_after: Callable[[str, str], bool] | None = None
        self.cut_results = 0
        self.results_left_out = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def message_calls(self) -> int:
        return sum(1 for r in self.requests if r.path == "/v1/messages")

    @property
    def batches(self) -> list[str]:
        """The ids of the batches made, oldest first."""
        return list(self._batches)

    def submit_batch(self, body: dict[str, Any]) -> str:
        """Make a batch as ``POST /v1/messages/batches`` with ``body`` would; its id."""

        async def create() -> str:
            return str(self._create_batch(body)["id"])

        return asyncio.run_coroutine_threadsafe(create(), self._loop).result(timeout=10)

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=2048)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # Handlers still sleeping through a scripted delay would outlive the loop otherwise.
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self._server.wait_closed()

    # HTTP/1.1 ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Shutdown; ending normally because Python 3.11's stream callback raises on a
            # cancelled handler task.
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request; False when the connection must end."""
        line = await reader.readline()
        if not line.strip():
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        payload = await reader.readexactly(size) if size else b""
        body = json.loads(payload) if payload else None
        path = target.split("?", 1)[0]
        self.requests.append(RecordedRequest(method, path, headers, body))
        if self.reset is not None and self.reset(method, path):
            return _reset(writer)
        if not self._authorised(headers):
            err = HttpError(401, "authentication_error", "invalid x-api-key")
            return await self._send_error(writer, err)
        if self.reset_after is not None and self.reset_after(method, path):
            await self._route(method, path, body, _Lost())  # type: ignore[arg-type]
            return _reset(writer)
        return await self._route(method, path, body, writer)

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer ") and self.api_key in (None, auth[len("Bearer ") :]):
            return True
        key = headers.get("x-api-key")
        return self.x_api_key and key is not None and self.api_key in (None, key)

    async def _route(self, method: str, path: str, body: Any, writer: asyncio.StreamWriter) -> bool:
        if method == "POST" and path == "/v1/messages":
            return await self._message(body, writer)
        if method == "POST" and path == "/v1/messages/batches":
            return await self._send_json(writer, 200, self._create_batch(body))
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/v1/messages/batches":
            newest = [self._batch_json(b) for b in reversed(self._batches.values())]
            first, last = (newest[0]["id"], newest[-1]["id"]) if newest else (None, None)
            page = {"data": newest, "has_more": False, "first_id": first, "last_id": last}
            return await self._send_json(writer, 200, page)
        if method == "GET" and parts[:3] == ["v1", "messages", "batches"] and len(parts) in (4, 5):
            batch = self._batches.get(parts[3])
            if batch is None:
                return await self._send_error(writer, http_error(404, f"no batch {parts[3]}"))
            if len(parts) == 4:
                batch.polls += 1
                return await self._send_json(writer, 200, self._batch_json(batch))
            if not self._ended(batch):
                return await self._send_error(writer, http_error(400, "batch still in progress"))
            kept = batch.lines[: len(batch.lines) - self.results_left_out]
            jsonl = "".join(json.dumps(line) + "\n" for line in kept).encode()
            if self.cut_results > 0:
                self.cut_results -= 1
                head = self._head(200, {"content-type": "application/binary"})
                first = jsonl[: jsonl.index(b"\n") + 1]
                writer.write(head + f"content-length: {len(jsonl)}\r\n\r\n".encode() + first)
                await writer.drain()
                await asyncio.sleep(0.05)  # the client has the first line before the reset
                return _reset(writer)
            return await self._send(writer, 200, "application/binary", jsonl)
        return await self._send_error(writer, http_error(404, f"no route {method} {path}"))

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        content_type: str,
        payload: bytes,
        extra: Mapping[str, str] | None = None,
    ) -> bool:
        head = self._head(status, {"content-type": content_type, **(extra or {})})
        writer.write(head + f"content-length: {len(payload)}\r\n\r\n".encode() + payload)
        await writer.drain()
        return True

    def _head(self, status: int, headers: Mapping[str, str]) -> bytes:
        phrase = "Overloaded" if status == 529 else HTTPStatus(status).phrase
        lines = [f"HTTP/1.1 {status} {phrase}", f"request-id: req_fake_{next(self._ids)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n").encode()

    async def _send_json(self, writer: asyncio.StreamWriter, status: int, obj: Any) -> bool:
        return await self._send(writer, status, "application/json", json.dumps(obj).encode())

    async def _send_error(self, writer: asyncio.StreamWriter, err: HttpError) -> bool:
        payload = json.dumps(_error_body(err.error_type, err.message)).encode()
        return await self._send(writer, err.status, "application/json", payload, err.headers)

    # messages ------------------------------------------------------------------------------

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        rejected = _rejected(body)
        if rejected is not None:
            return rejected
        if self._script is not None:
            return _structured(body, self._script(body))
        return _structured(body, self._queue.popleft() if self._queue else self._default)

    async def _message(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        started = time.monotonic()
        try:
            return await self._answer(body, writer)
        finally:
            self.calls.append((started, time.monotonic()))

    async def _answer(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        reply = self._next_reply(body)
        if isinstance(reply, HttpError):
            return await self._send_error(writer, reply)
        if isinstance(reply, RawStream):
            return await self._stream_raw(reply, writer)
        if not body.get("stream"):
            return await self._message_json(body, reply, writer)
        if isinstance(reply, ToolCall):
            return await self._stream_tool_call(body, reply, writer)
        writer.write(
            self._head(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked"})
            + b"\r\n"
        )
        text = reply if isinstance(reply, Text) else Text(chunks=max(reply.after_chunks, 1))
        pieces = _split(text.text, text.chunks)
        if not isinstance(reply, Text):
            pieces = pieces[: reply.after_chunks]
        message = _message_json(body, text, content=[], output_tokens=1)
        message["stop_reason"] = None
        _chunk(writer, "message_start", {"type": "message_start", "message": message})
        start = {"type": "text", "text": ""}
        _chunk(
            writer,
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": start},
        )
        await writer.drain()
        for i, piece in enumerate(pieces):
            await asyncio.sleep(text.first_token_delay if i == 0 else text.chunk_delay)
            delta = {"type": "text_delta", "text": piece}
            _chunk(
                writer,
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": delta},
            )
            await writer.drain()
        if isinstance(reply, Drop):
            writer.transport.abort()
            return False
        if isinstance(reply, StreamError):
            _chunk(writer, "error", _error_body(reply.error_type, reply.message))
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        usage = {"output_tokens": _output_tokens(text)}
        stop = {"stop_reason": text.stop_reason, "stop_sequence": None}
        _chunk(writer, "content_block_stop", {"type": "content_block_stop", "index": 0})
        _chunk(writer, "message_delta", {"type": "message_delta", "delta": stop, "usage": usage})
        _chunk(writer, "message_stop", {"type": "message_stop"})
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _stream_raw(self, reply: RawStream, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            self._head(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked"})
            + b"\r\n"
        )
        for piece in reply.pieces:
            if isinstance(piece, float | int):
                await asyncio.sleep(piece)
            elif piece:  # an empty chunk would end the body
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _stream_tool_call(
        self, body: dict[str, Any], reply: ToolCall, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(
            self._head(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked"})
            + b"\r\n"
        )
        message = _tool_message(body, reply, content=[], output_tokens=1)
        message["stop_reason"] = None
        _chunk(writer, "message_start", {"type": "message_start", "message": message})
        blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        if reply.text:
            text_delta = {"type": "text_delta", "text": reply.text}
            blocks.append(({"type": "text", "text": ""}, [text_delta]))
        if reply.input is not None:
            input_json = json.dumps(reply.input)[: reply.cut_at]
            pieces = [
                {"type": "input_json_delta", "partial_json": piece}
                for piece in _split(input_json, reply.chunks)
            ]
            tool_use = {"type": "tool_use", "id": reply.id, "name": reply.name, "input": {}}
            blocks.append((tool_use, pieces))
        for index, (block, deltas) in enumerate(blocks):
            _content_block(writer, index, block, deltas)
        stop = {"stop_reason": _tool_stop_reason(reply), "stop_sequence": None}
        usage = {"output_tokens": reply.output_tokens}
        _chunk(writer, "message_delta", {"type": "message_delta", "delta": stop, "usage": usage})
        _chunk(writer, "message_stop", {"type": "message_stop"})
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _message_json(
        self, body: dict[str, Any], reply: Reply, writer: asyncio.StreamWriter
    ) -> bool:
        if isinstance(reply, Drop):
            writer.transport.abort()
            return False
        if isinstance(reply, StreamError):
            return await self._send_error(writer, HttpError(529, reply.error_type, reply.message))
        if isinstance(reply, ToolCall):
            return await self._send_json(writer, 200, _tool_message(body, reply))
        assert isinstance(reply, Text)
        await asyncio.sleep(reply.first_token_delay + reply.chunk_delay * max(reply.chunks - 1, 0))
        return await self._send_json(writer, 200, _message_json(body, reply))

    # batches -------------------------------------------------------------------------------

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"msgbatch_fake_{next(self._ids)}"
        lines: list[dict[str, Any]] = []
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        for item in body["requests"]:
            reply = self._next_reply(item["params"])
            if isinstance(reply, Text):
                result = {"type": "succeeded", "message": _message_json(item["params"], reply)}
            elif isinstance(reply, ToolCall):
                result = {"type": "succeeded", "message": _tool_message(item["params"], reply)}
            elif isinstance(reply, Drop):
                result = {"type": "expired"}
            elif isinstance(reply, RawStream):
                raise ValueError("a RawStream answers streamed calls only")
            else:
                result = {"type": "errored", "error": _error_body(reply.error_type, reply.message)}
            counts[result["type"]] += 1
            lines.append({"custom_id": item["custom_id"], "result": result})
        batch = _Batch(batch_id, datetime.now(UTC), lines, counts)
        self._batches[batch_id] = batch
        return self._batch_json(batch)

    def _ended(self, batch: _Batch) -> bool:
        return batch.polls >= self.batch_polls

    def _batch_json(self, batch: _Batch) -> dict[str, Any]:
        ended = self._ended(batch)
        counts = (
            batch.counts
            if ended
            else {**dict.fromkeys(batch.counts, 0), "processing": len(batch.lines)}
        )
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": batch.created_at.isoformat(),
            "expires_at": (batch.created_at + timedelta(hours=24)).isoformat(),
            "ended_at": datetime.now(UTC).isoformat() if ended else None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch.id}/results"
            if ended
            else None,
        }


def _reset(writer: asyncio.StreamWriter) -> bool:
    """Reset the connection (linger 0: the peer gets a reset, not a clean close)."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


class _Lost:
    """A writer whose bytes never reach the client: the request is served into nothing."""

    def __init__(self) -> None:
        self.transport = self  # StreamWriter.transport, which a ``Drop`` aborts

    def abort(self) -> None:
        pass

    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


def _rejected(body: dict[str, Any]) -> HttpError | None:
    """The 400 the API gives a forced tool choice on a model that does not accept one, or a
    structured-outputs schema it does not take."""
    choice = body.get("tool_choice") or {}
    model = body.get("model")
    if choice.get("type") == "tool" and model in NO_FORCED_TOOL_CHOICE:
        return http_error(400, f"tool_choice: forced tool use is not supported with {model}")
    schemas = [t["input_schema"] for t in body.get("tools") or () if t.get("strict")]
    if (output_format := (body.get("output_config") or {}).get("format")) is not None:
        schemas.append(output_format["schema"])
    for schema in schemas:
        if (problem := _strict_problem(schema)) is not None:
            return http_error(400, f"structured outputs: {problem}")
    return None


def _strict_problem(schema: Any) -> str | None:
    if isinstance(schema, list):
        return next(filter(None, map(_strict_problem, schema)), None)
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        return "additionalProperties must be false for every object"
    if {"minimum", "maximum"} & schema.keys():
        return "minimum and maximum are not supported"
    return next(filter(None, map(_strict_problem, schema.values())), None)


def _structured(body: dict[str, Any], reply: Reply) -> Reply:
    """A ``ToolCall`` answered as structured outputs answer a request with a JSON format."""
    if not isinstance(reply, ToolCall) or not (body.get("output_config") or {}).get("format"):
        return reply
    text = reply.text if reply.input is None else json.dumps(reply.input)[: reply.cut_at]
    return Text(text, output_tokens=reply.output_tokens, input_tokens=reply.input_tokens)


def _tool_stop_reason(reply: ToolCall) -> str:
    if reply.input is None:
        return "end_turn"
    return "tool_use" if reply.cut_at is None else "max_tokens"


def _tool_message(
    body: dict[str, Any],
    reply: ToolCall,
    *,
    content: list[Any] | None = None,
    output_tokens: int | None = None,
) -> dict[str, Any]:
    if content is None:
        content = [{"type": "text", "text": reply.text}] if reply.text else []
        if reply.input is not None:
            content.append(
                {"type": "tool_use", "id": reply.id, "name": reply.name, "input": reply.input}
            )
    return {
        "id": f"msg_fake_{next(_MESSAGE_IDS)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": _tool_stop_reason(reply),
        "stop_sequence": None,
        "usage": {
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens if output_tokens is None else output_tokens,
        },
    }


def _error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def _output_tokens(text: Text) -> int:
    return text.output_tokens if text.output_tokens is not None else len(text.text) // 4 + 1


def _message_json(
    body: dict[str, Any],
    text: Text,
    *,
    content: list[Any] | None = None,
    output_tokens: int | None = None,
) -> dict[str, Any]:
    input_tokens = (
        text.input_tokens if text.input_tokens is not None else len(json.dumps(body)) // 4
    )
    return {
        "id": f"msg_fake_{next(_MESSAGE_IDS)}",
        "type": "message",
        "role": "assistant",
        "model": text.model or body.get("model", "claude-fake"),
        "content": [{"type": "text", "text": text.text}] if content is None else content,
        "stop_reason": text.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": _output_tokens(text) if output_tokens is None else output_tokens,
            "cache_creation_input_tokens": text.cache_creation_input_tokens,
            "cache_read_input_tokens": text.cache_read_input_tokens,
        },
    }


def _split(text: str, chunks: int) -> list[str]:
    size = max(1, -(-len(text) // max(chunks, 1)))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _content_block(
    writer: asyncio.StreamWriter, index: int, block: dict[str, Any], deltas: list[dict[str, Any]]
) -> None:
    """content_block_start, a content_block_delta per delta, content_block_stop."""
    start = {"type": "content_block_start", "index": index, "content_block": block}
    _chunk(writer, "content_block_start", start)
    for delta in deltas:
        _chunk(
            writer,
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": delta},
        )
    _chunk(writer, "content_block_stop", {"type": "content_block_stop", "index": index})


def sse_frame(event: str, data: Any) -> bytes:
    """One server-sent event as the API writes it."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _chunk(writer: asyncio.StreamWriter, event: str, data: Any) -> None:
    frame = sse_frame(event, data)
    writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")


@contextmanager
def fake_anthropic(
    script: Script = (),
    *,
    default: Reply = Text(),
    api_key: str | None = DEFAULT_KEY,
    batch_polls: int = 1,
    x_api_key: bool = False,
) -> Iterator[FakeAnthropic]:
    """Run a fake Messages API for the duration of the block (``api_key=None`` accepts any key;
    ``x_api_key=True`` accepts the key in an ``x-api-key`` header as well as a bearer token)."""
    fake = FakeAnthropic(script, default, api_key, batch_polls, x_api_key)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
