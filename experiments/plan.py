"""From a spec to a stored, runnable experiment, and back again for ``--resume``.

Everything a run needs is resolved and checked here, before the first request: references to
versions, model aliases to IDs (through the dated table), prices for every model, the task suite
and every grader. The experiment's rows then hold the whole plan, so a resumed run uses exactly
what the interrupted one used, whatever happened to the files since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.errors import NotFoundError, SpecError
from experiments.graders.base import GraderConfig, parse_grader_config
from experiments.pricing import PriceTable
from experiments.providers.base import ModelRequest, Usage
from experiments.spec import ExperimentSpec
from experiments.store.tables import Experiment, ExperimentTask, ExperimentVariant
from experiments.tasks import Task, TaskSuite, load_suite
from registry.database import Database
from registry.store import Registry
from variants.agentfile import AgentDefinition
from variants.refs import parse_ref

CHARS_PER_TOKEN = 4  # rough, for estimates only; real usage comes back from the API


@dataclass(frozen=True)
class Arm:
    """One variant as it runs: the exact system prompt and the resolved model."""

    label: str
    ref: str
    version_id: int
    model_alias: str
    model_id: str
    system: str


@dataclass(frozen=True)
class Plan:
    experiment_id: int | None  # None for a dry run
    name: str
    provider: str
    epochs: int
    seed: int
    control: str
    arms: tuple[Arm, ...]
    tasks: tuple[Task, ...]
    extra_graders: tuple[GraderConfig, ...]  # the spec's graders, on every task
    max_tokens: int
    request: Mapping[str, Any]
    max_cost_usd: float | None
    cache: bool
    max_attempts: int
    concurrency: int
    estimate_output_tokens: int

    @property
    def total_cells(self) -> int:
        return len(self.arms) * len(self.tasks) * self.epochs

    def request_for(self, arm: Arm, task: Task) -> ModelRequest:
        return ModelRequest(
            model=arm.model_id,
            system=arm.system,
            messages=({"role": "user", "content": task.prompt},),
            max_tokens=self.max_tokens,
            settings=dict(self.request),
        )

    def graders_for(self, task: Task) -> tuple[GraderConfig, ...]:
        return (*task.graders, *self.extra_graders)


def _system_prompt(definition: AgentDefinition) -> str:
    # Claude Code sends the body as the subagent's system prompt; surrounding blank lines are
    # layout, not instructions.
    return definition.body.strip()


def resolve_arms(registry: Registry, spec: ExperimentSpec) -> tuple[tuple[Arm, ...], list[str]]:
    """Arms for every variant, plus warnings (e.g. two labels on identical versions)."""
    from experiments.aliases import resolve_model
    from experiments.pricing import price_for

    arms = []
    warnings = []
    seen: dict[tuple[int, str], str] = {}
    for variant in spec.variants:
        try:
            version = registry.version(parse_ref(variant.ref))
        except NotFoundError as err:
            raise SpecError(f"variants.{variant.label}: {err}") from None
        definition = AgentDefinition.parse(version.source, origin=variant.ref)
        resolved = resolve_model(definition.model)
        price_for(resolved.model_id)  # no price: fail now, not after paying for half a run
        key = (version.id, resolved.model_id)  # type: ignore[assignment]
        if key in seen:
            warnings.append(
                f"variants {seen[key]} and {variant.label} are the same version and model"
            )
        seen[key] = variant.label  # type: ignore[index]
        arms.append(
            Arm(
                variant.label,
                variant.ref,
                version.id,  # type: ignore[arg-type]
                resolved.alias,
                resolved.model_id,
                _system_prompt(definition),
            )
        )
    return tuple(arms), warnings


def build_plan(
    db: Database,
    spec: ExperimentSpec,
    *,
    concurrency: int | None = None,
    max_cost_usd: float | None = None,
    cache: bool | None = None,
) -> tuple[Plan, TaskSuite, list[str]]:
    """Resolve and check everything in ``spec``; nothing is written."""
    suite = load_suite(spec.tasks_path)
    extra = []
    for i, raw in enumerate(spec.graders):
        where = f"graders[{i}]"
        try:
            config = parse_grader_config(raw, base_dir=spec.path.parent if spec.path else None)
            from experiments.graders.base import build_grader

            build_grader(config)
        except SpecError as err:
            raise SpecError(f"{spec.path or '<spec>'}: {where}: {err}") from None
        extra.append(config)
    arms, warnings = resolve_arms(Registry(db), spec)
    plan = Plan(
        experiment_id=None,
        name=spec.name,
        provider=spec.provider,
        epochs=spec.epochs,
        seed=spec.seed,
        control=spec.control,
        arms=arms,
        tasks=suite.tasks,
        extra_graders=tuple(extra),
        max_tokens=spec.max_tokens,
        request=MappingProxyType(dict(spec.request)),
        max_cost_usd=max_cost_usd if max_cost_usd is not None else spec.max_cost_usd,
        cache=spec.cache if cache is None else cache,
        max_attempts=spec.max_attempts,
        concurrency=concurrency or spec.concurrency,
        estimate_output_tokens=spec.estimate_output_tokens,
    )
    return plan, suite, warnings


def store_plan(db: Database, plan: Plan, spec: ExperimentSpec, suite: TaskSuite) -> Plan:
    """Write the experiment, its variants and its tasks; return the plan with its id."""
    from dataclasses import replace

    with db.session(write=True) as session:
        experiment = Experiment(
            name=plan.name,
            status="running",
            provider=plan.provider,
            simulated=plan.provider == "simulated",
            control=plan.control,
            epochs=plan.epochs,
            seed=plan.seed,
            spec_yaml=spec.source_text,
            spec=_resolved_spec(plan, spec),
            suite_name=suite.name,
            suite_hash=suite.content_hash,
            max_cost_usd=plan.max_cost_usd,
        )
        session.add(experiment)
        session.flush()
        for position, arm in enumerate(plan.arms):
            session.add(
                ExperimentVariant(
                    experiment_id=experiment.id,  # type: ignore[arg-type]
                    label=arm.label,
                    ref=arm.ref,
                    version_id=arm.version_id,
                    model_alias=arm.model_alias,
                    model_id=arm.model_id,
                    position=position,
                )
            )
        for position, task in enumerate(plan.tasks):
            session.add(
                ExperimentTask(
                    experiment_id=experiment.id,  # type: ignore[arg-type]
                    task_id=task.id,
                    position=position,
                    prompt=task.prompt,
                    reference=list(task.reference),
                    rubric=task.rubric,
                    area=task.area,
                    graders=[_config_dict(c) for c in task.graders],
                )
            )
        session.commit()
        return replace(plan, experiment_id=experiment.id)


def _config_dict(config: GraderConfig) -> dict[str, Any]:
    return {
        "type": config.type,
        "name": config.name,
        "weight": config.weight,
        "params": dict(config.params),
        "base_dir": str(config.base_dir) if config.base_dir else None,
    }


def _config_from(raw: Mapping[str, Any]) -> GraderConfig:
    base = raw.get("base_dir")
    return GraderConfig(
        raw["type"],
        raw["name"],
        float(raw["weight"]),
        MappingProxyType(dict(raw.get("params") or {})),
        Path(base) if base else None,
    )


def _resolved_spec(plan: Plan, spec: ExperimentSpec) -> dict[str, Any]:
    return {
        "max_tokens": plan.max_tokens,
        "request": dict(plan.request),
        "graders": [_config_dict(c) for c in plan.extra_graders],
        "decision": spec.decision.as_dict(),
        "cache": plan.cache,
        "max_attempts": plan.max_attempts,
        "concurrency": plan.concurrency,
        "estimate_output_tokens": plan.estimate_output_tokens,
        "tasks_path": str(spec.tasks_path),
    }


def load_plan(
    db: Database,
    experiment_id: int,
    *,
    concurrency: int | None = None,
    max_cost_usd: float | None = None,
    cache: bool | None = None,
) -> Plan:
    """The plan of a stored experiment, for ``--resume``."""
    from sqlmodel import select

    with db.session() as session:
        experiment = session.get(Experiment, experiment_id)
        if experiment is None:
            raise NotFoundError(f"no experiment with id {experiment_id}")
        variants = session.exec(
            select(ExperimentVariant)
            .where(ExperimentVariant.experiment_id == experiment_id)
            .order_by(ExperimentVariant.position)  # type: ignore[arg-type]
        ).all()
        arms = []
        registry = Registry(db)
        for v in variants:
            source = registry.exact(v.version_id).source
            definition = AgentDefinition.parse(source, origin=v.ref)
            arms.append(
                Arm(
                    v.label,
                    v.ref,
                    v.version_id,
                    v.model_alias or "",
                    v.model_id,
                    _system_prompt(definition),
                )
            )
        rows = session.exec(
            select(ExperimentTask)
            .where(ExperimentTask.experiment_id == experiment_id)
            .order_by(ExperimentTask.position)  # type: ignore[arg-type]
        ).all()
        tasks = tuple(
            Task(
                r.task_id,
                r.prompt,
                tuple(r.reference),
                r.rubric,
                tuple(_config_from(g) for g in r.graders),
                r.area,
            )
            for r in rows
        )
        resolved = experiment.spec
        return Plan(
            experiment_id=experiment_id,
            name=experiment.name,
            provider=experiment.provider,
            epochs=experiment.epochs,
            seed=experiment.seed,
            control=experiment.control,
            arms=tuple(arms),
            tasks=tasks,
            extra_graders=tuple(_config_from(g) for g in resolved.get("graders", [])),
            max_tokens=resolved.get("max_tokens", 4096),
            request=MappingProxyType(resolved.get("request", {})),
            max_cost_usd=max_cost_usd if max_cost_usd is not None else experiment.max_cost_usd,
            cache=resolved.get("cache", False) if cache is None else cache,
            max_attempts=resolved.get("max_attempts", 6),
            concurrency=concurrency or resolved.get("concurrency", 8),
            estimate_output_tokens=resolved.get("estimate_output_tokens", 800),
        )


@dataclass(frozen=True)
class ArmEstimate:
    label: str
    model_id: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


def estimate(plan: Plan, *, batch: bool = False) -> list[ArmEstimate]:
    """Planned calls and an estimated cost per arm (input from text length, output assumed).

    Priced call by call: a price tier depends on the size of one request, not of the sum.
    """
    from experiments.pricing import cost_usd, load_price_table

    table = load_price_table()
    rows = []
    for arm in plan.arms:
        usages = [estimated_usage(plan, arm, task) for task in plan.tasks]
        rows.append(
            ArmEstimate(
                arm.label,
                arm.model_id,
                calls=len(usages) * plan.epochs,
                input_tokens=sum(u.input_tokens for u in usages) * plan.epochs,
                output_tokens=sum(u.output_tokens for u in usages) * plan.epochs,
                cost_usd=sum(cost_usd(arm.model_id, u, batch=batch, table=table) for u in usages)
                * plan.epochs,
            )
        )
    return rows


def estimated_usage(plan: Plan, arm: Arm, task: Task) -> Usage:
    """One call's usage before any real usage is known: input from the text's length, output
    the spec's ``estimate_output_tokens`` (at most ``max_tokens``)."""

    return Usage(
        input_tokens=(len(arm.system) + len(task.prompt)) // CHARS_PER_TOKEN + 1,
        output_tokens=min(plan.estimate_output_tokens, plan.max_tokens),
    )


def cell_estimate(plan: Plan, arm: Arm, task: Task, *, table: PriceTable | None = None) -> float:
    """Estimated cost of one call, before any real usage is known."""
    from experiments.pricing import cost_usd

    return cost_usd(arm.model_id, estimated_usage(plan, arm, task), table=table)


def as_rows(estimates: Sequence[ArmEstimate]) -> list[dict[str, Any]]:
    return [
        {
            "variant": e.label,
            "model": e.model_id,
            "calls": e.calls,
            "input_tokens": e.input_tokens,
            "output_tokens": e.output_tokens,
            "cost_usd": round(e.cost_usd, 6),
        }
        for e in estimates
    ]
