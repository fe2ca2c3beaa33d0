"""What one delegation decision costs, per router, against the loopback fake of the Messages API.

    .venv/bin/python bench/delegation_bench.py                 # 6 decisions per router
    .venv/bin/python bench/delegation_bench.py --decisions 20

For each router (simulated; messages, replaying a capture of the bundled Claude Code; claude-code,
running the bundled CLI): requests sent per decision, input tokens per decision (the request
body's characters / 4, as the fake counts them), output tokens, wall seconds per decision, and
dollars per decision at the main loop model's price. The shipped roster and suite are used; the
fake answers every request with an `Agent` call, so each decision is a delegation. The real
routers need the claude-code extra (pip install 'agent-registry[claude-code]').
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from experiments.routers.base import Router, RoutingQuestion
    from tests.fake_anthropic import FakeAnthropic

MODEL_ALIAS = "sonnet"


@dataclass(frozen=True)
class Figures:
    router: str
    decisions: int
    requests: float
    input_tokens: float
    output_tokens: float
    seconds: float
    cost_usd: float


def _questions(n: int, model_id: str) -> list[RoutingQuestion]:
    import yaml

    from experiments.roster import RosterAgent
    from experiments.routers.base import RoutingQuestion
    from variants.agentfile import AgentDefinition

    def agent(path: Path) -> RosterAgent:
        return RosterAgent.from_definition(AgentDefinition.parse(path.read_bytes()), str(path))

    agents = (
        agent(REPO / "data" / "agents" / "backend-logic-implementer.md"),
        *(agent(p) for p in sorted((REPO / "data" / "delegation" / "agents").glob("*.md"))),
    )
    tasks = yaml.safe_load((REPO / "data" / "delegation" / "suite.yaml").read_text())["tasks"]
    return [
        RoutingQuestion(t["prompt"], agents, model_id, 7, "control", t["id"], 1) for t in tasks[:n]
    ]


async def _measure(
    router: Router, questions: list[RoutingQuestion], fake: FakeAnthropic | None
) -> Figures:
    """Decide every question; tokens from the bodies the fake received (the simulated router
    sends none: its own estimate), priced at the main loop's model."""
    from experiments.kinds.base import ModelCalls
    from experiments.pricing import cost_usd
    from experiments.providers.base import Usage
    from experiments.providers.registry import get_provider

    provider = get_provider("simulated" if router.simulated else "anthropic")
    calls = ModelCalls(provider, max_attempts=3)
    before = len(fake.requests) if fake is not None else 0
    usage = Usage()
    started = time.perf_counter()
    for question in questions:
        decision = await router.decide(question, calls)
        usage = Usage(
            usage.input_tokens + decision.usage.input_tokens,
            usage.output_tokens + decision.usage.output_tokens,
        )
    elapsed = time.perf_counter() - started
    await provider.aclose()
    await router.aclose()
    n = len(questions)
    requests = 0.0
    if fake is not None:
        sent = [r for r in fake.requests[before:] if r.path == "/v1/messages"]
        requests = len(sent) / n
        inputs = sum(len(json.dumps(r.body)) // 4 for r in sent)  # as the fake counts them
        usage = Usage(inputs, usage.output_tokens)
    cost = cost_usd(questions[0].model_id, usage) / n
    return Figures(router.name, n, requests, usage.input_tokens / n, usage.output_tokens / n,
                   elapsed / n, cost)  # fmt: skip


async def main(decisions: int) -> list[Figures]:
    from experiments.routers.base import RouterOptions
    from experiments.routers.simulated import SimulatedRouter
    from registry.model_aliases import resolve_model
    from tests.fake_anthropic import DEFAULT_KEY, ToolCall, fake_anthropic

    model_id = resolve_model(MODEL_ALIAS).model_id
    questions = _questions(decisions, model_id)
    rows = [await _measure(SimulatedRouter(RouterOptions()), questions, None)]
    try:
        import claude_agent_sdk  # noqa: F401
    except ImportError:
        print("claude-code extra not installed: only the simulated router was measured")
        return rows
    from experiments.routers.capture import capture_claude_code
    from experiments.routers.claude_code import ClaudeCodeRouter
    from experiments.routers.messages import MessagesRouter

    answer = ToolCall(
        {
            "description": "Build it",
            "prompt": "Build it",
            "subagent_type": "backend-logic-implementer",
        },
        name="Agent",
        output_tokens=60,
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        fake_anthropic(default=answer, x_api_key=True) as fake,
    ):
        os.environ["ANTHROPIC_BASE_URL"] = fake.base_url
        os.environ["ANTHROPIC_API_KEY"] = DEFAULT_KEY
        capture = Path(tmp) / "capture.json"
        await capture_claude_code(capture, model=model_id)
        options = RouterOptions(capture=str(capture))
        rows.append(await _measure(MessagesRouter(options), questions, fake))
        rows.append(await _measure(ClaudeCodeRouter(options), questions, fake))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=6)
    args = parser.parse_args()
    print(f"{'router':<12} {'requests':>9} {'input tok':>10} {'output tok':>11} {'s/decision':>11} "
          f"{'$/decision':>11}   (per decision, main loop on {MODEL_ALIAS})")  # fmt: skip
    for f in asyncio.run(main(args.decisions)):
        print(f"{f.router:<12} {f.requests:>9.2f} {f.input_tokens:>10.0f} {f.output_tokens:>11.0f} "
              f"{f.seconds:>11.3f} {f.cost_usd:>11.5f}")  # fmt: skip
