"""The ``claude-code`` router: the real Claude Code CLI decides, through ``claude_agent_sdk``.

One decision is one Claude Code session in a fresh temporary folder: the question's agents are
written to ``.claude/agents/<name>.md`` byte for byte, ``HOME`` is a fresh folder (no user
settings, agents or memory), telemetry, auto-update and other non-essential traffic are off, and
``ANTHROPIC_BASE_URL`` / ``ANTHROPIC_API_KEY`` come from this process's environment (the key
reaches the CLI on a pipe: never in a file, a detail or an error).

Invariants:

- The decision is the main loop's first tool call, seen by a ``PreToolUse`` hook: an ``Agent``
  call is its ``subagent_type`` (``general-purpose`` without one), any other tool is ``none``, and
  a turn that ends without a tool call is ``none``. The hook denies that call and returns
  ``continue: false``, so Claude Code ends the session without running the tool: no subagent
  starts and no request follows. Measured against the loopback fake (2 CPUs): one
  ``POST /v1/messages`` per decision (more only when Claude Code itself retries an error) of
  about 22,000 input tokens, and 2 to 2.5 s of wall time, 1.3 s of it starting the CLI and the
  SDK's handshake. Starting the CLI is CPU-bound: 8 decisions at once took 20 s on 2 CPUs.
- Claude Code retries even a 401 (ten times, with back-off of up to 40 s); the first
  ``api_retry`` event with an authentication status stops the session at once and raises
  ``FatalProviderError``.
- The CLI never outlives ``decide()``: it is killed once the result is in (nothing of the
  session is kept) and on a timeout, a cancellation or a failure (the SDK's own close would wait
  5 s for a graceful exit, then 5 s after SIGTERM); the temporary folder is always removed.
- Several ``decide()`` may run at once: each has its own folder, process and SDK client.

The CLI's environment is ``session_env``'s allow-list (through ``launcher``: the SDK would merge
this process's whole environment in): no ``GIT_*``, ``SSH_*`` or cloud variable of this process,
``TMPDIR`` inside the temporary folder. A 400 stops the run here, unlike in an agentic session:
a decision is one first request, so a 400 is the configuration's (model, options), not a trial's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments.claude_code_runtime import (
    FATAL_STATUSES,
    VERSION_TIMEOUT_S,
    SessionLog,
    cli_version,
    connect,
    find_cli,
    kill_client,
    launcher,
    missing_key,
    refused_key,
    require_sdk,
    session_env,
    write_agents,
)
from experiments.providers.base import (
    CHARS_PER_TOKEN,
    FatalProviderError,
    ProviderError,
    Usage,
)
from experiments.roster import GENERAL_PURPOSE, NONE, RosterAgent, choice_of
from experiments.routers.base import Decision, RouterOptions, RoutingQuestion

if TYPE_CHECKING:
    from experiments.kinds.base import ModelCalls

WHO = "router claude-code"
DENY_REASON = "Routing trial: the delegation decision is recorded; this call is not run."

# What Claude Code 2.1.332 sends besides the agent listing and the prompt, measured against the
# loopback fake as characters of the JSON body of the main loop's first request: the system
# prompt (about 28,400 characters in three blocks), the tools (about 48,000 characters of JSON:
# Agent's description alone is 8,200), and the other reminders of the first user message
# (environment, deferred tools, skills, date: about 9,000). The listing of the built-in agents,
# with its header and closing sentence, is 1,880 more; estimate() adds a line per agent of the
# question and the prompt. Against the fake the estimate is within 1% of the body's size / 4.
CC_BASE_CHARS = 86_500
CC_BUILTIN_LISTING_CHARS = 1_880
ESTIMATED_OUTPUT_TOKENS = 100  # an Agent call with a short prompt, or a short answer

# Claude Code's built-in agents (2.1.332 lists these five; the note's four plus ``claude``).
# The descriptions are short paraphrases: only the names matter for validation, and the
# ``messages`` router reads Claude Code's own text from its capture.
BUILTINS = (
    RosterAgent("claude", "Catch-all agent for a task no more specific agent fits.", ("*",),
                "built-in", builtin=True),
    RosterAgent("Explore", "Fast read-only agent that searches a codebase.", None,
                "built-in", builtin=True),
    RosterAgent(GENERAL_PURPOSE, "Researches questions and runs multi-step tasks.", ("*",),
                "built-in", builtin=True),
    RosterAgent("Plan", "Software architect agent that designs implementation plans.", None,
                "built-in", builtin=True),
    RosterAgent("statusline-setup", "Configures the Claude Code status line.", ("Read", "Edit"),
                "built-in", builtin=True),
)  # fmt: skip


class _Session(SessionLog):
    """What one Claude Code session reported, gathered from its messages and its hook."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__(secrets)
        self.tool: tuple[str, dict[str, Any]] | None = None  # the first tool call


class ClaudeCodeRouter:
    """Claude Code's main loop decides; see the module docstring for how a session is stopped."""

    name = "claude-code"
    simulated = False

    def __init__(self, options: RouterOptions) -> None:
        require_sdk(WHO)
        self.options = options
        self.cli = find_cli()
        self.cc_version = cli_version(self.cli, timeout_s=VERSION_TIMEOUT_S)

    @property
    def version(self) -> str:
        return f"claude-code {self.cc_version}"

    def builtins(self) -> tuple[RosterAgent, ...]:
        return BUILTINS

    def estimate(self, question: RoutingQuestion) -> Usage:
        listing = sum(len(agent.listing_line()) + 1 for agent in question.agents)
        chars = CC_BASE_CHARS + CC_BUILTIN_LISTING_CHARS + listing + len(question.prompt)
        return Usage(input_tokens=chars // CHARS_PER_TOKEN, output_tokens=ESTIMATED_OUTPUT_TOKENS)

    async def aclose(self) -> None:
        return None

    async def decide(self, question: RoutingQuestion, calls: ModelCalls) -> Decision:
        """One Claude Code session; ``calls`` is unused: Claude Code makes its own requests."""
        if not os.environ.get("ANTHROPIC_API_KEY"):
            raise FatalProviderError(missing_key(WHO))
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix="registry-claude-code-"))
        session = _Session([os.environ["ANTHROPIC_API_KEY"]])
        try:
            for name in ("work", "home", "tmp"):
                (tmp / name).mkdir()
            write_agents(tmp / "work", question.agents)
            try:
                async with asyncio.timeout(self.options.timeout_s):
                    await self._run(question, tmp, session)
            except TimeoutError:
                raise ProviderError(
                    f"claude-code made no decision within {self.options.timeout_s:g} s"
                ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        latency = time.monotonic() - started
        return self._decision(question, session, latency)

    async def _run(
        self,
        question: RoutingQuestion,
        folder: Path,
        session: _Session,
    ) -> None:
        from claude_agent_sdk import (
            AssistantMessage,
            ClaudeAgentOptions,
            ClaudeSDKClient,
            ClaudeSDKError,
            HookMatcher,
            ToolUseBlock,
        )

        async def pre_tool_use(hook_input: Any, tool_use_id: str | None, context: Any) -> Any:
            if hook_input.get("agent_id"):  # a subagent's call: never expected, never allowed
                return _deny()
            if session.tool is None:
                session.tool = (str(hook_input["tool_name"]), dict(hook_input["tool_input"]))
            return _deny()

        env = session_env(folder / "home", folder / "tmp", GIT_CEILING_DIRECTORIES=str(folder))
        options = ClaudeAgentOptions(
            cwd=str(folder / "work"),
            model=question.model_id,
            cli_path=launcher(folder, self.cli, env),
            env=env,
            # Claude Code's own system prompt: without a preset the SDK sends an empty one.
            system_prompt={"type": "preset", "preset": "claude_code"},
            hooks={"PreToolUse": [HookMatcher(matcher=None, hooks=[pre_tool_use])]},
            stderr=session.diagnostics.on_stderr,
        )
        client = ClaudeSDKClient(options)
        try:
            await connect(client)
            await client.query(question.prompt)
            async for message in client.receive_messages():
                if session.note(message):
                    break
                if not isinstance(message, AssistantMessage) or message.parent_tool_use_id:
                    continue  # a subagent's message (the hook prevents any)
                if session.tool is None:
                    for block in message.content:
                        if isinstance(block, ToolUseBlock):
                            session.tool = (block.name, dict(block.input))
                            break
                if len(session.message_ids) > 1 and session.tool is not None:
                    # A request after the decision: the hook did not stop the loop.
                    with contextlib.suppress(Exception):
                        await client.interrupt()
        except ClaudeSDKError as err:
            raise ProviderError(session.diagnostics.failed(err)) from None
        finally:
            # Nothing of the session is kept (its folder is removed), so there is no reason to
            # wait for the CLI to flush its transcript and leave: its result is in, or it
            # failed, timed out or was cancelled.
            kill_client(client)
            with contextlib.suppress(Exception):
                await client.disconnect()
        if session.fatal is not None:
            raise refused_key(*session.fatal)
        if session.result is None:
            raise ProviderError(session.diagnostics.no_result())

    def _decision(self, question: RoutingQuestion, session: _Session, latency: float) -> Decision:
        result = session.result
        if result.is_error and session.tool is None:
            message, status = session.diagnostics.result_error(result)
            if status in FATAL_STATUSES:
                raise FatalProviderError(message, status=status)
            raise ProviderError(message, status=status)
        agent_input: dict[str, Any] | None = None
        if session.tool is None:
            choice = NONE
        else:
            tool_name, tool_input = session.tool
            choice = choice_of(tool_name, tool_input)
            if choice != NONE:
                agent_input = {
                    key: tool_input.get(key) for key in ("description", "subagent_type", "prompt")
                }
        details: dict[str, Any] = {
            "claude_code_version": self.cc_version,
            "agent_input": agent_input,
            "requests": session.requests,
            "session_id": session.session_id,
        }
        if session.tool is not None and choice == NONE:
            details["tool"] = session.tool[0]
        return Decision(
            choice=choice,
            usage=session.usage(),
            cost_usd=session.cost_usd(),
            latency_s=latency,  # CLI start to decision; Claude Code does not report a TTFT
            model_id=session.model or question.model_id,
            details=details,
        )


def _deny() -> dict[str, Any]:
    """The hook's answer: refuse the call and end the session (``continue: false``)."""
    return {
        "continue_": False,
        "stopReason": DENY_REASON,
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": DENY_REASON,
        },
    }
