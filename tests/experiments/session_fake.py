"""A scripted Claude Code session for the loopback fake (tests/fake_anthropic.py).

``ScriptedSession(steps)`` is a ``script`` for ``fake_anthropic``: each request of a session's
main loop (a request with ``tools``) is answered with the step after the tool results it already
carries, so step N answers the request that holds N tool results (the last step repeats),
whatever else Claude Code sends in between; each tool call gets its own id. A step is a reply,
or a function of the trial's workspace (read from the request: Claude Code states its working
folder) returning one, for tools that need absolute paths. Other requests (a title, a summary)
get a short text. ``stall_s`` makes every main-loop request from step ``stall_after`` on (of
each session) wait before its first token.
``requests`` counts the main-loop requests answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tests.fake_anthropic import Reply, Text, ToolCall

WORKSPACE = re.compile(r"(/[^\s\"'\\]*registry-agentic-[^/\s\"'\\]+/work)")
Step = Reply | Callable[[Path], Reply]


def tool(name: str, tool_input: dict[str, Any]) -> ToolCall:
    return ToolCall(tool_input, name=name, input_tokens=2_000, output_tokens=50)


@dataclass
class ScriptedSession:
    steps: Sequence[Step]
    stall_s: float = 0.0
    stall_after: int = 0
    requests: int = 0  # main-loop requests answered

    def __call__(self, body: dict[str, Any]) -> Reply:
        if not body.get("tools"):
            return Text("ok", input_tokens=100, output_tokens=2)
        self.requests += 1
        found = WORKSPACE.search(json.dumps(body))
        workspace = Path(found.group(1)) if found else Path("/nonexistent")
        done = sum(
            1
            for message in body["messages"]
            if isinstance(message.get("content"), list)
            for block in message["content"]
            if isinstance(block, dict) and block.get("type") == "tool_result"
        )
        step = self.steps[min(done, len(self.steps) - 1)]
        reply = step(workspace) if callable(step) else step
        if isinstance(reply, ToolCall):  # one id per call, as the API gives
            reply = replace(reply, id=f"toolu_step_{done}")
        if self.stall_s and done >= self.stall_after:
            reply = Text("late", first_token_delay=self.stall_s)
        return reply
