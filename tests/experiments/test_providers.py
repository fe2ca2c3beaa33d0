"""AnthropicProvider and MessageBatches through the real SDK against the loopback fake."""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from core.errors import SpecError
from experiments.pricing import cost_usd
from experiments.providers.anthropic import AnthropicProvider
from experiments.providers.anthropic_sdk import MISSING_KEY, make_client, parse_retry_after
from experiments.providers.base import (
    CallContext,
    FatalProviderError,
    ModelRequest,
    ModelResponse,
    ProviderError,
    RetryableProviderError,
    TaskMaterial,
    ToolUse,
    Usage,
)
from experiments.providers.batches import MessageBatches
from experiments.providers.registry import get_provider
from experiments.providers.simulated import SimulatedProvider
from experiments.retry import call_with_retries
from tests.conftest import REPO
from tests.fake_anthropic import (
    DEFAULT_KEY,
    Drop,
    RawStream,
    StreamError,
    Text,
    ToolCall,
    fake_anthropic,
    http_error,
    sse_frame,
)

T = TypeVar("T")
MODEL = "claude-sonnet-5-5"
REQUEST = ModelRequest(
    model=MODEL,
    system="You are terse.",
    messages=({"role": "user", "content": "Say hi."},),
    max_tokens=256,
    settings={"thinking": {"type": "disabled"}, "output_config": {"effort": "low"}},
)
CONTEXT = CallContext(seed=1, variant="control", epoch=0, task=TaskMaterial("t1", "Say hi."))
OK = Text("hi there", chunks=2)
TOOL = {"name": "record", "input_schema": {"type": "object"}}
VERDICT = {"points": [{"point": 1, "met": True, "reason": "bcrypt"}], "score": 8, "reason": "ok"}


def with_tool(model: str = MODEL, choice: dict[str, Any] | None = None) -> ModelRequest:
    settings: dict[str, Any] = {"tools": [TOOL], "tool_choice": choice or {"type": "auto"}}
    return ModelRequest(model, "Grade it.", REQUEST.messages, 256, settings)


def call(base_url: str, request: ModelRequest = REQUEST, key: str = DEFAULT_KEY) -> ModelResponse:
    async def go() -> ModelResponse:
        provider = AnthropicProvider(api_key=key, base_url=base_url)
        try:
            return await provider.complete(request, CONTEXT)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def call_retrying(base_url: str, key: str = DEFAULT_KEY) -> tuple[ModelResponse, int, list[float]]:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def go() -> tuple[ModelResponse, int]:
        provider = AnthropicProvider(api_key=key, base_url=base_url)
        try:
            return await call_with_retries(
                lambda: provider.complete(REQUEST, CONTEXT), sleep=sleep, rng=lambda: 0.0
            )
        finally:
            await provider.aclose()

    response, retries = asyncio.run(go())
    return response, retries, delays


def test_streamed_call_measures_first_token_usage_and_cost():
    reply = Text(
        "Hello, world!",
        chunks=3,
        first_token_delay=0.2,
        chunk_delay=0.05,
        input_tokens=1200,
        output_tokens=34,
        cache_creation_input_tokens=100,
        cache_read_input_tokens=2000,
        model="claude-sonnet-5-5-reported",
    )
    with fake_anthropic([reply]) as fake:
        response = call(fake.base_url)
    assert response.text == "Hello, world!"
    assert response.ttft_s >= 0.2
    # The first token after 0.2 s, two more chunks 0.05 s apart. Measured against the server's
    # delays, not the measured first token: on a loaded machine the first chunk can be read late,
    # together with the ones sent after it.
    assert response.latency_s >= max(response.ttft_s, 0.2 + 2 * 0.05)
    assert response.stop_reason == "end_turn"
    assert response.model == "claude-sonnet-5-5-reported"
    assert response.request_id.startswith("req_fake_")
    assert response.usage == Usage(
        input_tokens=1200, output_tokens=34, cache_write_tokens=100, cache_read_tokens=2000
    )
    # Sonnet 5.5: 1200*2 + 34*10 + 100*2.5 + 2000*0.10 = 3190 micro-dollars.
    assert cost_usd(MODEL, response.usage) == pytest.approx(0.00319)


def test_request_sent_as_given_with_bearer_auth():
    with fake_anthropic() as fake:
        call(fake.base_url)
    (sent,) = fake.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["authorization"] == f"Bearer {DEFAULT_KEY}"
    assert "x-api-key" not in sent.headers
    assert sent.headers["anthropic-version"]
    assert sent.body == {
        "model": MODEL,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 256,
        "thinking": {"type": "disabled"},
        "output_config": {"effort": "low"},
        "stream": True,
    }


def test_empty_system_prompt_is_left_out():
    request = ModelRequest(model=MODEL, system="", messages=REQUEST.messages, max_tokens=10)
    with fake_anthropic() as fake:
        call(fake.base_url, request)
    assert "system" not in fake.requests[0].body


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch):
    with fake_anthropic([OK]) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)

        async def go() -> ModelResponse:
            provider = get_provider("anthropic")
            try:
                return await provider.complete(REQUEST, CONTEXT)
            finally:
                await provider.aclose()

        assert asyncio.run(go()).text == "hi there"


def _without_telemetry_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ANTHROPIC_OPEN_TELEMETRY") or name == "OTEL_PYTHON_TRACER_PROVIDER":
            monkeypatch.delenv(name)


def test_no_spans_are_built_when_no_tracer_provider_could_record_them(
    monkeypatch: pytest.MonkeyPatch,
):
    _without_telemetry_settings(monkeypatch)
    client, _ = make_client(DEFAULT_KEY, "http://127.0.0.1:9")
    assert client.open_telemetry["traces"]["enabled"] is False
    with fake_anthropic([OK]) as fake:
        assert call(fake.base_url).text == "hi there"
    assert "traceparent" not in fake.requests[0].headers


@pytest.mark.parametrize(
    ("variable", "value", "enabled"),
    [
        ("ANTHROPIC_OPEN_TELEMETRY", "false", False),
        ("ANTHROPIC_OPEN_TELEMETRY", "true", True),
        ("ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE", "content", True),
    ],
)
def test_the_sdk_s_telemetry_variables_decide_when_given(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, enabled: bool
):
    _without_telemetry_settings(monkeypatch)
    monkeypatch.setenv(variable, value)
    client, _ = make_client(DEFAULT_KEY, "http://127.0.0.1:9")
    assert client.open_telemetry["traces"]["enabled"] is enabled


def test_a_tracer_provider_set_before_the_client_keeps_the_sdk_s_spans():
    # The global provider can be set once per process: in a process of its own.
    script = (
        "from opentelemetry import trace\n"
        "trace.set_tracer_provider(trace.NoOpTracerProvider())\n"
        "from experiments.providers.anthropic_sdk import make_client\n"
        "client, _ = make_client('sk-test', 'http://127.0.0.1:9')\n"
        "print(client.open_telemetry['traces']['enabled'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_OPEN_TELEMETRY")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_auth_token_is_accepted_when_no_api_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", DEFAULT_KEY)
    with fake_anthropic([OK]) as fake:
        assert call(fake.base_url, key=None).text == "hi there"
    assert fake.requests[0].headers["authorization"] == f"Bearer {DEFAULT_KEY}"


@pytest.mark.parametrize(
    ("failure", "delay"),
    [
        (http_error(429, retry_after="2"), 2.0),
        (http_error(429, retry_after_ms="1500"), 1.5),
        (http_error(529), 0.5),  # no header: the first backoff step
        (http_error(500), 0.5),
        (StreamError("overloaded_error", after_chunks=1), 0.5),
        (Drop(after_chunks=1), 0.5),
    ],
    ids=["429-retry-after", "429-retry-after-ms", "529", "500", "overloaded-mid-stream", "drop"],
)
def test_transient_failures_are_retried(failure: Any, delay: float):
    with fake_anthropic([failure, OK]) as fake:
        response, retries, delays = call_retrying(fake.base_url)
    assert (response.text, retries, delays) == ("hi there", 1, [delay])
    assert fake.message_calls == 2


def test_retryable_error_carries_status_and_retry_after():
    with (
        fake_anthropic([http_error(429, retry_after="3")]) as fake,
        pytest.raises(RetryableProviderError) as info,
    ):
        call(fake.base_url)
    assert (info.value.status, info.value.retry_after) == (429, 3.0)


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            http_error(400, "temperature: Extra inputs are not permitted"),
            r"400 invalid_request_error\): temperature: Extra inputs are not permitted",
        ),
        (http_error(401), "ANTHROPIC_API_KEY was rejected"),
        (http_error(403), f"permission denied \\(403\\): this key may not use model {MODEL}"),
        (http_error(404), f"model {MODEL} not found: check data/models.yaml or the spec"),
    ],
    ids=["400", "401", "403", "404"],
)
def test_client_errors_fail_fast_with_a_fix(failure: Any, message: str):
    with (
        fake_anthropic([failure, OK]) as fake,
        pytest.raises(FatalProviderError, match=message) as info,
    ):
        call_retrying(fake.base_url)
    assert info.value.status == failure.status
    assert info.value.retries == 0
    assert fake.message_calls == 1


def test_wrong_key_is_rejected_by_the_server_and_never_shown():
    secret = "sk-ant-WRONG-0123456789abcdef"
    with (
        fake_anthropic() as fake,
        pytest.raises(FatalProviderError, match="ANTHROPIC_API_KEY was rejected") as info,
    ):
        call(fake.base_url, key=secret)
    assert secret not in str(info.value)


def test_key_is_scrubbed_even_when_the_server_echoes_it():
    secret = "sk-ant-SECRET-0123456789abcdef"
    echoes = [http_error(400, f"bad header {secret}"), http_error(500, f"upstream saw {secret}")]
    with fake_anthropic(echoes, api_key=secret) as fake:
        for _ in echoes:
            with pytest.raises(ProviderError) as info:
                call(fake.base_url, key=secret)
            assert secret not in str(info.value)
            assert "[redacted]" in str(info.value)
        provider = AnthropicProvider(api_key=secret, base_url=fake.base_url)
        assert secret not in repr(provider) and fake.base_url in repr(provider)
        asyncio.run(provider.aclose())


def test_missing_key_fails_before_any_request():
    with pytest.raises(FatalProviderError) as info:
        get_provider("anthropic", base_url="http://127.0.0.1:9")
    assert str(info.value) == MISSING_KEY
    assert "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment" in MISSING_KEY


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "4"}) == 4.0
    assert parse_retry_after({"retry-after": "nonsense"}) is None
    assert parse_retry_after({}) is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < parse_retry_after({"retry-after": future}) <= 30


def test_registry_knows_both_providers():
    assert isinstance(get_provider("simulated"), SimulatedProvider)
    with pytest.raises(SpecError, match=r"unknown provider 'openai'.*anthropic, simulated"):
        get_provider("openai")


# --- tool use and capabilities -------------------------------------------------------------


def test_streamed_tool_use_is_assembled_from_input_json_deltas():
    reply = ToolCall(VERDICT, name="record", text="Recording.", chunks=5, output_tokens=40)
    with fake_anthropic([reply]) as fake:
        response = call(fake.base_url, with_tool())
    assert fake.requests[0].body["stream"] is True
    assert response.tool_calls == (ToolUse("record", VERDICT),)
    assert response.text == "Recording."
    assert response.stop_reason == "tool_use"
    assert response.usage == Usage(input_tokens=1000, output_tokens=40)


def test_tool_call_cut_off_mid_input_is_kept_without_input():
    reply = ToolCall(VERDICT, name="record", cut_at=20)
    with fake_anthropic([reply]) as fake:
        response = call(fake.base_url, with_tool())
    assert response.tool_calls == (ToolUse("record", None),)
    assert response.stop_reason == "max_tokens"


def test_text_answer_has_no_tool_calls():
    with fake_anthropic([OK]) as fake:
        assert call(fake.base_url).tool_calls == ()


@pytest.mark.parametrize(
    ("model", "forced", "structured"),
    [
        ("claude-sonnet-5-5", True, True),
        ("claude-haiku-5-5", True, True),
        ("claude-opus-5-5", True, True),
        ("claude-fable-5", True, True),
        ("claude-fable-5-1", False, True),
        ("claude-fable-5-2", False, True),
        ("claude-fable-6", False, True),
        ("claude-mythos-5-1", True, True),
        ("claude-haiku-4-5", True, True),
        ("claude-sonnet-4-5-20250929", True, True),
        ("claude-opus-4-1", True, False),
        ("claude-3-7-sonnet-20250219", True, False),
        ("some-proxy-model", True, False),
    ],
)
def test_what_the_api_accepts_depends_on_the_model(model: str, forced: bool, structured: bool):
    provider = AnthropicProvider(api_key=DEFAULT_KEY, base_url="http://127.0.0.1:9")
    try:
        capabilities = provider.capabilities(model)
    finally:
        asyncio.run(provider.aclose())
    assert capabilities.forced_tool_choice is forced
    assert (capabilities.streaming, capabilities.tool_use, capabilities.batches) == (
        True,
        True,
        True,
    )
    assert capabilities.structured_output is structured
    # The simulator takes a forced tool call on every model (so its judgements do not change
    # with the judge's model family), no structured outputs, and has no batches.
    simulated = SimulatedProvider().capabilities(model)
    assert (simulated.forced_tool_choice, simulated.structured_output) == (True, False)
    assert simulated.batches is False


def test_simulated_provider_has_no_batches():
    with pytest.raises(SpecError, match=r"no Message Batches.*provider: anthropic"):
        SimulatedProvider().batches()


def test_fake_rejects_forced_tool_choice_on_fable_5_1_and_later():
    forced = {"type": "tool", "name": "record"}
    reply = ToolCall(VERDICT, name="record")
    with fake_anthropic([reply]) as fake:
        with pytest.raises(FatalProviderError, match=r"400.*forced tool use"):
            call(fake.base_url, with_tool("claude-fable-5-2", forced))
        # rejected before any script reply was taken
        assert (
            call(fake.base_url, with_tool("claude-fable-5", forced)).tool_calls[0].input == VERDICT
        )


# --- batches -------------------------------------------------------------------------------


def run_batches(base_url: str, job: Callable[[MessageBatches], Awaitable[T]]) -> T:
    async def go() -> T:
        provider = AnthropicProvider(api_key=DEFAULT_KEY, base_url=base_url)
        try:
            return await job(provider.batches())
        finally:
            await provider.aclose()

    return asyncio.run(go())


def test_batch_submit_poll_results():
    script = [
        Text("first", input_tokens=10, output_tokens=2, cache_read_input_tokens=5),
        http_error(400, "max_tokens: must be at least 1"),
        Drop(),
        StreamError("overloaded_error"),
    ]
    requests = [(f"exp1-control-t{i}-0", REQUEST) for i in range(4)]

    async def job(batches: MessageBatches) -> tuple[Any, ...]:
        batch_id = await batches.submit(requests)
        first = await batches.poll(batch_id)
        second = await batches.poll(batch_id)
        final = await batches.poll(batch_id)
        return batch_id, first, second, final, await batches.results(batch_id)

    with fake_anthropic(script, batch_polls=3) as fake:
        batch_id, first, second, final, results = run_batches(fake.base_url, job)
    created = fake.requests[0]
    assert (created.method, created.path) == ("POST", "/v1/messages/batches")
    assert [r["custom_id"] for r in created.body["requests"]] == [cid for cid, _ in requests]
    assert created.body["requests"][0]["params"] == REQUEST.body()
    assert (first.processing_status, first.ended, first.counts["processing"]) == (
        "in_progress",
        False,
        4,
    )
    assert (second.ended, final.batch_id, final.ended) == (False, batch_id, True)
    assert {k: v for k, v in final.counts.items() if v} == {
        "succeeded": 1,
        "errored": 2,
        "expired": 1,
    }
    ok = results["exp1-control-t0-0"]
    assert isinstance(ok, ModelResponse)
    assert (ok.text, ok.latency_s, ok.ttft_s) == ("first", 0.0, None)
    assert ok.usage == Usage(input_tokens=10, output_tokens=2, cache_read_tokens=5)
    bad = results["exp1-control-t1-0"]
    assert isinstance(bad, FatalProviderError)
    assert "max_tokens: must be at least 1" in str(bad)
    assert isinstance(results["exp1-control-t2-0"], RetryableProviderError)
    overloaded = results["exp1-control-t3-0"]
    assert isinstance(overloaded, RetryableProviderError) and overloaded.status == 529


def test_batch_results_carry_tool_calls():
    async def job(batches: MessageBatches) -> dict[str, ModelResponse | ProviderError]:
        batch_id = await batches.submit([("judge-1", with_tool())])
        return await batches.results(batch_id)

    with fake_anthropic([ToolCall(VERDICT, name="record")]) as fake:
        results = run_batches(fake.base_url, job)
    response = results["judge-1"]
    assert isinstance(response, ModelResponse)
    assert response.tool_calls == (ToolUse("record", VERDICT),)
    assert response.stop_reason == "tool_use"


def test_batch_errors_are_provider_errors():
    async def job(batches: MessageBatches) -> None:
        await batches.poll("msgbatch_missing")

    with fake_anthropic() as fake, pytest.raises(FatalProviderError, match=r"404.*no batch"):
        run_batches(fake.base_url, job)


def test_batch_rejects_duplicate_custom_ids():
    async def job(batches: MessageBatches) -> str:
        return await batches.submit([("same", REQUEST), ("same", REQUEST)])

    with fake_anthropic() as fake, pytest.raises(ValueError, match="unique"):
        run_batches(fake.base_url, job)
    assert fake.requests == []


# --- the fake itself -------------------------------------------------------------------------


def test_fake_requires_bearer_auth():
    async def raw() -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /v1/messages HTTP/1.1\r\nx-api-key: k\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()
        head = await reader.readline()
        writer.close()
        return head

    with fake_anthropic() as fake:
        host, port = fake.base_url.removeprefix("http://").split(":")
        assert asyncio.run(raw()).startswith(b"HTTP/1.1 401")


def test_fake_serves_many_concurrent_streams_fast():
    """Raw keep-alive clients: the fake itself must sustain well over 500 streamed calls/s."""
    body = b'{"model": "m", "max_tokens": 5, "stream": true, "messages": []}'
    head = (
        "POST /v1/messages HTTP/1.1\r\nhost: x\r\n"
        f"authorization: Bearer {DEFAULT_KEY}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    connections, per_connection = 64, 40

    async def client(host: str, port: int) -> int:
        reader, writer = await asyncio.open_connection(host, port)
        done = 0
        for _ in range(per_connection):
            writer.write(head + body)
            await writer.drain()
            await reader.readuntil(b"\r\n0\r\n\r\n")
            done += 1
        writer.close()
        return done

    async def load(base_url: str) -> int:
        host, port = base_url.removeprefix("http://").split(":")
        return sum(await asyncio.gather(*(client(host, int(port)) for _ in range(connections))))

    with fake_anthropic(default=Text(chunks=4)) as fake:
        started = time.perf_counter()
        done = asyncio.run(load(fake.base_url))
        rate = done / (time.perf_counter() - started)
    assert done == connections * per_connection
    print(f"fake served {rate:.0f} streamed calls/s")
    assert rate > 500, f"{rate:.0f} calls/s"


def test_fake_answers_non_streaming_calls_from_a_script_function():
    import anthropic

    async def go(base_url: str) -> Any:
        client = anthropic.AsyncAnthropic(api_key=DEFAULT_KEY, base_url=base_url, max_retries=0)
        try:
            return await client.messages.create(
                model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}]
            )
        finally:
            await client.close()

    def script(body: dict[str, Any]) -> Text:
        return Text(f"echo {body['model']}", output_tokens=3, cache_read_input_tokens=7)

    with fake_anthropic(script) as fake:
        message = asyncio.run(go(fake.base_url))
    assert message.content[0].text == f"echo {MODEL}"
    assert (message.usage.output_tokens, message.usage.cache_read_input_tokens) == (3, 7)
    assert "stream" not in fake.requests[0].body


def test_a_server_tool_block_in_the_stream_is_not_a_tool_call_of_ours():
    from experiments.providers.anthropic import _ToolCalls

    tools = _ToolCalls()
    tools.add(0, '{"query": "weather"}')  # a server_tool_use block (web search) streams input too
    tools.start(1, "record_grade")
    tools.add(1, '{"score": 7}')
    assert [(c.name, c.input) for c in tools.calls()] == [("record_grade", {"score": 7})]


# --- the event stream, read raw ----------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "kind", "status", "message"),
    [
        ("overloaded_error", RetryableProviderError, 529, "Anthropic API 529 overloaded_error: "),
        ("api_error", RetryableProviderError, 500, "Anthropic API 500 api_error: "),
        (
            "invalid_request_error",
            FatalProviderError,
            400,
            "the API rejected the request (400 invalid_request_error): ",
        ),
    ],
)
def test_an_error_event_after_some_text_is_classified_by_its_type(
    error_type: str, kind: type[ProviderError], status: int, message: str
):
    failure = StreamError(error_type, "it broke", after_chunks=2)
    with fake_anthropic([failure]) as fake, pytest.raises(ProviderError) as info:
        call(fake.base_url)
    assert type(info.value) is kind
    assert (str(info.value), info.value.status) == (message + "it broke", status)
    assert getattr(info.value, "retry_after", None) is None


def test_key_in_an_error_event_is_scrubbed():
    secret = "sk-ant-SECRET-0123456789abcdef"
    with (
        fake_anthropic([StreamError(message=f"upstream saw {secret}")], api_key=secret) as fake,
        pytest.raises(RetryableProviderError) as info,
    ):
        call(fake.base_url, key=secret)
    assert str(info.value) == "Anthropic API 529 overloaded_error: upstream saw [redacted]"


def _event(kind: str, **fields: Any) -> bytes:
    return sse_frame(kind, {"type": kind, **fields})


def _delta(index: int, **delta: Any) -> bytes:
    event = {"type": "content_block_delta", "index": index, "delta": delta}
    # Unescaped non-ASCII, as the API may send it: U+2028 must not end the line.
    return f"event: content_block_delta\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


def _pieces(frames: list[bytes], size: int = 37) -> list[bytes]:
    """The frames with CRLF line ends, cut every ``size`` bytes (inside lines and line ends)."""
    stream = b"".join(frames).replace(b"\n", b"\r\n")
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def test_pings_unknown_and_nameless_events_and_thinking_are_skipped():
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_creation_input_tokens": 3}
    message = {"id": "msg_raw", "type": "message", "role": "assistant", "content": []}
    message |= {"model": "claude-sonnet-5-5-raw", "stop_reason": None, "usage": usage}
    thinking = {"type": "thinking", "thinking": "", "signature": ""}
    nameless = {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta"}}
    nameless["delta"]["text"] = "not an event of the API"
    final = {"output_tokens": 9, "input_tokens": 1500, "cache_read_input_tokens": None}
    before = [
        _event("message_start", message=message),
        _event("ping"),
        b": keep-alive\n\n",
        _event("content_block_start", index=0, content_block=thinking),
        _delta(0, type="thinking_delta", thinking="Let me think."),
    ]
    after = [
        _event("content_block_stop", index=0),
        _event("content_block_future", index=0),
        f"data: {json.dumps(nameless)}\n\n".encode(),
        _event("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        _delta(1, type="text_delta", text="line\u2028sep "),
        _event("ping"),
        _delta(1, type="text_delta", text="café ✓"),
        _event("content_block_stop", index=1),
        _event("message_delta", delta={"stop_reason": "end_turn"}, usage=final),
        _event("message_stop"),
    ]
    with fake_anthropic([RawStream([*_pieces(before), 0.2, *_pieces(after)])]) as fake:
        response = call(fake.base_url)
    assert response.text == "line\u2028sep café ✓"
    assert response.ttft_s >= 0.2  # the thinking delta came 0.2 s before the first text
    assert (response.model, response.stop_reason) == ("claude-sonnet-5-5-raw", "end_turn")
    assert response.request_id.startswith("req_fake_")
    # message_delta's final input count wins; a null there keeps message_start's (none: 0).
    assert response.usage == Usage(input_tokens=1500, output_tokens=9, cache_write_tokens=3)
    assert response.tool_calls == ()
