"""The pairwise judge: both orders, win/tie/loss from the variant's side, position bias."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from experiments.graders import build_grader
from experiments.graders.base import GradeResult, parse_grader_config
from experiments.graders.environment import JudgeEnvironment, bind_graders
from experiments.graders.pairwise import (
    Pair,
    PairwiseJudge,
    PairwiseRow,
    TrialAnswer,
    outcome_of,
    pairs_of,
    summarise,
    variant_side,
)
from experiments.providers.base import TaskMaterial
from tests.experiments.tool_fake import AskedAs, fake_env, judge_bodies
from tests.fake_anthropic import Text, ToolCall, fake_anthropic, http_error

TASK = TaskMaterial(
    "register-endpoint",
    "Write a POST /users registration endpoint.",
    ("hashes the password with bcrypt or argon2", "returns 409 on a duplicate email"),
    "Full marks need slow hashing and a 409 on conflict.",
)
VARIANT = "Hash with argon2, return 409 on a duplicate email."
CONTROL = "Store the user with an md5 hash."
PAIR = Pair("register-endpoint", 1, "tight", 11, VARIANT, 10, CONTROL)


def prefer(winner_of: Any) -> Any:
    """A fake judge: ``winner_of(answer_a, answer_b)`` picks "A", "B" or "tie"."""

    def script(body: dict[str, Any]) -> ToolCall:
        content = body["messages"][0]["content"]
        a = content.split("<answer_a>\n", 1)[1].split("\n</answer_a>", 1)[0]
        b = content.split("<answer_b>\n", 1)[1].split("\n</answer_b>", 1)[0]
        return ToolCall({"winner": winner_of(a, b), "reason": "r"}, name="record_preference")

    return script


def compare(env: JudgeEnvironment, pair: Pair = PAIR, model: str = "haiku") -> GradeResult:
    judge = build_grader({"type": "pairwise", "model": model})
    assert isinstance(judge, PairwiseJudge)

    async def go() -> GradeResult:
        try:
            return await judge.bind(env).compare(TASK, pair)
        finally:
            await env.aclose()

    return asyncio.run(go())


def test_variant_side_and_outcome() -> None:
    assert [variant_side("variant_first", w) for w in ("A", "B", "tie")] == [1, -1, 0]
    assert [variant_side("control_first", w) for w in ("A", "B", "tie")] == [-1, 1, 0]
    assert outcome_of([1, 1]) == ("win", False)
    assert outcome_of([-1, -1]) == ("loss", False)
    assert outcome_of([1, -1]) == ("tie", True)
    assert outcome_of([1, 0]) == ("win", True)
    assert outcome_of([0, 0]) == ("tie", False)


def test_both_orders_are_asked_with_the_answers_swapped() -> None:
    with fake_anthropic(prefer(lambda a, b: "A" if "argon2" in a else "B")) as fake:
        result = compare(fake_env(fake))
    bodies = judge_bodies(fake)
    assert len(bodies) == 2
    firsts = {b["messages"][0]["content"].split("<answer_a>\n")[1][:20] for b in bodies}
    assert firsts == {VARIANT[:20], CONTROL[:20]}
    for body in bodies:
        assert body["output_config"]["format"]["type"] == "json_schema"
        assert "tools" not in body and "one JSON object" in body["system"]
        assert "tight" not in str(body)  # blind: no variant label
    assert (result.score, result.error) == (1.0, None)
    assert result.details["outcome"] == "win" and result.details["flipped"] is False
    assert result.details["vs_trial_id"] == 10
    assert {r["order"]: r["side"] for r in result.details["order_results"]} == {
        "variant_first": 1,
        "control_first": 1,
    }
    assert result.cost_usd > 0


@pytest.mark.parametrize("model", ["fable", "claude-fable-5-1", "opus", "sonnet"])
def test_pairwise_judges_on_every_family_ask_for_json_and_read_it(model: str) -> None:
    """No tool_choice at all (the fake answers a forced one on Fable 5.1 and later with a 400)."""
    with fake_anthropic(prefer(lambda a, b: "A" if "argon2" in a else "B")) as fake:
        result = compare(fake_env(fake), model=model)
    assert (result.score, result.error) == (1.0, None)
    bodies = judge_bodies(fake)
    assert len(bodies) == 2
    for body in bodies:
        assert "tool_choice" not in body
        schema = body["output_config"]["format"]["schema"]
        assert schema["properties"]["winner"]["enum"] == ["A", "B", "tie"]


def test_without_structured_outputs_the_pairwise_judge_calls_the_tool() -> None:
    with fake_anthropic(prefer(lambda a, b: "A" if "argon2" in a else "B")) as fake:
        provider = AskedAs(structured_output=False).connect(fake)
        result = compare(JudgeEnvironment(provider), model="fable")
        asyncio.run(provider.aclose())
    assert (result.score, result.error) == (1.0, None)
    for body in judge_bodies(fake):
        assert body["tool_choice"] == {"type": "auto"}  # Fable 5.1 and later: not forced
        assert [(t["name"], "strict" in t) for t in body["tools"]] == [("record_preference", False)]


def test_a_judge_that_always_picks_the_first_answer_flips() -> None:
    with fake_anthropic(prefer(lambda a, b: "A")) as fake:
        result = compare(fake_env(fake))
    assert result.details["outcome"] == "tie" and result.details["flipped"] is True
    assert result.score == 0.5
    assert "flipped" in result.reason


def test_loss_when_the_control_is_preferred_in_both_orders() -> None:
    with fake_anthropic(prefer(lambda a, b: "A" if "md5" in a else "B")) as fake:
        result = compare(fake_env(fake))
    assert (result.score, result.details["outcome"]) == (0.0, "loss")


def test_malformed_or_failed_order_is_an_error() -> None:
    with fake_anthropic(
        [ToolCall({"winner": "C", "reason": "r"}, name="record_preference")]
    ) as fake:
        malformed = compare(fake_env(fake))
    assert malformed.score is None and "malformed" in (malformed.error or "")
    assert "record_preference winner: 'C' is not one of" in (malformed.error or "")
    with fake_anthropic([Text("A is better.")]) as fake:
        prose = compare(fake_env(fake))
    assert prose.score is None and "not a JSON object" in (prose.error or "")
    with fake_anthropic([http_error(400)], default=http_error(400)) as fake:
        failed = compare(fake_env(fake))
    assert failed.score is None and "judge call failed" in (failed.error or "")


def test_simulated_pairwise_is_deterministic_and_prefers_coverage() -> None:
    first = compare(JudgeEnvironment("simulated", seed=3))
    assert first == compare(JudgeEnvironment("simulated", seed=3))
    assert first.details["simulated"] is True
    outcomes = [compare(JudgeEnvironment("simulated", seed=s)).score for s in range(20)]
    assert sum(outcomes) / len(outcomes) > 0.75  # the answer covering the points mostly wins


def test_pairs_of_matches_task_and_epoch_and_skips_missing_control() -> None:
    trials = [
        TrialAnswer(1, "control", "t1", 1, "c11"),
        TrialAnswer(2, "b", "t1", 1, "b11"),
        TrialAnswer(3, "a", "t1", 1, "a11"),
        TrialAnswer(4, "a", "t1", 2, "a12"),  # no control answer for epoch 2
        TrialAnswer(5, "control", "t2", 1, "c21"),
        TrialAnswer(6, "a", "t2", 1, "a21"),
    ]
    pairs = pairs_of(trials, "control")
    assert [(p.variant, p.task_id, p.epoch, p.trial_id, p.control_trial_id) for p in pairs] == [
        ("a", "t1", 1, 3, 1),
        ("b", "t1", 1, 2, 1),
        ("a", "t2", 1, 6, 5),
    ]
    assert pairs[0].answer == "a11" and pairs[0].control_answer == "c11"


def row(variant: str, outcome: str | None, flipped: bool, first: str = "A", run: int = 2) -> Any:
    if outcome is None:
        return PairwiseRow(variant, run, "judge call failed", {"kind": "pairwise"})
    orders = [{"winner": first}, {"winner": "tie" if not flipped else first}]
    details = {"kind": "pairwise", "outcome": outcome, "flipped": flipped, "order_results": orders}
    return PairwiseRow(variant, run, None, details)


def test_summary_counts_rates_and_position_bias() -> None:
    rows = [
        row("a", "win", False, "A"),
        row("a", "win", True, "A"),
        row("a", "tie", True, "B"),
        row("a", "loss", False, "B"),
        row("a", None, False),
        row("b", "loss", False, "B"),
        row("a", "win", False, run=1),  # an older grading run: left out
    ]
    summary = summarise(rows, "control")
    assert summary["grading_run"] == 2
    a, b = summary["variants"]
    assert (a["variant"], a["wins"], a["ties"], a["losses"], a["errors"]) == ("a", 2, 1, 1, 1)
    assert a["pairs"] == 4 and a["win_rate"] == 0.5
    assert a["preference"] == pytest.approx(2.5 / 4)
    assert a["flip_rate"] == 0.5
    assert (b["wins"], b["losses"], b["win_rate"]) == (0, 1, 0.0)
    bias = summary["position_bias"]
    assert (bias["pairs"], bias["flipped"], bias["flip_rate"]) == (5, 2, 0.4)
    # decided (non-tie) verdicts: A | A, A | B, B | B | B: 3 of 7 chose the first answer
    assert bias["first_position_share"] == pytest.approx(3 / 7)


def test_summary_without_pairwise_grades() -> None:
    assert summarise([], "control") == {
        "grading_run": None,
        "control": "control",
        "variants": [],
        "position_bias": None,
    }


def test_pairwise_is_a_comparator_never_a_per_trial_grader() -> None:
    env = JudgeEnvironment("simulated")
    bound = bind_graders([parse_grader_config({"type": "pairwise"})], env)
    assert bound.per_trial == ()
    [judge] = bound.comparators
    assert isinstance(judge, PairwiseJudge) and judge.env is env
    assert not hasattr(judge, "grade")  # nothing can grade a single trial with it
