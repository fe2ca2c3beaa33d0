"""The loopback fake of the Messages API, extended with tool-use replies for the judge tests.

``ToolCall`` answers a non-streamed request with a ``tool_use`` block (and optional text), the way
the API answers a forced ``tool_choice``; every other reply is served by the shared fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from experiments.graders.judge import AnthropicJudgeClient, JudgeEnvironment
from tests.fake_anthropic import DEFAULT_KEY, FakeAnthropic, Reply, Script, Text

OK = Text()


@dataclass(frozen=True)
class ToolCall:
    input: dict[str, Any] | None  # None: the model answered in prose, no tool_use block
    name: str = "record_grade"
    text: str = ""
    input_tokens: int = 1000
    output_tokens: int = 200


class ToolFake(FakeAnthropic):
    async def _message_json(
        self, body: dict[str, Any], reply: Any, writer: asyncio.StreamWriter
    ) -> bool:
        if not isinstance(reply, ToolCall):
            return await super()._message_json(body, reply, writer)
        content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        if reply.input is not None:
            content.append(
                {"type": "tool_use", "id": "toolu_fake", "name": reply.name, "input": reply.input}
            )
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": "tool_use" if reply.input is not None else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        }
        return await self._send_json(writer, 200, message)


@contextmanager
def tool_fake(script: Script | Any = (), *, default: Reply | ToolCall = OK) -> Iterator[ToolFake]:
    fake = ToolFake(script, default, DEFAULT_KEY, 1)  # type: ignore[arg-type]
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def fake_env(
    fake: ToolFake, *, default_provider: str = "anthropic", seed: int = 0
) -> JudgeEnvironment:
    """A judge environment whose API client talks to ``fake``; retries do not wait."""

    async def no_sleep(_: float) -> None:
        return None

    return JudgeEnvironment(
        default_provider,
        seed=seed,
        max_attempts=3,
        sleep=no_sleep,
        client_factory=lambda _name: AnthropicJudgeClient(
            api_key=DEFAULT_KEY, base_url=fake.base_url
        ),
    )


def judge_bodies(fake: ToolFake) -> list[dict[str, Any]]:
    """The bodies of the judge requests (those that carry tools) the fake received."""
    return [r.body for r in fake.requests if r.path == "/v1/messages" and "tools" in r.body]
