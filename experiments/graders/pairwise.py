"""The pairwise judge: each variant's answer against the control's, for the same task and epoch.

Each pair is judged twice, once with the variant's answer as A and once as B, so that a judge
that prefers a position cannot make a variant win. The two verdicts, read from the variant's
side (+1 win, 0 tie, -1 loss), are added: above 0 is a win, below a loss, 0 a tie. A pair whose
two verdicts differ has ``flipped``; the share of flipped pairs is the position-bias rate.

It is a ``Comparator`` (registered with ``register_comparator_type``), not a per-trial grader.
Results are grade rows on the variant's trial (score 1 / 0.5 / 0 for win / tie / loss). They are
never part of a trial's quality: the control's trials have no pairwise grade, so combining them
would score the arms differently. Like the rubric judge, the judge sees only the task and the two
answers, never which variant wrote which.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from experiments.graders.base import (
    GraderConfig,
    GradeResult,
    Pair,
    check_keys,
    int_param,
    register_comparator_type,
)
from experiments.graders.environment import JudgeEnvironment, ToolQuestion, ToolReply
from experiments.graders.judge import (
    DEFAULT_MAX_TOKENS,
    JudgeModel,
    covered_points,
    judge_cost,
    judge_model_param,
    judge_provider_param,
    task_block,
)
from experiments.providers.base import ProviderError, TaskMaterial

TOOL_NAME = "record_preference"
KIND = "pairwise"  # details["kind"] of every pairwise grade row
ORDERS = ("variant_first", "control_first")
OUTCOME_SCORES = {"win": 1.0, "tie": 0.5, "loss": 0.0}
# Simulated judge: prefers position A regardless of content this often; calls a tie when the
# covered shares differ by less than TIE_MARGIN (after noise of sd SHARE_NOISE). Point verdicts
# are not flipped here: comparing two answers side by side is steadier than grading one alone.
POSITION_BIAS = 0.08
TIE_MARGIN = 0.1
SHARE_NOISE = 0.08

PAIRWISE_SYSTEM = """\
You are a strict senior reviewer comparing two answers, A and B, to the same engineering request.
Decide which answer better satisfies the rubric and covers the reference points correctly.
Judge substance only: not length, confidence, style, or which answer comes first.
Say tie only when neither is better. {record}"""
RECORD = {
    "tool": "Record your decision by calling the record_preference tool.",
    "json": "Answer with your decision as one JSON object of the given schema; no prose.",
}


def preference_tool() -> dict[str, Any]:
    return {
        "name": TOOL_NAME,
        "description": "Record which answer is better (A, B, or tie) and why.",
        "input_schema": {
            "type": "object",
            "properties": {
                "winner": {"type": "string", "enum": ["A", "B", "tie"]},
                "reason": {"type": "string"},
            },
            "required": ["winner", "reason"],
        },
    }


def pairwise_question(
    model_id: str, max_tokens: int, task: TaskMaterial, answer_a: str, answer_b: str
) -> ToolQuestion:
    content = (
        f"{task_block(task)}\n\n<answer_a>\n{answer_a}\n</answer_a>\n\n"
        f"<answer_b>\n{answer_b}\n</answer_b>"
    )
    return ToolQuestion(
        model=model_id,
        system=PAIRWISE_SYSTEM.format(record=RECORD["tool"]),
        json_system=PAIRWISE_SYSTEM.format(record=RECORD["json"]),
        content=content,
        max_tokens=max_tokens,
        tool=preference_tool(),
        task=task,
        simulate=lambda rng: simulate_preference(task, answer_a, answer_b, rng),
    )


def simulate_preference(
    task: TaskMaterial, answer_a: str, answer_b: str, rng: random.Random
) -> dict[str, Any]:
    """A ``record_preference`` input from the share of reference points each answer covers."""
    if rng.random() < POSITION_BIAS:
        return {"winner": "A", "reason": "simulated judge: preferred the first answer"}
    shares = []
    for answer in (answer_a, answer_b):
        verdicts = covered_points(task, answer, rng, flip=0.0)
        shares.append(sum(verdicts) / len(verdicts) if verdicts else 0.5)
    diff = shares[0] - shares[1] + rng.gauss(0, SHARE_NOISE)
    winner = "tie" if abs(diff) < TIE_MARGIN else ("A" if diff > 0 else "B")
    reason = f"simulated judge: A covers {shares[0]:.0%}, B {shares[1]:.0%} of the reference points"
    return {"winner": winner, "reason": reason}


def variant_side(order: str, winner: str) -> int:
    """+1 when the variant's answer won this order, -1 when the control's did, 0 for a tie."""
    if winner == "tie":
        return 0
    variant_position = "A" if order == "variant_first" else "B"
    return 1 if winner == variant_position else -1


def outcome_of(sides: Sequence[int]) -> tuple[str, bool]:
    """(win / tie / loss, flipped) from the variant-side verdicts of the two orders."""
    total = sum(sides)
    outcome = "win" if total > 0 else "loss" if total < 0 else "tie"
    return outcome, len(set(sides)) > 1


@dataclass(frozen=True)
class PairwiseJudge:
    name: str
    weight: float
    model: JudgeModel
    provider: str | None
    max_tokens: int
    env: JudgeEnvironment | None = field(default=None, compare=False)

    def bind(self, env: JudgeEnvironment) -> PairwiseJudge:
        return replace(self, env=env)

    async def compare(self, task: TaskMaterial, pair: Pair) -> GradeResult:
        """Judge ``pair`` in both orders; the result belongs on the variant's trial."""
        assert self.env is not None, "bind the pairwise judge to a JudgeEnvironment first"
        answers = {
            "variant_first": (pair.answer, pair.control_answer),
            "control_first": (pair.control_answer, pair.answer),
        }
        replies = await asyncio.gather(
            *(self._ask(task, *answers[order], pair.epoch) for order in ORDERS),
            return_exceptions=True,
        )
        order_results: list[dict[str, Any]] = []
        errors: list[str] = []
        cost = 0.0
        simulated = False
        for order, reply in zip(ORDERS, replies, strict=True):
            if isinstance(reply, ProviderError):
                errors.append(f"{order}: judge call failed: {reply}")
                continue
            if isinstance(reply, BaseException):
                raise reply
            cost += judge_cost(self.model.model_id, reply.usage)
            simulated = simulated or reply.simulated
            if reply.tool_input is None:
                errors.append(f"{order}: malformed judgement: {reply.problem}")
                continue
            winner = reply.tool_input["winner"]  # validated: A, B or tie, with a reason
            order_results.append(
                {"order": order, "winner": winner, "side": variant_side(order, winner),
                 "reason": reply.tool_input["reason"]}
            )  # fmt: skip
        details: dict[str, Any] = {
            "kind": KIND,
            "vs_trial_id": pair.control_trial_id,
            "judge_model": self.model.model_id,
            "simulated": simulated,
            "order_results": order_results,
        }
        if errors:
            return GradeResult(self.name, None, None, "not judged", errors[0], cost, details)
        outcome, flipped = outcome_of([r["side"] for r in order_results])
        details |= {"outcome": outcome, "flipped": flipped}
        reason = f"{outcome} against the control" + (
            " (the verdict flipped with the order)" if flipped else ""
        )
        return GradeResult(self.name, OUTCOME_SCORES[outcome], None, reason, None, cost, details)

    async def _ask(self, task: TaskMaterial, answer_a: str, answer_b: str, epoch: int) -> ToolReply:
        assert self.env is not None
        question = pairwise_question(self.model.model_id, self.max_tokens, task, answer_a, answer_b)
        return await self.env.ask(self.provider, question, epoch=epoch)


def _build_pairwise(config: GraderConfig) -> PairwiseJudge:
    check_keys(config.params, ("model", "provider", "max_tokens"))
    return PairwiseJudge(
        config.name,
        config.weight,
        judge_model_param(config.params),
        judge_provider_param(config.params),
        int_param(config.params, "max_tokens", minimum=256) or DEFAULT_MAX_TOKENS,
    )


register_comparator_type("pairwise", _build_pairwise)


# --- which pairs, and the summary ---------------------------------------------------------------


@dataclass(frozen=True)
class TrialAnswer:
    trial_id: int
    variant: str
    task_id: str
    epoch: int
    answer: str


def pairs_of(trials: Iterable[TrialAnswer], control: str) -> list[Pair]:
    """Every (variant, control) pair with an answer on both sides, in a stable order."""
    controls = {(t.task_id, t.epoch): t for t in trials if t.variant == control}
    pairs = []
    for t in sorted(trials, key=lambda t: (t.task_id, t.epoch, t.variant)):
        other = controls.get((t.task_id, t.epoch))
        if t.variant == control or other is None:
            continue
        pairs.append(
            Pair(t.task_id, t.epoch, t.variant, t.trial_id, t.answer, other.trial_id, other.answer)
        )
    return pairs


@dataclass(frozen=True)
class PairwiseRow:
    """A stored pairwise grade, as the summary reads it."""

    variant: str
    grading_run: int
    error: str | None
    details: Mapping[str, Any]


def summarise(rows: Sequence[PairwiseRow], control: str) -> dict[str, Any]:
    """Wins, ties, losses and rates per variant, and the position-bias flip rate, of the newest
    grading run that has pairwise grades."""
    if not rows:
        return {"grading_run": None, "control": control, "variants": [], "position_bias": None}
    latest = max(r.grading_run for r in rows)
    rows = [r for r in rows if r.grading_run == latest]
    per_variant: dict[str, dict[str, Any]] = {}
    first_wins = decided = 0
    for row in rows:
        entry = per_variant.setdefault(
            row.variant,
            {"variant": row.variant, "vs": control, "win": 0, "tie": 0, "loss": 0, "errors": 0,
             "flipped": 0},
        )  # fmt: skip
        if row.error is not None or "outcome" not in row.details:
            entry["errors"] += 1
            continue
        entry[row.details["outcome"]] += 1
        entry["flipped"] += bool(row.details.get("flipped"))
        for result in row.details.get("order_results", []):
            if result["winner"] != "tie":
                decided += 1
                first_wins += result["winner"] == "A"
    variants = []
    for entry in sorted(per_variant.values(), key=lambda e: e["variant"]):
        pairs = entry["win"] + entry["tie"] + entry["loss"]
        variants.append(
            {"variant": entry["variant"], "vs": control, "pairs": pairs, "wins": entry["win"],
             "ties": entry["tie"], "losses": entry["loss"], "errors": entry["errors"],
             "win_rate": entry["win"] / pairs if pairs else None,
             # ties count half: the chance the judge prefers the variant over the control
             "preference": (entry["win"] + entry["tie"] / 2) / pairs if pairs else None,
             "flip_rate": entry["flipped"] / pairs if pairs else None}
        )  # fmt: skip
    pairs = sum(v["pairs"] for v in variants)
    flipped = sum(e["flipped"] for e in per_variant.values())
    return {
        "grading_run": latest,
        "control": control,
        "variants": variants,
        "position_bias": {
            "pairs": pairs,
            "flipped": flipped,
            "flip_rate": flipped / pairs if pairs else None,
            # share of decided (non-tie) verdicts that chose the answer shown first
            "first_position_share": first_wins / decided if decided else None,
        },
    }
