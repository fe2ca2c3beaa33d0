"""The delegation part of a plan: the roster and the main loop's model, resolved before any trial.

A roster entry is an agent file, a folder of them (a team's ``.claude/agents/``) or a registry
reference. Every entry is read once, here, and kept whole in the plan document, so a resumed run
offers exactly the agents the first run offered. An agent of the roster that has the name of an
agent under test is left out: in Claude Code the variant takes its place (one name, one agent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import AgentRegistryError, NotFoundError, SpecError
from core.files import MAX_SPEC_BYTES, read_regular_file
from experiments.roster import NONE, RosterAgent
from experiments.spec import DelegationSpec
from experiments.tasks import TaskSuite
from registry.store import Registry
from variants.agentfile import AgentDefinition
from variants.refs import InvalidReference, parse_ref


@dataclass(frozen=True)
class Delegation:
    """What a delegation experiment keeps besides its tasks: the roster as resolved (texts
    included, so a resumed run offers exactly the same agents), the router and the main loop's
    model."""

    router: str
    roster: tuple[RosterAgent, ...]
    main_model_alias: str
    main_model_id: str
    timeout_s: float
    capture: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "router": self.router,
            "roster": [agent.to_json() for agent in self.roster],
            "main_model_alias": self.main_model_alias,
            "main_model_id": self.main_model_id,
            "timeout_s": self.timeout_s,
            "capture": self.capture,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Delegation:
        return cls(
            router=raw["router"],
            roster=tuple(RosterAgent.from_json(a) for a in raw.get("roster", [])),
            main_model_alias=raw.get("main_model_alias", ""),
            main_model_id=raw["main_model_id"],
            timeout_s=float(raw.get("timeout_s", 180.0)),
            capture=raw.get("capture"),
        )


def resolve_delegation(
    registry: Registry, spec: DelegationSpec, under_test: frozenset[str], suite: TaskSuite
) -> tuple[Delegation, list[str]]:
    """The plan's ``Delegation`` and warnings; ``SpecError`` for a roster or suite that cannot
    make a delegation experiment. ``under_test``: the names of the variants' agents."""
    from experiments.pricing import price_for
    from registry.model_aliases import resolve_model

    for index, task in enumerate(suite.tasks):
        if task.expect is None:
            raise SpecError(
                f"{suite.path}: tasks[{index}] '{task.id}': expect: required in a delegation "
                f"suite (the agent that should take the request, or {NONE})"
            )
    if NONE in under_test:
        raise SpecError(
            f"variants: an agent named {NONE!r} cannot be told from the main loop answering "
            "itself; rename it"
        )
    warnings: list[str] = []
    roster: list[RosterAgent] = []
    sources: dict[str, str] = {}
    for entry in spec.roster:
        for agent in _read_entry(registry, entry):
            if agent.name in under_test:
                warnings.append(
                    f"roster: {agent.source} is {agent.name}, the agent under test; "
                    "each variant takes its place"
                )
                continue
            if agent.name == NONE:
                raise SpecError(
                    f"roster: {agent.source} is named {NONE!r}, which a delegation trial "
                    "records when the main loop answers itself; rename the agent"
                )
            if agent.name in sources:
                raise SpecError(
                    f"roster: agent {agent.name!r} is listed twice ({sources[agent.name]} and "
                    f"{agent.source}); Claude Code would keep only one"
                )
            sources[agent.name] = agent.source
            roster.append(agent)
    model = resolve_model(spec.main_model)
    price_for(model.model_id)  # no price: fail now, not after paying for half a run
    delegation = Delegation(
        router=spec.router,
        roster=tuple(roster),
        main_model_alias=model.alias,
        main_model_id=model.model_id,
        timeout_s=spec.timeout_s,
        capture=spec.capture,
    )
    return delegation, warnings


def _read_entry(registry: Registry, entry: str) -> list[RosterAgent]:
    path = Path(entry)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.md") if p.is_file())
        if not files:
            raise SpecError(f"roster: {entry}: no agent files (*.md) in this folder")
        return [_read_file(p) for p in files]
    if entry.endswith(".md") or "/" in entry:
        return [_read_file(path)]
    try:
        version = registry.resolve(parse_ref(entry))
    except InvalidReference as err:
        raise SpecError(f"roster: {entry!r}: {err}") from None
    except NotFoundError as err:
        raise SpecError(f"roster: {err}") from None
    return [RosterAgent.from_definition(version.definition(entry), entry)]


def _read_file(path: Path) -> RosterAgent:
    try:
        data = read_regular_file(path, MAX_SPEC_BYTES)
    except OSError as err:
        raise SpecError(f"roster: {path}: cannot read the agent file: {err.strerror}") from None
    try:
        definition = AgentDefinition.parse(data, origin=str(path))
    except AgentRegistryError as err:
        raise SpecError(f"roster: {err}") from None
    return RosterAgent.from_definition(definition, str(path))
