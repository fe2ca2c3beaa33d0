"""From plain trial records to the experiment report (``experiments.report``) and its verdict.

Pipeline: index the records into ``variants x tasks x epochs`` arrays per metric; summarise each
variant; compare each variant with the control on quality, cost and latency (experiments.stats);
Holm-correct the primary p-values across variants; judge the guardrails; decide; assemble the
``Report``, its figures rounded to the 6 significant digits it reports (the verdict's text is
written from the unrounded statistics).

Missing data policy: a failed or ungraded trial is left out, never scored 0, and said so in
``missing`` and in the verdict text. A task enters a comparison when both variants have at least
one graded epoch of it (complete pairs). Cached responses are excluded from latency only, and
failed trials from latency too (their time measures the failure, not an answer). Because leaving
a trial out favours a variant that fails where it would have answered badly, each variant's
failed and ungraded trials are compared with the control's, cell by cell (exact McNemar,
``experiments.stats.attrition``): significantly more of them stop it winning. ``missing``
carries the sensitivity verdict: the same analysis with every such trial scored 0.

Verdict, one meaning per status:
- ``winner``: a variant significantly better than the control after Holm, whose guardrails do
  not block it (``DecisionRule.blocks``) and whose failures are not significantly higher (the
  largest gain wins among several); or the control, when it is significantly better than every
  variant on the same terms;
- ``no_difference``: no variant is better, none is significantly worse, and every difference is
  shown to lie within +/- ``effect_of_interest`` (TOST, ``experiments.stats.equivalence``);
  never concluded from power alone;
- ``inconclusive``: anything else, saying what blocked a winner or how many tasks (or epochs)
  would settle the open comparisons, never fewer than the primary test needs to reach alpha.
Power figures use alpha/m (m = comparisons) so a plan survives the Holm correction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import NamedTuple, TypeVar, cast

import numpy as np

from experiments.decision import DecisionRule, GuardrailJudgement, judge_guardrail
from experiments.report import (
    ArmCost,
    ArmLatency,
    ArmQuality,
    Comparison,
    CostDiff,
    Decision,
    ExperimentInfo,
    FailureCheck,
    GuardrailCheck,
    LatencyDiff,
    Missing,
    MissingCounts,
    OmnibusTest,
    PairwiseSummary,
    PowerPlan,
    QualityDiff,
    Report,
    VariantSummary,
    Verdict,
)
from experiments.stats.attrition import FailureComparison, compare_failures
from experiments.stats.bootstrap import task_resample
from experiments.stats.cost import CostComparison, compare_cost
from experiments.stats.latency import LatencyArm, LatencyComparison, compare_latency, latency_arm
from experiments.stats.multiplicity import Omnibus, cochran_q, friedman, holm
from experiments.stats.power import DEFAULT_POWER, min_tasks, smallest_p
from experiments.stats.quality import (
    CI_METHOD,
    SCALE,
    ArmSummary,
    QualityComparison,
    compare_quality,
    summarise_arm,
)
from experiments.stats.taskmeans import task_means

MISSING_POLICY = (
    "failed or ungraded trials are left out (not scored as 0); a task is compared when both "
    "variants have at least one graded epoch of it"
)
LATENCY_METHOD = "cluster bootstrap over tasks, percentile, difference of quantiles"


class TrialRecord(NamedTuple):
    """One trial, as loaded from the database (a named tuple: reports load 100,000s of them)."""

    variant: str
    task_id: str
    epoch: int
    quality: float | None  # None when ungraded or failed
    cost_usd: float | None
    latency_s: float | None
    ttft_s: float | None
    error: str | None
    cached: bool = False  # cached responses are excluded from latency figures


@dataclass(frozen=True)
class VariantInfo:
    """What the analysis is told of a variant besides its trials (the report repeats it)."""

    label: str
    ref: str
    model: str | None = None  # the model ID
    model_alias: str | None = None


@dataclass(frozen=True)
class _Cube:
    """The records as arrays: every metric is (variants x tasks x epochs), NaN where absent."""

    labels: tuple[str, ...]
    tasks: tuple[str, ...]
    epochs: int
    quality: np.ndarray
    cost: np.ndarray
    latency: np.ndarray
    recorded: np.ndarray  # bool: a record exists for the cell
    errored: np.ndarray  # bool: the record carries an error


@dataclass(frozen=True)
class _Compared:
    """One variant against the control, as the statistics return it (before rounding)."""

    label: str
    quality: QualityComparison
    cost: CostComparison
    latency: LatencyComparison | None
    p_adjusted: float | None
    guardrails: tuple[GuardrailJudgement, ...]
    failures: FailureComparison | None  # None in the sensitivity analysis (nothing is missing)


def _index(trials: Iterable[TrialRecord], labels: list[str]) -> _Cube:
    # Columns straight from the named tuples: on 100,000 trials, picking fields row by row
    # costs more than the rest of the indexing.
    columns = list(zip(*trials, strict=True)) or [()] * len(TrialRecord._fields)
    variant, task, epoch, quality, cost, latency, _ttft, error, cached = columns
    variant_index = {label: i for i, label in enumerate(labels)}
    unknown = set(variant) - variant_index.keys()
    if unknown:
        raise ValueError(f"trials for variants not in the experiment: {sorted(unknown)}")
    tasks = tuple(dict.fromkeys(task))
    task_index = {name: i for i, name in enumerate(tasks)}
    epoch_index = {value: i for i, value in enumerate(sorted(set(epoch)))}
    shape = (len(labels), len(tasks), max(len(epoch_index), 1))
    cells = (
        np.array([variant_index[v] for v in variant], dtype=np.intp),
        np.array([task_index[t] for t in task], dtype=np.intp),
        np.array([epoch_index[e] for e in epoch], dtype=np.intp),
    )

    def cube(values: Iterable[object], fill: object, dtype: type) -> np.ndarray:
        array: np.ndarray = np.full(shape, fill, dtype=dtype)
        array[cells] = np.array(list(values), dtype=dtype)  # None becomes NaN for floats
        return array

    failed = [e is not None for e in error]
    excluded = [f or c for f, c in zip(failed, cached, strict=True)]
    return _Cube(
        labels=tuple(labels),
        tasks=tasks,
        epochs=shape[2],
        quality=cube(quality, np.nan, float),
        cost=cube(cost, np.nan, float),
        latency=cube(
            (None if x else v for v, x in zip(latency, excluded, strict=True)), np.nan, float
        ),
        recorded=cube((True for _ in variant), False, bool),
        errored=cube(failed, False, bool),
    )


def _is_binary(quality: np.ndarray) -> bool:
    values = quality[~np.isnan(quality)]
    return values.size > 0 and bool(np.all((values == 0) | (values == 1)))


def _guardrails(
    rule: DecisionRule,
    cost: CostComparison,
    latency: LatencyComparison | None,
    latency_measured: bool,
) -> tuple[GuardrailJudgement, ...]:
    """One judgement per guardrail. A latency guardrail of an experiment that measured no
    latency at all (a batch run, or only cached answers) is ``not_measured``: nothing can be
    said either way, and it does not block a winner; the verdict says so."""
    judgements = []
    for guardrail in rule.guardrails:
        if guardrail.metric.startswith("latency_") and not latency_measured:
            judgements.append(GuardrailJudgement(guardrail, None, None, None, "not_measured"))
            continue
        ratio = lower = upper = None
        if guardrail.metric == "cost" and cost.ratio is not None:
            ratio, lower, upper = cost.ratio.ratio, cost.ratio.lower, cost.ratio.upper
        elif guardrail.metric.startswith("latency_") and latency is not None:
            quantile = latency.get(int(guardrail.metric.removeprefix("latency_p")) / 100)
            ratio, lower, upper = quantile.ratio, quantile.ratio_lower, quantile.ratio_upper
        judgements.append(judge_guardrail(guardrail, ratio, lower, upper))
    return tuple(judgements)


def _compare_quality_all(
    quality: np.ndarray, labels: Sequence[str], control: str, rule: DecisionRule, seed: int
) -> list[QualityComparison]:
    """Each variant against the control on quality (in the order of ``labels``)."""
    ci = labels.index(control)
    others = [label for label in labels if label != control]
    binary = _is_binary(quality)
    plan_alpha = rule.alpha / max(len(others), 1)
    return [
        compare_quality(
            quality[ci],
            quality[labels.index(label)],
            binary=binary,
            alpha=rule.alpha,
            plan_alpha=plan_alpha,
            effect_of_interest=rule.effect_of_interest,
            seed=seed + offset,
        )
        for offset, label in enumerate(others)
    ]


def _holm_adjusted(qualities: Sequence[QualityComparison]) -> list[float | None]:
    """Holm across the comparisons that have a p-value; None for the others."""
    tested = {i: q.p for i, q in enumerate(qualities) if q.p is not None}
    adjusted = dict(zip(tested, holm(list(tested.values())), strict=True))
    return [adjusted.get(i) for i in range(len(qualities))]


def _compare_all(
    cube: _Cube, control: str, rule: DecisionRule, seed: int
) -> tuple[list[_Compared], dict[str, LatencyArm]]:
    resample = task_resample(len(cube.tasks), seed=seed)  # shared: differences stay paired
    arms = {label: latency_arm(cube.latency[i], resample) for i, label in enumerate(cube.labels)}
    ci = cube.labels.index(control)
    others = [label for label in cube.labels if label != control]
    qualities = _compare_quality_all(cube.quality, cube.labels, control, rule, seed)
    latency_measured = bool(np.isfinite(cube.latency).any())
    graded = ~np.isnan(cube.quality)
    comparisons = []
    for label, quality, p_adjusted in zip(
        others, qualities, _holm_adjusted(qualities), strict=True
    ):
        vi = cube.labels.index(label)
        cost = compare_cost(cube.cost[ci], cube.cost[vi], resample=resample)
        latency = compare_latency(arms[control], arms[label])
        failures = compare_failures(
            graded[ci], graded[vi], cube.recorded[ci] & cube.recorded[vi], alpha=rule.alpha
        )
        comparisons.append(
            _Compared(
                label=label,
                quality=quality,
                cost=cost,
                latency=latency,
                p_adjusted=p_adjusted,
                guardrails=_guardrails(rule, cost, latency, latency_measured),
                failures=failures,
            )
        )
    return comparisons, arms


def _sensitivity(
    cube: _Cube, comparisons: list[_Compared], control: str, rule: DecisionRule, seed: int
) -> Verdict | None:
    """The verdict with every failed or ungraded trial scored the worst score of the scale;
    None when no recorded trial lacks a grade. Cost, latency and guardrails are unchanged."""
    missing = cube.recorded & np.isnan(cube.quality)
    if not missing.any():
        return None
    worst = np.where(missing, SCALE[0], cube.quality)
    qualities = _compare_quality_all(worst, cube.labels, control, rule, seed)
    imputed = [
        replace(c, quality=q, p_adjusted=p, failures=None)
        for c, q, p in zip(comparisons, qualities, _holm_adjusted(qualities), strict=True)
    ]
    return _verdict(imputed, control, rule)


def _omnibus(cube: _Cube) -> OmnibusTest | None:
    """Friedman (or Cochran's Q for binary, one epoch) over the variants that have graded tasks,
    on the tasks graded in all of them."""
    means = task_means(cube.quality).T  # tasks x variants
    with_data = ~np.isnan(means).all(axis=0)
    if with_data.sum() < 3:
        return None
    means = means[:, with_data]
    complete = means[~np.isnan(means).any(axis=1)]
    binary = cube.epochs == 1 and _is_binary(cube.quality)
    result: Omnibus | None = cochran_q(complete) if binary else friedman(complete)
    if result is None:
        return None
    included = [label for label, keep in zip(cube.labels, with_data, strict=True) if keep]
    return OmnibusTest(
        test=result.test,
        statistic=result.statistic,
        df=result.df,
        p=result.p,
        n_tasks=result.n_tasks,
        variants=tuple(included),
    )


# ---------------------------------------------------------------- verdict text


def _num(value: float, signed: bool = False, decimals: int | None = None) -> str:
    """Fixed decimals when given; else two decimals, or two significant digits below 0.01."""
    sign = "+" if signed else ""
    if decimals is not None:
        return f"{value:{sign}.{decimals}f}"
    if value == 0 or abs(value) >= 0.01:
        return f"{value:{sign}.2f}"
    return f"{value:{sign}.2g}"


def _decimals_for(half_width: float) -> int:
    """Enough decimals to show an interval of this half-width (at least two)."""
    if half_width <= 0 or not math.isfinite(half_width):
        return 2
    return max(2, -math.floor(math.log10(half_width)))


def _p(value: float) -> str:
    return "p<0.001" if value < 0.001 else f"p={value:.3f}" if value < 0.01 else f"p={value:.2f}"


def _percent(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.0f}%"


def _significant(c: _Compared, alpha: float) -> bool:
    return c.p_adjusted is not None and c.p_adjusted < alpha


def _diff(c: _Compared) -> float:
    """The quality difference of a comparison with a p-value (which needs graded pairs)."""
    assert c.quality.diff is not None, f"{c.label}: no task was graded in both variants"
    return c.quality.diff


def _known(values: Iterable[float | None]) -> list[float] | None:
    """The values, or None when any of them is unknown."""
    listed = list(values)
    known = [v for v in listed if v is not None]
    return known if len(known) == len(listed) else None


def _quality_phrase(c: _Compared, holm_applied: bool) -> str:
    q, p = c.quality, c.p_adjusted
    assert p is not None, f"{c.label}: only a comparison with a p-value is phrased"
    after = " after Holm" if holm_applied else ""
    if q.t is None:
        return f"{_num(_diff(c), True)} ({_p(p)}{after})"
    low, high = q.t.ci
    places = _decimals_for((high - low) / 2)
    interval = f"95% CI {_num(low, True, places)} to {_num(high, True, places)}"
    return f"{_num(_diff(c), True, places)} ({interval}, {_p(p)}{after})"


def _cost_phrase(c: _Compared) -> str:
    ratio = c.cost.ratio.ratio if c.cost.ratio else None
    if ratio is None:
        return ""
    if abs(ratio - 1) < 0.005:
        return " at the same cost"
    change = abs(ratio - 1) * 100
    return f" at {change:.0f}% {'lower' if ratio < 1 else 'higher'} cost"


_GUARDRAIL_NAMES = {"cost": "cost", "latency_p50": "median latency", "latency_p90": "p90 latency"}


def _guardrail_phrase(j: GuardrailJudgement) -> str:
    name = _GUARDRAIL_NAMES[j.guardrail.metric]
    limit = f"limit {_percent(j.guardrail.limit)}"
    if j.status == "fail":
        # A failure is a lower bound above the limit, measured with its ratio.
        assert j.ratio is not None and j.lower is not None
        return f"its {name} is {_percent(j.ratio)} (at least {_percent(j.lower)}; {limit})"
    if j.ratio is None:
        return f"its {name} could not be measured ({limit})"
    # The bounds come with the ratio: one interval (cost), or finite bootstrap ratios (latency).
    assert j.upper is not None
    return (
        f"its {name} ({_percent(j.ratio)}, upper bound {_percent(j.upper)}) is not shown "
        f"to stay within the {limit}"
    )


def _worse(c: _Compared, alpha: float) -> bool:
    return _significant(c, alpha) and _diff(c) < 0


def _equivalent(c: _Compared) -> bool:
    return c.quality.equivalence is not None and c.quality.equivalence.equivalent


def _failure_phrase(c: _Compared, control: str) -> str:
    f = c.failures
    assert f is not None and f.higher, f"{c.label}: only a higher failure rate is phrased"
    return (
        f"its failed or ungraded trials are significantly more frequent than {control}'s "
        f"({f.variant_missing} against {f.control_missing} of {f.cells} trials, exact "
        f"McNemar {_p(f.p)}), and leaving them out may hide bad answers"
    )


def _blocker(c: _Compared, control: str, rule: DecisionRule) -> str | None:
    """Why a variant better on quality cannot win (failures first), or None."""
    if c.failures is not None and c.failures.higher:
        return _failure_phrase(c, control)
    blocking = next((j for j in c.guardrails if rule.blocks(j)), None)
    return None if blocking is None else _guardrail_phrase(blocking)


def _inverted(j: GuardrailJudgement) -> GuardrailJudgement:
    """The control's judgement against a variant: the same guardrail on control/variant."""
    if j.status == "not_measured":
        return j
    flipped = [None if v is None or v <= 0 else 1 / v for v in (j.ratio, j.upper, j.lower)]
    return judge_guardrail(j.guardrail, *flipped)


def _control_wins(worse: list[_Compared], rule: DecisionRule) -> bool:
    """The control's guardrails and failures hold against every (worse) variant."""
    for c in worse:
        if any(rule.blocks(_inverted(j)) for j in c.guardrails):
            return False
        f = c.failures
        if f is not None and f.p < rule.alpha and f.discordant[1] > f.discordant[0]:
            return False
    return True


def _floor_phrase(c: _Compared) -> str | None:
    """A comparison on too few tasks for the primary test to reach its level, or None."""
    q, alpha = c.quality, c.quality.planning.alpha
    if q.n_tasks >= min_tasks(alpha):
        return None
    return (
        f"with {q.n_tasks} tasks graded in both, the test cannot reach p<{alpha:.3g} at all "
        f"(its smallest p is {smallest_p(q.n_tasks):.3g}): at least {min_tasks(alpha)} tasks "
        "are needed"
    )


def _plan_phrase(unsettled: list[_Compared], effect: float) -> str:
    """What the least powered open comparison can detect, and what would settle them all."""
    floors = [phrase for c in unsettled if (phrase := _floor_phrase(c))]
    tasks = _known(c.quality.planning.tasks_needed for c in unsettled)
    wanted = f"about {math.ceil(max(tasks))} tasks" if tasks else None
    if floors:
        text = floors[0][0].upper() + floors[0][1:]
        if wanted:
            text += f", and {wanted} to detect {_num(effect)}"
        return text + "."
    planned = [(c.quality.planning.mde, c) for c in unsettled if c.quality.planning.mde is not None]
    if not planned:
        return "Too few tasks were graded in both variants to estimate the noise."
    mde, weakest = max(planned, key=lambda pair: pair[0])
    text = (
        f"With {weakest.quality.n_tasks} tasks the run can only detect differences of {_num(mde)}"
    )
    if wanted:
        text += f"; {wanted}"
        epochs = _known(c.quality.planning.epochs_needed for c in unsettled)
        if epochs is not None and math.ceil(max(epochs)) > weakest.quality.epochs:
            text += f" (or {math.ceil(max(epochs))} epochs per task on these tasks)"
        text += f" would be needed to detect {_num(effect)} or show there is no such difference"
    return text + "."


def _equivalence_phrase(c: _Compared) -> str:
    e = c.quality.equivalence
    assert e is not None, f"{c.label}: only a comparison with an equivalence test is phrased"
    places = _decimals_for((e.ci[1] - e.ci[0]) / 2)
    return (
        f"{_num(_diff(c), True, places)} ({e.confidence:.0%} CI {_num(e.ci[0], True, places)} to "
        f"{_num(e.ci[1], True, places)}, TOST {_p(e.p)})"
    )


def _equivalence_reach(c: _Compared) -> float:
    """How far the equivalence interval reaches from 0 (the closest to the margin is phrased)."""
    e = c.quality.equivalence
    return max(abs(e.ci[0]), abs(e.ci[1])) if e else math.inf


def _verdict(comparisons: list[_Compared], control: str, rule: DecisionRule) -> Verdict:
    alpha, effect = rule.alpha, rule.effect_of_interest
    holm_applied = sum(c.p_adjusted is not None for c in comparisons) > 1
    if not comparisons:
        text = f"There is no variant to compare with {control}."
        return Verdict("inconclusive", None, text)
    better = [c for c in comparisons if _significant(c, alpha) and _diff(c) > 0]
    qualified = [c for c in better if _blocker(c, control, rule) is None]
    if qualified:
        best = max(qualified, key=_diff)
        text = (
            f"{best.label} beats {control} on quality by "
            f"{_quality_phrase(best, holm_applied)}{_cost_phrase(best)}."
        )
        if any(j.status == "not_measured" for j in best.guardrails):
            text += " Latency was not measured in this run (batch or cached answers)."
        for j in best.guardrails:
            if j.status == "unclear":  # only under guardrail_mode harm: said, not blocking
                phrase = _guardrail_phrase(j)
                text += f" {phrase[0].upper()}{phrase[1:]}, nor shown to exceed it."
        return Verdict("winner", best.label, text)

    if better:
        best = max(better, key=_diff)
        text = (
            f"{best.label} beats {control} on quality by {_quality_phrase(best, holm_applied)}, "
            f"but {_blocker(best, control, rule)}, so there is no winner."
        )
        return Verdict("inconclusive", None, text)

    measured = [c for c in comparisons if c.quality.n_tasks > 0]
    if not measured:
        text = "No comparison is possible: no task was graded in both a variant and the control."
        return Verdict("inconclusive", None, text)

    worse = [c for c in measured if _worse(c, alpha)]
    behind = "; ".join(f"{c.label} by {_quality_phrase(c, holm_applied)}" for c in worse)
    if len(worse) == len(comparisons) and _control_wins(worse, rule):
        text = f"{control} beats every variant on quality: {behind}."
        return Verdict("winner", control, text)

    # Equivalence on the trials left after attrition says nothing of the ones that failed.
    attrited = [c for c in measured if c.failures is not None and c.failures.higher]
    equivalent = [
        c for c in measured if _equivalent(c) and not _worse(c, alpha) and c not in attrited
    ]
    if len(equivalent) == len(comparisons):
        widest = max(equivalent, key=_equivalence_reach)
        text = (
            f"No variant differs from {control} by {_num(effect)} or more on quality: every "
            f"difference lies within +/-{_num(effect)} (two one-sided tests); the "
            f"nearest the margin, {widest.label}, differs by {_equivalence_phrase(widest)}."
        )
        return Verdict("no_difference", None, text)

    summary = f"No variant is significantly better than {control} on quality"
    if worse:
        summary += f"; significantly worse: {behind}"
        if len(worse) == len(comparisons):  # but _control_wins said no
            summary += (
                f"; {control} is not named the winner: against them its own guardrails or "
                "failures do not hold"
            )
    if equivalent:
        names = ", ".join(c.label for c in equivalent)
        summary += f"; within +/-{_num(effect)} of it: {names}"
    for c in attrited:
        summary += f"; {c.label}: {_failure_phrase(c, control)}"
    unsettled = [c for c in measured if c not in (*worse, *equivalent, *attrited)]
    unmeasured = [c.label for c in comparisons if c.quality.n_tasks == 0]
    if unmeasured:
        summary += f"; no task graded in both for {', '.join(unmeasured)}"
    if not unsettled:
        return Verdict("inconclusive", None, summary + ".")
    closest = max((c for c in unsettled if c.p_adjusted is not None), key=_diff, default=None)
    if closest is not None:
        summary += f"; the closest, {closest.label}, differs by "
        summary += _quality_phrase(closest, holm_applied)
    return Verdict("inconclusive", None, f"{summary}. {_plan_phrase(unsettled, effect)}")


def _missing(cube: _Cube, experiment: ExperimentInfo, sensitivity: Verdict | None) -> Missing:
    expected = (experiment.tasks or len(cube.tasks)) * (experiment.epochs or cube.epochs)
    by_variant = {}
    for i, label in enumerate(cube.labels):
        recorded = int(cube.recorded[i].sum())
        graded = int((~np.isnan(cube.quality[i])).sum())
        by_variant[label] = MissingCounts(
            expected=expected,
            graded=graded,
            missing=max(expected - graded, 0),
            errors=int(cube.errored[i].sum()),
            ungraded=int((cube.recorded[i] & ~cube.errored[i] & np.isnan(cube.quality[i])).sum()),
            not_run=max(expected - recorded, 0),
        )
    return Missing(
        total=sum(v.missing for v in by_variant.values()),
        expected_per_variant=expected,
        by_variant=by_variant,
        policy=MISSING_POLICY,
        sensitivity=sensitivity,
    )


def _missing_sentence(missing: Missing, n_variants: int) -> str:
    if not missing.total:
        return ""
    expected = missing.expected_per_variant
    parts = []
    for label, v in missing.by_variant.items():
        if v.errors == expected and expected:
            parts.append(f"all {expected} of {label} failed")
        elif v.missing == expected and expected:
            parts.append(f"all {expected} of {label}")
        elif v.missing:
            parts.append(f"{label} {v.missing}")
    return (
        f" {missing.total} of {expected * n_variants} trials failed or were not graded and "
        f"were left out ({', '.join(parts)})."
    )


# ---------------------------------------------------------------- report assembly

_Figures = TypeVar("_Figures")


def _rounded(value: _Figures) -> _Figures:
    """A copy with every float to 6 significant digits: the precision the report claims."""
    rounded: object
    if is_dataclass(value) and not isinstance(value, type):
        rounded = replace(
            value, **{f.name: _rounded(getattr(value, f.name)) for f in fields(value)}
        )
    elif isinstance(value, dict):
        rounded = {k: _rounded(v) for k, v in value.items()}
    elif isinstance(value, tuple):
        rounded = tuple(_rounded(v) for v in value)
    elif isinstance(value, float):
        rounded = float(f"{value:.6g}")
    else:
        return value
    return cast(_Figures, rounded)  # each branch rebuilds the kind of value it was given


def _arm_quality(summary: ArmSummary) -> ArmQuality:
    return ArmQuality(
        mean=summary.mean,
        se=summary.se,
        ci=summary.ci,
        n_tasks=summary.n_tasks,
        ci_method=CI_METHOD,
    )


def _paired_tasks(cube: _Cube) -> np.ndarray:
    """Tasks graded in every variant that has any graded task (the table's paired set)."""
    graded = ~np.isnan(task_means(cube.quality))  # variants x tasks
    with_data = graded.any(axis=1)
    return graded[with_data].all(axis=0) if with_data.any() else graded.any(axis=0)


def _variant_summary(
    cube: _Cube, i: int, variant: VariantInfo, arm: LatencyArm, paired: np.ndarray
) -> VariantSummary:
    means = task_means(cube.quality[i])
    quality = summarise_arm(means)
    cost_means = task_means(cube.cost[i])
    costs = cube.cost[i][~np.isnan(cube.cost[i])]
    graded_costs = cost_means[~np.isnan(cost_means)]
    return VariantSummary(
        label=variant.label,
        ref=variant.ref,
        trials=int(cube.recorded[i].sum()),
        errors=int(cube.errored[i].sum()),
        quality=_arm_quality(quality),
        cost=ArmCost(
            mean=float(graded_costs.mean()) if graded_costs.size else None,
            total=float(costs.sum()),
            n_tasks=int(graded_costs.size),
        ),
        latency=ArmLatency(
            p50=arm.values[0] if arm.values else None,
            p90=arm.values[1] if arm.values else None,
            n_trials=arm.n_trials,
        ),
        model=variant.model,
        model_alias=variant.model_alias,
        quality_paired=_arm_quality(summarise_arm(means[paired])),
    )


def _quality_diff(c: _Compared) -> QualityDiff:
    q = c.quality
    return QualityDiff(
        diff=q.diff,
        se=q.t.se if q.t else None,
        ci=q.ci,
        p=q.p,
        p_adjusted=c.p_adjusted,
        test=q.test,
        p_t=q.t.p if q.t else None,
        p_permutation=q.sign_flip.p if q.sign_flip else None,
        permutation_method=q.sign_flip.method if q.sign_flip else None,
        p_wilcoxon=q.wilcoxon.p if q.wilcoxon else None,
        wilcoxon_method=q.wilcoxon.method if q.wilcoxon else None,
        p_mcnemar=q.mcnemar_p,
        discordant=q.discordant,
        correlation=q.correlation,
        control_mean=q.control.mean,
        control_se=q.control.se,
        variant_mean=q.treatment.mean,
        variant_se=q.treatment.se,
        mde=q.planning.mde,
        tasks_needed=q.planning.tasks_needed,
        epochs_needed=q.planning.epochs_needed,
        equivalence_ci=q.equivalence.ci if q.equivalence else None,
        p_equivalence=q.equivalence.p if q.equivalence else None,
        equivalent=q.equivalence.equivalent if q.equivalence else None,
    )


def _cost_diff(cost: CostComparison) -> CostDiff:
    return CostDiff(
        n_tasks=cost.n_tasks,
        control_mean=cost.control_mean,
        variant_mean=cost.treatment_mean,
        diff=cost.diff,
        ci=cost.diff_ci,
        ratio=cost.ratio.ratio if cost.ratio else None,
        ratio_ci=cost.ratio.ci if cost.ratio else None,
        ratio_upper=cost.ratio.upper if cost.ratio else None,
        ratio_method=cost.ratio_method,
        bootstrap_ci=cost.bootstrap_diff_ci,
        bootstrap_ratio_ci=cost.bootstrap_ratio_ci,
    )


def _latency_diff(latency: LatencyComparison | None) -> LatencyDiff:
    quantiles = {qd.quantile: qd for qd in latency.by_quantile} if latency else {}
    p50, p90 = quantiles.get(0.5), quantiles.get(0.9)
    return LatencyDiff(
        p50_diff=p50.diff if p50 else None,
        p50_ci=p50.ci if p50 else None,
        p50_ratio=p50.ratio if p50 else None,
        p50_ratio_upper=p50.ratio_upper if p50 else None,
        p90_diff=p90.diff if p90 else None,
        p90_ci=p90.ci if p90 else None,
        p90_ratio=p90.ratio if p90 else None,
        p90_ratio_upper=p90.ratio_upper if p90 else None,
        method=LATENCY_METHOD,
    )


def _comparison(c: _Compared, control: str, epochs: int) -> Comparison:
    return Comparison(
        variant=c.label,
        vs=control,
        n_tasks=c.quality.n_tasks,
        epochs=epochs,
        quality=_quality_diff(c),
        cost=_cost_diff(c.cost),
        latency=_latency_diff(c.latency),
        guardrails={
            j.guardrail.metric: GuardrailCheck(
                margin=j.guardrail.margin,
                ratio=j.ratio,
                lower=j.lower,
                upper=j.upper,
                status=j.status,
            )
            for j in c.guardrails
        },
        failures=_failure_check(c.failures),
    )


def _failure_check(f: FailureComparison | None) -> FailureCheck:
    assert f is not None, "the report's comparisons come from the observed data"
    return FailureCheck(
        cells=f.cells,
        control_missing=f.control_missing,
        variant_missing=f.variant_missing,
        discordant=f.discordant,
        p=f.p,
        higher=f.higher,
    )


def _power_plan(comparisons: list[_Compared], rule: DecisionRule, cube: _Cube) -> PowerPlan:
    # Comparisons without data (a variant whose trials all failed) have no plan to offer.
    plans = [c.quality.planning for c in comparisons if c.quality.n_tasks >= 2]
    tasks = _known(p.tasks_needed for p in plans)
    epochs = _known(p.epochs_needed for p in plans)
    return PowerPlan(
        target_power=DEFAULT_POWER,  # what compare_quality plans for
        alpha=rule.alpha,
        alpha_per_comparison=rule.alpha / max(len(comparisons), 1),
        effect_of_interest=rule.effect_of_interest,
        n_tasks=len(cube.tasks),
        epochs=cube.epochs,
        tasks_needed=math.ceil(max(tasks)) if tasks else None,
        epochs_needed=math.ceil(max(epochs)) if epochs else None,
        min_tasks=min_tasks(rule.alpha / max(len(comparisons), 1)),
    )


def analyse(
    *,
    experiment: ExperimentInfo,
    variants: Sequence[VariantInfo],
    control: str,
    trials: Iterable[TrialRecord],
    rule: DecisionRule,
    seed: int = 0,
    pairwise: PairwiseSummary | None = None,
) -> Report:
    """The report of an experiment's trials; ``pairwise`` (the judge's results) is passed on."""
    labels = [v.label for v in variants]
    if control not in labels:
        raise ValueError(f"control {control!r} is not one of the variants {labels}")
    cube = _index(trials, labels)
    comparisons, arms = _compare_all(cube, control, rule, seed)
    missing = _missing(cube, experiment, _sensitivity(cube, comparisons, control, rule, seed))
    verdict = _verdict(comparisons, control, rule)
    paired = _paired_tasks(cube)
    return Report(
        experiment=experiment,
        control=control,
        decision=_rounded(Decision(**rule.as_dict())),
        variants=_rounded(
            tuple(
                _variant_summary(cube, i, v, arms[v.label], paired) for i, v in enumerate(variants)
            )
        ),
        comparisons=_rounded(tuple(_comparison(c, control, cube.epochs) for c in comparisons)),
        omnibus=_rounded(_omnibus(cube)),
        power=_rounded(_power_plan(comparisons, rule, cube)),
        missing=missing,
        verdict=replace(verdict, text=verdict.text + _missing_sentence(missing, len(labels))),
        pairwise=pairwise,
    )
