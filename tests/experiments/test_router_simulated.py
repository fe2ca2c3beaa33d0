"""The simulated router: deterministic, common random numbers across arms, sensitive to examples,
and realistic enough on the shipped delegation suite (data/delegation/)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from experiments.providers.base import CHARS_PER_TOKEN
from experiments.roster import GENERAL_PURPOSE, NONE, RosterAgent, agent_listing
from experiments.routers.base import Decision, RouterOptions, RoutingQuestion
from experiments.routers.builtins import BUILTIN_AGENTS, BUILTIN_NAMES
from experiments.routers.registry import make_router
from experiments.routers.simulated import (
    DECISION_OUTPUT_TOKENS,
    SYSTEM_AND_TOOLS_CHARS,
    SimulatedRouter,
)
from variants.agentfile import AgentDefinition
from variants.examples import Example
from variants.refs import Ref
from variants.spec import load_variant_spec

REPO = Path(__file__).resolve().parents[2]
DELEGATION = REPO / "data" / "delegation"
AGENT = REPO / "data" / "agents" / "backend-logic-implementer.md"
BETTER_EXAMPLES = REPO / "data" / "variants" / "better-examples.yaml"
OWN = "backend-logic-implementer"
COMPETITORS = (
    "frontend-developer",
    "devops-engineer",
    "code-reviewer",
    "docs-writer",
    "data-analyst",
)
TASK_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
ROUTER = SimulatedRouter(RouterOptions())


def load_tasks() -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = yaml.safe_load((DELEGATION / "suite.yaml").read_text())["tasks"]
    return tasks


def parse(path: Path) -> AgentDefinition:
    return AgentDefinition.parse(path.read_bytes(), origin=str(path))


def competitors() -> tuple[RosterAgent, ...]:
    paths = (DELEGATION / "agents" / f"{name}.md" for name in COMPETITORS)
    return tuple(RosterAgent.from_definition(parse(path), str(path)) for path in paths)


def own(definition: AgentDefinition) -> RosterAgent:
    return RosterAgent.from_definition(definition, "test")


@dataclass(frozen=True)
class _Base:
    ref: Ref
    source: bytes


def better_examples() -> AgentDefinition:
    spec = load_variant_spec(BETTER_EXAMPLES)
    (derived,) = spec.derive(lambda ref: _Base(ref, AGENT.read_bytes()))
    return derived.definition


def question(
    prompt: str,
    agents: Sequence[RosterAgent],
    *,
    seed: int = 1,
    task_id: str = "t",
    epoch: int = 0,
    arm: str = "control",
) -> RoutingQuestion:
    return RoutingQuestion(prompt, tuple(agents), "claude-sonnet-4-5", seed, arm, task_id, epoch)


def decide(q: RoutingQuestion) -> Decision:
    return asyncio.run(ROUTER.decide(q, None))  # type: ignore[arg-type]  # calls are ignored


def choices(questions: Sequence[RoutingQuestion]) -> list[str]:
    async def all_of() -> list[Decision]:
        return [await ROUTER.decide(q, None) for q in questions]  # type: ignore[arg-type]

    return [decision.choice for decision in asyncio.run(all_of())]


def roster() -> tuple[RosterAgent, ...]:
    return (own(parse(AGENT)), *competitors())


# -- the router's surface -------------------------------------------------------------------


def test_the_factory_makes_it_and_it_says_what_it_is() -> None:
    router = make_router("simulated", RouterOptions())
    assert isinstance(router, SimulatedRouter)
    assert (router.name, router.simulated, router.version) == ("simulated", True, "simulated 1")
    assert router.builtins() == BUILTIN_AGENTS
    asyncio.run(router.aclose())


def test_the_builtins_are_claude_codes() -> None:
    assert {GENERAL_PURPOSE, "Explore", "Plan", "statusline-setup"} == BUILTIN_NAMES
    assert all(agent.builtin and agent.source == "built-in" for agent in BUILTIN_AGENTS)
    lines = {agent.name: agent.listing_line() for agent in BUILTIN_AGENTS}
    assert lines["statusline-setup"].endswith("(Tools: Read, Edit)")
    assert lines[GENERAL_PURPOSE].endswith("(Tools: *)")


def test_the_estimate_counts_the_listing_the_request_and_claude_codes_prompt() -> None:
    q = question("Add rate limiting per API key.", roster())
    listing = agent_listing([*q.agents, *BUILTIN_AGENTS])
    usage = ROUTER.estimate(q)
    chars = len(listing) + len(q.prompt) + SYSTEM_AND_TOOLS_CHARS
    assert usage.input_tokens == chars // CHARS_PER_TOKEN
    assert usage.output_tokens == DECISION_OUTPUT_TOKENS
    decision = decide(q)
    assert decision.usage == usage and decision.cost_usd is None
    assert decision.latency_s is not None and decision.latency_s > 0
    scores = decision.details["scores"]
    assert set(scores) == {agent.name for agent in q.agents} | BUILTIN_NAMES | {NONE}


# -- determinism and common random numbers --------------------------------------------------


def suite_questions(agents: Sequence[RosterAgent], seed: int, arm: str) -> list[RoutingQuestion]:
    return [
        question(task["prompt"], agents, seed=seed, task_id=task["id"], arm=arm)
        for task in load_tasks()
    ]


def test_the_same_seed_task_and_epoch_give_the_same_decision() -> None:
    q = question("customers get charged twice when Stripe retries the webhook", roster())
    assert decide(q) == decide(q)
    first = choices(suite_questions(roster(), seed=3, arm="a"))
    assert first == choices(suite_questions(roster(), seed=3, arm="a"))
    others = choices(suite_questions(roster(), seed=4, arm="a"))
    assert first != others  # another seed draws again: some decisions change


def test_arms_with_the_same_roster_decide_identically() -> None:
    for seed in range(5):
        a = choices(suite_questions(roster(), seed=seed, arm="control"))
        b = choices(suite_questions(roster(), seed=seed, arm="candidate"))
        assert a == b


def test_an_agent_not_listed_is_never_picked() -> None:
    backend = [task for task in load_tasks() if task["expect"] == OWN]
    questions = [
        question(task["prompt"], competitors(), seed=seed, task_id=task["id"])
        for task in backend
        for seed in range(10)
    ]
    picked = set(choices(questions))
    assert OWN not in picked
    assert picked <= set(COMPETITORS) | BUILTIN_NAMES | {NONE}


# -- sensitivity to examples ----------------------------------------------------------------

DEADLOCK = "We keep getting deadlock errors from Postgres when two workers update the same rows."


def pick_rate(agent: RosterAgent, prompt: str, seeds: int = 300) -> float:
    agents = (agent, *competitors())
    found = choices([question(prompt, agents, seed=seed) for seed in range(seeds)])
    return found.count(agent.name) / seeds


def test_an_example_like_the_request_raises_the_agents_pick_rate() -> None:
    base = parse(AGENT)
    example = Example.build(
        context="Concurrent updates fail in the database",
        user="Postgres reports a deadlock when two workers update the same inventory rows.",
        assistant="I'll use the backend-logic-implementer agent to fix the locking order.",
    )
    extended = base.with_examples([*base.examples, example])
    before, after = pick_rate(own(base), DEADLOCK), pick_rate(own(extended), DEADLOCK)
    assert after >= before + 0.3, (before, after)


def test_a_negative_example_like_the_request_lowers_the_agents_pick_rate() -> None:
    base = parse(AGENT)
    example = Example.build(
        context="A visual change on a payment page",
        user="Show a spinner on the pay button while the payment is processing.",
        assistant="This is a frontend change, so I'll do it instead of using the agent.",
    )
    extended = base.with_examples([*base.examples, example])
    prompt = "Add a loading spinner to the pay button while the payment goes through."
    before, after = pick_rate(own(base), prompt), pick_rate(own(extended), prompt)
    assert before >= 0.1 and after <= before / 4, (before, after)


# -- the shipped suite ----------------------------------------------------------------------


def accuracy(definition: AgentDefinition, seeds: int = 20, epochs: int = 3) -> float:
    agents = (own(definition), *competitors())
    tasks = load_tasks()
    questions = [
        question(task["prompt"], agents, seed=seed, task_id=task["id"], epoch=epoch)
        for task in tasks
        for seed in range(seeds)
        for epoch in range(epochs)
    ]
    expected = [task["expect"] for task in tasks for _ in range(seeds * epochs)]
    found = choices(questions)
    return sum(map(str.__eq__, found, expected)) / len(found)


def test_better_examples_routes_the_suite_better_than_the_original() -> None:
    control, better = accuracy(parse(AGENT)), accuracy(better_examples())
    assert 0.4 <= control <= 0.95 and 0.4 <= better <= 0.95, (control, better)
    assert better >= control + 0.04, (control, better)


def test_the_suite_is_a_real_delegation_suite() -> None:
    tasks = load_tasks()
    ids = [task["id"] for task in tasks]
    assert len(tasks) >= 44 and len(set(ids)) == len(ids)
    assert all(TASK_ID.fullmatch(task_id) for task_id in ids)
    assert sum(task["expect"] == OWN for task in tasks) >= 20
    valid = {OWN, *COMPETITORS, *BUILTIN_NAMES, NONE}
    assert {task["expect"] for task in tasks} <= valid
    assert {task["expect"] for task in tasks} >= {OWN, *COMPETITORS, NONE}
    assert all(task["prompt"].strip() for task in tasks)


@pytest.mark.parametrize("name", COMPETITORS)
def test_the_competitors_parse_without_warnings(name: str) -> None:
    definition = parse(DELEGATION / "agents" / f"{name}.md")
    assert definition.name == name and not definition.warnings
    assert 2 <= len(definition.examples) <= 3
    assert definition.model is not None
