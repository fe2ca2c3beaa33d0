"""The decision rule of an experiment: what must improve, at what level, within which guardrails.

Parsed from the optional ``decision:`` mapping of an experiment spec. Every key is optional;
``guardrails``, when given, replaces the default set entirely (``guardrails: {}`` disables them).

    decision:
      primary: quality          # the metric that must improve (higher is better)
      alpha: 0.05               # family-wise level, Holm-corrected across variants
      guardrails:               # ratio-to-control margins, judged by one-sided 95% bounds
        cost: 0.20              # mean cost per task at most 20% higher
        latency_p90: 0.30       # p90 latency at most 30% higher
      effect_of_interest: 0.05  # the quality difference worth detecting, and the equivalence
                                # margin of a no_difference verdict
      guardrail_mode: harm      # harm: a guardrail blocks a winner when the data show it
                                # exceeded (lower bound above the limit); prove: unless the
                                # data show it held (upper bound within the limit)

``harm`` is the default by the figures of ``bench/verdict_simulations.py`` (2,000 replicates,
seed 12, 40 tasks x 3 epochs, a quality gain at the design's 80% power): at equal latency and
cost, ``harm`` blocked 0.0% of the significant gains and ``prove`` 0.5% with calm latency (trial
log-sd 0.2) but 41% with heavy-tailed latency (log-sd 0.6); a p90 regression of twice the margin
(x1.6) was blocked in 95.8% of runs by ``harm`` and 100% by ``prove`` with calm latency, and in
only 40.6% by ``harm`` (100% by ``prove``) with heavy-tailed latency. Use ``prove`` when latency
must be shown to hold, and run enough tasks for its bound to be narrow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import SpecError

PRIMARY_METRICS = ("quality",)
GUARDRAIL_METRICS = ("cost", "latency_p50", "latency_p90")
GUARDRAIL_CONFIDENCE = 0.95
GUARDRAIL_MODES = ("harm", "prove")


@dataclass(frozen=True)
class Guardrail:
    metric: str  # one of GUARDRAIL_METRICS
    margin: float  # allowed relative increase over control, e.g. 0.2 = at most 20% higher

    @property
    def limit(self) -> float:
        return 1.0 + self.margin


@dataclass(frozen=True)
class GuardrailJudgement:
    """``pass``: the one-sided upper bound of the ratio is within the limit; ``fail``: the
    one-sided lower bound is above it (significantly worse than allowed); ``unclear``: neither,
    or no data; ``not_measured``: the experiment has no such figure at all (latency of a batch
    run), which does not block a winner."""

    guardrail: Guardrail
    ratio: float | None
    lower: float | None
    upper: float | None
    status: str


@dataclass(frozen=True)
class DecisionRule:
    primary: str = "quality"
    alpha: float = 0.05
    guardrails: tuple[Guardrail, ...] = field(
        default=(Guardrail("cost", 0.20), Guardrail("latency_p90", 0.30))
    )
    effect_of_interest: float = 0.05
    guardrail_mode: str = "harm"  # one of GUARDRAIL_MODES

    def blocks(self, judgement: GuardrailJudgement) -> bool:
        """Whether a guardrail's judgement stops a winner under this rule's mode: ``harm``
        blocks only a shown breach (``fail``); ``prove`` anything not shown to hold."""
        if self.guardrail_mode == "harm":
            return judgement.status == "fail"
        return judgement.status not in ("pass", "not_measured")

    def as_dict(self) -> dict[str, Any]:
        return {
            "primary": self.primary,
            "alpha": self.alpha,
            "guardrails": {g.metric: g.margin for g in self.guardrails},
            "guardrail_confidence": GUARDRAIL_CONFIDENCE,
            "effect_of_interest": self.effect_of_interest,
            "guardrail_mode": self.guardrail_mode,
        }


def _number(value: object, name: str) -> float:
    # bool is an int subclass; "alpha: yes" must not read as 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"decision.{name}: must be a number, got {value!r}")
    if not math.isfinite(value):  # NaN passes every comparison's negation, inf every bound
        raise SpecError(f"decision.{name}: must be a finite number, got {value!r}")
    return float(value)


def _guardrails(raw: object) -> tuple[Guardrail, ...]:
    if not isinstance(raw, Mapping):
        raise SpecError("decision.guardrails: must be a mapping of metric to margin")
    parsed = []
    for metric, margin in raw.items():
        if metric not in GUARDRAIL_METRICS:
            allowed = ", ".join(GUARDRAIL_METRICS)
            raise SpecError(f"decision.guardrails.{metric}: unknown metric (allowed: {allowed})")
        value = _number(margin, f"guardrails.{metric}")
        if value < 0:
            raise SpecError(f"decision.guardrails.{metric}: must be 0 or more, got {value}")
        parsed.append(Guardrail(str(metric), value))
    return tuple(parsed)


def parse_decision(raw: object) -> DecisionRule:
    """Build the rule from the spec's ``decision`` value (None or a mapping)."""
    if raw is None:
        return DecisionRule()
    if not isinstance(raw, Mapping):
        raise SpecError("decision: must be a mapping")
    unknown = set(raw) - {"primary", "alpha", "guardrails", "effect_of_interest", "guardrail_mode"}
    if unknown:
        raise SpecError(f"decision.{sorted(map(str, unknown))[0]}: unknown key")
    rule = DecisionRule()
    primary = raw.get("primary", rule.primary)
    if primary not in PRIMARY_METRICS:
        raise SpecError(f"decision.primary: must be one of {', '.join(PRIMARY_METRICS)}")
    alpha = _number(raw.get("alpha", rule.alpha), "alpha")
    if not 0 < alpha < 1:
        raise SpecError(f"decision.alpha: must be between 0 and 1, got {alpha}")
    effect = _number(raw.get("effect_of_interest", rule.effect_of_interest), "effect_of_interest")
    if effect <= 0:
        raise SpecError(f"decision.effect_of_interest: must be more than 0, got {effect}")
    guardrails = _guardrails(raw["guardrails"]) if "guardrails" in raw else rule.guardrails
    mode = raw.get("guardrail_mode", rule.guardrail_mode)
    if mode not in GUARDRAIL_MODES:
        raise SpecError(f"decision.guardrail_mode: must be one of {', '.join(GUARDRAIL_MODES)}")
    return DecisionRule(
        primary=primary,
        alpha=alpha,
        guardrails=guardrails,
        effect_of_interest=effect,
        guardrail_mode=mode,
    )


def judge_guardrail(
    guardrail: Guardrail, ratio: float | None, lower: float | None, upper: float | None
) -> GuardrailJudgement:
    """Judge one-sided bounds of treatment/control against the guardrail's limit."""
    if upper is not None and upper <= guardrail.limit:
        status = "pass"
    elif lower is not None and lower > guardrail.limit:
        status = "fail"
    else:
        status = "unclear"
    return GuardrailJudgement(guardrail, ratio, lower, upper, status)
