"""From plain trial records to the experiment report (``experiments.report``) and its verdict.

Pipeline: index the records into ``variants x tasks x epochs`` arrays per metric; summarise each
variant; compare each variant with the control on quality, cost and latency (experiments.stats);
Holm-correct the primary p-values across variants; judge the guardrails; decide; assemble the
``Report``, its figures rounded to the 6 significant digits it reports (the verdict's text is
written from the unrounded statistics).

Missing data policy: a failed or ungraded trial is left out, never scored 0, and said so in
``missing`` and in the verdict text. A task enters a comparison when both variants have at least
one graded epoch of it (complete pairs). Cached responses are excluded from latency only, and
failed trials from latency too (their time measures the failure, not an answer).

Verdict: ``winner`` when a variant is significantly better than control on the primary metric
after Holm and passes every guardrail (the largest gain wins among several); ``no_difference``
when no variant is better and every comparison was powered to see ``effect_of_interest`` (or is
significantly worse); ``inconclusive`` otherwise, saying how many tasks or epochs would settle it.
Power figures use alpha/m (m = comparisons) so a plan survives the Holm correction.
"""

from __future__ import annotations

import math
import operator
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
from experiments.stats.bootstrap import task_resample
from experiments.stats.cost import CostComparison, compare_cost
from experiments.stats.latency import LatencyArm, LatencyComparison, compare_latency, latency_arm
from experiments.stats.multiplicity import Omnibus, cochran_q, friedman, holm
from experiments.stats.power import DEFAULT_POWER
from experiments.stats.quality import QualityComparison, compare_quality, summarise_arm
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


_FIELDS = operator.attrgetter(
    "variant", "task_id", "epoch", "quality", "cost_usd", "latency_s", "error", "cached"
)


def _index(trials: Iterable[TrialRecord], labels: list[str]) -> _Cube:
    rows = [_FIELDS(r) for r in trials]
    variant, task, epoch, quality, cost, latency, error, cached = (
        zip(*rows, strict=True) if rows else ((),) * 8
    )
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
        recorded=cube((True for _ in rows), False, bool),
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


def _compare_all(
    cube: _Cube, control: str, rule: DecisionRule, seed: int
) -> tuple[list[_Compared], dict[str, LatencyArm]]:
    resample = task_resample(len(cube.tasks), seed=seed)  # shared: differences stay paired
    arms = {label: latency_arm(cube.latency[i], resample) for i, label in enumerate(cube.labels)}
    ci = cube.labels.index(control)
    others = [label for label in cube.labels if label != control]
    binary = _is_binary(cube.quality)
    plan_alpha = rule.alpha / max(len(others), 1)
    raw = []
    for offset, label in enumerate(others):
        vi = cube.labels.index(label)
        quality = compare_quality(
            cube.quality[ci],
            cube.quality[vi],
            binary=binary,
            plan_alpha=plan_alpha,
            effect_of_interest=rule.effect_of_interest,
            seed=seed + offset,
        )
        cost = compare_cost(cube.cost[ci], cube.cost[vi], resample=resample)
        latency = compare_latency(arms[control], arms[label])
        raw.append((label, quality, cost, latency))

    latency_measured = bool(np.isfinite(cube.latency).any())
    tested = {i: q.p for i, (_, q, _, _) in enumerate(raw) if q.p is not None}
    adjusted = dict(zip(tested, holm(list(tested.values())), strict=True))
    comparisons = [
        _Compared(
            label=label,
            quality=quality,
            cost=cost,
            latency=latency,
            p_adjusted=adjusted.get(i),
            guardrails=_guardrails(rule, cost, latency, latency_measured),
        )
        for i, (label, quality, cost, latency) in enumerate(raw)
    ]
    return comparisons, arms


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


def _settled_without_winner(c: _Compared, alpha: float, effect: float) -> bool:
    q = c.quality
    if q.n_tasks == 0:
        return True  # every trial of one arm failed: that variant cannot win
    if _significant(c, alpha) and _diff(c) < 0:
        return True  # significantly worse
    mde = q.planning.mde
    return c.p_adjusted is not None and mde is not None and mde <= effect


def _plan_phrase(unsettled: list[_Compared], effect: float) -> str:
    """What the least powered open comparison can detect, and what would settle them all."""
    planned = [(c.quality.planning.mde, c) for c in unsettled if c.quality.planning.mde is not None]
    if not planned:
        return "Too few tasks were graded in both variants to estimate the noise."
    mde, weakest = max(planned, key=lambda pair: pair[0])
    text = (
        f"With {weakest.quality.n_tasks} tasks the run can only detect differences of {_num(mde)}"
    )
    tasks = _known(c.quality.planning.tasks_needed for c in unsettled)
    if tasks is not None:
        text += f"; about {math.ceil(max(tasks))} tasks"
        epochs = _known(c.quality.planning.epochs_needed for c in unsettled)
        if epochs is not None and math.ceil(max(epochs)) > weakest.quality.epochs:
            text += f" (or {math.ceil(max(epochs))} epochs per task on these tasks)"
        text += f" would be needed to detect {_num(effect)}"
    return text + "."


def _verdict(comparisons: list[_Compared], control: str, rule: DecisionRule) -> Verdict:
    alpha, effect = rule.alpha, rule.effect_of_interest
    holm_applied = sum(c.p_adjusted is not None for c in comparisons) > 1
    better = [c for c in comparisons if _significant(c, alpha) and _diff(c) > 0]
    qualified = [
        c for c in better if all(j.status in ("pass", "not_measured") for j in c.guardrails)
    ]
    if qualified:
        best = max(qualified, key=_diff)
        text = (
            f"{best.label} beats {control} on quality by "
            f"{_quality_phrase(best, holm_applied)}{_cost_phrase(best)}."
        )
        if any(j.status == "not_measured" for j in best.guardrails):
            text += " Latency was not measured in this run (batch or cached answers)."
        return Verdict("winner", best.label, text)

    if better:
        best = max(better, key=_diff)
        blocking = next(j for j in best.guardrails if j.status not in ("pass", "not_measured"))
        text = (
            f"{best.label} beats {control} on quality by {_quality_phrase(best, holm_applied)}, "
            f"but {_guardrail_phrase(blocking)}, so there is no winner."
        )
        return Verdict("inconclusive", None, text)

    measured = [c for c in comparisons if c.quality.n_tasks > 0]
    if not comparisons:
        text = f"There is no variant to compare with {control}."
        return Verdict("inconclusive", None, text)
    if not measured:
        text = "No comparison is possible: no task was graded in both a variant and the control."
        return Verdict("inconclusive", None, text)

    closest = max(
        (c for c in measured if c.p_adjusted is not None),
        key=_diff,
        default=None,
    )
    summary = f"No variant is significantly better than {control} on quality"
    if closest is not None:
        if _significant(closest, alpha) and _diff(closest) < 0:
            summary += f"; {closest.label} is worse by"
        else:
            summary += f"; the closest, {closest.label}, differs by"
        summary += f" {_quality_phrase(closest, holm_applied)}"
    unsettled = [c for c in measured if not _settled_without_winner(c, alpha, effect)]
    if not unsettled:
        mdes = [c.quality.planning.mde for c in measured if c.quality.planning.mde is not None]
        power = (
            f" The run could detect differences of {_num(max(mdes))} or more, so any real gain "
            f"is smaller than the {_num(effect)} of interest."
            if mdes
            else ""
        )
        return Verdict("no_difference", None, summary + "." + power)
    plan = _plan_phrase(unsettled, effect)
    return Verdict("inconclusive", None, f"{summary}. {plan}".strip())


def _missing(cube: _Cube, experiment: ExperimentInfo) -> Missing:
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


def _variant_summary(cube: _Cube, i: int, variant: VariantInfo, arm: LatencyArm) -> VariantSummary:
    quality = summarise_arm(task_means(cube.quality[i]))
    cost_means = task_means(cube.cost[i])
    costs = cube.cost[i][~np.isnan(cube.cost[i])]
    graded_costs = cost_means[~np.isnan(cost_means)]
    return VariantSummary(
        label=variant.label,
        ref=variant.ref,
        trials=int(cube.recorded[i].sum()),
        errors=int(cube.errored[i].sum()),
        quality=ArmQuality(
            mean=quality.mean, se=quality.se, ci=quality.ci, n_tasks=quality.n_tasks
        ),
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
    )


def _quality_diff(c: _Compared) -> QualityDiff:
    q = c.quality
    return QualityDiff(
        diff=q.diff,
        se=q.t.se if q.t else None,
        ci=q.t.ci if q.t else None,
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
    missing = _missing(cube, experiment)
    verdict = _verdict(comparisons, control, rule)
    return Report(
        experiment=experiment,
        control=control,
        decision=_rounded(Decision(**rule.as_dict())),
        variants=_rounded(
            tuple(_variant_summary(cube, i, v, arms[v.label]) for i, v in enumerate(variants))
        ),
        comparisons=_rounded(tuple(_comparison(c, control, cube.epochs) for c in comparisons)),
        omnibus=_rounded(_omnibus(cube)),
        power=_rounded(_power_plan(comparisons, rule, cube)),
        missing=missing,
        verdict=replace(verdict, text=verdict.text + _missing_sentence(missing, len(labels))),
        pairwise=pairwise,
    )
