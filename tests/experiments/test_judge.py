"""The rubric judge against the loopback fake through the real SDK, and the simulated judge."""

from __future__ import annotations

import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from core.errors import SpecError
from experiments.graders import build_grader
from experiments.graders.base import GradeResult
from experiments.graders.environment import JudgeEnvironment, trial_graders
from experiments.graders.judge import RubricJudge
from experiments.graders.pairwise import PairwiseJudge
from experiments.pricing import cost_usd
from experiments.providers.anthropic import AnthropicProvider
from experiments.providers.base import Provider, TaskMaterial, Usage
from experiments.providers.registry import get_provider
from experiments.providers.simulated import SimulatedProvider
from experiments.tasks import load_suite
from tests.conftest import Cli
from tests.experiments.tool_fake import AskedAs, fake_env, judge_bodies
from tests.fake_anthropic import (
    DEFAULT_KEY,
    Text,
    ToolCall,
    fake_anthropic,
    http_error,
)

HAIKU = "claude-haiku-5-5"
TASK = TaskMaterial(
    "register-endpoint",
    "Write a POST /users registration endpoint.",
    ("hashes the password with bcrypt or argon2", "returns 409 on a duplicate email"),
    "Full marks need slow hashing and a 409 on conflict.",
)
GOOD = "We hash the password with bcrypt and return 409 on a duplicate email."
BAD = "Store the user."


def points(*met: bool) -> list[dict[str, Any]]:
    return [{"point": i, "met": m, "reason": f"point {i}"} for i, m in enumerate(met, 1)]


def judge(**params: Any) -> RubricJudge:
    grader = build_grader({"type": "rubric_judge", "model": "haiku", **params})
    assert isinstance(grader, RubricJudge)
    return grader


def grade(grader: RubricJudge, env: JudgeEnvironment, answer: str = GOOD) -> GradeResult:
    async def go() -> GradeResult:
        try:
            return await grader.bind(env).grade(answer, TASK)
        finally:
            await env.aclose()

    return asyncio.run(go())


# --- well-formed judgements ------------------------------------------------------------------


def test_well_formed_score_is_normalised_with_reasons_and_cost() -> None:
    reply = ToolCall({"points": points(True, False), "score": 7, "reason": "no 409"})
    with fake_anthropic([reply]) as fake:
        result = grade(judge(), fake_env(fake))
    assert result.error is None
    assert result.score == pytest.approx(6 / 9)
    assert result.passed is None
    assert result.reason.startswith("7.0/10: no 409; missed: returns 409 on a duplicate email")
    [only] = result.details["judgements"]
    assert [p["text"] for p in only["points"]] == list(TASK.reference)
    assert [p["met"] for p in only["points"]] == [True, False]
    assert result.details["simulated"] is False
    assert result.cost_usd == pytest.approx(cost_usd(HAIKU, Usage(1000, 200)))
    [body] = judge_bodies(fake)
    assert body["model"] == HAIKU
    assert "tools" not in body and "tool_choice" not in body  # structured outputs instead
    schema = body["output_config"]["format"]["schema"]
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert schema["additionalProperties"] is False and "maximum: 10" in str(schema)
    assert "one JSON object" in body["system"] and "record_grade tool" not in body["system"]
    assert body["stream"] is True  # through Provider.complete, streamed like every model call
    content = body["messages"][0]["content"]
    for part in (TASK.prompt, TASK.rubric, *TASK.reference, GOOD):
        assert part in content


def test_pass_fail_scale() -> None:
    reply = ToolCall({"points": points(True, True), "verdict": "pass", "reason": "ok"})
    with fake_anthropic([reply]) as fake:
        result = grade(judge(scale="pass_fail"), fake_env(fake))
    assert (result.score, result.passed, result.error) == (1.0, True, None)
    schema = judge_bodies(fake)[0]["output_config"]["format"]["schema"]
    assert schema["properties"]["verdict"]["enum"] == ["pass", "fail"]
    assert "score" not in schema["properties"]


def test_epochs_average_and_keep_the_spread() -> None:
    replies = [
        ToolCall({"points": points(True, True), "score": s, "reason": "r"}) for s in (4, 7, 10)
    ]
    with fake_anthropic(replies) as fake:
        result = grade(judge(epochs=3), fake_env(fake))
    scores = [(s - 1) / 9 for s in (4, 7, 10)]
    assert fake.message_calls == 3
    assert result.score == pytest.approx(statistics.fmean(scores))
    assert sorted(result.details["scores"]) == pytest.approx(scores)
    assert result.details["spread"]["sd"] == pytest.approx(statistics.stdev(scores))
    assert result.cost_usd == pytest.approx(3 * cost_usd(HAIKU, Usage(1000, 200)))


# --- how the judgement is asked for: from the provider's capabilities ---------------------------


FAMILIES = [
    "claude-haiku-4-5", "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-6",
    "claude-opus-4-8", "claude-opus-5", "claude-sonnet-5-5", "claude-opus-5-5", "haiku",
    "claude-mythos-5-1", "claude-fable-5-1", "fable",
]  # fmt: skip


@pytest.mark.parametrize("model", FAMILIES)
def test_every_model_family_is_asked_for_json_of_the_schema_and_scored_from_it(model: str) -> None:
    """Structured outputs on every priced model: no tool, so no tool_choice to be rejected (the
    fake answers a forced one on Fable 5.1 and later with a 400, as the API does)."""
    reply = ToolCall({"points": points(True, True), "score": 9, "reason": "both"})
    with fake_anthropic([reply]) as fake:
        result = grade(judge(model=model), fake_env(fake))
    assert (result.score, result.error) == (pytest.approx(8 / 9), None)
    [body] = judge_bodies(fake)
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert "tools" not in body and "tool_choice" not in body


@pytest.mark.parametrize(
    ("model", "choice"),
    [("haiku", {"type": "tool", "name": "record_grade"}), ("fable", {"type": "auto"})],
)
def test_without_structured_outputs_the_judge_calls_the_tool_forced_where_accepted(
    model: str, choice: dict[str, str]
) -> None:
    reply = ToolCall({"points": points(True, True), "score": 9, "reason": "both"})
    with fake_anthropic([reply]) as fake:
        provider = AskedAs(structured_output=False).connect(fake)
        result = grade(judge(model=model), JudgeEnvironment(provider))
        asyncio.run(provider.aclose())
    assert (result.score, result.error) == (pytest.approx(8 / 9), None)
    [body] = judge_bodies(fake)
    assert "output_config" not in body and body["tool_choice"] == choice
    [tool] = body["tools"]
    # The tool's own schema, not strict: the answer is validated against it on arrival.
    assert tool["name"] == "record_grade" and "strict" not in tool
    assert "additionalProperties" not in tool["input_schema"]
    assert "Record the grade by calling the record_grade tool" in body["system"]


def test_environment_reuses_the_given_provider_and_closes_only_what_it_made() -> None:
    """The experiment's provider serves judges without a provider of their own and stays open;
    a judge naming another provider gets one made for it, closed with the environment."""
    own = SimulatedProvider()
    made: list[Provider] = []
    verdict = ToolCall({"points": points(True, True), "score": 10, "reason": "r"})

    with fake_anthropic(default=verdict) as fake:

        def factory(name: str) -> Provider:
            made.append(get_provider(name, api_key=DEFAULT_KEY, base_url=fake.base_url))
            return made[-1]

        env = JudgeEnvironment(own, provider_factory=factory)

        async def go() -> tuple[GradeResult, GradeResult]:
            try:
                simulated = await judge().bind(env).grade(GOOD, TASK)
                real = await judge(provider="anthropic", epochs=2).bind(env).grade(GOOD, TASK)
                return simulated, real
            finally:
                await env.aclose()

        simulated, real = asyncio.run(go())
    assert simulated.details["simulated"] is True
    assert real.details["simulated"] is False and real.score == 1.0
    assert [p.name for p in made] == ["anthropic"]  # made once, used by both epochs
    assert isinstance(made[0], AnthropicProvider) and made[0]._client.is_closed()


# --- malformed and failing judgements -----------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (ToolCall(None, text="I would give it a 7."), "did not call record_grade"),
        (ToolCall({"points": points(True, True), "score": 11, "reason": "r"}), "score"),
        (ToolCall({"points": points(True, True), "reason": "r"}), "'score' is a required"),
        (ToolCall({"points": points(True), "score": 5, "reason": "r"}), "expected each of [1, 2]"),
        (ToolCall({"points": points(True, True), "score": 5, "reason": "r"}, name="other"), "did"),
        (ToolCall({"points": points(True, True), "score": 5, "reason": "r"}, cut_at=30), "cut"),
    ],
)
def test_malformed_judgement_is_an_error_not_a_zero(reply: ToolCall, message: str) -> None:
    with fake_anthropic([reply]) as fake:
        provider = AskedAs(structured_output=False).connect(fake)
        result = grade(judge(), JudgeEnvironment(provider))
        asyncio.run(provider.aclose())
    assert result.score is None and result.passed is None
    assert result.error is not None and "malformed judgement" in result.error
    assert message in result.error
    assert result.cost_usd > 0  # a malformed judgement was still paid for


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Text("I would give it a 7."), "not a JSON object: 'I would give it a 7.'"),
        (Text('["a list"]'), "not a JSON object"),
        (Text(json.dumps({"points": points(True, True), "score": 0, "reason": "r"})), "score"),
        (Text(json.dumps({"points": points(True, True), "reason": "r"})), "'score' is a required"),
        (Text(json.dumps({"points": points(True), "score": 5, "reason": "r"})), "each of [1, 2]"),
    ],
)
def test_a_json_answer_that_does_not_validate_is_an_error_not_a_zero(
    reply: Text, message: str
) -> None:
    with fake_anthropic([reply]) as fake:
        result = grade(judge(), fake_env(fake))
    assert result.score is None and result.passed is None
    assert result.error is not None and "malformed judgement" in result.error
    assert message in result.error


def test_failed_judge_call_is_retried_then_an_error() -> None:
    with fake_anthropic([http_error(529), http_error(529), http_error(529)]) as fake:
        result = grade(judge(), fake_env(fake))
    assert fake.message_calls == 3  # max_attempts of the environment
    assert result.score is None
    assert result.error is not None and result.error.startswith("judge call failed: ")
    assert result.details["retries"] == 2
    assert result.cost_usd == 0.0


def test_fatal_judge_error_is_not_retried() -> None:
    with fake_anthropic([http_error(404)]) as fake:
        result = grade(judge(), fake_env(fake))
    assert fake.message_calls == 1
    assert result.error is not None and f"model {HAIKU} not found" in result.error


def test_one_malformed_epoch_leaves_the_others() -> None:
    replies = [
        ToolCall({"points": points(True, True), "score": 10, "reason": "r"}),
        ToolCall(None, text="prose"),
    ]
    with fake_anthropic(replies) as fake:
        result = grade(judge(epochs=2), fake_env(fake))
    assert result.score == 1.0
    assert len(result.details["errors"]) == 1


def test_missing_key_for_a_real_judge_is_a_grader_error() -> None:
    result = grade(judge(provider="anthropic"), JudgeEnvironment("simulated"))
    assert result.score is None
    assert result.error is not None and "ANTHROPIC_API_KEY" in result.error


def test_unbound_judge_reports_an_error() -> None:
    result = asyncio.run(judge().grade(GOOD, TASK))
    assert result.score is None and result.error is not None


# --- blinding through a real run ---------------------------------------------------------------


def test_judge_request_never_names_the_variant(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole run on the anthropic provider (the fake): the judge sees no label, ref or prompt."""
    from tests.conftest import SEED

    sqlite_cli.ok("publish", str(SEED))
    variant_file = tmp_path / "zebra.md"
    marker = "ZEBRA-MARKER-7731"
    variant_file.write_text(SEED.read_text(encoding="utf-8") + f"\n{marker}\n", encoding="utf-8")
    sqlite_cli.ok("publish", str(variant_file))
    (tmp_path / "suite.yaml").write_text(
        "tasks:\n"
        "  - id: register-endpoint\n"
        "    prompt: Write a POST /users endpoint.\n"
        "    reference: [hashes with bcrypt, returns 409 on duplicates]\n"
        "    rubric: Slow hashing and 409.\n",
        encoding="utf-8",
    )
    (tmp_path / "spec.yaml").write_text(
        "name: blind\n"
        "variants: {control-okapi: backend-logic-implementer@1, "
        "variant-quokka: backend-logic-implementer@2}\n"
        "control: control-okapi\ntasks: suite.yaml\nepochs: 1\nprovider: anthropic\n"
        "graders: [{type: rubric_judge, model: haiku}]\n",
        encoding="utf-8",
    )
    verdict = ToolCall({"points": points(True, True), "score": 8, "reason": "good"})

    def script(body: dict[str, Any]) -> Any:
        return verdict if "output_config" in body else Text("Use bcrypt; return 409.")

    with fake_anthropic(script) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        out = json.loads(sqlite_cli.ok("run", "spec.yaml", "--json").stdout)
    assert out["status"] == "completed" and out["failed"] == 0
    bodies = judge_bodies(fake)
    assert len(bodies) == 2  # one judgement per trial
    system_prompts = {r.body["system"] for r in fake.requests if "tools" not in r.body}
    assert any(marker in s for s in system_prompts)  # the variant's own call did carry it
    for body in bodies:
        blob = json.dumps(body)
        for secret in ("okapi", "quokka", "backend-logic-implementer", marker, "@2"):
            assert secret not in blob
        assert "Use bcrypt; return 409." in blob
    report = json.loads(sqlite_cli.ok("report", "1", "--json").stdout)
    quality = {v["label"]: v["quality"]["mean"] for v in report["variants"]}
    assert all(q is not None for q in quality.values())


# --- the simulated judge -------------------------------------------------------------------


def simulated(answer: str, seed: int = 7, **params: Any) -> GradeResult:
    return grade(judge(**params), JudgeEnvironment("simulated", seed=seed), answer)


def test_simulated_judge_is_deterministic_and_labelled() -> None:
    first, again = simulated(GOOD), simulated(GOOD)
    assert first == again
    assert first.details["simulated"] is True
    assert first.cost_usd > 0  # priced like the simulated provider's calls
    seeds = {simulated(GOOD, seed=s, epochs=3).score for s in range(8)}
    assert len(seeds) > 1  # the seed moves the noise


def test_simulated_judge_scores_coverage_of_the_reference_points() -> None:
    good = [simulated(GOOD, seed=s).score for s in range(20)]
    bad = [simulated(BAD, seed=s).score for s in range(20)]
    assert statistics.fmean(good) > 0.8 > 0.3 > statistics.fmean(bad)
    assert simulated(GOOD, scale="pass_fail").passed is True


def test_simulated_judge_tells_good_from_weak_on_the_shipped_suite() -> None:
    suite = load_suite(Path(__file__).resolve().parents[2] / "data" / "tasks" / "backend.yaml")
    env = JudgeEnvironment("simulated", seed=1)
    grader = judge().bind(env)

    async def go(answer_of: Any) -> list[float]:
        results = [await grader.grade(answer_of(t), t.material()) for t in suite.tasks]
        return [r.score for r in results if r.score is not None]

    full = asyncio.run(go(lambda t: "\n".join(t.reference)))
    none = asyncio.run(go(lambda t: "Here is some code."))
    assert statistics.fmean(full) - statistics.fmean(none) > 0.6


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"scale": "1-5"}, "scale"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 21}, "epochs"),
        ({"model": "gpt-4"}, "model"),
        ({"provider": "openai"}, "provider"),
        ({"temperature": 0}, "temperature"),
        ({"max_tokens": 10}, "max_tokens"),
    ],
)
def test_bad_configuration_names_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=rf"grader 'rubric_judge': {field}: "):
        build_grader({"type": "rubric_judge", **params})


def test_defaults_and_weight() -> None:
    grader = build_grader({"type": "rubric_judge", "weight": 2})
    assert isinstance(grader, RubricJudge)
    assert (grader.scale, grader.epochs, grader.provider, grader.weight) == ("1-10", 1, None, 2.0)
    assert grader.model.model_id == "claude-sonnet-5-5"


def test_trial_graders_bind_judges_and_leave_out_pairwise() -> None:
    from experiments.graders.base import parse_grader_config

    configs = [
        parse_grader_config(c)
        for c in ({"type": "contains", "any": ["bcrypt"]}, {"type": "rubric_judge"},
                  {"type": "pairwise"})
    ]  # fmt: skip
    env = JudgeEnvironment("simulated")
    graders = trial_graders(configs, env)
    assert [g.name for g in graders] == ["contains", "rubric_judge"]
    assert isinstance(graders[1], RubricJudge) and graders[1].env is env
    assert isinstance(build_grader(configs[2]), PairwiseJudge)
