"""The router seam of delegation trials.

A router answers one question: given the agents Claude Code would list (the variant's own agent
and the roster, project agents first) and one user request, which agent does the main loop pick?
The answer is a ``Decision``: an agent name, ``general-purpose`` for an ``Agent`` call without a
``subagent_type``, or ``none`` when the main loop answered itself. A router never runs the
subagent: the trial ends as soon as the decision is known.

A router that cannot decide raises ``ProviderError`` (the trial is stored failed and retried on
resume, never counted as "not delegated"); ``FatalProviderError`` stops the whole run (no later
trial can succeed either: a missing binary, a rejected key). A router that cannot run at all
(its extra is not installed, its capture is missing) raises ``SpecError`` when it is made, before
anything is spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from experiments.providers.base import Usage
from experiments.roster import RosterAgent

if TYPE_CHECKING:
    from experiments.kinds.base import ModelCalls

ROUTER_NAMES = ("simulated", "messages", "claude-code")


@dataclass(frozen=True)
class RoutingQuestion:
    """One delegation trial's question."""

    prompt: str  # the user's request, the last text block of the first user message
    agents: tuple[RosterAgent, ...]  # project agents: the variant's own first, then the roster
    model_id: str  # the main loop's model (not the agent's: its ``model`` runs the subagent)
    seed: int
    arm_label: str
    task_id: str
    epoch: int


@dataclass(frozen=True)
class Decision:
    """Which agent the main loop picked, and what finding out cost."""

    choice: str  # an agent name, GENERAL_PURPOSE, or NONE
    usage: Usage = field(default_factory=Usage)
    # What the router's runtime reported it cost (Claude Code's total_cost_usd); None: price it
    # from ``usage`` at the main loop's model.
    cost_usd: float | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    model_id: str | None = None  # the model that answered, when known
    details: Mapping[str, Any] = field(default_factory=dict)  # e.g. the Agent call's input


class Router(Protocol):
    name: str
    simulated: bool  # its decisions are drawn offline, not made by a model

    @property
    def version(self) -> str:
        """What decided, recorded with every trial: ``claude-code 2.1.332``, the capture's id
        and Claude Code version, ``simulated 1``."""
        ...

    def builtins(self) -> tuple[RosterAgent, ...]:
        """The built-in agents this router's Claude Code lists after the project agents."""
        ...

    def estimate(self, question: RoutingQuestion) -> Usage:
        """Expected tokens of one decision, before any is made (the dry run, the budget)."""
        ...

    async def decide(self, question: RoutingQuestion, calls: ModelCalls) -> Decision: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RouterOptions:
    """The spec's router settings, kept in the plan document for ``--resume``."""

    timeout_s: float = 180.0  # one decision; a router that takes longer fails the trial
    capture: str | None = None  # messages: the capture file (None: the default location)
