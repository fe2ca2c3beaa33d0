"""The trial-kind seam: the runner schedules, budgets, resumes and stores cells of any kind.

Three kinds that are not the built-in response: one that makes two model calls per cell, one
that runs a subprocess, and one whose outcome is a choice rather than a text. Each goes through
the real ``Runner`` and store, as a delegation or agentic trial will.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.errors import SpecError
from experiments.kinds import CellEstimate, ModelCalls, Outcome, register_trial_kind
from experiments.kinds.base import _KINDS
from experiments.plan import Cell, Plan, build_plan
from experiments.pricing import PriceTable, cost_usd
from experiments.providers.base import (
    CallContext,
    ModelRequest,
    ModelResponse,
    RetryableProviderError,
)
from experiments.providers.simulated import SimulatedProvider
from experiments.runner import Runner
from experiments.spec import parse_experiment_spec
from experiments.store.plans import load_plan, store_plan
from experiments.store.tables import Trial
from experiments.tasks import load_suite
from registry.database import Database
from registry.store import Registry
from tests.conftest import REPO
from variants.agentfile import AgentDefinition

AGENT = "---\nname: helper\ndescription: Use this agent.\nmodel: {model}\n---\nBe {how}.\n"
TASKS = """\
tasks:
  - id: one
    prompt: "Say hello."
    reference: ["hello"]
    graders: [{type: contains, any: ["hello"]}]
  - id: two
    prompt: "Say goodbye."
    reference: ["goodbye"]
    graders: [{type: contains, any: ["goodbye"]}]
  - id: three
    prompt: "Say thanks."
    reference: ["thanks"]
    graders: [{type: contains, any: ["thanks"]}]
"""


def _request(cell: Cell, content: str) -> ModelRequest:
    return ModelRequest(
        cell.arm.model_id, cell.arm.system, ({"role": "user", "content": content},), 64
    )


class ToyKind:
    """What the toy kinds share: the plan and prices they are made for, no cache, no cost."""

    name = "toy"

    def __init__(self, plan: Plan, prices: PriceTable) -> None:
        self.plan, self.prices = plan, prices

    def estimate(self, cell: Cell, *, batch: bool = False) -> CellEstimate:
        return CellEstimate(0, 0, 0, 0.0)

    def cache_key(self, cell: Cell) -> None:
        return None

    def replay(self, cell: Cell, record: Mapping[str, Any]) -> Outcome:
        raise AssertionError("never cached")


class TwoCalls(ToyKind):
    """A cell that asks twice (a draft, then a revision) and is priced by both calls."""

    name = "two-calls"

    def estimate(self, cell: Cell, *, batch: bool = False) -> CellEstimate:
        return CellEstimate(2, 20, 20, 0.001)

    async def run(self, cell: Cell, calls: ModelCalls) -> Outcome:
        context = CallContext(self.plan.seed, cell.arm.label, cell.epoch, cell.task.material())
        draft = await calls.complete(_request(cell, cell.task.prompt), context)
        final = await calls.complete(_request(cell, f"Revise: {draft.text}"), context)
        cost = sum(cost_usd(cell.arm.model_id, r.usage, table=self.prices) for r in (draft, final))
        return Outcome(
            text=final.text + " hello goodbye thanks",
            cost_usd=cost,
            latency_s=draft.latency_s + final.latency_s,
            retries=calls.retries,
            details={"calls": 2, "costs": [draft.usage.output_tokens, final.usage.output_tokens]},
        )


class Subprocess(ToyKind):
    """A cell that runs a program and is graded by what it printed."""

    name = "subprocess"

    async def run(self, cell: Cell, calls: ModelCalls) -> Outcome:
        word = cell.task.reference[0] if cell.arm.label == "control" else "nothing"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", f"print({word!r}); raise SystemExit(3)",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await process.communicate()
        return Outcome(text=out.decode(), details={"exit_code": process.returncode})


class Choice(ToyKind):
    """A cell whose outcome is which agent was picked; the first attempt at task two fails."""

    name = "choice"
    attempts: ClassVar[dict[tuple[str, str, int], int]] = {}

    def estimate(self, cell: Cell, *, batch: bool = False) -> CellEstimate:
        return CellEstimate(1, 10, 1, 1.0)  # dear on purpose: the budget must count it

    async def run(self, cell: Cell, calls: ModelCalls) -> Outcome:
        key = (cell.arm.label, cell.task.id, cell.epoch)
        Choice.attempts[key] = Choice.attempts.get(key, 0) + 1
        if cell.task.id == "two" and Choice.attempts[key] == 1:
            return Outcome(error="the router timed out")
        picked = "helper" if cell.arm.label == "control" else "general-purpose"
        return Outcome(choice=picked, cost_usd=0.5, details={"picked": picked})


@pytest.fixture(autouse=True)
def _toy_kinds() -> Iterator[None]:
    for kind in (TwoCalls, Subprocess, Choice):
        register_trial_kind(kind.name, kind)
    yield
    for kind in (TwoCalls, Subprocess, Choice):
        _KINDS.pop(kind.name)
    Choice.attempts.clear()


def _plan(tmp_path: Path, kind: str, **spec: Any) -> tuple[Database, Plan]:
    db = Database(str(tmp_path / "registry.db"))
    registry = Registry(db)
    for label, model, how in (("base", "sonnet", "thorough"), ("cheap", "haiku", "brief")):
        source = AGENT.format(model=model, how=how).encode()
        registry.publish(AgentDefinition.parse(source), label=label)
    (tmp_path / "tasks.yaml").write_text(TASKS)
    raw = {
        "name": "seam",
        "variants": {"control": "helper@base", "cheap": "helper@cheap"},
        "control": "control",
        "tasks": "tasks.yaml",
        "epochs": 2,
        **spec,
    }
    parsed = parse_experiment_spec(raw, base_dir=tmp_path)
    plan, _, _ = build_plan(registry, parsed)
    plan = replace(plan, document=replace(plan.document, kind=kind))
    return db, store_plan(db, plan, "", load_suite(tmp_path / "tasks.yaml"), simulated=True)


def _trials(db: Database, experiment_id: int) -> list[Trial]:
    from sqlmodel import select

    with db.session() as session:
        return list(session.exec(select(Trial).where(Trial.experiment_id == experiment_id)))


class CountingProvider(SimulatedProvider):
    """The simulated provider, failing each cell's first call once (429) and counting calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.failed: set[tuple[str, str, int]] = set()

    async def complete(self, request: ModelRequest, context: CallContext) -> ModelResponse:
        self.calls += 1
        key = (context.variant, context.task.task_id, context.epoch)
        if key not in self.failed:
            self.failed.add(key)
            raise RetryableProviderError("429 rate_limit_error", status=429, retry_after=0)
        return await super().complete(request, context)


async def _no_sleep(_: float) -> None:
    return None


def test_a_cell_of_several_calls_is_retried_priced_and_stored_once(tmp_path: Path) -> None:
    db, plan = _plan(tmp_path, "two-calls")
    provider = CountingProvider()
    summary = asyncio.run(Runner(db, plan, provider, sleep=_no_sleep).run())
    trials = _trials(db, summary.experiment_id)
    assert summary.status == "completed" and summary.done == len(trials) == 12
    assert provider.calls == 12 * 3  # two calls per cell, the first of them retried once
    assert {t.retries for t in trials} == {1}
    assert all(t.details == {"calls": 2, "costs": t.details["costs"]} for t in trials)
    assert summary.cost_usd == pytest.approx(sum(t.cost_usd for t in trials))
    assert all(t.cost_usd > 0 and t.quality == 1.0 for t in trials)


def test_a_cell_that_runs_a_subprocess_is_graded_by_its_output(tmp_path: Path) -> None:
    db, plan = _plan(tmp_path, "subprocess")
    summary = asyncio.run(Runner(db, plan, SimulatedProvider()).run())
    trials = _trials(db, summary.experiment_id)
    assert summary.status == "completed" and len(trials) == 12
    assert {t.details["exit_code"] for t in trials if t.details} == {3}
    quality = {t.variant: set() for t in trials}
    for t in trials:
        quality[t.variant].add(t.quality)
    assert quality == {"control": {1.0}, "cheap": {0.0}}


def test_a_choice_is_stored_budgeted_and_resumed_like_any_trial(tmp_path: Path) -> None:
    # Each task row is 2 variants x 2 epochs at an estimated $1 a cell: $5 admits one row.
    db, plan = _plan(tmp_path, "choice", max_cost_usd=5.0)
    first = asyncio.run(Runner(db, plan, SimulatedProvider()).run())
    assert first.status == "stopped" and "budget" in (first.note or "")
    assert first.done == 4 and first.cost_usd == pytest.approx(2.0)
    stored = load_plan(db, first.experiment_id).overridden(max_cost_usd=100.0)
    second = asyncio.run(Runner(db, stored, SimulatedProvider()).run())
    assert second.status == "incomplete" and second.failed == 4  # task two failed once
    third = asyncio.run(Runner(db, stored, SimulatedProvider()).run())
    assert third.status == "completed"
    trials = _trials(db, first.experiment_id)
    assert len(trials) == 12 and {(t.variant, t.task_id, t.epoch) for t in trials}.__len__() == 12
    assert {t.variant: t.choice for t in trials} == {
        "control": "helper",
        "cheap": "general-purpose",
    }
    assert all(t.response_text is None and t.quality is None for t in trials)
    assert max(Choice.attempts.values()) == 2  # only the failed cells ran again


def test_a_batch_needs_a_kind_whose_cell_is_one_request(tmp_path: Path) -> None:
    from experiments.batch import run_batch

    db, plan = _plan(tmp_path, "two-calls")
    with pytest.raises(SpecError, match="not one request"):
        asyncio.run(run_batch(db, plan, SimulatedProvider()))


def test_a_batch_needs_a_provider_with_message_batches(tmp_path: Path) -> None:
    from experiments.batch import run_batch

    db, plan = _plan(tmp_path, "response")
    with pytest.raises(SpecError, match="--batch needs provider: anthropic"):
        asyncio.run(run_batch(db, plan, SimulatedProvider()))


def test_an_unknown_kind_is_a_clear_error(tmp_path: Path) -> None:
    db, plan = _plan(tmp_path, "no-such-kind")
    with pytest.raises(SpecError, match="unknown trial kind 'no-such-kind'"):
        Runner(db, plan, SimulatedProvider())


class Broken(ToyKind):
    """A kind with a bug: its third cell raises something no one foresaw."""

    name = "broken"
    ran = 0

    async def run(self, cell: Cell, calls: ModelCalls) -> Outcome:
        Broken.ran += 1
        if Broken.ran == 3:
            raise KeyError(0)
        return Outcome(text="hello")


def test_an_unforeseen_failure_marks_the_run_failed_not_completed(tmp_path: Path) -> None:
    from experiments.store.reads import get_experiment

    register_trial_kind(Broken.name, Broken)
    try:
        db, plan = _plan(tmp_path, "broken", concurrency=1)
        with pytest.raises(KeyError):
            asyncio.run(Runner(db, plan, SimulatedProvider()).run())
    finally:
        _KINDS.pop(Broken.name)
    assert plan.experiment_id is not None
    assert get_experiment(db, plan.experiment_id).status == "failed"


def test_a_registered_comparator_runs_after_the_trials(tmp_path: Path) -> None:
    from experiments.graders.base import (
        _COMPARATOR_FACTORIES,
        GraderConfig,
        GradeResult,
        Pair,
        register_comparator_type,
    )
    from experiments.providers.base import TaskMaterial
    from experiments.store.tables import Grade

    class Shorter:
        name = "shorter"

        async def compare(self, task: TaskMaterial, pair: Pair) -> GradeResult:
            won = len(pair.answer) < len(pair.control_answer)
            return GradeResult(self.name, float(won), None, "shorter" if won else "not shorter")

    def build(config: GraderConfig) -> Shorter:
        return Shorter()

    register_comparator_type("shorter", build)
    try:
        db, plan = _plan(tmp_path, "response", graders=[{"type": "shorter"}])
        asyncio.run(Runner(db, plan, SimulatedProvider()).run())
    finally:
        _COMPARATOR_FACTORIES.pop("shorter")
    from sqlmodel import select

    with db.session() as session:
        grades = session.exec(select(Grade).where(Grade.grader == "shorter")).all()
    assert len(grades) == 3 * 2  # one per (task, epoch) pair of the variant with the control


REGISTER_BEFORE_LOADING = """
import sys
from experiments.graders.base import register_grader_type
from experiments.kinds.base import register_trial_kind
for register, name in ((register_trial_kind, "agentic"), (register_grader_type, "rubric_judge")):
    try:
        register(name, lambda *args: None)
    except ValueError as err:
        print(err)
register_trial_kind("agentic", lambda *args: None, replace=True)
register_grader_type("rubric_judge", lambda *args: None, replace=True)
import experiments.grading, experiments.kinds.agentic  # the built-in modules, loaded again
print("imported")
"""


def test_a_built_in_name_is_taken_before_its_module_has_loaded() -> None:
    # Built-in kinds and judges load on demand; registering one of their names must still be
    # refused (or, with replace, replace it), never break the built-in module's later import.
    done = subprocess.run(
        [sys.executable, "-c", REGISTER_BEFORE_LOADING],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "trial kind 'agentic' is already registered",
        "grader type 'rubric_judge' is already registered",
        "imported",
    ]
