"""What judges need at grade time: providers by name, the seed, retries; and graders bound to it.

A judge asks one question per judgement and wants an answer of one JSON schema (the schema of a
tool's input). It asks through ``Provider.complete``, like every other model call, in the form the
provider says the judge's model accepts (``Capabilities``): JSON text of the schema
(``output_config.format``) where the model has structured outputs; else a call of the tool,
forced through ``tool_choice`` where that is accepted and offered with ``tool_choice: auto``
otherwise. Whatever the form, the answer is validated against
the schema here: an answer that is missing or does not validate is a malformed judgement
(``ToolReply.problem`` says why), never a score.

Offline, the simulated provider makes the tool call from the judge's own ``simulate`` (carried
in ``CallContext``), deterministic from the experiment's seed, the judge epoch and the request.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

from experiments.graders.base import Comparator, Grader, GraderConfig, Graders, build_graders
from experiments.providers.base import (
    CallContext,
    Capabilities,
    FatalProviderError,
    ModelRequest,
    ModelResponse,
    Provider,
    TaskMaterial,
    ToolUse,
    UnreachableError,
    Usage,
)
from experiments.providers.registry import get_provider
from experiments.retry import call_with_retries
from experiments.spec import DEFAULT_SETTINGS

Simulate = Callable[[random.Random], dict[str, Any]]
G = TypeVar("G", Grader, Comparator)
# Judges are blind: their calls name no variant.
JUDGE_VARIANT = ""


def answer_settings(tool: Mapping[str, Any], capabilities: Capabilities) -> dict[str, Any]:
    """Request settings asking for an answer of ``tool``'s input schema, as the model takes it."""
    from experiments.providers.anthropic_sdk import wire_schema

    if capabilities.structured_output:
        schema = wire_schema(tool["input_schema"])
        return {"output_config": {"format": {"type": "json_schema", "schema": schema}}}
    if not capabilities.tool_use:
        raise FatalProviderError("this provider cannot call tools on the judge's model")
    if capabilities.forced_tool_choice:
        choice = {"type": "tool", "name": tool["name"]}
    else:
        choice = {"type": "auto"}
    return {"tools": [dict(tool)], "tool_choice": choice}


@dataclass(frozen=True)
class ToolQuestion:
    """One judgement to ask for: built from the task and the answers only (blinding)."""

    model: str  # resolved model ID
    system: str  # asks for a call of ``tool``
    json_system: str  # the same, asking for the JSON object instead (structured outputs)
    content: str  # the user turn
    max_tokens: int
    tool: Mapping[str, Any]  # the answer is this tool's input
    task: TaskMaterial
    simulate: Simulate  # the tool input a simulated judge gives

    def request(self, capabilities: Capabilities) -> ModelRequest:
        return ModelRequest(
            model=self.model,
            system=self.json_system if capabilities.structured_output else self.system,
            messages=({"role": "user", "content": self.content},),
            max_tokens=self.max_tokens,
            settings=answer_settings(self.tool, capabilities),
        )

    def read(
        self, response: ModelResponse, capabilities: Capabilities
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The answer (the tool input, or the JSON object) if it validates, else why not."""
        import jsonschema

        name = self.tool["name"]
        answer: object
        if capabilities.structured_output:
            try:
                answer = json.loads(response.text)
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                return None, f"the judge's answer is not a JSON object: {response.text[:80]!r}"
        else:
            calls = [c for c in response.tool_calls if c.name == name]
            if not calls:
                return None, f"the judge did not call {name}"
            answer = calls[0].input
            if answer is None:
                return None, f"the judge's call of {name} was cut off ({response.stop_reason})"
        validator = jsonschema.Draft202012Validator(self.tool["input_schema"])
        error = jsonschema.exceptions.best_match(validator.iter_errors(answer))
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "input"
            return None, f"{name} {where}: {error.message}"
        return answer, None


@dataclass(frozen=True)
class ToolReply:
    """One judge call: the answer, validated (None, and ``problem`` says why, when there is
    none that validates)."""

    tool_input: dict[str, Any] | None
    problem: str | None
    text: str
    usage: Usage
    stop_reason: str | None
    retries: int
    simulated: bool


class JudgeEnvironment:
    """What judges need at grade time; one per run or re-grading, closed at its end.

    ``default_provider`` is the experiment's provider, or its name: a judge without its own
    ``provider`` uses it. An instance given here is reused and left open (its owner closes it).
    Other providers are made on first use by ``provider_factory`` (so a simulated run never
    needs a key), reused, and closed with the environment.
    """

    def __init__(
        self,
        default_provider: Provider | str,
        *,
        seed: int = 0,
        max_attempts: int = DEFAULT_SETTINGS.max_attempts,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        provider_factory: Callable[[str], Provider] = get_provider,
    ) -> None:
        self._providers: dict[str, Provider] = {}
        if isinstance(default_provider, str):
            self.default_provider = default_provider
        else:
            self.default_provider = default_provider.name
            self._providers[default_provider.name] = default_provider
        self.seed = seed
        self.max_attempts = max_attempts
        self.sleep = sleep
        self._provider_factory = provider_factory
        self._made: dict[str, Provider] = {}  # by name: what this environment closes
        # Judgements that got no response at all (after retries), and the last such error: a
        # caller grading many answers stops when the API is gone.
        self.unreachable = 0
        self.last_unreachable: UnreachableError | None = None

    def _provider(self, name: str | None) -> Provider:
        name = name or self.default_provider
        provider = self._providers.get(name)
        if provider is None:  # no await between the check and the store: no duplicates
            provider = self._providers[name] = self._made[name] = self._provider_factory(name)
        return provider

    async def ask(self, provider: str | None, question: ToolQuestion, *, epoch: int) -> ToolReply:
        """One judgement on ``provider`` (None: the default); raises ``ProviderError`` when the
        call fails after retries, or when the provider cannot be made (no key)."""
        chosen = self._provider(provider)
        capabilities = chosen.capabilities(question.model)
        request = question.request(capabilities)
        tool_name = question.tool["name"]

        def simulate_call(rng: random.Random) -> ToolUse:
            return ToolUse(tool_name, question.simulate(rng))

        context = CallContext(self.seed, JUDGE_VARIANT, epoch, question.task, simulate_call)
        try:
            response, retries = await call_with_retries(
                lambda: chosen.complete(request, context),
                max_attempts=self.max_attempts,
                sleep=self.sleep,
            )
        except UnreachableError as err:
            self.unreachable += 1
            self.last_unreachable = err
            raise
        answer, problem = question.read(response, capabilities)
        return ToolReply(
            tool_input=answer,
            problem=problem,
            text=response.text,
            usage=response.usage,
            stop_reason=response.stop_reason,
            retries=retries,
            simulated=chosen.simulated,
        )

    async def aclose(self) -> None:
        made, self._made = self._made, {}
        for name, provider in made.items():
            del self._providers[name]
            await provider.aclose()


# --- a task's graders, bound to an environment --------------------------------------------------


@runtime_checkable
class UsesJudges(Protocol):
    """A grader or comparator that calls a model: it is given the environment before use."""

    def bind(self, env: JudgeEnvironment) -> Self: ...


def bind_graders(configs: Sequence[GraderConfig], env: JudgeEnvironment) -> Graders:
    """A task's graders and comparators (split by their registered kind), bound to ``env``."""
    built = build_graders(configs)
    return Graders(
        tuple(_bound(g, env) for g in built.per_trial),
        tuple(_bound(c, env) for c in built.comparators),
    )


def trial_graders(configs: Sequence[GraderConfig], env: JudgeEnvironment) -> tuple[Grader, ...]:
    """The graders that grade each trial; comparators run once all trials exist."""
    return bind_graders(configs, env).per_trial


def _bound(grader: G, env: JudgeEnvironment) -> G:
    return grader.bind(env) if isinstance(grader, UsesJudges) else grader
