"""The experiment report as types: what ``experiments.analysis.analyse`` concludes.

Field names, and their order, are the keys of ``registry report --json`` (the contract in
DESIGN.md), so ``Report.to_json`` is a plain walk: a dataclass becomes an object, a tuple a list,
a float that is not finite null. The analysis rounds its figures to 6 significant digits as it
assembles a report, so that the JSON, the text renderings and the dashboard show the same
numbers; the pairwise judge's rates come from the grades and are kept as computed.

Nothing heavy is imported here (no numpy, no database), so a reader of reports pays for none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Literal

Interval = tuple[float, float]
VerdictStatus = Literal["winner", "no_difference", "inconclusive"]


@dataclass(frozen=True)
class ExperimentInfo:
    id: int
    name: str
    provider: str
    simulated: bool
    status: str
    tasks: int  # in the suite, run or not
    epochs: int
    suite: str | None
    created_at: str  # ISO 8601


@dataclass(frozen=True)
class Decision:
    """The decision rule the verdict applied (``DecisionRule.as_dict``)."""

    primary: str
    alpha: float
    guardrails: Mapping[str, float]  # metric -> allowed relative increase over the control
    guardrail_confidence: float
    effect_of_interest: float
    guardrail_mode: str  # harm (the default) or prove (``experiments.decision``)


@dataclass(frozen=True)
class ArmQuality:
    """Mean of the task means, its standard error clustered by task, and the 95% t interval
    clipped to the [0, 1] scale of quality (``ci_method``)."""

    mean: float | None
    se: float | None
    ci: Interval | None
    n_tasks: int
    ci_method: str


@dataclass(frozen=True)
class ArmCost:
    mean: float | None  # per task: the mean of task means, over the tasks with a cost
    total: float  # every trial's cost
    n_tasks: int


@dataclass(frozen=True)
class ArmLatency:
    p50: float | None
    p90: float | None
    n_trials: int  # the trials that count: neither failed nor cached


@dataclass(frozen=True)
class Share:
    """A share measured per task (epochs averaged first), with its 95% Wilson interval over
    the ``n`` tasks (``experiments.stats.proportion``)."""

    rate: float | None
    ci: Interval | None
    n: int


@dataclass(frozen=True)
class VariantDelegation:
    """How a variant's agent fared in a delegation experiment (``delegation_analysis``)."""

    agent: str  # the agent's name, as the main loop lists it
    decided: int  # trials with a decision (failed ones are left out, never "not delegated")
    accuracy: Share  # requests routed as the suite expects (the trial's quality)
    recall: Share  # of the requests meant for the agent, the share it got
    false_delegations: int  # trials it took that were meant for another agent or for none
    false_delegation_rate: Share  # of the requests not meant for it, the share it took
    misses: Mapping[str, int]  # requests meant for it that another took: by who took them
    confusion: Mapping[str, Mapping[str, int]]  # expected -> picked -> trials


@dataclass(frozen=True)
class VariantAgentic:
    """What a variant's agentic sessions did (``agentic_analysis``), over its finished trials."""

    sessions: int  # trials whose session ran (failed ones are left out)
    mean_turns: float
    mean_tool_calls: float
    tool_calls: Mapping[str, float]  # tool -> mean calls per session
    denied: Mapping[str, float]  # tool -> mean calls denied per session (outside the workspace)
    # finished / turn_limit / time_limit -> sessions (a session that ended in error failed its
    # trial, and failed trials are left out)
    ended: Mapping[str, int]
    checks_passed: float | None  # of every check of every session, the share passed


@dataclass(frozen=True)
class AgenticSummary:
    runtime: str
    runtime_versions: tuple[str, ...]  # every version seen on a trial (one, unless resumed)
    max_turns: int
    time_limit_s: float


@dataclass(frozen=True)
class VariantSummary:
    label: str
    ref: str
    trials: int
    errors: int
    quality: ArmQuality
    cost: ArmCost
    latency: ArmLatency
    model: str | None  # the model ID the variant ran on; None when the analysis was not told
    model_alias: str | None
    delegation: VariantDelegation | None = None  # a delegation experiment's figures
    agentic: VariantAgentic | None = None  # an agentic experiment's figures
    # Quality on the paired task set (graded in every variant that has graded tasks): the
    # figures the table shows; ``quality`` is on the variant's own tasks (unpaired).
    quality_paired: ArmQuality | None = None


@dataclass(frozen=True)
class QualityDiff:
    """Variant minus control on the tasks graded in both (see ``experiments.stats.quality``)."""

    diff: float | None
    se: float | None
    ci: Interval | None
    p: float | None  # the primary test's
    p_adjusted: float | None  # Holm, across the comparisons that have a p
    test: str | None
    p_t: float | None
    p_permutation: float | None
    permutation_method: str | None
    p_wilcoxon: float | None
    wilcoxon_method: str | None
    p_mcnemar: float | None
    discordant: tuple[int, int] | None  # (tasks improved, tasks worsened)
    correlation: float | None
    control_mean: float | None
    control_se: float | None
    variant_mean: float | None
    variant_se: float | None
    mde: float | None
    tasks_needed: float | None
    epochs_needed: float | None
    # Equivalence (TOST) against +/- the effect of interest: the (1 - 2 alpha) interval, the
    # larger one-sided p, and whether the difference is shown to lie inside (no_difference).
    equivalence_ci: Interval | None
    p_equivalence: float | None
    equivalent: bool | None


@dataclass(frozen=True)
class CostDiff:
    """Mean cost per task, variant against control (see ``experiments.stats.cost``)."""

    n_tasks: int
    control_mean: float | None
    variant_mean: float | None
    diff: float | None
    ci: Interval | None
    ratio: float | None
    ratio_ci: Interval | None
    ratio_upper: float | None  # one-sided 95% bound
    ratio_method: str
    bootstrap_ci: Interval | None
    bootstrap_ratio_ci: Interval | None


@dataclass(frozen=True)
class LatencyDiff:
    """Differences of latency quantiles, variant minus control (``experiments.stats.latency``)."""

    p50_diff: float | None
    p50_ci: Interval | None
    p50_ratio: float | None
    p50_ratio_upper: float | None
    p90_diff: float | None
    p90_ci: Interval | None
    p90_ratio: float | None
    p90_ratio_upper: float | None
    method: str


@dataclass(frozen=True)
class GuardrailCheck:
    margin: float
    ratio: float | None
    lower: float | None
    upper: float | None
    status: str  # pass, fail, unclear or not_measured (``experiments.decision``)


@dataclass(frozen=True)
class FailureCheck:
    """Failed or ungraded trials, variant against control, on the cells recorded in both
    (exact McNemar; ``experiments.stats.attrition``). ``higher`` stops the variant winning."""

    cells: int
    control_missing: int
    variant_missing: int
    discordant: tuple[int, int]  # (missing only in the variant, missing only in the control)
    p: float
    higher: bool


@dataclass(frozen=True)
class Comparison:
    variant: str
    vs: str  # the control
    n_tasks: int  # graded in both
    epochs: int
    quality: QualityDiff
    cost: CostDiff
    latency: LatencyDiff
    guardrails: Mapping[str, GuardrailCheck]  # by metric
    failures: FailureCheck


@dataclass(frozen=True)
class OmnibusTest:
    """Friedman, or Cochran's Q, over the variants with graded tasks (``variants``)."""

    test: str
    statistic: float
    df: int
    p: float
    n_tasks: int
    variants: tuple[str, ...]


@dataclass(frozen=True)
class PowerPlan:
    """What would settle the open comparisons, at alpha over the number of comparisons."""

    target_power: float
    alpha: float
    alpha_per_comparison: float
    effect_of_interest: float
    n_tasks: int
    epochs: int
    tasks_needed: int | None
    epochs_needed: int | None
    min_tasks: int  # the fewest tasks on which the primary test can reach alpha at all


@dataclass(frozen=True)
class MissingCounts:
    expected: int
    graded: int
    missing: int  # expected but not graded
    errors: int
    ungraded: int  # run without an error, but not graded
    not_run: int


@dataclass(frozen=True)
class Missing:
    total: int
    expected_per_variant: int
    by_variant: Mapping[str, MissingCounts]
    policy: str
    # The verdict if every failed or ungraded trial had the worst score (0); None without any.
    sensitivity: Verdict | None


@dataclass(frozen=True)
class Verdict:
    status: VerdictStatus
    winner: str | None  # set only when the status is "winner"
    text: str


@dataclass(frozen=True)
class PairwiseResult:
    variant: str
    vs: str
    pairs: int
    wins: int
    ties: int
    losses: int
    errors: int
    win_rate: float | None
    preference: float | None  # ties count half
    flip_rate: float | None


@dataclass(frozen=True)
class PositionBias:
    pairs: int
    flipped: int
    flip_rate: float | None
    first_position_share: float | None  # of decided verdicts, those for the answer shown first


@dataclass(frozen=True)
class PairwiseSummary:
    """The pairwise judge's results of the newest grading run that has them (never quality)."""

    grading_run: int
    control: str
    variants: tuple[PairwiseResult, ...]
    position_bias: PositionBias


@dataclass(frozen=True)
class ChangedRequest:
    """A request whose routing differs between the control and a variant."""

    task_id: str
    variant: str
    expected: str
    control_picks: Mapping[str, int]  # agent -> trials (epochs)
    variant_picks: Mapping[str, int]
    control_correct: float  # share of the task's decided epochs
    variant_correct: float


@dataclass(frozen=True)
class DelegationSummary:
    """What decided a delegation experiment, and the requests whose routing changed."""

    router: str
    router_versions: tuple[str, ...]  # every version seen on a trial (one, unless resumed)
    main_model: str
    roster: tuple[str, ...]  # the competing agents, besides each variant's own and built-ins
    changed: tuple[ChangedRequest, ...]


@dataclass(frozen=True)
class Look:
    """One look of a sequential run at its evidence (``experiments.sequential``)."""

    look: int
    tasks: int  # tasks with trials at the look
    total_tasks: int  # in the suite
    information: float  # tasks / total_tasks
    spent_alpha: float  # cumulative one-sided alpha spent by this look
    nominal_alpha: float  # the two-sided alpha the decision rule was given at this look
    status: VerdictStatus  # the verdict at that alpha
    reason: str  # the verdict's text
    stopped: bool  # the run stopped here because the verdict was decided
    cost_usd: float  # billed by the time of the look


@dataclass(frozen=True)
class SequentialSummary:
    """A sequential run's looks, why it stopped, and what stopping saved against the fixed
    design (``full_cost_usd``: the cost per task so far times the tasks of the suite)."""

    method: str
    alpha: float  # the decision rule's two-sided alpha, spent over the looks
    looks: tuple[Look, ...]
    stopped_at: int | None  # the look that decided, None when none has
    stop_reason: str
    cost_usd: float  # billed by the last look
    full_cost_usd: float | None  # estimated cost of the whole suite; None before any cost
    saved_usd: float | None
    saved_share: float | None  # saved_usd / full_cost_usd


@dataclass(frozen=True)
class Report:
    """One experiment's report: every figure ``registry report`` shows, and its verdict."""

    experiment: ExperimentInfo
    control: str
    decision: Decision
    variants: tuple[VariantSummary, ...]
    comparisons: tuple[Comparison, ...]  # one per variant other than the control
    omnibus: OmnibusTest | None  # None below three variants with graded tasks, or undefined
    power: PowerPlan
    missing: Missing
    verdict: Verdict
    pairwise: PairwiseSummary | None
    delegation: DelegationSummary | None = None  # a delegation experiment's routing figures
    agentic: AgenticSummary | None = None  # what ran an agentic experiment's sessions
    # A sequential run's looks; its verdict is the one at the last look's nominal alpha.
    sequential: SequentialSummary | None = None

    def comparison(self, variant: str) -> Comparison | None:
        """The comparison of ``variant`` with the control (None for the control itself)."""
        return next((c for c in self.comparisons if c.variant == variant), None)

    def regressions(self) -> tuple[Comparison, ...]:
        """Comparisons whose variant is significantly worse than the control on the primary
        metric (quality), after the Holm correction, at the decision rule's alpha."""
        return tuple(
            c
            for c in self.comparisons
            if c.quality.diff is not None
            and c.quality.diff < 0
            and c.quality.p_adjusted is not None
            and c.quality.p_adjusted < self.decision.alpha
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``registry report --json`` prints."""
        return _json(self)


def _json(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
