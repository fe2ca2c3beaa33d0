"""The ``messages`` router: one Messages API call that puts the question as Claude Code's main
loop puts it, through the provider stack (retries, pricing, Batches).

Claude Code's own system prompt and tool definitions are not ours to ship, so the request is
the user's capture (``registry capture-claude-code``, ``experiments.routers.capture``) with the
trial's roster listed and its request asked. A trial records which capture decided it; a capture
made by another Claude Code version than the one installed is said before the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments.providers.base import (
    CHARS_PER_TOKEN,
    CallContext,
    ModelRequest,
    ModelResponse,
    TaskMaterial,
    Usage,
)
from experiments.roster import AGENT_TOOLS, NONE, RosterAgent, choice_of
from experiments.routers.base import Decision, RouterOptions, RoutingQuestion
from experiments.routers.capture import DEFAULT_CAPTURE, Capture, stale_capture_warning

if TYPE_CHECKING:
    from experiments.kinds.base import ModelCalls

# Output of one decision before any is known: a short thinking block and the Agent call.
ESTIMATE_OUTPUT_TOKENS = 400


class MessagesRouter:
    name = "messages"
    simulated = False

    def __init__(self, options: RouterOptions) -> None:
        self.capture = Capture.load(Path(options.capture) if options.capture else DEFAULT_CAPTURE)
        self.stale = stale_capture_warning(self.capture)

    @property
    def version(self) -> str:
        return f"capture {self.capture.capture_id} of Claude Code {self.capture.cc_version}"

    def builtins(self) -> tuple[RosterAgent, ...]:
        return self.capture.builtins()

    def request(self, question: RoutingQuestion) -> ModelRequest:
        body: dict[str, Any] = dict(
            self.capture.request_body(question.prompt, question.agents, question.model_id)
        )
        system = body.pop("system", "")
        return ModelRequest(
            model=body.pop("model"),
            system=system if isinstance(system, str) else tuple(system),
            messages=tuple(body.pop("messages")),
            max_tokens=int(body.pop("max_tokens")),
            settings=body,
        )

    def estimate(self, question: RoutingQuestion) -> Usage:
        chars = len(json.dumps(self.request(question).body()))
        return Usage(chars // CHARS_PER_TOKEN + 1, ESTIMATE_OUTPUT_TOKENS)

    async def decide(self, question: RoutingQuestion, calls: ModelCalls) -> Decision:
        context = CallContext(
            question.seed,
            question.arm_label,
            question.epoch,
            TaskMaterial(question.task_id, question.prompt),
        )
        response = await calls.complete(self.request(question), context)
        return self.decision(response)

    def decision(self, response: ModelResponse) -> Decision:
        """The main loop's first tool call decides: ``Agent`` delegates (to its
        ``subagent_type``, or general-purpose without one); any other tool, or text alone, means
        the main thread works on the request itself."""
        first = response.tool_calls[0] if response.tool_calls else None
        choice = choice_of(first.name, first.input) if first is not None else NONE
        agent_input = first.input if first is not None and first.name in AGENT_TOOLS else None
        return Decision(
            choice=choice,
            usage=response.usage,
            latency_s=response.latency_s,
            ttft_s=response.ttft_s,
            model_id=response.model or None,
            details={
                "capture": self.capture.capture_id,
                "claude_code_version": self.capture.cc_version,
                "first_tool": first.name if first is not None else None,
                "agent_input": agent_input,
            },
        )

    async def aclose(self) -> None:
        return None
