"""The rubric judge: a model grades one answer against the task's rubric and reference points.

Invariants:
- Blind: the judge's request is built from the task (prompt, rubric, reference points) and the
  answer text only. ``Grader.grade`` never receives the variant, its reference or its model, so
  nothing that names the variant can reach the judge.
- Structured: the judge answers with the input of the ``record_grade`` tool, as JSON text of its
  schema or as a call of the tool, whichever the model accepts (see ``environment``); the answer
  is validated against the schema and every reference point must be judged exactly once.
  Anything else is a malformed judgement: ``score=None`` with ``error`` set, never a zero.
- Judge epochs: ``epochs`` independent judgements of the same answer. The score is the mean of
  the well-formed ones (each is a measurement of the same thing; the spread is kept in
  ``details``); the grade is an error only when no judgement is well-formed.
- Cost: every judge call is priced into ``GradeResult.cost_usd``, apart from the trial's cost.
- Offline: when the judge's provider is ``simulated`` the judgement is simulated too (labelled
  ``details["simulated"]``): deterministic from the experiment's seed, the request and the judge
  epoch, scoring by how many reference points the answer covers, with a little seeded noise.

Judges need a ``JudgeEnvironment`` at grade time (the experiment's provider and seed, and the
providers made for judges, closed with the environment): ``environment.trial_graders`` builds a
task's graders and binds the judges to one.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.errors import SpecError
from experiments.graders.base import (
    GraderConfig,
    GradeResult,
    PricedGrader,
    check_keys,
    int_param,
    register_grader_type,
    str_param,
)
from experiments.graders.environment import JudgeEnvironment, ToolQuestion, ToolReply
from experiments.providers.base import (
    CHARS_PER_TOKEN,
    PROVIDER_NAMES,
    ProviderError,
    TaskMaterial,
    Usage,
)

SCALES = ("1-10", "pass_fail")
DEFAULT_JUDGE_MODEL = "sonnet"
DEFAULT_MAX_TOKENS = 2048
# A judgement's reply, for estimates: the score and a reason, and a verdict and reason per point.
REPLY_TOKENS = 120
POINT_TOKENS = 40
MAX_EPOCHS = 20
TOOL_NAME = "record_grade"
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
{record}"""
RECORD = {
    "tool": "Record the grade by calling the record_grade tool; do not answer in prose.",
    "json": "Answer with the grade as one JSON object of the given schema; no prose.",
}
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


def judge_question(
    model_id: str, scale: str, max_tokens: int, task: TaskMaterial, answer: str
) -> ToolQuestion:
    """The judge's question: built from the task and the answer, nothing else (blinding)."""
    return ToolQuestion(
        model=model_id,
        system=JUDGE_SYSTEM.format(scale_rule=SCALE_RULES[scale], record=RECORD["tool"]),
        json_system=JUDGE_SYSTEM.format(scale_rule=SCALE_RULES[scale], record=RECORD["json"]),
        content=f"{task_block(task)}\n\n<answer>\n{answer}\n</answer>",
        max_tokens=max_tokens,
        tool=grade_tool(scale),
        task=task,
        simulate=lambda rng: simulate_grade(task, answer, scale, rng),
    )


# --- validation of judge settings --------------------------------------------------------------


@dataclass(frozen=True)
class JudgeModel:
    alias: str
    model_id: str


def judge_model_param(params: Mapping[str, Any]) -> JudgeModel:
    """``model`` (alias or ID), resolved and priced now so that a typo fails at plan time."""
    from experiments.pricing import price_for
    from registry.model_aliases import resolve_model

    alias = str_param(params, "model", DEFAULT_JUDGE_MODEL)
    assert alias is not None
    try:
        resolved = resolve_model(alias)
        price_for(resolved.model_id)
    except SpecError as err:
        raise SpecError(f"model: {err}") from None
    return JudgeModel(alias, resolved.model_id)


def judge_provider_param(params: Mapping[str, Any]) -> str | None:
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


def parse_judgement(reply: ToolReply, scale: str, task: TaskMaterial) -> Judgement:
    """The judgement of a reply whose answer validated; ``MalformedJudgement`` says what was
    wrong."""
    tool_input = reply.tool_input
    if tool_input is None:
        raise MalformedJudgement(reply.problem)
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
class RubricJudge(PricedGrader):
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

    def estimate(self, task: TaskMaterial, answer_tokens: int) -> tuple[int, float]:
        """``epochs`` calls, each the judge's question on an answer of ``answer_tokens``, and a
        reply of a verdict and a reason per reference point (an estimate, at most
        ``max_tokens``)."""
        question = judge_question(
            self.model.model_id,
            self.scale,
            self.max_tokens,
            task,
            "x" * answer_tokens * CHARS_PER_TOKEN,
        )
        sent = len(question.system) + len(question.content) + len(str(question.tool))
        usage = Usage(
            input_tokens=sent // CHARS_PER_TOKEN + 1,
            output_tokens=min(REPLY_TOKENS + POINT_TOKENS * len(task.reference), self.max_tokens),
        )
        return self.epochs, self.epochs * judge_cost(self.model.model_id, usage)

    async def grade(self, response_text: str, task: TaskMaterial) -> GradeResult:
        if self.env is None:
            unbound = "judge has no environment: build it with environment.trial_graders"
            return GradeResult(self.name, None, None, "not graded", error=unbound)
        question = judge_question(
            self.model.model_id, self.scale, self.max_tokens, task, response_text
        )
        attempts = await asyncio.gather(
            *(self._judge_once(self.env, question, e) for e in range(self.epochs))
        )
        return self._result(attempts)

    async def _judge_once(
        self, env: JudgeEnvironment, question: ToolQuestion, epoch: int
    ) -> _Attempt:
        try:
            reply = await env.ask(self.provider, question, epoch=epoch)
        except ProviderError as err:
            # No judgement came back, simulated or not.
            return _Attempt(None, f"judge call failed: {err}", 0.0, err.retries, False)
        cost = judge_cost(self.model.model_id, reply.usage)
        try:
            judgement = parse_judgement(reply, self.scale, question.task)
        except MalformedJudgement as err:
            return _Attempt(
                None, f"malformed judgement: {err}", cost, reply.retries, reply.simulated
            )
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
