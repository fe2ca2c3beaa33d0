"""Crafted experiments through ``analyse``: the verdict, the contract fields and the renderings."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import pytest

from experiments.analysis import TrialRecord, analyse
from experiments.decision import DecisionRule, parse_decision
from experiments.render import render_markdown, render_table
from experiments.report import Comparison, Report
from experiments.stats.multiplicity import holm
from tests.stats.synthetic import Arm, experiment, make_trials, variants


def run(arms: dict[str, Arm], n_tasks: int, epochs: int, *, rule=None, seed=1, **kwargs):
    trials = make_trials(arms, n_tasks=n_tasks, epochs=epochs, seed=seed, **kwargs)
    return analyse(
        experiment=experiment(n_tasks, epochs),
        variants=variants(*arms),
        control="control",
        trials=trials,
        rule=rule or DecisionRule(),
        seed=seed,
    )


def comparison(report: Report, label: str) -> Comparison:
    found = report.comparison(label)
    assert found is not None
    return found


def test_clear_win_names_the_winner_with_effect_interval_and_cost():
    report = run({"control": Arm(), "tight": Arm(quality_shift=0.1, cost_factor=0.85)}, 40, 3)
    verdict = report.verdict
    assert verdict.status == "winner"
    assert verdict.winner == "tight"
    q = comparison(report, "tight").quality
    assert q.test == "paired_t"
    assert q.p_adjusted < 0.05 and q.ci[0] > 0
    assert q.diff == pytest.approx(0.1, abs=0.03)
    assert verdict.text.startswith("tight beats control on quality by +0.1")
    assert "95% CI" in verdict.text and "lower cost" in verdict.text
    assert comparison(report, "tight").cost.ratio == pytest.approx(0.85, abs=0.03)


def test_a_run_without_latency_figures_can_still_name_a_winner():
    # A batch run measures no latency: the latency guardrail cannot block (nor pass) a winner.
    arms = {"control": Arm(), "tight": Arm(quality_shift=0.1)}
    trials = [
        t._replace(latency_s=None, ttft_s=None)
        for t in make_trials(arms, n_tasks=40, epochs=3, seed=1)
    ]
    report = analyse(
        experiment=experiment(40, 3),
        variants=variants(*arms),
        control="control",
        trials=trials,
        rule=DecisionRule(),
        seed=1,
    )
    assert report.verdict.status == "winner" and report.verdict.winner == "tight"
    assert "Latency was not measured" in report.verdict.text
    statuses = {g: v.status for g, v in comparison(report, "tight").guardrails.items()}
    assert statuses == {"cost": "pass", "latency_p90": "not_measured"}


def test_report_satisfies_the_json_contract_and_is_strict_json():
    report = run({"control": Arm(), "tight": Arm(quality_shift=0.05)}, 24, 3).to_json()
    text = json.dumps(report, allow_nan=False)  # no NaN or numpy types anywhere
    assert json.loads(text) == report
    assert report["experiment"]["tasks"] == 24 and report["control"] == "control"
    control = report["variants"][0]
    assert control["trials"] == 72 and control["errors"] == 0
    assert set(control["quality"]) >= {"mean", "ci"} and "mean" in control["cost"]
    assert set(control["latency"]) >= {"p50", "p90"}
    c = report["comparisons"][0]
    assert c["vs"] == "control" and c["n_tasks"] == 24 and c["epochs"] == 3
    assert set(c["quality"]) >= {"diff", "ci", "p", "p_adjusted", "correlation", "mde"}
    assert c["quality"]["test"] == "sign_flip_permutation"  # fewer than 30 tasks
    assert c["quality"]["p"] == c["quality"]["p_permutation"]
    assert c["quality"]["p_wilcoxon"] is not None
    assert set(c["cost"]) >= {"diff", "ratio", "ratio_ci"}
    assert set(c["latency"]) >= {"p50_diff", "p50_ci", "p90_diff", "p90_ci"}
    assert report["verdict"]["status"] in {"winner", "no_difference", "inconclusive"}


def test_no_difference_when_well_powered():
    report = run({"control": Arm(), "tight": Arm()}, 200, 3)
    assert report.verdict.status == "no_difference"
    assert report.verdict.winner is None
    q = comparison(report, "tight").quality
    assert q.equivalent and -0.05 < q.equivalence_ci[0] < q.equivalence_ci[1] < 0.05
    assert q.p_equivalence < 0.05
    assert "within +/-0.05 (two one-sided tests)" in report.verdict.text


def test_guardrail_breach_blocks_a_quality_winner():
    report = run({"control": Arm(), "tight": Arm(quality_shift=0.1, cost_factor=1.5)}, 40, 3)
    guard = comparison(report, "tight").guardrails["cost"]
    assert guard.status == "fail"
    assert guard.lower > 1.2
    assert comparison(report, "tight").quality.p_adjusted < 0.05
    assert report.verdict.status == "inconclusive"
    assert report.verdict.winner is None
    assert "cost" in report.verdict.text and "no winner" in report.verdict.text


def test_guardrails_can_be_disabled_by_the_rule():
    rule = parse_decision({"guardrails": {}})
    arms = {"control": Arm(), "tight": Arm(quality_shift=0.1, cost_factor=1.5)}
    report = run(arms, 40, 3, rule=rule)
    assert report.verdict.winner == "tight"
    assert re.search(r"at (4[5-9]|5[0-5])% higher cost\.", report.verdict.text)


def test_too_few_tasks_is_inconclusive_and_says_how_many_are_needed():
    arms = {"control": Arm(), "tight": Arm(quality_shift=0.03)}
    report = run(arms, 8, 2, interaction_sd=0.1, epoch_sd=0.15)
    assert report.verdict.status == "inconclusive"
    needed = report.power.tasks_needed
    assert needed > 8
    assert needed == math.ceil(comparison(report, "tight").quality.tasks_needed)
    assert f"about {needed} tasks" in report.verdict.text
    assert comparison(report, "tight").quality.mde > 0.05


def test_missing_trials_are_reported_and_only_complete_pairs_compared():
    trials = make_trials(
        {"control": Arm(), "tight": Arm(quality_shift=0.1, fail_rate=0.1)},
        n_tasks=30,
        epochs=2,
        seed=3,
    )
    # Task 0 never ran for tight: both of its epochs are gone, so the pair is incomplete.
    trials = [t for t in trials if not (t.variant == "tight" and t.task_id == "task-000")]
    # One control trial was run but not graded.
    trials[5] = trials[5]._replace(quality=None)
    report = analyse(
        experiment=experiment(30, 2),
        variants=variants("control", "tight"),
        control="control",
        trials=trials,
        rule=DecisionRule(),
    )
    tight = report.missing.by_variant["tight"]
    assert tight.not_run == 2
    assert tight.errors == report.variants[1].errors > 0
    assert tight.missing == 60 - tight.graded
    assert report.missing.by_variant["control"].ungraded == 1
    assert comparison(report, "tight").n_tasks <= 29
    total = report.missing.total
    assert f"{total} of 120 trials failed or were not graded" in report.verdict.text


def test_three_variants_use_holm_and_an_omnibus():
    arms = {
        "control": Arm(),
        "small": Arm(quality_shift=0.02),
        "big": Arm(quality_shift=0.1),
        "same": Arm(),
    }
    report = run(arms, 40, 3, interaction_sd=0.08, epoch_sd=0.2)
    raw = [c.quality.p for c in report.comparisons]
    adjusted = [c.quality.p_adjusted for c in report.comparisons]
    assert adjusted == pytest.approx(holm(raw), rel=1e-5)
    assert adjusted[0] > raw[0] or adjusted[0] == 1.0
    assert report.omnibus.test == "friedman"
    assert report.omnibus.df == 3 and report.omnibus.p < 0.05
    assert report.power.alpha_per_comparison == pytest.approx(0.05 / 3, rel=1e-5)
    assert report.verdict.winner == "big"
    assert "after Holm" in report.verdict.text


def test_a_variant_whose_trials_all_failed_cannot_win_and_is_named():
    arms = {"control": Arm(), "good": Arm(quality_shift=0.1), "broken": Arm(fail_rate=1.0)}
    report = run(arms, 40, 3)
    broken = comparison(report, "broken")
    assert broken.n_tasks == 0
    assert broken.quality.diff is None and broken.quality.p_adjusted is None
    assert report.variants[2].errors == 120
    assert report.variants[2].latency.p50 is None
    assert report.verdict.winner == "good"
    assert "all 120 of broken failed" in report.verdict.text
    # Holm family holds only the comparisons that produced a p-value.
    good = comparison(report, "good").quality
    assert good.p_adjusted == good.p


def test_only_failed_variant_is_inconclusive():
    report = run({"control": Arm(), "broken": Arm(fail_rate=1.0)}, 10, 2)
    assert report.verdict.status == "inconclusive"
    assert "No comparison is possible" in report.verdict.text


def test_no_trials_at_all_is_inconclusive_and_renders():
    report = analyse(
        experiment=experiment(5, 2),
        variants=variants("control", "a"),
        control="control",
        trials=[],
        rule=DecisionRule(),
    )
    assert report.verdict.status == "inconclusive"
    assert report.missing.total == 20
    assert report.comparisons[0].quality.p is None
    assert "INCONCLUSIVE" in render_table(report)


def test_binary_single_epoch_uses_exact_mcnemar_and_cochran_q():
    arms = {"control": Arm(), "a": Arm(quality_shift=0.25), "b": Arm()}
    report = run(arms, 80, 1, binary=True)
    q = comparison(report, "a").quality
    assert q.test == "mcnemar_exact" and q.p == q.p_mcnemar
    assert report.omnibus.test == "cochran_q"


def test_cached_and_failed_trials_do_not_count_for_latency():
    trials = make_trials({"control": Arm(), "tight": Arm()}, n_tasks=10, epochs=2, seed=5)
    trials = [
        t._replace(cached=True, latency_s=0.001) if t.variant == "tight" else t for t in trials
    ]
    report = analyse(
        experiment=experiment(10, 2),
        variants=variants("control", "tight"),
        control="control",
        trials=trials,
        rule=DecisionRule(),
    )
    assert report.variants[1].latency.n_trials == 0
    assert report.variants[1].latency.p50 is None
    assert report.comparisons[0].guardrails["latency_p90"].status == "unclear"


def test_analysis_is_deterministic_for_a_seed():
    arms = {"control": Arm(), "tight": Arm(quality_shift=0.05)}
    assert run(arms, 25, 2, seed=4) == run(arms, 25, 2, seed=4)


def test_unknown_variant_or_control_is_a_programming_error():
    record = TrialRecord("ghost", "t", 1, 1.0, 0.1, 1.0, 0.2, None)
    with pytest.raises(ValueError, match="ghost"):
        analyse(
            experiment=experiment(1, 1),
            variants=variants("control"),
            control="control",
            trials=[record],
            rule=DecisionRule(),
        )
    with pytest.raises(ValueError, match="control"):
        analyse(
            experiment=experiment(1, 1),
            variants=variants("a"),
            control="control",
            trials=[],
            rule=DecisionRule(),
        )


def test_renderings_show_every_variant_the_verdict_and_the_simulated_banner():
    report = run({"control": Arm(), "tight": Arm(quality_shift=0.1)}, 30, 2)
    table = render_table(report)
    markdown = render_markdown(report)
    for text in (table, markdown):
        assert "SIMULATED" in text
        assert "control" in text and "tight" in text
        assert report.verdict.text in text
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("variant"))
    assert "p adj" in header and "p90 s" in header
    assert markdown.count("\n|") >= 4  # header, separator, two variants
    real = replace(report, experiment=replace(report.experiment, simulated=False))
    assert "SIMULATED" not in render_table(real)
    assert "SIMULATED" not in render_markdown(real)
