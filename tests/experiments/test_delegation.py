"""Delegation experiments through the public library surface: spec, plan, kind, runner, report.

The router here is scripted (``ScriptedRouter``), so each test says exactly which agent the main
loop picks; the real routers have their own tests (test_router_*.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from core.errors import SpecError
from experiments.delegation_analysis import ChoiceRecord, delegation_summary
from experiments.kinds.base import ModelCalls
from experiments.kinds.delegation import DelegationTrial
from experiments.plan import Cell, Plan, build_plan, same_request_warnings
from experiments.pricing import load_price_table
from experiments.providers.base import ProviderError, Usage
from experiments.providers.simulated import SimulatedProvider
from experiments.reporting import build_report
from experiments.roster import NONE, RosterAgent
from experiments.routers.base import Decision, RoutingQuestion
from experiments.runner import Runner
from experiments.spec import parse_experiment_spec
from experiments.stats.proportion import wilson_interval
from experiments.store.plans import load_plan, store_plan
from experiments.tasks import load_suite
from registry.database import Database
from registry.store import Registry
from variants.agentfile import AgentDefinition

AGENT = """---
name: {name}
description: {description}
{extra}---
{body}
"""
SUITE = """\
tasks:
  - id: webhook
    prompt: "Stripe webhooks arrive twice and we charge customers twice."
    expect: backend
  - id: navbar
    prompt: "The navbar overlaps the hero image on phones."
    expect: frontend
  - id: regex
    prompt: "What does ^a+$ match?"
    expect: none
"""


def _agent(name: str, description: str, body: str = "Be good.", extra: str = "") -> bytes:
    return AGENT.format(name=name, description=description, body=body, extra=extra).encode()


class ScriptedRouter:
    """Picks what ``pick(question)`` says; ``fail`` names (variant, task) cells that fail once."""

    name = "scripted"
    simulated = True

    def __init__(
        self,
        pick: Callable[[RoutingQuestion], str],
        fail: set[tuple[str, str]] | None = None,
        builtins: tuple[RosterAgent, ...] = (),
    ) -> None:
        self.pick = pick
        self.fail = set(fail or ())
        self._builtins = builtins
        self.questions: list[RoutingQuestion] = []

    @property
    def version(self) -> str:
        return "scripted 1"

    def builtins(self) -> tuple[RosterAgent, ...]:
        return self._builtins

    def estimate(self, question: RoutingQuestion) -> Usage:
        return Usage(1000, 50)

    async def decide(self, question: RoutingQuestion, calls: ModelCalls) -> Decision:
        self.questions.append(question)
        key = (question.arm_label, question.task_id)
        if key in self.fail:
            self.fail.discard(key)
            raise ProviderError("Claude Code did not decide within 1 s")
        return Decision(self.pick(question), usage=Usage(1000, 50), latency_s=0.5)

    async def aclose(self) -> None:
        return None


def _world(tmp_path: Path, *, roster: str = "[frontend.md]", suite: str = SUITE) -> tuple[
    Database, Registry, Path
]:  # fmt: skip
    db = Database(str(tmp_path / "registry.db"))
    registry = Registry(db)
    registry.publish(AgentDefinition.parse(_agent("backend", "Use for server code.")), label="v1")
    registry.publish(
        AgentDefinition.parse(
            _agent("backend", "Use for server code: webhooks, payments, queues.")
        ),
        label="sharper",
    )
    (tmp_path / "frontend.md").write_bytes(_agent("frontend", "Use for UI, CSS and layout."))
    (tmp_path / "suite.yaml").write_text(suite)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: routing\nkind: delegation\nvariants:\n  control: backend@v1\n"
        f"  sharper: backend@sharper\ncontrol: control\ntasks: suite.yaml\nroster: {roster}\n"
        "router: simulated\nepochs: 2\nseed: 7\n"
    )
    return db, registry, spec


def _plan(tmp_path: Path, **kw: Any) -> tuple[Database, Plan, list[str]]:
    db, registry, spec = _world(tmp_path, **kw)
    import yaml

    parsed = parse_experiment_spec(yaml.safe_load(spec.read_text()), base_dir=tmp_path, path=spec)
    plan, _suite, warnings = build_plan(registry, parsed)
    return db, plan, warnings


def _smart(question: RoutingQuestion) -> str:
    """The sharper description wins the webhook request; the UI request goes to frontend."""
    if "navbar" in question.prompt:
        return "frontend"
    if "webhooks" in question.agents[0].description and "Stripe" in question.prompt:
        return "backend"
    return NONE


def test_the_contract_spec_makes_a_delegation_plan(tmp_path: Path) -> None:
    _db, plan, warnings = _plan(tmp_path)
    assert plan.kind == "delegation" and plan.document.delegation is not None
    delegation = plan.document.delegation
    assert [a.name for a in delegation.roster] == ["frontend"]
    assert delegation.router == "simulated" and delegation.main_model_id.startswith("claude-")
    assert [t.expect for t in plan.tasks] == ["backend", "frontend", "none"]
    assert warnings == []


def test_a_delegation_run_is_scored_by_the_pick_and_resumed_after_a_failure(
    tmp_path: Path,
) -> None:
    db, plan, _ = _plan(tmp_path)
    suite = load_suite(tmp_path / "suite.yaml")
    plan = store_plan(db, plan, "", suite, simulated=True)
    router = ScriptedRouter(_smart, fail={("sharper", "regex")})
    kind = DelegationTrial(plan, load_price_table(), router=router)
    first = asyncio.run(Runner(db, plan, SimulatedProvider(), kind=kind).run())
    # A failed decision is a failed trial, never "not delegated"; resume retries only it.
    assert first.status == "incomplete" and first.failed == 1
    report = build_report(db, plan.experiment_id or 0)
    sharper = next(v for v in report.variants if v.label == "sharper")
    assert sharper.delegation is not None and sharper.delegation.decided == 5
    asked = len(router.questions)
    again = asyncio.run(Runner(db, load_plan(db, first.experiment_id), SimulatedProvider(),
                               kind=kind).run())  # fmt: skip
    assert again.status == "completed" and len(router.questions) == asked + 1

    report = build_report(db, first.experiment_id)
    by_label = {v.label: v for v in report.variants}
    control, better = by_label["control"].delegation, by_label["sharper"].delegation
    assert control is not None and better is not None
    # control: webhook -> none (wrong), navbar right, regex right; sharper: all right.
    assert by_label["control"].quality.mean == pytest.approx(2 / 3)
    assert by_label["sharper"].quality.mean == pytest.approx(1.0)
    assert control.recall.rate == 0.0 and better.recall.rate == 1.0
    assert control.misses == {NONE: 2} and better.misses == {}
    assert control.confusion == {"backend": {NONE: 2}, "frontend": {"frontend": 2}, NONE: {NONE: 2}}
    assert control.false_delegations == 0
    assert report.delegation is not None
    assert [c.task_id for c in report.delegation.changed] == ["webhook"]
    assert report.delegation.router_versions == ("scripted 1",)
    json = report.to_json()
    assert json["variants"][1]["delegation"]["recall"]["rate"] == 1.0
    assert json["variants"][0]["delegation"]["false_delegations"] == 0
    assert json["variants"][0]["quality"]["mean"] == pytest.approx(2 / 3)


def test_the_roster_and_variant_agents_are_what_the_router_is_shown(tmp_path: Path) -> None:
    db, plan, _ = _plan(tmp_path)
    plan = store_plan(db, plan, "", load_suite(tmp_path / "suite.yaml"), simulated=True)
    router = ScriptedRouter(_smart)
    kind = DelegationTrial(plan, load_price_table(), router=router)
    asyncio.run(Runner(db, plan, SimulatedProvider(), kind=kind).run())
    shown = {(q.arm_label, tuple(a.name for a in q.agents)) for q in router.questions}
    assert shown == {("control", ("backend", "frontend")), ("sharper", ("backend", "frontend"))}
    sharper = next(q for q in router.questions if q.arm_label == "sharper")
    assert sharper.agents[0].description == "Use for server code: webhooks, payments, queues."
    assert (tmp_path / "frontend.md").read_text() == sharper.agents[1].markdown


def test_an_expected_agent_outside_the_roster_is_refused(tmp_path: Path) -> None:
    suite = SUITE.replace("expect: frontend", "expect: frontend-dev")
    _db, plan, _ = _plan(tmp_path, suite=suite)
    with pytest.raises(SpecError, match="expect 'frontend-dev' is not in the roster"):
        DelegationTrial(plan, load_price_table(), router=ScriptedRouter(_smart))


def test_a_suite_without_expect_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="expect: required in a delegation suite"):
        _plan(tmp_path, suite=SUITE.replace("    expect: none\n", ""))


def test_an_agent_listed_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "again.md").write_bytes(_agent("frontend", "Another frontend agent."))
    with pytest.raises(SpecError, match="agent 'frontend' is listed twice"):
        _plan(tmp_path, roster="[frontend.md, again.md]")


def test_a_roster_folder_leaves_out_the_agent_under_test(tmp_path: Path) -> None:
    team = tmp_path / "team"
    team.mkdir()
    (team / "backend.md").write_bytes(_agent("backend", "The team's copy."))
    (team / "docs.md").write_bytes(_agent("docs", "Use for documentation."))
    (team / "frontend.md").write_bytes(_agent("frontend", "Use for UI."))
    _db, plan, warnings = _plan(tmp_path, roster="[team]")
    assert plan.document.delegation is not None
    assert [a.name for a in plan.document.delegation.roster] == ["docs", "frontend"]
    assert any("the agent under test" in w for w in warnings)


def test_a_roster_entry_may_be_a_registry_reference(tmp_path: Path) -> None:
    _db, registry, _ = _world(tmp_path)
    registry.publish(AgentDefinition.parse(_agent("frontend", "From the registry.")), label="p")
    _db2, plan, _ = _plan(tmp_path, roster="[frontend@p]")
    assert plan.document.delegation is not None
    assert plan.document.delegation.roster[0].description == "From the registry."
    with pytest.raises(SpecError, match="roster"):
        _plan(tmp_path, roster="[nobody@p]")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"router": "carrier-pigeon"}, "router: must be one of simulated, messages, claude-code"),
        ({"kind": "vibes"}, "kind: must be one of response, delegation"),
        ({"graders": [{"type": "contains", "any": ["x"]}]}, "graders: a delegation trial"),
        ({"router_timeout_s": 0}, "router_timeout_s"),
        ({"capture": "c.json"}, "capture: only the messages router"),
        ({"router": "simulated", "provider": "anthropic"}, "the simulated router decides offline"),
    ],
)
def test_bad_delegation_specs_are_one_clear_line(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    raw = {
        "name": "x", "kind": "delegation", "variants": {"a": "backend@1", "b": "backend@2"},
        "control": "a", "tasks": "suite.yaml", **change,
    }  # fmt: skip
    with pytest.raises(SpecError, match=message):
        parse_experiment_spec(raw, base_dir=tmp_path)


def test_a_response_spec_with_delegation_keys_says_what_is_missing(tmp_path: Path) -> None:
    raw = {"name": "x", "variants": {"a": "b@1", "c": "b@2"}, "control": "a",
           "tasks": "t.yaml", "roster": ["f.md"]}  # fmt: skip
    with pytest.raises(SpecError, match="add `kind: delegation`"):
        parse_experiment_spec(raw, base_dir=tmp_path)


def test_variants_that_send_the_same_requests_are_warned_about(tmp_path: Path) -> None:
    db, plan, _ = _plan(tmp_path)
    # The two versions differ only in the description: a response experiment cannot see it.
    response = same_request_warnings("response", plan.arms)
    assert len(response) == 1 and "delegation experiment measures" in response[0]
    assert same_request_warnings("delegation", plan.arms) == []
    registry = Registry(db)
    registry.publish(
        AgentDefinition.parse(_agent("backend", "Use for server code.", body="Be terse.")),
        label="terse",
    )
    import yaml

    spec = yaml.safe_load((tmp_path / "spec.yaml").read_text())
    spec["variants"] = {"control": "backend@v1", "terse": "backend@terse"}
    _terse_plan, _, warnings = build_plan(
        registry, parse_experiment_spec(spec, base_dir=tmp_path, path=tmp_path / "spec.yaml")
    )
    assert any("response experiment measures" in w for w in warnings)


def test_delegation_figures_on_known_records() -> None:
    records = [
        ChoiceRecord("c", "t1", 1, "me", None), ChoiceRecord("c", "t1", 2, "other", None),
        ChoiceRecord("c", "t2", 1, "me", None), ChoiceRecord("c", "t2", 2, "me", None),
        ChoiceRecord("c", "t3", 1, "me", None), ChoiceRecord("c", "t3", 2, None, "timeout"),
        ChoiceRecord("v", "t1", 1, "me", None), ChoiceRecord("v", "t1", 2, "me", None),
        ChoiceRecord("v", "t2", 1, "me", None), ChoiceRecord("v", "t2", 2, "me", None),
        ChoiceRecord("v", "t3", 1, "none", None), ChoiceRecord("v", "t3", 2, "none", None),
    ]  # fmt: skip
    summary, figures = delegation_summary(
        records, control="c", agents={"c": "me", "v": "me"},
        expect={"t1": "me", "t2": "me", "t3": "none"}, task_order=["t1", "t2", "t3"],
        router="scripted", main_model="m", roster=["other"],
    )  # fmt: skip
    c, v = figures["c"], figures["v"]
    assert c.decided == 5  # the failed trial is left out
    assert c.recall.rate == pytest.approx(0.75) and c.recall.n == 2
    assert c.false_delegations == 1 and c.false_delegation_rate.rate == 1.0
    assert c.accuracy.rate == pytest.approx((0.5 + 1 + 0) / 3)
    assert v.recall.rate == 1.0 and v.false_delegations == 0 and v.accuracy.rate == 1.0
    assert c.misses == {"other": 1}
    assert [x.task_id for x in summary.changed] == ["t3", "t1"]  # the larger change first


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (17, 40), (1, 1)])
def test_the_wilson_interval_matches_scipy(k: int, n: int) -> None:
    ours = wilson_interval(k / n, n)
    theirs = stats.binomtest(k, n).proportion_ci(method="wilson")
    assert ours == pytest.approx((theirs.low, theirs.high), abs=1e-9)


def test_a_cached_decision_is_replayed_without_asking_the_router(tmp_path: Path) -> None:
    db, plan, _ = _plan(tmp_path)
    suite = load_suite(tmp_path / "suite.yaml")
    first = store_plan(db, plan, "", suite, simulated=True)
    router = ScriptedRouter(_smart)
    kind = DelegationTrial(first, load_price_table(), router=router)
    asyncio.run(Runner(db, first, SimulatedProvider(), kind=kind).run())
    asked = len(router.questions)
    second = store_plan(db, plan.overridden(cache=True), "", suite, simulated=True)
    kind = DelegationTrial(second, load_price_table(), router=router)
    summary = asyncio.run(Runner(db, second, SimulatedProvider(), kind=kind).run())
    assert summary.cached == 12 and len(router.questions) == asked
    before, after = (
        build_report(db, first.experiment_id or 0),
        build_report(db, summary.experiment_id),
    )
    assert [v.quality.mean for v in before.variants] == [v.quality.mean for v in after.variants]


def test_no_two_arms_share_a_cached_decision(tmp_path: Path) -> None:
    _db, plan, _ = _plan(tmp_path)
    kind = DelegationTrial(plan, load_price_table(), router=ScriptedRouter(_smart))
    control, sharper = plan.arms
    task = plan.tasks[0]
    # The same version under a second label asks the very same question: still its own key.
    twin = replace(control, label="twin")
    keys = {kind.cache_key(Cell(arm, task, 1)) for arm in (control, sharper, twin)}
    assert len(keys) == 3
    assert kind.cache_key(Cell(control, task, 1)) == kind.cache_key(Cell(control, task, 1))


def test_an_agent_named_none_is_refused(tmp_path: Path) -> None:
    (tmp_path / "none.md").write_bytes(_agent("none", "Answers nothing."))
    with pytest.raises(SpecError, match="named 'none'"):
        _plan(tmp_path, roster="[frontend.md, none.md]")


@pytest.mark.parametrize("tool", ["Agent", "Task"])
def test_the_first_tool_call_decides_whatever_the_tool_is_called(tool: str) -> None:
    from experiments.roster import GENERAL_PURPOSE, choice_of

    assert choice_of(tool, {"subagent_type": "frontend"}) == "frontend"
    assert choice_of(tool, {"prompt": "x"}) == GENERAL_PURPOSE
    assert choice_of(tool, None) == GENERAL_PURPOSE  # a call cut off by max_tokens
    assert choice_of("Bash", {"subagent_type": "frontend"}) == NONE
