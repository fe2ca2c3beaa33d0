"""The capture of Claude Code's main-loop request, and its replay body, checked against what the
real CLI (bundled with claude-agent-sdk) sends."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from core.errors import SpecError
from experiments.roster import LISTING_HEADER, RosterAgent, agent_listing
from experiments.routers.capture import (
    CAPTURE_PROMPT,
    DEFAULT_CAPTURE,
    Capture,
    capture_claude_code,
    listing_order,
    stale_capture_warning,
)
from tests.conftest import SEED
from tests.fake_anthropic import DEFAULT_KEY, Text, fake_anthropic
from variants.agentfile import AgentDefinition

BUILTIN_NAMES = ["claude", "Explore", "general-purpose", "Plan", "statusline-setup"]
PROMPT = "Add a paginated GET /orders endpoint with tests."
DOCS = b"""---
name: docs-writer
description: Writes README files.\\n<example>Context: docs</example>
tools: Read, Write
---
Body.
"""


def _agent(data: bytes, source: str) -> RosterAgent:
    return RosterAgent.from_definition(AgentDefinition.parse(data, origin=source), source)


AGENTS = (_agent(SEED.read_bytes(), str(SEED)), _agent(DOCS, "docs-writer.md"))


def _blocks(body: dict[str, Any]) -> list[tuple[int, int, dict[str, Any]]]:
    return [
        (m, c, block)
        for m, message in enumerate(body["messages"])
        if isinstance(message["content"], list)
        for c, block in enumerate(message["content"])
    ]


def _listing_block(body: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
    found = [b for b in _blocks(body) if LISTING_HEADER in b[2].get("text", "")]
    assert len(found) == 1
    return found[0]


def _prompt_block(body: dict[str, Any], prompt: str) -> tuple[int, int, dict[str, Any]]:
    found = [b for b in _blocks(body) if b[2].get("text") == prompt]
    assert len(found) == 1
    return found[0]


def _same_folder(block: dict[str, Any]) -> dict[str, Any]:
    text = re.sub(r"Primary working directory: \S+", "Primary working directory: X", block["text"])
    return {**block, "text": text}


def _real_body(model: str | None, agents: tuple[RosterAgent, ...], prompt: str) -> dict[str, Any]:
    """What the real CLI sends for ``prompt`` with ``agents`` in its project folder."""
    from experiments.claude_code_runtime import QUIET_ENV, find_cli

    with (
        fake_anthropic([Text("ok")], x_api_key=True) as fake,
        tempfile.TemporaryDirectory() as work,
        tempfile.TemporaryDirectory() as home,
    ):
        folder = Path(work, ".claude", "agents")
        folder.mkdir(parents=True)
        for agent in agents:
            Path(folder, f"{agent.name}.md").write_text(agent.markdown, newline="")
        env = {
            "PATH": os.environ["PATH"],
            "HOME": home,
            "CLAUDE_CONFIG_DIR": str(Path(home, ".claude")),
            **QUIET_ENV,
            "ANTHROPIC_BASE_URL": fake.base_url,
            "ANTHROPIC_API_KEY": DEFAULT_KEY,
        }
        argv = [find_cli(), "-p", prompt, "--output-format", "json"]
        if model:
            argv += ["--model", model]
        subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60, check=True)  # fmt: skip
        assert fake.message_calls == 1
        return fake.requests[0].body


@pytest.fixture(scope="module", params=["claude-haiku-4-5", None], ids=["haiku", "cli-default"])
def captured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Capture:
    pytest.importorskip("claude_agent_sdk", reason="install the claude-code extra")
    path = tmp_path_factory.mktemp("capture") / "claude-code-capture.json"
    return asyncio.run(capture_claude_code(path, model=request.param))


def test_a_capture_is_the_first_body_claude_code_sent(captured: Capture) -> None:
    from experiments.claude_code_runtime import cli_version, find_cli

    assert captured.cc_version == cli_version(find_cli())
    assert captured.captured_at.endswith("Z")
    assert captured.body["stream"] is True and "metadata" in captured.body  # as sent
    assert isinstance(captured.body["system"], list) and captured.body["tools"]
    _prompt_block(captured.body, CAPTURE_PROMPT)

    assert captured.path is not None
    loaded = Capture.load(captured.path)
    assert loaded == Capture(captured.cc_version, captured.captured_at, captured.body, loaded.path)
    assert loaded.capture_id == captured.capture_id
    assert len(captured.capture_id) == 12 and int(captured.capture_id, 16) >= 0
    changed = Capture(captured.cc_version, captured.captured_at, {**captured.body, "x": 1})
    assert changed.capture_id != captured.capture_id
    assert stale_capture_warning(captured) is None


def test_builtins_are_parsed_from_the_listing(captured: Capture) -> None:
    builtins = captured.builtins()
    assert [agent.name for agent in builtins] == BUILTIN_NAMES
    assert all(agent.builtin and agent.source == "built-in" for agent in builtins)
    assert dict((a.name, a.tools) for a in builtins)["statusline-setup"] == ("Read", "Edit")
    # Rendered again they are the captured listing, byte for byte.
    _, _, block = _listing_block(dict(captured.body))
    entries = agent_listing(builtins).removeprefix("<system-reminder>\n")
    assert entries.removesuffix("\n</system-reminder>") in block["text"]


def test_the_request_body_is_what_claude_code_sends_for_those_agents(captured: Capture) -> None:
    model = captured.model
    assert model is not None
    body = captured.request_body(PROMPT, AGENTS, model)
    real = _real_body(model, AGENTS, PROMPT)

    m, c, listing = _listing_block(body)
    rm, rc, real_listing = _listing_block(real)
    assert (m, c) == (rm, rc)
    # Sorted with the built-ins, the rest of the block kept (the capture ran in another folder).
    assert _same_folder(listing) == _same_folder(real_listing)
    for agent in AGENTS:
        assert agent.listing_line() in listing["text"]
    assert _prompt_block(body, PROMPT)[:2] == _prompt_block(real, PROMPT)[:2]
    assert _prompt_block(body, PROMPT)[2] == _prompt_block(real, PROMPT)[2]  # cache_control too
    assert CAPTURE_PROMPT not in json.dumps(body)
    assert "stream" not in body and "metadata" not in body
    assert body["tools"] == real["tools"]
    assert body["model"] == model
    assert captured.request_body(PROMPT, AGENTS, "claude-other")["model"] == "claude-other"
    assert captured.body["stream"] is True  # the capture itself is unchanged


def test_listing_order_is_claude_codes() -> None:
    """The order the real CLI 2.1.332 listed these names in (localeCompare)."""
    names = ["a-b", "ab", "a_b", "a2", "A-c", "b", "zed", "Zeb", "z1"]
    agents = [RosterAgent(n, "d", None, "x") for n in names]
    builtins = [RosterAgent(n, "d", None, "built-in", builtin=True) for n in BUILTIN_NAMES]
    order = [agent.name for agent in listing_order(agents, builtins)]
    assert order == [
        "a_b", "a-b", "A-c", "a2", "ab", "b", "claude", "Explore", "general-purpose", "Plan",
        "statusline-setup", "z1", "Zeb", "zed",
    ]  # fmt: skip
    own = RosterAgent("Explore", "my own", None, "x")
    assert [a.description for a in listing_order([own], builtins) if a.name == "Explore"] == [
        "my own"
    ]


# -- files and failures --------------------------------------------------------------------------


def _small() -> Capture:
    text = f"<system-reminder>\n{LISTING_HEADER}\n- general-purpose: Does things. (Tools: *)\n"
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": text + "</system-reminder>"}]},
        ],
        "stream": True,
    }
    body["messages"][0]["content"].append({"type": "text", "text": CAPTURE_PROMPT})
    return Capture("2.1.332", "2026-12-01T00:00:00Z", body)


def test_save_is_atomic_and_never_overwrites_another_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "capture.json"
    saved = _small().save(path)
    assert saved.path == path and Capture.load(path).capture_id == saved.capture_id
    _small().save(path)  # a capture may replace a capture
    assert [p.name for p in path.parent.iterdir()] == ["capture.json"]  # no temp file left
    other = tmp_path / "notes.json"
    other.write_text('{"mine": true}')
    with pytest.raises(SpecError, match="not a Claude Code capture; not overwritten"):
        _small().save(other)
    assert other.read_text() == '{"mine": true}'
    assert Path("data") / "claude-code-capture.json" == DEFAULT_CAPTURE


def test_load_of_a_missing_file_says_to_make_one(tmp_path: Path) -> None:
    path = tmp_path / "capture.json"
    with pytest.raises(SpecError) as caught:
        Capture.load(path)
    assert str(caught.value) == (
        f"no Claude Code capture at {path}; run `registry capture-claude-code`"
    )


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("not json", "not JSON"),
        ('{"mine": true}', "no capture format marker"),
        ("[1]", "no capture format marker"),
        ('{"format": 1}', "no capture format marker"),
        (b"\xff\xfe", "cannot read it"),
    ],
)
def test_load_of_an_invalid_file_says_what_is_wrong(
    tmp_path: Path, content: str | bytes, why: str
) -> None:
    path = tmp_path / "capture.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(SpecError) as caught:
        Capture.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a Claude Code capture (") and why in message
    assert "\n" not in message and "capture-claude-code --out" in message


def test_a_stale_capture_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("claude_agent_sdk", reason="install the claude-code extra")
    old = Capture("2.0.1", "2026-01-01T00:00:00Z", _small().body)
    warning = stale_capture_warning(old)
    assert warning is not None and "2.0.1" in warning and "capture-claude-code" in warning
    assert "\n" not in warning
    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)
    assert stale_capture_warning(old) is None  # without the SDK there is nothing to compare


def _fake_cli(tmp_path: Path, script: str) -> str:
    cli = tmp_path / "claude"
    cli.write_text(
        f'#!/bin/sh\nif [ "$1" = --version ]; then echo "2.1.332 (Claude Code)"; exit 0; fi\n'
        f"{script}\n"
    )
    cli.chmod(0o755)
    return str(cli)


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("echo 'Error: boom' >&2; exit 2", "-p failed (exit 2): Error: boom"),
        ("exec sleep 30", "made no capture within 1 s"),
        ("echo '{}'; exit 0", "-p made no request to the capture endpoint"),
    ],
    ids=["fails", "hangs", "no-request"],
)
def test_capture_failures_are_one_line(tmp_path: Path, script: str, message: str) -> None:
    path = tmp_path / "capture.json"
    with pytest.raises(SpecError) as caught:
        asyncio.run(capture_claude_code(path, cli=_fake_cli(tmp_path, script), timeout_s=1))
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not path.exists()


def test_capture_without_the_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGISTRY_CLAUDE_CLI", raising=False)
    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)
    with pytest.raises(SpecError, match=r"pip install 'agent-registry\[claude-code\]'"):
        asyncio.run(capture_claude_code(tmp_path / "capture.json"))
