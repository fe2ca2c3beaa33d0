"""From a spec to a runnable plan: every reference, model, price and grader resolved and checked.

Everything a run needs is resolved here, before the first request: references to versions, model
aliases to IDs (through the dated table), prices for every model, the task suite and every
grader. ``experiments.store.plans`` keeps the plan with the experiment (its variant and task
rows, and the ``PlanDocument``), so that a resumed run uses exactly what the interrupted one
used, whatever happened to the files since.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.errors import NotFoundError, SpecError
from experiments.agentic_plan import Agentic, resolve_agentic
from experiments.decision import DecisionRule, parse_decision
from experiments.delegation_plan import Delegation, resolve_delegation
from experiments.graders.base import (
    GraderConfig,
    build_grader,
    is_comparator,
    parse_grader_config,
)
from experiments.roster import RosterAgent
from experiments.spec import DEFAULT_BATCH_TASKS, DEFAULT_SETTINGS, ExperimentSpec, RunSettings
from experiments.tasks import Task, TaskSuite, load_suite
from registry.store import Registry
from variants.agentfile import AgentDefinition
from variants.refs import parse_ref

DEFAULT_KIND = "response"


@dataclass(frozen=True)
class Arm:
    """One variant as it runs: the exact system prompt and the resolved model."""

    label: str
    ref: str
    version_id: int
    model_alias: str
    model_id: str
    system: str
    agent: RosterAgent  # the agent as Claude Code's main loop lists it (delegation trials)

    @property
    def cache_identity(self) -> dict[str, object]:
        """What makes a cached answer this arm's own: its label and its version. Two arms never
        share an answer, even when they send the same request (an A/A run would report every
        difference as exactly 0); the same label of the same version reuses it later."""
        return {"label": self.label, "version": self.version_id}


@dataclass(frozen=True)
class Cell:
    """One (variant, task, epoch) of an experiment: exactly one trial is stored for it."""

    arm: Arm
    task: Task
    epoch: int


@dataclass(frozen=True)
class PlanDocument:
    """What an experiment keeps of its plan besides its variant and task rows.

    Serialised once, by ``to_json`` (stored as the experiment's ``spec`` column), and read back
    by ``from_json`` for ``--resume``, re-grading and the report alike. A key missing from an
    older document takes the default of ``RunSettings``, the only place defaults live.
    """

    kind: str = DEFAULT_KIND
    settings: RunSettings = DEFAULT_SETTINGS
    graders: tuple[GraderConfig, ...] = ()  # the spec's graders, applied to every task
    decision: DecisionRule = field(default_factory=DecisionRule)
    tasks_path: str | None = None
    delegation: Delegation | None = None  # set exactly when kind is delegation
    agentic: Agentic | None = None  # set exactly when kind is agentic

    def to_json(self) -> dict[str, Any]:
        settings = {f.name: getattr(self.settings, f.name) for f in fields(RunSettings)}
        return {
            "kind": self.kind,
            **settings,
            "request": dict(self.settings.request),
            "graders": [grader_config_json(c) for c in self.graders],
            "decision": self.decision.as_dict(),
            "tasks_path": self.tasks_path,
            **({"delegation": self.delegation.to_json()} if self.delegation else {}),
            **({"agentic": self.agentic.to_json()} if self.agentic else {}),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PlanDocument:
        known = {f.name for f in fields(RunSettings)}
        settings = RunSettings(**{k: v for k, v in raw.items() if k in known})
        decision = dict(raw.get("decision") or {})
        decision.pop("guardrail_confidence", None)  # reported with the rule, not a setting
        return cls(
            kind=raw.get("kind", DEFAULT_KIND),
            settings=replace(settings, request=MappingProxyType(dict(settings.request))),
            graders=tuple(grader_config_from_json(g) for g in raw.get("graders", [])),
            decision=parse_decision(decision),
            tasks_path=raw.get("tasks_path"),
            delegation=Delegation.from_json(raw["delegation"]) if raw.get("delegation") else None,
            agentic=Agentic.from_json(raw["agentic"]) if raw.get("agentic") else None,
        )


def grader_config_json(config: GraderConfig) -> dict[str, Any]:
    return {
        "type": config.type,
        "name": config.name,
        "weight": config.weight,
        "params": dict(config.params),
        "base_dir": str(config.base_dir) if config.base_dir else None,
        **({"source": config.source} if config.source else {}),
        **({"on": config.on} if config.on != "answer" else {}),
    }


def grader_config_from_json(raw: Mapping[str, Any]) -> GraderConfig:
    base = raw.get("base_dir")
    return GraderConfig(
        raw["type"],
        raw["name"],
        float(raw["weight"]),
        MappingProxyType(dict(raw.get("params") or {})),
        Path(base) if base else None,
        raw.get("source"),
        raw.get("on", "answer"),
    )


def pinned(config: GraderConfig) -> GraderConfig:
    """A python grader with the hash of its code recorded (``source``); any other unchanged."""
    from experiments.graders.checks import python_source

    return replace(config, source=python_source(config)) if config.type == "python" else config


def untrusted_python_graders(
    stored: Iterable[GraderConfig], declared: Iterable[GraderConfig]
) -> list[GraderConfig]:
    """The stored python graders that the files a user passes (``declared``) do not declare
    with the same location and the same code: stored rows alone must never choose code to run."""
    from experiments.graders.checks import python_location

    trusted = {pinned(c).source for c in declared if c.type == "python"}
    locations = {python_location(c) for c in declared if c.type == "python"}
    untrusted = []
    for config in stored:
        if config.type != "python":
            continue
        # The location is what the stored parameters would import, never the stored pin's.
        location = python_location(config)
        if config.source is None:  # stored before sources were pinned: the location must match
            if location in locations:
                continue
        elif f"{location}@{config.source.rpartition('@')[2]}" in trusted:
            continue
        untrusted.append(config)
    return untrusted


@dataclass(frozen=True)
class Plan:
    experiment_id: int | None  # None until stored (a dry run is never stored)
    name: str
    provider: str
    epochs: int
    seed: int
    control: str
    arms: tuple[Arm, ...]
    tasks: tuple[Task, ...]
    document: PlanDocument
    max_cost_usd: float | None

    @property
    def kind(self) -> str:
        return self.document.kind

    @property
    def settings(self) -> RunSettings:
        return self.document.settings

    @property
    def extra_graders(self) -> tuple[GraderConfig, ...]:
        return self.document.graders

    @property
    def comparators(self) -> tuple[GraderConfig, ...]:
        """The spec's comparators (the pairwise judge): they run once every trial is stored."""
        return tuple(c for c in self.extra_graders if is_comparator(c))

    @property
    def total_cells(self) -> int:
        return len(self.arms) * len(self.tasks) * self.epochs

    def graders_for(self, task: Task) -> tuple[GraderConfig, ...]:
        return (*task.graders, *self.extra_graders)

    def ungraded_tasks(self) -> tuple[Task, ...]:
        """The tasks no grader measures (comparators do not count): their trials get no
        quality. A delegation task is measured by its ``expect``, an agentic one by its checks
        too."""
        if self.document.delegation is not None:
            return tuple(task for task in self.tasks if task.expect is None)
        agentic = self.document.agentic
        if agentic is not None:
            return tuple(
                task
                for task in self.tasks
                if not any(check.weight > 0 for check in agentic.tasks[task.id].checks)
                and not any(not is_comparator(c) for c in self.graders_for(task))
            )
        return tuple(
            task
            for task in self.tasks
            if not any(not is_comparator(c) for c in self.graders_for(task))
        )

    def cells(self, task: Task) -> Iterator[Cell]:
        """The cells of one task row: every epoch of every arm."""
        for epoch in range(1, self.epochs + 1):
            for arm in self.arms:
                yield Cell(arm, task, epoch)

    def overridden(
        self,
        *,
        concurrency: int | None = None,
        max_cost_usd: float | None = None,
        cache: bool | None = None,
        sequential: bool | None = None,
    ) -> Plan:
        """The plan with the command line's overrides; None keeps what the plan has.
        ``sequential`` True keeps the plan's batch size, or takes the default one."""
        settings = self.settings
        if sequential is not None:
            batch = settings.sequential_batch_tasks or DEFAULT_BATCH_TASKS
            settings = replace(settings, sequential_batch_tasks=batch if sequential else None)
        if concurrency is not None:
            settings = replace(settings, concurrency=concurrency)
        if cache is not None:
            settings = replace(settings, cache=cache)
        return replace(
            self,
            document=replace(self.document, settings=settings),
            max_cost_usd=self.max_cost_usd if max_cost_usd is None else max_cost_usd,
        )


def system_prompt(definition: AgentDefinition) -> str:
    # Claude Code sends the body as the subagent's system prompt; surrounding blank lines are
    # layout, not instructions.
    return definition.body.strip()


def resolve_arms(registry: Registry, spec: ExperimentSpec) -> tuple[tuple[Arm, ...], list[str]]:
    """Arms for every variant, plus warnings (e.g. two labels on identical versions)."""
    from experiments.pricing import price_for
    from registry.model_aliases import resolve_model

    arms = []
    warnings = []
    seen: dict[tuple[int, str], str] = {}
    for variant in spec.variants:
        try:
            version = registry.resolve(parse_ref(variant.ref))
        except NotFoundError as err:
            raise SpecError(f"variants.{variant.label}: {err}") from None
        definition = version.definition(variant.ref)
        resolved = resolve_model(definition.model)
        price_for(resolved.model_id)  # no price: fail now, not after paying for half a run
        key = (version.version_id, resolved.model_id)
        if key in seen:
            warnings.append(
                f"variants {seen[key]} and {variant.label} are the same version and model"
            )
        seen[key] = variant.label
        arms.append(
            Arm(
                variant.label,
                variant.ref,
                version.version_id,
                resolved.alias,
                resolved.model_id,
                system_prompt(definition),
                RosterAgent.from_definition(definition, variant.ref),
            )
        )
    return tuple(arms), warnings


def same_request_warnings(kind: str, arms: tuple[Arm, ...]) -> list[str]:
    """Pairs of variants whose trials of this kind send the same requests, though the variants
    differ: the comparison can only measure noise, and the other kind would tell them apart.

    A response trial sends the body and runs the model; a delegation trial shows the main loop
    the agent's listing (name, description with its examples, tools). Pairs of one version on
    one model are ``resolve_arms``' warning already.
    """
    warnings = []
    for i, first in enumerate(arms):
        for second in arms[i + 1 :]:
            if (first.version_id, first.model_id) == (second.version_id, second.model_id):
                continue
            if kind == "delegation":
                same = first.agent.listing_line() == second.agent.listing_line()
                other = "body or model, which a response experiment measures (kind: response)"
            else:
                same = (first.system, first.model_id) == (second.system, second.model_id)
                other = (
                    "description or examples, which a delegation experiment measures "
                    "(kind: delegation)"
                )
            if same:
                warnings.append(
                    f"variants {first.label} and {second.label} send the same requests in a "
                    f"{kind} experiment: they differ only in their {other}"
                )
    return warnings


def check_spec_of(plan: Plan, spec: ExperimentSpec) -> None:
    """Refuse ``spec`` for the stored experiment ``plan`` when it is another experiment's spec
    (by name: a spec edited since may still be passed, each command checks what it reuses)."""
    if plan.name != spec.name:
        source = spec.path or "the spec"
        raise SpecError(
            f"experiment {plan.experiment_id} is {plan.name!r}, but {source} is {spec.name!r}"
        )


def declared_graders(spec: ExperimentSpec) -> tuple[GraderConfig, ...]:
    """Every grader the spec and its task suite declare (their python graders are trusted)."""
    suite = load_suite(spec.tasks_path)
    base = spec.path.parent if spec.path else None
    try:
        extra = tuple(parse_grader_config(raw, base_dir=base) for raw in spec.graders)
    except SpecError as err:
        raise SpecError(f"{spec.path or '<spec>'}: graders: {err}") from None
    return (*(c for t in suite.tasks for c in t.graders), *extra)


def check_stored_python(
    experiment_id: int | None, stored: Iterable[GraderConfig], declared: Iterable[GraderConfig],
    *, how: str,
) -> None:  # fmt: skip
    """Refuse to run a python grader named only by stored rows (see ``untrusted_python_graders``);
    ``how`` says how the user can declare it."""
    untrusted = untrusted_python_graders(stored, declared)
    if untrusted:
        first = untrusted[0]
        raise SpecError(
            f"experiment {experiment_id}: python grader {first.name!r} "
            f"({first.params.get('function')}) is named by the database, not by your files "
            f"with the same code; stored settings never choose code to run: {how}"
        )


def build_plan(registry: Registry, spec: ExperimentSpec) -> tuple[Plan, TaskSuite, list[str]]:
    """Resolve and check everything in ``spec``; nothing is written."""
    suite = load_suite(spec.tasks_path)
    suite = replace(
        suite, tasks=tuple(replace(t, graders=tuple(map(pinned, t.graders))) for t in suite.tasks)
    )
    extra = []
    for i, raw in enumerate(spec.graders):
        try:
            config = parse_grader_config(raw, base_dir=spec.path.parent if spec.path else None)
            build_grader(config)
        except SpecError as err:
            raise SpecError(f"{spec.path or '<spec>'}: graders[{i}]: {err}") from None
        extra.append(pinned(config))
    if spec.kind != "agentic":
        on_diff = [
            c for c in (*extra, *(c for t in suite.tasks for c in t.graders)) if c.on == "diff"
        ]
        if on_diff:
            raise SpecError(
                f"grader {on_diff[0].name!r}: on: diff grades an agentic trial's workspace; "
                "only kind: agentic has one"
            )
    arms, warnings = resolve_arms(registry, spec)
    warnings += same_request_warnings(spec.kind, arms)
    delegation = None
    if spec.delegation is not None:
        under_test = frozenset(arm.agent.name for arm in arms)
        delegation, more = resolve_delegation(registry, spec.delegation, under_test, suite)
        warnings += more
    agentic = resolve_agentic(spec.agentic, suite) if spec.agentic is not None else None
    document = PlanDocument(
        kind=spec.kind,
        settings=replace(spec.settings, request=MappingProxyType(dict(spec.settings.request))),
        graders=tuple(extra),
        decision=spec.decision,
        tasks_path=str(spec.tasks_path),
        delegation=delegation,
        agentic=agentic,
    )
    plan = Plan(
        experiment_id=None,
        name=spec.name,
        provider=spec.provider,
        epochs=spec.epochs,
        seed=spec.seed,
        control=spec.control,
        arms=arms,
        tasks=suite.tasks,
        document=document,
        max_cost_usd=spec.max_cost_usd,
    )
    return plan, suite, warnings
