"""The ``messages`` router: Claude Code's main-loop request, replayed through the real SDK.

The capture here is written by hand in the shape the real CLI sends (three system blocks, the
Agent tool among others, the listing and the request in the first user message);
test_capture.py makes one with the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from experiments.routers.capture import CAPTURE_PROMPT, Capture
from tests.conftest import Cli
from tests.experiments.test_delegation import SUITE
from tests.fake_anthropic import DEFAULT_KEY, Text, ToolCall, fake_anthropic, http_error

SYSTEM = [
    {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=cli"},
    {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
    {"type": "text", "text": "You are an interactive agent that helps users with software tasks."},
]
LISTING = (
    "<system-reminder>\nAvailable agent types for the Agent tool:\n"
    "- Explore: Fast read-only search agent for finding code. (Tools: All tools except Edit)\n"
    "- general-purpose: General-purpose agent for multi-step tasks. (Tools: *)\n"
    "- Plan: Software architect agent for designing plans. (Tools: Read, Grep)\n"
    "- statusline-setup: Configures the status line. (Tools: Read, Edit)\n"
    "</system-reminder>"
)
AGENT_TOOL = {
    "name": "Agent",
    "description": "Launch a new agent. Available agent types are listed in <system-reminder>.",
    "input_schema": {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "prompt": {"type": "string"},
            "subagent_type": {"type": "string"},
        },
        "required": ["description", "prompt"],
    },
}
BODY: dict[str, Any] = {
    "model": "claude-sonnet-5-5",
    "system": SYSTEM,
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": LISTING},
                {"type": "text", "text": CAPTURE_PROMPT},
            ],
        }
    ],
    "tools": [AGENT_TOOL, {"name": "Bash", "description": "Run a command.",
                           "input_schema": {"type": "object", "properties": {}}}],
    "metadata": {"user_id": "user_abc"},
    "max_tokens": 32000,
    "thinking": {"type": "enabled", "budget_tokens": 31999},
    "stream": True,
}  # fmt: skip
AGENT = "---\nname: {name}\ndescription: {description}\n---\nBe good.\n"


def _setup(cli: Cli, tmp_path: Path, *, cc_version: str = "2.1.332", extra: str = "") -> Path:
    (tmp_path / "v1.md").write_text(AGENT.format(name="backend", description="Server code."))
    (tmp_path / "v2.md").write_text(
        AGENT.format(name="backend", description="Server code: webhooks, payments.")
    )
    cli.ok("publish", str(tmp_path / "v1.md"), "--label", "v1")
    cli.ok("publish", str(tmp_path / "v2.md"), "--label", "v2")
    (tmp_path / "frontend.md").write_text(AGENT.format(name="frontend", description="UI work."))
    (tmp_path / "suite.yaml").write_text(SUITE)
    Capture(cc_version, "2026-12-01T00:00:00+00:00", BODY, None).save(tmp_path / "capture.json")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: routing\nkind: delegation\nvariants:\n  control: backend@v1\n  sharper: backend@v2\n"
        "control: control\ntasks: suite.yaml\nroster: [frontend.md]\nrouter: messages\n"
        "capture: capture.json\nmain_model: sonnet\nseed: 3\n" + extra
    )
    return spec


def _route(body: dict[str, Any]) -> ToolCall | Text:
    """Delegate the webhook request to backend only when the description names webhooks."""
    listing = body["messages"][0]["content"][0]["text"]
    prompt = body["messages"][0]["content"][-1]["text"]
    if "navbar" in prompt:
        return ToolCall({"description": "fix", "prompt": prompt, "subagent_type": "frontend"},
                        name="Agent")  # fmt: skip
    if "Stripe" in prompt and "webhooks, payments" in listing:
        return ToolCall({"description": "fix", "prompt": prompt, "subagent_type": "backend"},
                        name="Agent")  # fmt: skip
    return Text("It matches one or more a's.")


def _route_anywhere(body: dict[str, Any]) -> ToolCall | Text:
    """``_route`` on the whole of the messages: where Claude Code puts the listing and the
    prompt depends on the model it runs on."""
    sent = json.dumps(body["messages"])
    return _route({"messages": [{"content": [{"text": sent}, {"text": sent}]}]})


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Any:
    with fake_anthropic(_route) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        yield fake


def test_the_request_is_the_capture_with_the_roster_and_the_prompt(
    cli: Cli, tmp_path: Path, api: Any
) -> None:
    spec = _setup(cli, tmp_path)
    run = json.loads(cli.ok("run", str(spec), "--json", "--quiet").stdout)
    assert run["status"] == "completed" and run["trials"] == 6
    bodies = [r.body for r in api.requests if r.path == "/v1/messages"]
    assert len(bodies) == 6  # one request per decision
    body = next(b for b in bodies if "navbar" in b["messages"][0]["content"][-1]["text"])
    assert body["system"] == SYSTEM and body["tools"][0]["name"] == "Agent"
    assert "metadata" not in body and body["model"] == "claude-sonnet-5-5"
    assert body["thinking"] == BODY["thinking"] and body["max_tokens"] == 32000
    listing = body["messages"][0]["content"][0]["text"]
    lines = listing.splitlines()
    # Project agents and built-ins in one list sorted by name, as Claude Code lists them.
    names = [line[2:].split(":")[0] for line in lines if line.startswith("- ")]
    assert names == ["backend", "Explore", "frontend", "general-purpose", "Plan",
                     "statusline-setup"]  # fmt: skip
    assert "- backend: Server code. (Tools: All tools)" in lines
    assert "- frontend: UI work. (Tools: All tools)" in lines
    assert CAPTURE_PROMPT not in json.dumps(body)

    report = json.loads(cli.ok("report", "routing", "--json").stdout)
    by_label = {v["label"]: v for v in report["variants"]}
    assert by_label["control"]["quality"]["mean"] == pytest.approx(2 / 3)
    assert by_label["sharper"]["quality"]["mean"] == pytest.approx(1.0)
    assert by_label["control"]["delegation"]["recall"]["rate"] == 0.0
    assert by_label["sharper"]["delegation"]["false_delegations"] == 0
    assert report["delegation"]["router"] == "messages"
    [version] = report["delegation"]["router_versions"]
    assert version.startswith("capture ") and version.endswith("of Claude Code 2.1.332")
    assert by_label["control"]["cost"]["total"] > 0  # priced from the API's usage


def test_a_429_is_retried_and_a_failed_decision_is_retried_on_resume(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(cli, tmp_path, extra="max_attempts: 1\n")
    calls = {"n": 0}

    def flaky(body: dict[str, Any]) -> Any:
        calls["n"] += 1
        return http_error(529, retry_after="0") if calls["n"] == 1 else _route(body)

    with fake_anthropic(flaky) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        first = cli("run", str(spec), "--json", "--quiet")
        summary = json.loads(first.stdout)
        assert first.exit_code == 3 and summary["failed"] == 1
        resumed = json.loads(
            cli.ok("run", str(spec), "--resume", str(summary["experiment"]), "--json").stdout
        )
    assert resumed["status"] == "completed" and resumed["failed"] == 0
    report = json.loads(cli.ok("report", "routing", "--json").stdout)
    assert sum(v["delegation"]["decided"] for v in report["variants"]) == 6


def test_the_batch_path_sends_the_same_requests(cli: Cli, tmp_path: Path, api: Any) -> None:
    spec = _setup(cli, tmp_path)
    run = json.loads(cli.ok("run", str(spec), "--batch", "--json", "--quiet").stdout)
    assert run["status"] == "completed" and run["trials"] == 6
    report = json.loads(cli.ok("report", "routing", "--json").stdout)
    assert {v["label"]: v["quality"]["mean"] for v in report["variants"]} == pytest.approx(
        {"control": 2 / 3, "sharper": 1.0}
    )


def test_a_missing_capture_is_one_line_before_anything_is_stored(
    cli: Cli, tmp_path: Path, api: Any
) -> None:
    spec = _setup(cli, tmp_path)
    (tmp_path / "capture.json").unlink()
    result = cli("run", str(spec), "--quiet")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "capture" in result.stderr and "registry capture-claude-code" in result.stderr
    assert json.loads(cli.ok("experiments", "--json").stdout) == []
    assert api.requests == []


def test_the_dry_run_prices_the_main_loop_model(cli: Cli, tmp_path: Path, api: Any) -> None:
    spec = _setup(cli, tmp_path)
    dry = json.loads(cli.ok("run", str(spec), "--dry-run", "--json").stdout)
    assert {v["model"] for v in dry["variants"]} == {"claude-sonnet-5-5"}
    assert dry["calls"] == 6 and dry["estimated_cost_usd"] > 0
    assert api.requests == []


def test_a_claude_code_experiment_runs_the_real_cli_end_to_end(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same experiment with `router: claude-code`: each trial runs the bundled Claude Code,
    which lists the roster files it finds in its workspace; the fake routes by that listing."""
    pytest.importorskip("claude_agent_sdk", reason="install the claude-code extra")
    spec = _setup(cli, tmp_path)
    text = spec.read_text().replace("router: messages\ncapture: capture.json\n", "")
    spec.write_text(text.replace("roster:", "router: claude-code\nconcurrency: 2\nroster:"))

    monkeypatch.delenv("REGISTRY_CLAUDE_CLI", raising=False)
    with fake_anthropic(_route_anywhere, x_api_key=True) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        run = json.loads(cli.ok("run", str(spec), "--json", "--quiet").stdout)
        requests = [r for r in fake.requests if r.path.startswith("/v1/messages")]
    assert run["status"] == "completed" and run["trials"] == 6
    assert len(requests) == 6  # one main-loop request per decision, no subagent ever ran
    report = json.loads(cli.ok("report", "routing", "--json").stdout)
    assert report["experiment"]["simulated"] is False
    by_label = {v["label"]: v for v in report["variants"]}
    assert by_label["sharper"]["quality"]["mean"] == pytest.approx(1.0)
    assert by_label["control"]["quality"]["mean"] == pytest.approx(2 / 3)
    [version] = report["delegation"]["router_versions"]
    assert version.startswith("claude-code 2.")
    assert DEFAULT_KEY not in json.dumps(report)


def test_a_capture_of_the_real_cli_drives_the_messages_router(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`registry capture-claude-code` runs the bundled CLI against its own loopback endpoint;
    a messages experiment then replays that request, with no stale or model warning."""
    pytest.importorskip("claude_agent_sdk", reason="install the claude-code extra")
    spec = _setup(cli, tmp_path)
    out = tmp_path / "real-capture.json"
    made = json.loads(
        cli.ok("capture-claude-code", "--out", str(out), "--model", "sonnet", "--json").stdout
    )
    assert made["model"] == "claude-sonnet-5-5" and made["claude_code_version"].startswith("2.")
    assert {"general-purpose", "Explore", "Plan"} <= set(made["builtin_agents"])
    spec.write_text(spec.read_text().replace("capture: capture.json", f"capture: {out}"))
    with fake_anthropic(_route_anywhere) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        run = cli.ok("run", str(spec), "--json", "--quiet")
    assert "warning" not in run.stderr
    assert json.loads(run.stdout)["status"] == "completed"
    bodies = [r.body for r in api.requests if r.path == "/v1/messages"]
    assert len(bodies) == 6 and all(b["model"] == "claude-sonnet-5-5" for b in bodies)
    assert all("- frontend: UI work. (Tools: All tools)" in json.dumps(b) for b in bodies)
    report = json.loads(cli.ok("report", "routing", "--json").stdout)
    by_label = {v["label"]: v["quality"]["mean"] for v in report["variants"]}
    assert by_label == pytest.approx({"control": 2 / 3, "sharper": 1.0})


def test_a_capture_on_another_model_is_warned_about(cli: Cli, tmp_path: Path, api: Any) -> None:
    spec = _setup(cli, tmp_path)
    spec.write_text(spec.read_text().replace("main_model: sonnet", "main_model: opus"))
    dry = cli.ok("run", str(spec), "--dry-run")
    assert "capture was taken on claude-sonnet-5-5, the experiment asks claude-opus-5-5" in (
        dry.stderr
    )
