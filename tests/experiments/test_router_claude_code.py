"""The claude-code router, running the real Claude Code CLI (bundled with claude-agent-sdk)
against the loopback fake of the Messages API (tests/fake_anthropic.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import SpecError
from experiments.providers.base import CHARS_PER_TOKEN, FatalProviderError, ProviderError
from experiments.roster import GENERAL_PURPOSE, LISTING_HEADER, NONE, RosterAgent
from experiments.routers.base import Decision, RouterOptions, RoutingQuestion
from tests.conftest import SEED
from tests.fake_anthropic import (
    DEFAULT_KEY,
    FakeAnthropic,
    Text,
    ToolCall,
    fake_anthropic,
    http_error,
)
from variants.agentfile import AgentDefinition

MODEL = "claude-haiku-4-5"
PROMPT = "Add a paginated GET /orders endpoint with tests."
OTHER = b"""---
name: docs-writer
description: Writes and updates README files and user documentation.
tools: Read, Write, Edit
---
You write documentation.
"""


def _agent(data: bytes, source: str) -> RosterAgent:
    return RosterAgent.from_definition(AgentDefinition.parse(data, origin=source), source)


SEED_AGENT = _agent(SEED.read_bytes(), str(SEED))
DOCS_AGENT = _agent(OTHER, "docs-writer.md")
AGENTS = (SEED_AGENT, DOCS_AGENT)


def _question(prompt: str = PROMPT, agents: tuple[RosterAgent, ...] = AGENTS) -> RoutingQuestion:
    return RoutingQuestion(prompt, agents, MODEL, seed=1, arm_label="a", task_id="t1", epoch=1)


def _agent_call(subagent: str | None = SEED_AGENT.name, **fields: Any) -> ToolCall:
    call: dict[str, Any] = {"description": "Orders endpoint", "prompt": "Implement it", **fields}
    if subagent is not None:
        call["subagent_type"] = subagent
    return ToolCall(call, name="Agent", input_tokens=22_000, output_tokens=40)


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``start(script, ...)``: a fake the router's environment points at."""
    monkeypatch.delenv("REGISTRY_CLAUDE_CLI", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    fakes: list[Any] = []

    def start(script: Any = (), **kwargs: Any) -> FakeAnthropic:
        manager = fake_anthropic(script, x_api_key=True, **kwargs)
        fake = manager.__enter__()
        fakes.append(manager)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        return fake

    yield start
    for manager in reversed(fakes):
        manager.__exit__(None, None, None)


def _router(timeout_s: float = 60.0) -> Any:
    pytest.importorskip("claude_agent_sdk", reason="install the claude-code extra")
    from experiments.routers.claude_code import ClaudeCodeRouter

    return ClaudeCodeRouter(RouterOptions(timeout_s=timeout_s))


def _decide(router: Any, question: RoutingQuestion) -> Decision:
    return asyncio.run(router.decide(question, None))


def _listing(body: dict[str, Any]) -> str:
    texts = [
        block["text"]
        for message in body["messages"]
        for block in message["content"]
        if isinstance(block, dict) and LISTING_HEADER in block.get("text", "")
    ]
    assert len(texts) == 1
    return texts[0]


def _claude_children() -> list[int]:
    """Live processes of the claude binary whose parent is this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            exe = os.readlink(entry / "exe")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and "claude" in exe:
            found.append(int(entry.name))
    return found


def _our_temp_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("registry-claude-code-*")}


# -- decisions -----------------------------------------------------------------------------------


def test_an_agent_call_is_its_subagent_type_and_no_subagent_runs(fake_api: Any) -> None:
    router = _router()
    fake = fake_api([_agent_call()], default=Text("a subagent would get this"))
    before = _our_temp_folders()
    decision = _decide(router, _question())

    assert decision.choice == SEED_AGENT.name
    assert decision.details["agent_input"] == {
        "description": "Orders endpoint",
        "subagent_type": SEED_AGENT.name,
        "prompt": "Implement it",
    }
    assert decision.details["claude_code_version"] == router.cc_version
    assert router.version == f"claude-code {router.cc_version}"
    assert decision.details["session_id"]
    # What Claude Code reported: the fake's usage for the tool call, priced by Claude Code.
    assert (decision.usage.input_tokens, decision.usage.output_tokens) == (22_000, 40)
    assert decision.cost_usd is not None and decision.cost_usd > 0
    assert decision.model_id == MODEL
    assert decision.latency_s is not None and decision.latency_s > 0

    # One request: no second request of a started subagent (or of the main loop) ever arrives.
    time.sleep(1.0)
    assert fake.message_calls == 1 == decision.details["requests"]
    assert not _claude_children()
    assert _our_temp_folders() == before

    body = fake.requests[0].body
    assert body["model"] == MODEL
    assert body["messages"][0]["content"][-1]["text"] == PROMPT
    listing = _listing(body)
    for agent in AGENTS:  # Claude Code read each file as written: name, description, tools
        assert agent.listing_line() in listing
    listed = set(re.findall(r"^- ([\w-]+): ", listing, flags=re.MULTILINE))
    builtin_names = {agent.name for agent in router.builtins()}
    assert all(agent.builtin and agent.source == "built-in" for agent in router.builtins())
    assert builtin_names == listed - {agent.name for agent in AGENTS}
    assert {"general-purpose", "Explore", "Plan", "statusline-setup"} <= builtin_names

    # The estimate: within 2% of the request's size, at CHARS_PER_TOKEN characters a token.
    estimate = router.estimate(_question())
    measured = len(json.dumps(body)) // CHARS_PER_TOKEN
    assert abs(estimate.input_tokens - measured) / measured < 0.02
    assert estimate.output_tokens == 100


def test_the_agent_files_are_written_byte_for_byte(tmp_path: Path) -> None:
    from experiments.claude_code_runtime import write_agents

    crlf = _agent(OTHER.replace(b"\n", b"\r\n"), "crlf.md")
    write_agents(tmp_path, (SEED_AGENT, crlf))
    assert (tmp_path / ".claude/agents/backend-logic-implementer.md").read_bytes() == (
        SEED.read_bytes()
    )
    assert (tmp_path / ".claude/agents/docs-writer.md").read_bytes() == OTHER.replace(
        b"\n", b"\r\n"
    )
    with pytest.raises(SpecError, match="not a plain file name"):
        write_agents(tmp_path, (RosterAgent("../evil", "d", None, "x", markdown="x"),))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (_agent_call(None), GENERAL_PURPOSE),
        (Text("I can answer this myself."), NONE),
        (ToolCall({"command": "ls"}, name="Bash"), NONE),
    ],
    ids=["agent-without-type", "text", "other-tool"],
)
def test_other_first_answers(fake_api: Any, reply: Any, expected: str) -> None:
    router = _router()
    fake = fake_api([reply], default=Text("never asked"))
    decision = _decide(router, _question())
    assert decision.choice == expected
    assert decision.details["agent_input"] == (
        {"description": "Orders endpoint", "subagent_type": None, "prompt": "Implement it"}
        if expected == GENERAL_PURPOSE
        else None
    )
    time.sleep(0.5)
    assert fake.message_calls == 1


def test_concurrent_decisions_are_independent(fake_api: Any) -> None:
    router = _router()

    def script(body: dict[str, Any]) -> Any:
        prompt = body["messages"][0]["content"][-1]["text"]
        return _agent_call(DOCS_AGENT.name) if "README" in prompt else Text("done")

    fake = fake_api(script)

    async def both() -> list[Decision]:
        return await asyncio.gather(
            router.decide(_question("Update the README."), None),
            router.decide(_question(PROMPT), None),
            router.decide(_question("Update the README again."), None),
        )

    decisions = asyncio.run(both())
    assert [d.choice for d in decisions] == [DOCS_AGENT.name, NONE, DOCS_AGENT.name]
    assert len({d.details["session_id"] for d in decisions}) == 3
    assert fake.message_calls == 3


# -- failures ------------------------------------------------------------------------------------


def test_a_rejected_key_is_fatal_at_once(fake_api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    router = _router()
    fake = fake_api([_agent_call()], api_key="sk-ant-the-right-key")
    secret = "sk-ant-wrong-key-do-not-print"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    started = time.monotonic()
    with pytest.raises(FatalProviderError) as caught:
        _decide(router, _question())
    # Claude Code would retry a 401 ten times over minutes; the router stops at the first.
    assert time.monotonic() - started < 30
    assert caught.value.status == 401
    assert "401" in str(caught.value) and "\n" not in str(caught.value)
    assert secret not in str(caught.value)
    assert fake.message_calls <= 2
    assert not _claude_children()


def test_a_missing_key_is_fatal_before_any_run(
    fake_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = _router()
    fake = fake_api()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(FatalProviderError, match="ANTHROPIC_API_KEY"):
        _decide(router, _question())
    assert fake.requests == []


def test_an_overloaded_api_is_retried_by_claude_code(fake_api: Any) -> None:
    router = _router()
    fake = fake_api([http_error(529), _agent_call()])
    decision = _decide(router, _question())
    assert decision.choice == SEED_AGENT.name
    assert fake.message_calls == 2 == decision.details["requests"]
    assert DEFAULT_KEY not in json.dumps(decision.details) + repr(decision)


def test_a_timeout_fails_the_trial_and_kills_claude_code(fake_api: Any) -> None:
    router = _router(timeout_s=4)
    running: list[list[int]] = []

    def slow(body: dict[str, Any]) -> Any:
        running.append(_claude_children())  # while Claude Code waits for the answer
        return Text("late", first_token_delay=60)

    fake_api(slow)
    before = _our_temp_folders()
    started = time.monotonic()
    with pytest.raises(ProviderError, match="no decision within 4 s") as caught:
        _decide(router, _question())
    assert not isinstance(caught.value, FatalProviderError)
    assert time.monotonic() - started < 15
    assert running and running[0]  # the check below can see a running claude
    assert not _claude_children()
    assert _our_temp_folders() == before


def test_the_sdk_missing_is_a_spec_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from experiments.routers.claude_code import ClaudeCodeRouter

    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)  # import raises ImportError
    with pytest.raises(SpecError) as caught:
        ClaudeCodeRouter(RouterOptions())
    assert str(caught.value) == (
        "router claude-code needs the claude-code extra: pip install 'agent-registry[claude-code]'"
    )


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("echo 'claude: broken install' >&2; exit 3", "--version failed: claude: broken install"),
        ("exec sleep 30", "--version did not answer within 0.5 s"),
    ],
    ids=["fails", "hangs"],
)
def test_a_bad_cli_override_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, message: str
) -> None:
    pytest.importorskip("claude_agent_sdk", reason="install the claude-code extra")
    from experiments.routers import claude_code

    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\n{script}\n")
    cli.chmod(0o755)
    monkeypatch.setenv("REGISTRY_CLAUDE_CLI", str(cli))
    monkeypatch.setattr(claude_code, "VERSION_TIMEOUT_S", 0.5)
    with pytest.raises(SpecError) as caught:
        claude_code.ClaudeCodeRouter(RouterOptions())
    assert message in str(caught.value) and "\n" not in str(caught.value)
    monkeypatch.setenv("REGISTRY_CLAUDE_CLI", str(tmp_path / "nothing-here"))
    with pytest.raises(SpecError, match="no claude binary at"):
        claude_code.ClaudeCodeRouter(RouterOptions())


def test_a_failing_cli_is_its_first_stderr_line_without_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("claude_agent_sdk", reason="install the claude-code extra")
    from experiments.routers.claude_code import ClaudeCodeRouter

    secret = "sk-ant-secret-in-stderr"
    cli = tmp_path / "claude"
    cli.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo "2.1.332 (Claude Code)"; exit 0; fi\n'
        # The key is on the pipe the launcher hands over, never in the environment.
        'key=$(cat <&"$CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR")\n'
        'echo "Error: settings are corrupt ($key${ANTHROPIC_API_KEY:-})" >&2\n'
        "echo more >&2\nexit 1\n"
    )
    cli.chmod(0o755)
    monkeypatch.setenv("REGISTRY_CLAUDE_CLI", str(cli))
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    router = ClaudeCodeRouter(RouterOptions(timeout_s=20))
    assert router.version == "claude-code 2.1.332"
    with pytest.raises(ProviderError) as caught:
        _decide(router, _question())
    assert not isinstance(caught.value, FatalProviderError)
    assert str(caught.value) == "claude-code failed: Error: settings are corrupt ([redacted])"
