"""An offline router: which agent Claude Code's main loop would pick, drawn from word overlap.

Deterministic, labelled simulated, free and instant. The model reads only what the main loop
reads: the request and the listing (names, descriptions and their ``<example>`` blocks).

Words. A text's words are the crude stems of ``experiments.providers.simulated.stems``, less
``FILLER`` (the words of any request: "need", "please", "can you" ...) and numbers, plus the
``TOPICS`` it touches (a pseudo-word "#payments" for "charged", "refund", "Stripe" ...): a small
lexicon standing in for what a model knows and word overlap does not.

Scores. Each request word is weighted ``1 / df``, df being the number of listed agents whose
evidence (name, description, positive examples) contains it, or ``UNLISTED_WEIGHT`` when none
does, so words many agents mention count little. ``match(S)`` is the weighted share of the
request's words found in the word set S, ``MATCH_PRIOR`` added to the denominator so that one
chance hit on a two-word message is not a strong match. An agent's score is

    DESCRIPTION_WEIGHT * match(name + description outside the examples)
    + EXAMPLE_WEIGHT * best                      (best: max match(context + user line), positives)
    - NEGATIVE_WEIGHT * max(worst - best, 0)     (worst: the same over its negative examples)

so the best-matching example counts most, and a negative example (its assistant line or
commentary says not to use the agent, ``NEGATIVE_RE``) lowers the score of requests that are
more like it than like any positive one. Built-ins are scored the same way from their listed
descriptions. "none" (the main thread answers itself) scores ``NONE_SCORE``, plus
``QUICK_BONUS`` for a trivial message (at most ``TRIVIAL_STEMS`` words) or a quick question (it
ends with "?", at most ``QUICK_STEMS`` words): requests that match no agent well stay home.

Decision. The candidates are "none", general-purpose (the catch-all) and every agent with a
positive score: the main loop does not hand a request to an agent that shares nothing with it.
The choice is drawn from softmax(score / TEMPERATURE) over the candidates by the Gumbel-max
trick: each option gets a Gumbel draw from a generator seeded by sha256 of (seed, task_id, epoch,
option name), and the highest ``score / TEMPERATURE + draw`` wins.

Invariants: the same (seed, task, epoch, listing, request) always gives the same decision. The
arm is in no seed, so two arms with the same roster text decide identically (common random
numbers), and an option keeps its draw across arms: a variant changes a decision only where its
text changes the scores (its own, and others' only through the word weights). An agent that is
not listed is never picked.

Usage is the estimate (the listing, the request and ``SYSTEM_AND_TOOLS_CHARS`` of Claude Code's
system prompt and tool definitions, at ``CHARS_PER_TOKEN``; ``DECISION_OUTPUT_TOKENS`` out);
latency is a lognormal draw (median ``MEDIAN_LATENCY_S``, ``LATENCY_SIGMA`` of its log) from the
(seed, task_id, epoch) generator; nothing actually waits.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from experiments.providers.base import CHARS_PER_TOKEN, Usage
from experiments.providers.simulated import stems
from experiments.roster import GENERAL_PURPOSE, NONE, RosterAgent, agent_listing
from experiments.routers.base import Decision, RouterOptions, RoutingQuestion
from experiments.routers.builtins import BUILTIN_AGENTS
from variants.examples import Example, split_examples

if TYPE_CHECKING:
    from experiments.kinds.base import ModelCalls

MODEL_VERSION = 1  # bump when the model or a constant changes: decisions change with it
DESCRIPTION_WEIGHT = 1.0
# The best example counts more than the description: a listed example close to the request is
# the strongest routing signal the main loop gets.
EXAMPLE_WEIGHT = 2.0
NEGATIVE_WEIGHT = 1.5
NONE_SCORE = 0.2
QUICK_BONUS = 0.3
QUICK_STEMS = 6  # a question of at most this many stems is a quick one
TRIVIAL_STEMS = 2  # a message of at most this many stems ("thanks, that worked!") is trivial
# A request word that no listed agent mentions still makes the request less like every agent's
# text, but says nothing about which one; MATCH_PRIOR keeps a short request's one chance match
# from scoring like a long request's many.
UNLISTED_WEIGHT = 0.3
MATCH_PRIOR = 1.0
# Score units per e-fold of probability: a lead of 0.12 makes an option e times as likely.
TEMPERATURE = 0.12
# Claude Code's system prompt (~28,000 chars) and tool definitions (the Agent tool's alone is
# ~8,000) around the listing; see shared notes, claude-code-runtime.md.
SYSTEM_AND_TOOLS_CHARS = 40_000
DECISION_OUTPUT_TOKENS = 150  # an Agent call (description, prompt, subagent_type) or a short reply
MEDIAN_LATENCY_S = 3.5
LATENCY_SIGMA = 0.35
FILLER: frozenset[str] = stems(
    "need want please help make get just like some there here about which who what how why does "
    "do can could would you your our they their we us me let know sure right now also still "
    "really actually but so if then than very quick one i'm it's that's don't isn't without "
    "thing stuff look take way pretty every keep work works worked mean means was were been many "
    "several project app"
)
# What a model knows and word overlap does not: that "charged twice" is about payments, or a
# button about the UI. A request or an agent text with any word of a topic also has the topic
# (as the pseudo-word "#topic"), weighted like any other word. Kept small and generic: one line
# per area of work that the listed agents of a typical project divide between them.
# fmt: off
TOPICS: dict[str, str] = {
    "payments": "payment pay paid charge billing invoice stripe refund coupon discount promo "
                "purchase buy checkout price trial downgrade upgrade",
    "data-store": "database sql query queries postgres postgresql mysql migration schema index "
                  "orm row deadlock transaction model",
    "identity": "auth authentication authorization login logout password token jwt oauth "
                "session permission role rbac owner sign signup",
    "messaging": "email sms text twilio sendgrid slack notification notify message webhook",
    "server-api": "api endpoint rest graphql request response route http json mutation "
                  "pagination paginate upload server backend",
    "correctness": "validation validate invalid malformed sanitize error exception stack crash "
                   "accepts",
    "speed": "slow fast performance optimize cache caching redis latency timeout seconds "
             "million background job queue worker hammering throttle",
    "interface": "button color colour css style styling layout screen mobile phone responsive "
                 "component modal theme dark navbar tailwind react vue font accessibility "
                 "reader",
    "delivery": "deploy deployment docker kubernetes terraform pipeline github actions ci "
                "container helm staging infrastructure rollout",
    "reviewing": "review diff pr merge refactor risky",
    "writing": "docs documentation readme guide docstring tutorial sphinx wiki changelog",
    "analysis": "churn retention cohort metric conversion analyze analysis chart plot "
                "dashboard notebook csv pandas statistics significant experiment",
}
# fmt: on
NEGATIVE_RE = re.compile(r"\b(?:do not|don't|instead of|rather than)\b", re.IGNORECASE)


# Each topic word with its common endings, so that "invoice" and "invoices" (stems "invoice",
# "invoic") both count.
_TOPIC_STEMS = {
    f"#{topic}": stems(" ".join(w + end for w in words.split() for end in ("", "s", "ed", "ing")))
    for topic, words in TOPICS.items()
}
_TOPIC_NAMES = frozenset(_TOPIC_STEMS)


def request_stems(text: str) -> frozenset[str]:
    """The words of ``text`` that say what it is about, and its topics (see the docstring)."""
    words = frozenset(word for word in stems(text) - FILLER if not word.isdigit())
    return words | {topic for topic, found in _TOPIC_STEMS.items() if words & found}


class _Profile:
    """The word sets an agent is scored on."""

    def __init__(self, name: str, listed_description: str) -> None:
        before, examples, after = split_examples(listed_description)
        self.description = request_stems(f"{name.replace('-', ' ')} {before} {after}")
        self.positive = tuple(_example_stems(e) for e in examples if not _is_negative(e))
        self.negative = tuple(_example_stems(e) for e in examples if _is_negative(e))
        self.evidence = self.description.union(*self.positive)


@functools.lru_cache(maxsize=256)  # a run asks about the same few agents thousands of times
def _profile(name: str, listed_description: str) -> _Profile:
    return _Profile(name, listed_description)


def _example_stems(example: Example) -> frozenset[str]:
    return request_stems(f"{example.context or ''} {example.user or ''}")


def _is_negative(example: Example) -> bool:
    return bool(NEGATIVE_RE.search(f"{example.assistant or ''} {example.commentary or ''}"))


def score_options(prompt: str, agents: Iterable[RosterAgent]) -> dict[str, float]:
    """Every listed agent's score for ``prompt`` and ``NONE``'s, in listing order.

    An agent listed twice keeps its first listing (a project agent shadows a built-in)."""
    profiles: dict[str, _Profile] = {}
    for agent in agents:
        profiles.setdefault(agent.name, _profile(agent.name, agent.listed_description))
    words = request_stems(prompt)
    df = Counter(word for profile in profiles.values() for word in profile.evidence & words)
    weight = {word: 1.0 / df[word] if df[word] else UNLISTED_WEIGHT for word in words}
    total = sum(weight.values()) + MATCH_PRIOR

    def match(found: frozenset[str]) -> float:
        return sum(weight[word] for word in words & found) / total

    def best(sets: Sequence[frozenset[str]]) -> float:
        return max(map(match, sets), default=0.0)

    scores = {
        name: DESCRIPTION_WEIGHT * match(profile.description)
        + EXAMPLE_WEIGHT * best(profile.positive)
        - NEGATIVE_WEIGHT * max(best(profile.negative) - best(profile.positive), 0.0)
        for name, profile in profiles.items()
    }
    short = len(words - _TOPIC_NAMES)
    quick = short <= TRIVIAL_STEMS or (prompt.rstrip().endswith("?") and short <= QUICK_STEMS)
    scores[NONE] = NONE_SCORE + (QUICK_BONUS if quick else 0.0)
    return scores


def _generator(*parts: object) -> random.Random:
    key = "|".join(map(str, parts))
    return random.Random(int(hashlib.sha256(key.encode()).hexdigest(), 16))


def _gumbel(rng: random.Random) -> float:
    uniform = (rng.getrandbits(53) + 0.5) / 2**53  # strictly inside (0, 1)
    return -math.log(-math.log(uniform))


class SimulatedRouter:
    """``Router`` that draws the main loop's choice from the listing's word overlap."""

    name = "simulated"
    simulated = True

    def __init__(self, options: RouterOptions) -> None:
        self._options = options  # nothing waits here, so the timeout never applies

    @property
    def version(self) -> str:
        return f"simulated {MODEL_VERSION}"

    def builtins(self) -> tuple[RosterAgent, ...]:
        return BUILTIN_AGENTS

    def estimate(self, question: RoutingQuestion) -> Usage:
        listing = agent_listing([*question.agents, *self.builtins()])
        chars = len(listing) + len(question.prompt) + SYSTEM_AND_TOOLS_CHARS
        return Usage(input_tokens=chars // CHARS_PER_TOKEN, output_tokens=DECISION_OUTPUT_TOKENS)

    async def decide(self, question: RoutingQuestion, calls: ModelCalls) -> Decision:
        scores = score_options(question.prompt, [*question.agents, *self.builtins()])
        trial = (question.seed, question.task_id, question.epoch)
        candidates = [
            name for name, score in scores.items() if score > 0 or name in (NONE, GENERAL_PURPOSE)
        ]
        choice = max(
            candidates,
            key=lambda name: scores[name] / TEMPERATURE + _gumbel(_generator(*trial, name)),
        )
        latency = MEDIAN_LATENCY_S * math.exp(LATENCY_SIGMA * _generator(*trial).gauss(0, 1))
        return Decision(
            choice=choice,
            usage=self.estimate(question),
            latency_s=latency,
            model_id=question.model_id,
            details={"scores": {name: round(score, 4) for name, score in scores.items()}},
        )

    async def aclose(self) -> None:
        return None
