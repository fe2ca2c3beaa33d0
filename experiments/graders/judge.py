"""The rubric judge: a model grades one answer against the task's rubric and reference points.

Invariants:
- Blind: the judge's request is built from the task (prompt, rubric, reference points) and the
  answer text only. ``Grader.grade`` never receives the variant, its reference or its model, so
  nothing that names the variant can reach the judge.
- Structured: the judge must call the ``record_grade`` tool (``tool_choice`` forces it); its input
  is validated against the tool's JSON schema and every reference point must be judged exactly
  once. Anything else is a malformed judgement: ``score=None`` with ``error`` set, never a zero.
- Judge epochs: ``epochs`` independent judgements of the same answer. The score is the mean of
  the well-formed ones (each is a measurement of the same thing; the spread is kept in
  ``details``); the grade is an error only when no judgement is well-formed.
- Cost: every judge call is priced into ``GradeResult.cost_usd``, apart from the trial's cost.
- Offline: when the judge's provider is ``simulated`` the judgement is simulated too (labelled
  ``details["simulated"]``): deterministic from the experiment's seed, the request and the judge
  epoch, scoring by how many reference points the answer covers, with a little seeded noise.

Judges need a ``JudgeEnvironment`` at grade time (the experiment's provider name and seed, and
the API clients, created lazily and closed with the environment): ``trial_graders`` builds a
task's graders and binds the judges to one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.errors import SpecError
from experiments.graders.base import (
    Grader,
    GraderConfig,
    GradeResult,
    build_grader,
    check_keys,
    int_param,
    register_grader_type,
    str_param,
)
from experiments.providers.base import ModelRequest, ProviderError, TaskMaterial, Usage

SCALES = ("1-10", "pass_fail")
DEFAULT_JUDGE_MODEL = "sonnet"
DEFAULT_MAX_TOKENS = 2048
MAX_EPOCHS = 20
TOOL_NAME = "record_grade"
CHARS_PER_TOKEN = 4
# Simulated judge: a point counts as covered when this share of its key words is in the answer;
# each point verdict flips with NOISE_FLIP; the 1-10 score gets Gaussian noise of SCORE_NOISE;
# pass_fail passes when at least PASS_SHARE of the points are met.
COVERED_SHARE = 0.75
NOISE_FLIP = 0.08
SCORE_NOISE = 0.7
PASS_SHARE = 0.7

JUDGE_SYSTEM = """\
You are a strict senior reviewer grading one answer to an engineering request.
Grade only what the answer actually says and does; do not reward length, confidence or style.
For each numbered reference point, decide whether the answer covers it correctly and give a
one-sentence reason that points at the answer. Then weigh the rubric and give an overall grade:
{scale_rule}
Record the grade by calling the record_grade tool; do not answer in prose."""
SCALE_RULES = {
    "1-10": "an integer score from 1 (useless or harmful) to 10 (all an expert would expect).",
    "pass_fail": "verdict pass only if the answer meets the rubric's essential requirements.",
}


# --- the request -------------------------------------------------------------------------------


def grade_tool(scale: str) -> dict[str, Any]:
    """The ``record_grade`` tool: per-point verdicts with reasons and an overall grade."""
    overall: dict[str, Any] = (
        {"score": {"type": "integer", "minimum": 1, "maximum": 10}}
        if scale == "1-10"
        else {"verdict": {"type": "string", "enum": ["pass", "fail"]}}
    )
    point = {
        "type": "object",
        "properties": {
            "point": {"type": "integer", "minimum": 1, "description": "reference point number"},
            "met": {"type": "boolean"},
            "reason": {"type": "string"},
        },
        "required": ["point", "met", "reason"],
    }
    return {
        "name": TOOL_NAME,
        "description": "Record the grade of the answer: one verdict per reference point, then "
        "the overall grade with a short reason.",
        "input_schema": {
            "type": "object",
            "properties": {
                "points": {"type": "array", "items": point},
                **overall,
                "reason": {"type": "string", "description": "why this overall grade"},
            },
            "required": ["points", *overall, "reason"],
        },
    }


def task_block(task: TaskMaterial) -> str:
    """The task as every judge sees it: prompt, rubric and numbered reference points."""
    points = "\n".join(f"{i}. {p}" for i, p in enumerate(task.reference, 1)) or "(none)"
    rubric = task.rubric or "(none: judge correctness and completeness for the request)"
    return (
        f"<request>\n{task.prompt}\n</request>\n\n<rubric>\n{rubric}\n</rubric>\n\n"
        f"<reference_points>\n{points}\n</reference_points>"
    )


def judge_request(
    model_id: str, scale: str, max_tokens: int, task: TaskMaterial, answer: str
) -> ModelRequest:
    """The judge's request: built from the task and the answer, nothing else (blinding)."""
    content = f"{task_block(task)}\n\n<answer>\n{answer}\n</answer>"
    return ModelRequest(
        model=model_id,
        system=JUDGE_SYSTEM.format(scale_rule=SCALE_RULES[scale]),
        messages=({"role": "user", "content": content},),
        max_tokens=max_tokens,
        settings={
            "tools": [grade_tool(scale)],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
        },
    )


# --- the environment: providers of judgements ---------------------------------------------------


@dataclass(frozen=True)
class ToolReply:
    """One judge call: the forced tool's input (None when the model did not call it)."""

    tool_input: dict[str, Any] | None
    text: str
    usage: Usage
    stop_reason: str | None
    retries: int = 0
    simulated: bool = False


class JudgeClient(Protocol):
    async def call(self, request: ModelRequest) -> ToolReply: ...

    async def aclose(self) -> None: ...


class AnthropicJudgeClient:
    """One non-streamed Messages call per judgement (no time to first token is needed)."""

    def __init__(self, **options: Any) -> None:
        from experiments.providers.anthropic import make_client

        self._client, self._secret = make_client(**options)

    async def call(self, request: ModelRequest) -> ToolReply:
        from experiments.providers.anthropic import call_api, request_params, response_usage

        params = request_params(request)
        message = await call_api(
            lambda: self._client.messages.create(**params),
            model=request.model,
            secret=self._secret,
        )
        wanted = request.settings["tool_choice"]["name"]
        tool_input = next(
            (b.input for b in message.content if b.type == "tool_use" and b.name == wanted), None
        )
        text = "".join(b.text for b in message.content if b.type == "text")
        return ToolReply(
            tool_input if isinstance(tool_input, dict) else None,
            text,
            response_usage(message.usage),
            message.stop_reason,
        )

    async def aclose(self) -> None:
        await self._client.close()


Simulate = Callable[[random.Random], dict[str, Any]]


class JudgeEnvironment:
    """What judges need at grade time; one per run or re-grading, closed at its end.

    ``default_provider`` is the experiment's provider: a judge without its own ``provider`` uses
    it. API clients are created on first use (so a simulated run never needs a key) and reused.
    """

    def __init__(
        self,
        default_provider: str,
        *,
        seed: int = 0,
        max_attempts: int = 6,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        client_factory: Callable[[str], JudgeClient] | None = None,
    ) -> None:
        self.default_provider = default_provider
        self.seed = seed
        self.max_attempts = max_attempts
        self.sleep = sleep
        self._client_factory = client_factory or _default_client
        self._clients: dict[str, JudgeClient] = {}

    def provider_for(self, provider: str | None) -> str:
        return provider or self.default_provider

    async def ask(
        self, provider: str | None, request: ModelRequest, simulate: Simulate, *, epoch: int
    ) -> ToolReply:
        """One judgement; raises ``ProviderError`` when the call fails after retries."""
        name = self.provider_for(provider)
        if name == "simulated":
            return self._simulated(request, simulate, epoch)
        from experiments.retry import call_with_retries

        client = self._clients.get(name)
        if client is None:  # no await between the check and the store: no duplicate clients
            client = self._clients[name] = self._client_factory(name)
        reply, retries = await call_with_retries(
            lambda: client.call(request), max_attempts=self.max_attempts, sleep=self.sleep
        )
        return replace(reply, retries=retries)

    def _simulated(self, request: ModelRequest, simulate: Simulate, epoch: int) -> ToolReply:
        blob = json.dumps(
            {"seed": self.seed, "epoch": epoch, "body": request.body()}, sort_keys=True
        )
        rng = random.Random(int(hashlib.sha256(blob.encode()).hexdigest(), 16))
        tool_input = simulate(rng)
        prompt_chars = len(json.dumps(request.body()))
        usage = Usage(
            input_tokens=prompt_chars // CHARS_PER_TOKEN + 1,
            output_tokens=len(json.dumps(tool_input)) // CHARS_PER_TOKEN + 1,
        )
        return ToolReply(tool_input, "", usage, "tool_use", simulated=True)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def _default_client(name: str) -> JudgeClient:
    if name == "anthropic":
        return AnthropicJudgeClient()
    raise SpecError(f"no judge client for provider {name!r}")


# --- validation of judge settings --------------------------------------------------------------


@dataclass(frozen=True)
class JudgeModel:
    alias: str
    model_id: str


def judge_model_param(params: Mapping[str, Any]) -> JudgeModel:
    """``model`` (alias or ID), resolved and priced now so that a typo fails at plan time."""
    from experiments.aliases import resolve_model
    from experiments.pricing import price_for

    alias = str_param(params, "model", DEFAULT_JUDGE_MODEL)
    assert alias is not None
    try:
        resolved = resolve_model(alias)
        price_for(resolved.model_id)
    except SpecError as err:
        raise SpecError(f"model: {err}") from None
    return JudgeModel(alias, resolved.model_id)


def judge_provider_param(params: Mapping[str, Any]) -> str | None:
    from experiments.providers.registry import PROVIDER_NAMES

    provider = str_param(params, "provider")
    if provider is not None and provider not in PROVIDER_NAMES:
        raise SpecError(f"provider: must be one of {', '.join(PROVIDER_NAMES)}, got {provider!r}")
    return provider


def judge_cost(model_id: str, usage: Usage) -> float:
    from experiments.pricing import cost_usd

    return cost_usd(model_id, usage)


# --- the rubric judge --------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """One well-formed judgement, normalised."""

    score: float  # in [0, 1]
    raw: int | str  # 1-10 score, or "pass" / "fail"
    reason: str
    points: tuple[dict[str, Any], ...]  # {point, text, met, reason}


class MalformedJudgement(ValueError):
    pass


def parse_judgement(tool_input: dict[str, Any] | None, scale: str, task: TaskMaterial) -> Judgement:
    """Validate the tool input; ``MalformedJudgement`` says what was wrong."""
    import jsonschema

    if tool_input is None:
        raise MalformedJudgement(f"the judge did not call {TOOL_NAME}")
    validator = jsonschema.Draft202012Validator(grade_tool(scale)["input_schema"])
    error = jsonschema.exceptions.best_match(validator.iter_errors(tool_input))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "input"
        raise MalformedJudgement(f"{TOOL_NAME} {where}: {error.message}")
    numbers = [p["point"] for p in tool_input["points"]]
    expected = list(range(1, len(task.reference) + 1))
    if sorted(numbers) != expected:
        raise MalformedJudgement(
            f"{TOOL_NAME} judged points {sorted(numbers)}; expected each of {expected} once"
        )
    points = tuple(
        {"point": p["point"], "text": task.reference[p["point"] - 1], "met": p["met"],
         "reason": p["reason"]}
        for p in sorted(tool_input["points"], key=lambda p: p["point"])
    )  # fmt: skip
    raw: int | str
    if scale == "1-10":
        raw = int(tool_input["score"])
        score = (raw - 1) / 9
    else:
        raw = tool_input["verdict"]
        score = 1.0 if raw == "pass" else 0.0
    return Judgement(score, raw, tool_input["reason"], points)


def covered_points(
    task: TaskMaterial, answer: str, rng: random.Random, flip: float = NOISE_FLIP
) -> list[bool]:
    """Simulated verdicts: which reference points the answer covers, each flipped with ``flip``."""
    from experiments.providers.simulated import stems

    answer_stems = stems(answer)
    verdicts = []
    for point in task.reference:
        keys = stems(point)
        met = bool(keys) and len(keys & answer_stems) / len(keys) >= COVERED_SHARE
        verdicts.append(met != (rng.random() < flip))
    return verdicts


def simulate_grade(
    task: TaskMaterial, answer: str, scale: str, rng: random.Random
) -> dict[str, Any]:
    """A ``record_grade`` input as a judge that checks the reference points would give it."""
    verdicts = covered_points(task, answer, rng)
    share = sum(verdicts) / len(verdicts) if verdicts else 0.5
    points = [
        {"point": i, "met": met, "reason": "covered (simulated)" if met else "missing (simulated)"}
        for i, met in enumerate(verdicts, 1)
    ]
    reason = f"simulated judge: {sum(verdicts)} of {len(verdicts)} reference points covered"
    if scale == "1-10":
        score = min(max(round(1 + 9 * share + rng.gauss(0, SCORE_NOISE)), 1), 10)
        return {"points": points, "score": score, "reason": reason}
    return {
        "points": points,
        "verdict": "pass" if share >= PASS_SHARE else "fail",
        "reason": reason,
    }


@dataclass(frozen=True)
class _Attempt:
    judgement: Judgement | None
    error: str | None
    cost_usd: float
    retries: int
    simulated: bool


@dataclass(frozen=True)
class RubricJudge:
    name: str
    weight: float
    model: JudgeModel
    scale: str
    epochs: int
    provider: str | None  # None: the experiment's provider
    max_tokens: int
    env: JudgeEnvironment | None = field(default=None, compare=False)

    def bind(self, env: JudgeEnvironment) -> RubricJudge:
        return replace(self, env=env)

    async def grade(self, response_text: str, task: TaskMaterial) -> GradeResult:
        if self.env is None:
            unbound = "judge has no environment: build it with judge.trial_graders"
            return GradeResult(self.name, None, None, "not graded", error=unbound)
        request = judge_request(
            self.model.model_id, self.scale, self.max_tokens, task, response_text
        )
        attempts = await asyncio.gather(
            *(
                self._judge_once(self.env, request, task, response_text, e)
                for e in range(self.epochs)
            )
        )
        return self._result(attempts)

    async def _judge_once(
        self,
        env: JudgeEnvironment,
        request: ModelRequest,
        task: TaskMaterial,
        answer: str,
        epoch: int,
    ) -> _Attempt:
        simulated = env.provider_for(self.provider) == "simulated"
        try:
            reply = await env.ask(
                self.provider, request, lambda rng: simulate_grade(task, answer, self.scale, rng),
                epoch=epoch,
            )  # fmt: skip
        except ProviderError as err:
            return _Attempt(None, f"judge call failed: {err}", 0.0, err.retries, simulated)
        cost = judge_cost(self.model.model_id, reply.usage)
        try:
            judgement = parse_judgement(reply.tool_input, self.scale, task)
        except MalformedJudgement as err:
            return _Attempt(None, f"malformed judgement: {err}", cost, reply.retries, simulated)
        return _Attempt(judgement, None, cost, reply.retries, reply.simulated)

    def _result(self, attempts: Sequence[_Attempt]) -> GradeResult:
        good = [a.judgement for a in attempts if a.judgement is not None]
        errors = [a.error for a in attempts if a.error is not None]
        cost = sum(a.cost_usd for a in attempts)
        scores = [j.score for j in good]
        details: dict[str, Any] = {
            "judge_model": self.model.model_id,
            "scale": self.scale,
            "simulated": any(a.simulated for a in attempts),
            "epochs": self.epochs,
            "scores": scores,
            "spread": {
                "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                "min": min(scores, default=None),
                "max": max(scores, default=None),
            },
            "judgements": [
                {"raw": j.raw, "score": j.score, "reason": j.reason, "points": list(j.points)}
                for j in good
            ],
            "errors": errors,
            "retries": sum(a.retries for a in attempts),
        }
        if not good:
            return GradeResult(
                self.name, None, None, "no well-formed judgement", errors[0], cost, details
            )
        mean = statistics.fmean(scores)
        passed = mean >= 0.5 if self.scale == "pass_fail" else None
        first = good[0]
        missed = [p["text"] for p in first.points if not p["met"]]
        over = f" (mean of {len(good)} judgements)" if len(good) > 1 else ""
        reason = f"{_shown(mean, self.scale)}{over}: {first.reason}"
        if missed:
            reason += f"; missed: {'; '.join(missed)}"
        return GradeResult(self.name, mean, passed, reason, None, cost, details)


def _shown(score: float, scale: str) -> str:
    if scale == "1-10":
        return f"{1 + 9 * score:.1f}/10"
    return f"pass rate {score:.2f}"


def _build_rubric_judge(config: GraderConfig) -> RubricJudge:
    params = config.params
    check_keys(params, ("model", "scale", "epochs", "provider", "max_tokens"))
    scale = params.get("scale", "1-10")
    if scale not in SCALES:
        raise SpecError(f"scale: must be one of {', '.join(SCALES)}, got {scale!r}")
    epochs = int_param(params, "epochs", minimum=1) or 1
    if epochs > MAX_EPOCHS:
        raise SpecError(f"epochs: at most {MAX_EPOCHS} judgements per answer, got {epochs}")
    return RubricJudge(
        config.name,
        config.weight,
        judge_model_param(params),
        scale,
        epochs,
        judge_provider_param(params),
        int_param(params, "max_tokens", minimum=256) or DEFAULT_MAX_TOKENS,
    )


register_grader_type("rubric_judge", _build_rubric_judge)


# --- building a task's graders for a run ------------------------------------------------------


def trial_graders(configs: Sequence[GraderConfig], env: JudgeEnvironment) -> tuple[Grader, ...]:
    """The graders that grade each trial, judges bound to ``env``.

    Graders that compare trials (``per_experiment``, the pairwise judge) are left out: they run
    once all trials exist.
    """
    graders = []
    for config in configs:
        grader = build_grader(config)
        if getattr(grader, "per_experiment", False):
            continue
        if isinstance(grader, RubricJudge):
            grader = grader.bind(env)
        graders.append(grader)
    return tuple(graders)
