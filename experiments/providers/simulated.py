"""An offline provider: deterministic, labelled simulated, free, and instant.

Every figure comes from a random generator seeded by (seed, variant, task, epoch, model, a hash of
the system prompt), so the same call always gives the same response and a new seed gives new draws.

How an answer comes about, per reference point of the task: the model "covers" the point with a
probability that starts at the model's skill and rises with the share of the point's key words
that the system prompt mentions. So a prompt that names what good answers contain, or a stronger
model, covers more points on average, which real graders can measure because the response states
the covered points (verbatim) around a code block. Latency is a lognormal draw around the model's
median (time to first token a fraction of it); nothing actually waits.

A judge's call (its context carries ``simulate_tool_call``) is answered differently: with the
grader's own simulated tool call, drawn from a generator seeded by sha256 of the JSON of
{seed, epoch, request body}, and usage counted from the characters of the body and the input.
The request is the one a real judge would send to a model that takes a forced tool call (the
simulator claims that form on every model, not structured outputs), so the simulated judgement
follows from what would be asked.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from core.errors import SpecError
from experiments.providers.api_capabilities import messages_api_capabilities
from experiments.providers.base import (
    CHARS_PER_TOKEN,
    Batches,
    CallContext,
    Capabilities,
    ModelRequest,
    ModelResponse,
    SimulateToolCall,
    Usage,
)


@dataclass(frozen=True)
class ModelProfile:
    skill: float  # probability of covering a reference point the system prompt does not mention
    median_latency_s: float
    latency_sigma: float  # of log latency
    ttft_fraction: float  # median time to first token / total latency
    output_tokens: int  # median output length


DEFAULT_PROFILES: Mapping[str, ModelProfile] = {
    "haiku": ModelProfile(0.40, 2.5, 0.35, 0.15, 450),
    "sonnet": ModelProfile(0.55, 6.0, 0.40, 0.12, 700),
    "opus": ModelProfile(0.65, 11.0, 0.45, 0.10, 850),
    "fable": ModelProfile(0.72, 14.0, 0.45, 0.10, 900),
}
# Model IDs naming none of the families above (claude-mythos-5-1, ...) behave like this one.
MIDDLE_FAMILY = "sonnet"
# Coverage probability added when the system prompt mentions all of a point's key words: large
# enough that a prompt spelling out the practices a task rewards measurably helps.
MENTION_BOOST = 0.6
MIN_COVERAGE, MAX_COVERAGE = 0.02, 0.97

_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = ("ations", "ation", "ing", "ed", "es", "s")
# fmt: off
_STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into",
    "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "with", "when", "use",
    "uses", "using", "should", "must", "can", "will", "not", "all", "any", "each",
))
# fmt: on
_OPENINGS = (
    "Here is how I would handle this.",
    "Below is an implementation plan with the key decisions.",
    "This is the approach I recommend.",
)
_CLOSINGS = (
    "Let me know if you want tests for the edge cases.",
    "I kept the sketch small; the points above are the parts that matter.",
    "Happy to expand any part of this.",
)


def stems(text: str) -> frozenset[str]:
    """Crude word stems (lower case, common suffixes off, stop words out) for keyword overlap."""
    out = set()
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS or (len(word) < 3 and not word.isdigit()):
            continue
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        out.add(word[:8])
    return frozenset(out)


def coverage_probability(point: str, system_stems: frozenset[str], profile: ModelProfile) -> float:
    """Chance the model covers ``point``, given what the system prompt mentions."""
    keys = stems(point)
    mentioned = len(keys & system_stems) / len(keys) if keys else 0.0
    return min(max(profile.skill + MENTION_BOOST * mentioned, MIN_COVERAGE), MAX_COVERAGE)


def profile_for(model_id: str, profiles: Mapping[str, ModelProfile]) -> ModelProfile:
    for family, profile in profiles.items():
        if family in model_id:
            return profile
    return profiles[MIDDLE_FAMILY]


class SimulatedProvider:
    """``Provider`` that answers from per-model profiles and the task's reference points."""

    name = "simulated"
    simulated = True

    def __init__(self, profiles: Mapping[str, ModelProfile] | None = None) -> None:
        self._profiles = {**DEFAULT_PROFILES, **(profiles or {})}

    def capabilities(self, model: str) -> Capabilities:
        # Streaming: it reports a (simulated) time to first token, as a streamed call would.
        # A forced tool call on every model: the simulator's judgements are drawn from the
        # request, so they stay the same whatever the real API accepts for the judge's model.
        return replace(
            messages_api_capabilities(model, streaming=True, batches=False),
            forced_tool_choice=True,
            structured_output=False,
        )

    def batches(self) -> Batches:
        raise SpecError(
            "the simulated provider has no Message Batches: --batch needs provider: anthropic"
        )

    async def complete(self, request: ModelRequest, context: CallContext) -> ModelResponse:
        if context.simulate_tool_call is not None:
            return _tool_call(request, context, context.simulate_tool_call)
        digest = _call_digest(request, context)
        rng = random.Random(int(digest, 16))
        profile = profile_for(request.model, self._profiles)
        system_stems = stems(request.system_text)
        task = context.task
        covered = [
            point
            for point in task.reference
            if rng.random() < coverage_probability(point, system_stems, profile)
        ]
        text = _answer(task.task_id, covered, rng)
        drawn = rng.lognormvariate(math.log(profile.output_tokens), 0.35)
        wanted = max(len(text) // CHARS_PER_TOKEN, round(drawn))
        output_tokens = min(wanted, request.max_tokens)
        latency = profile.median_latency_s * math.exp(profile.latency_sigma * rng.gauss(0, 1))
        ttft = latency * min(profile.ttft_fraction * math.exp(0.3 * rng.gauss(0, 1)), 0.9)
        prompt_chars = len(request.system_text) + sum(map(len, _message_texts(request)))
        return ModelResponse(
            text=text,
            stop_reason="max_tokens" if wanted > request.max_tokens else "end_turn",
            usage=Usage(
                input_tokens=max(1, prompt_chars // CHARS_PER_TOKEN), output_tokens=output_tokens
            ),
            model=request.model,
            latency_s=latency,
            ttft_s=ttft,
            request_id=f"sim_{digest[:16]}",
        )

    async def aclose(self) -> None:
        return None


def _tool_call(
    request: ModelRequest, context: CallContext, simulate: SimulateToolCall
) -> ModelResponse:
    """A judge's answer: the grader's simulated tool call; no time passes."""
    blob = json.dumps(
        {"seed": context.seed, "epoch": context.epoch, "body": request.body()}, sort_keys=True
    )
    digest = hashlib.sha256(blob.encode()).hexdigest()
    call = simulate(random.Random(int(digest, 16)))
    # The body's own key order (not sorted) is what is counted.
    prompt_chars = len(json.dumps(request.body()))
    usage = Usage(
        input_tokens=prompt_chars // CHARS_PER_TOKEN + 1,
        output_tokens=len(json.dumps(call.input)) // CHARS_PER_TOKEN + 1,
    )
    return ModelResponse(
        text="",
        stop_reason="tool_use",
        usage=usage,
        model=request.model,
        latency_s=0.0,
        ttft_s=None,
        request_id=f"sim_{digest[:16]}",
        tool_calls=(call,),
    )


def _call_digest(request: ModelRequest, context: CallContext) -> str:
    return draw_digest(
        context.seed,
        context.variant,
        context.task.task_id,
        context.epoch,
        request.model,
        request.system_text,
    )


def draw_digest(seed: int, variant: str, task_id: str, epoch: int, model: str, system: str) -> str:
    """The hex digest every simulated draw of one (variant, task, epoch) is seeded from."""
    system_hash = hashlib.sha256(system.encode()).hexdigest()
    key = "|".join(map(str, (seed, variant, task_id, epoch, model, system_hash)))
    return hashlib.sha256(key.encode()).hexdigest()


def _message_texts(request: ModelRequest) -> list[str]:
    texts = []
    for message in request.messages:
        content = message.get("content", "")
        if isinstance(content, str):
            texts.append(content)
        else:
            texts.extend(block.get("text", "") for block in content if isinstance(block, dict))
    return texts


def _answer(task_id: str, covered: list[str], rng: random.Random) -> str:
    """A plausible answer stating each covered point, with a code block."""
    lines = [rng.choice(_OPENINGS), ""]
    if covered:
        lines += ["Key points:", *(f"- {point[0].upper()}{point[1:]}." for point in covered), ""]
    else:
        lines += ["The general shape of the solution:", ""]
    function = "handle_" + re.sub(r"[^a-z0-9]+", "_", task_id.lower()).strip("_")
    body = [f"    # {point}" for point in covered] or ["    # validate input, do the work"]
    lines += ["```python", f"def {function}(request):", *body, "    ...", "```", ""]
    lines.append(rng.choice(_CLOSINGS))
    return "\n".join(lines)
