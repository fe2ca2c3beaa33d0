import asyncio
import statistics
from dataclasses import replace

import pytest

from experiments.providers.base import CallContext, ModelRequest, ModelResponse, TaskMaterial
from experiments.providers.registry import get_provider
from experiments.providers.simulated import (
    DEFAULT_PROFILES,
    MAX_COVERAGE,
    MENTION_BOOST,
    ModelProfile,
    SimulatedProvider,
    coverage_probability,
    profile_for,
    stems,
)

REFERENCE = (
    "validates email format",
    "hashes passwords with bcrypt or argon2",
    "returns 201 on success and 409 on duplicates",
)
TASK = TaskMaterial("register-endpoint", "I need a user registration endpoint.", REFERENCE)
GENERIC = "You are a helpful backend engineer."
SPECIFIC = (
    "You are a backend engineer. Always validate email format, hash passwords with bcrypt or "
    "argon2, and return 201 on success and 409 on duplicates."
)


def request(system: str = GENERIC, model: str = "claude-sonnet-5-5", max_tokens: int = 4096):
    messages = ({"role": "user", "content": TASK.prompt},)
    return ModelRequest(model=model, system=system, messages=messages, max_tokens=max_tokens)


def context(seed: int = 7, variant: str = "control", epoch: int = 0, task: TaskMaterial = TASK):
    return CallContext(seed=seed, variant=variant, epoch=epoch, task=task)


def complete(req: ModelRequest, ctx: CallContext, provider=None) -> ModelResponse:
    return asyncio.run((provider or SimulatedProvider()).complete(req, ctx))


def covered(response: ModelResponse) -> int:
    return sum(f"- {p[0].upper()}{p[1:]}." in response.text for p in REFERENCE)


def mean_coverage(system: str, model: str, n: int = 300) -> float:
    provider = SimulatedProvider()

    async def all_calls() -> list[ModelResponse]:
        return [await provider.complete(request(system, model), context(seed=s)) for s in range(n)]

    return statistics.mean(covered(r) for r in asyncio.run(all_calls())) / len(REFERENCE)


def test_labelled_simulated():
    provider = get_provider("simulated")
    assert (provider.name, provider.simulated) == ("simulated", True)


def test_identical_inputs_give_identical_responses():
    assert complete(request(), context()) == complete(request(), context())


@pytest.mark.parametrize(
    "change",
    [
        lambda req, ctx: (req, replace(ctx, seed=8)),
        lambda req, ctx: (req, replace(ctx, variant="tight")),
        lambda req, ctx: (req, replace(ctx, epoch=1)),
        lambda req, ctx: (req, replace(ctx, task=replace(TASK, task_id="other"))),
        lambda req, ctx: (replace(req, model="claude-opus-5-5"), ctx),
        lambda req, ctx: (replace(req, system=GENERIC + " "), ctx),
    ],
)
def test_every_part_of_the_key_changes_the_draw(change):
    req, ctx = request(), context()
    changed = complete(*change(req, ctx))
    assert changed.latency_s != complete(req, ctx).latency_s


def test_different_seeds_give_different_answers():
    texts = {complete(request(), context(seed=s)).text for s in range(20)}
    assert len(texts) > 3


def test_response_states_covered_points_in_an_answer_with_code():
    response = complete(request(SPECIFIC), context())
    points = [p for p in REFERENCE if p in response.text]
    assert points, "the specific prompt should cover at least one point with this seed"
    assert "```python\ndef handle_register_endpoint(request):" in response.text
    for point in points:
        assert f"    # {point}" in response.text
    assert response.stop_reason == "end_turn"
    assert response.request_id.startswith("sim_")


def test_usage_and_timing_figures():
    req = request(SPECIFIC)
    response = complete(req, context())
    expected_input = (len(SPECIFIC) + len(TASK.prompt)) // 4
    assert response.usage.input_tokens == expected_input
    assert response.usage.output_tokens >= len(response.text) // 4
    assert (response.usage.cache_read_tokens, response.usage.cache_write_tokens) == (0, 0)
    assert 0 < response.ttft_s < response.latency_s
    assert response.model == req.model


def test_max_tokens_truncates():
    response = complete(request(max_tokens=10), context())
    assert (response.usage.output_tokens, response.stop_reason) == (10, "max_tokens")


def test_latency_centres_on_the_model_median():
    provider = SimulatedProvider()
    for model, family in [("claude-haiku-5-5", "haiku"), ("claude-opus-5-5", "opus")]:
        latencies = [
            asyncio.run(provider.complete(request(model=model), context(seed=s))).latency_s
            for s in range(400)
        ]
        median = DEFAULT_PROFILES[family].median_latency_s
        assert statistics.median(latencies) == pytest.approx(median, rel=0.15)


def test_a_prompt_naming_the_points_covers_more():
    generic = mean_coverage(GENERIC, "claude-sonnet-5-5")
    specific = mean_coverage(SPECIFIC, "claude-sonnet-5-5")
    # Expected: 0.55 vs about 0.55 + 0.35; a difference of 0.2 is far outside noise at n=300.
    assert specific - generic > 0.2


def test_a_stronger_model_covers_more():
    assert (
        mean_coverage(GENERIC, "claude-opus-5-5")
        > mean_coverage(GENERIC, "claude-haiku-5-5") + 0.15
    )


def test_coverage_probability_values():
    haiku = DEFAULT_PROFILES["haiku"]
    point = "hashes with bcrypt or argon2"
    assert stems(point) == {"hash", "bcrypt", "argon2"}
    assert coverage_probability(point, frozenset(), haiku) == pytest.approx(haiku.skill)
    assert coverage_probability(point, stems("use bcrypt"), haiku) == pytest.approx(
        haiku.skill + MENTION_BOOST / 3
    )
    assert coverage_probability(point, stems("hashing: bcrypt, argon2"), haiku) == pytest.approx(
        min(haiku.skill + MENTION_BOOST, MAX_COVERAGE)
    )
    certain = ModelProfile(1.0, 1.0, 0.1, 0.1, 100)
    assert coverage_probability(point, frozenset(), certain) == 0.97


def test_unknown_models_use_the_middle_profile_and_profiles_can_be_replaced():
    assert profile_for("claude-mythos-5-1", DEFAULT_PROFILES) is DEFAULT_PROFILES["sonnet"]
    assert profile_for("claude-haiku-4-5", DEFAULT_PROFILES) is DEFAULT_PROFILES["haiku"]
    steady = ModelProfile(
        skill=0.0, median_latency_s=1.0, latency_sigma=0.0, ttft_fraction=0.5, output_tokens=100
    )
    provider = SimulatedProvider(profiles={"sonnet": steady})
    responses = [complete(request(), context(seed=s), provider) for s in range(200)]
    assert {r.latency_s for r in responses} == {1.0}
    # Skill 0 and a prompt naming nothing: only the 2% floor is left.
    assert statistics.mean(map(covered, responses)) / len(REFERENCE) < 0.05


def test_task_without_reference_still_gets_an_answer():
    task = TaskMaterial("free-form", "Explain the design.")
    response = complete(request(), context(task=task))
    assert "```python" in response.text
