"""The seam between an agentic trial and what plays its session.

A runtime gets a ``SessionSetup`` (a prepared workspace, a fresh ``HOME``, the agent, the request
and the limits) and returns a ``SessionResult``: the final answer and what the session did, as
the runtime reports it. It raises ``FatalProviderError`` when no session can succeed (no key, a
rejected key); any other failure is a result that ``ended`` in ``error`` (``unreachable`` when
no request of the session got a response: a run of those stops the run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from experiments.providers.base import Usage
from experiments.roster import RosterAgent

# Why a session ended.
FINISHED, TURN_LIMIT, TIME_LIMIT, ERROR = "finished", "turn_limit", "time_limit", "error"

# The dry run's rough estimate of one session: Claude Code's first request is about 22,000
# input tokens (its system prompt and tools, see routers/claude_code.py), each later turn
# resends the conversation and adds about CONTEXT_GROWTH_TOKENS of tool results, and a turn
# writes about OUTPUT_TOKENS_PER_TURN. Prompt caching, which Claude Code uses, makes the real
# cost lower; the estimate ignores it, so it errs high.
FIRST_REQUEST_TOKENS = 22_000
CONTEXT_GROWTH_TOKENS = 1_500
OUTPUT_TOKENS_PER_TURN = 300
EXPECTED_TURNS = 12  # at most max_turns


def estimated_usage(max_turns: int) -> tuple[int, Usage]:
    """Requests and tokens of a typical session under ``max_turns``."""
    turns = min(max_turns, EXPECTED_TURNS)
    growth = CONTEXT_GROWTH_TOKENS * turns * (turns - 1) // 2
    usage = Usage(
        input_tokens=FIRST_REQUEST_TOKENS * turns + growth,
        output_tokens=OUTPUT_TOKENS_PER_TURN * turns,
    )
    return turns, usage


@dataclass(frozen=True)
class SessionSetup:
    root: Path  # the trial's folder (experiments.workspace.TrialFolder)
    workspace: Path
    home: Path
    agent: RosterAgent  # its file is already in the workspace's .claude/agents/
    model_id: str
    prompt: str
    max_turns: int
    time_limit_s: float
    # For the simulated runtime: its draws, and the files a successful session leaves.
    seed: int
    arm_label: str
    task_id: str
    epoch: int
    system: str
    reference: tuple[str, ...] = ()
    solution: Path | None = None
    # Never readable by the session, whatever its sandbox allows (sessions.sandbox.protected).
    protected: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SessionResult:
    ended: str  # FINISHED, TURN_LIMIT, TIME_LIMIT or ERROR
    answer: str | None  # the final answer (None: the session gave none)
    turns: int
    tool_calls: Mapping[str, int]  # by tool name
    denied: Mapping[str, int] = field(default_factory=dict)  # calls refused, by tool name
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None  # as the runtime reports it (None: price it from usage)
    request_usages: tuple[Usage, ...] = ()  # to price request by request (empty: usage at once)
    model_id: str | None = None
    requests: int | None = None  # model requests, when the runtime counts them
    session_id: str | None = None
    error: str | None = None  # what went wrong, one line, key scrubbed
    leftover_processes: int = 0  # still running when the session ended: killed
    # No request got a response (None: the runtime makes no request): the API is unreachable.
    unreachable: bool | None = None


class Runtime(Protocol):
    name: str
    simulated: bool

    @property
    def version(self) -> str: ...

    async def play(self, setup: SessionSetup) -> SessionResult: ...
