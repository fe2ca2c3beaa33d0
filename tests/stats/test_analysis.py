"""Crafted experiments through ``analyse``: the verdict, the contract fields and the renderings."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import pytest

from core.errors import SpecError
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


# ---------------------------------------------------------------- issue 12's corners


def _crafted(quality: dict[str, list[float | None]], *, rule=None):
    """One epoch per task, quality as given (None: the trial failed), same cost and latency."""
    n_tasks = len(next(iter(quality.values())))
    trials = [
        TrialRecord(
            label,
            f"task-{task}",
            1,
            score,
            None if score is None else 0.01,
            None if score is None else 2.0 + task / 10,
            None,
            None if score is not None else "timeout",
        )
        for label, scores in quality.items()
        for task, score in enumerate(scores)
    ]
    return analyse(
        experiment=experiment(n_tasks, 1),
        variants=variants(*quality),
        control="control",
        trials=trials,
        rule=rule or DecisionRule(),
    )


@pytest.mark.parametrize("n_tasks", [4, 5])
def test_a_design_that_cannot_reach_significance_is_never_no_difference(n_tasks):
    # +0.30 on every task (an interval of +0.30 to +0.30): the sign-flip test cannot go below
    # 2/2^n, which used to read as "no difference... any real gain is smaller than 0.05".
    control = [0.2 + 0.1 * i for i in range(n_tasks)]
    report = _crafted({"control": control, "tight": [q + 0.3 for q in control]})
    q = comparison(report, "tight").quality
    assert report.verdict.status == "inconclusive"
    assert q.mde is None and not q.equivalent
    assert "cannot reach p<0.05 at all" in report.verdict.text
    assert "at least 6 tasks are needed" in report.verdict.text
    assert report.power.min_tasks == 6


def test_two_tied_tasks_report_no_minimum_detectable_effect():
    report = _crafted({"control": [0.5, 0.7], "tight": [0.5, 0.7]})
    q = comparison(report, "tight").quality
    assert q.mde is None and q.tasks_needed is None
    assert report.verdict.status == "inconclusive"
    assert "detect differences of 0.00" not in report.verdict.text
    assert "at least 6 tasks are needed" in report.verdict.text


def test_tasks_needed_never_suggests_a_design_that_cannot_reach_significance():
    report = run({"control": Arm(), "tight": Arm(quality_shift=0.3)}, 4, 1)
    assert report.power.tasks_needed is None or report.power.tasks_needed >= 6
    for c in report.comparisons:
        assert c.quality.tasks_needed is None or c.quality.tasks_needed >= 6


def test_a_variant_significantly_worse_is_never_no_difference_and_the_control_wins():
    report = run({"control": Arm(), "tight": Arm(quality_shift=-0.1)}, 40, 3)
    assert comparison(report, "tight").quality.p_adjusted < 0.05
    assert report.verdict.status == "winner" and report.verdict.winner == "control"
    assert report.verdict.text.startswith("control beats every variant on quality: tight by -0.")
    # With a second variant that is as good as the control, nobody wins, and it says why.
    arms = {"control": Arm(), "worse": Arm(quality_shift=-0.1), "same": Arm()}
    report = run(arms, 200, 3)
    assert report.verdict.status == "inconclusive"
    assert "significantly worse: worse by -0.1" in report.verdict.text
    assert "within +/-0.05 of it: same" in report.verdict.text


def test_failures_that_go_with_bad_answers_cannot_make_a_winner():
    # Issue 12's case: on pass/fail trials, one variant times out on half of the trials it
    # would have failed; left out, they made it the winner at +0.16 (p<0.001).
    arms = {"control": Arm(), "flaky": Arm(fail_when_bad=0.5)}
    report = run(arms, 90, 5, binary=True)
    c = comparison(report, "flaky")
    assert c.quality.diff > 0.1 and c.quality.p_adjusted < 0.05  # what used to win
    assert c.failures.higher and c.failures.control_missing == 0
    assert report.verdict.status == "inconclusive" and report.verdict.winner is None
    assert "failed or ungraded trials are significantly more frequent" in report.verdict.text
    sensitivity = report.missing.sensitivity
    assert sensitivity is not None and sensitivity.winner is None
    table = render_table(report)
    assert "sensitivity: with the 106 failed or ungraded trials scored 0" in table
    assert "106/450" in table


def test_equal_failures_block_nothing_and_a_complete_run_has_no_sensitivity():
    report = run({"control": Arm(), "tight": Arm(quality_shift=0.1)}, 40, 3)
    assert not comparison(report, "tight").failures.higher
    assert report.missing.sensitivity is None


def test_quality_intervals_stay_in_0_1_and_the_table_is_on_the_paired_tasks():
    report = _crafted({"control": [0.0, 1.0, 1.0, 0.9], "tight": [0.1, 0.9, 1.0, None]})
    for v in report.variants:
        for arm in (v.quality, v.quality_paired):
            assert 0.0 <= arm.ci[0] <= arm.ci[1] <= 1.0
    control = report.variants[0]
    assert control.quality.n_tasks == 4 and control.quality_paired.n_tasks == 3
    assert control.quality_paired.mean == pytest.approx(2 / 3)
    assert comparison(report, "tight").quality.control_mean == pytest.approx(2 / 3)
    table = render_table(report)
    assert "on its own 4 tasks (unpaired) control has 0.725" in table


def test_the_default_guardrails_block_only_shown_harm_and_prove_is_stricter():
    # p90 latency 20% higher: not shown to exceed the +30% limit, nor to stay within it.
    arms = {"control": Arm(), "tight": Arm(quality_shift=0.1, latency_factor=1.2)}
    harm = run(arms, 40, 3)
    assert harm.decision.guardrail_mode == "harm"
    assert comparison(harm, "tight").guardrails["latency_p90"].status == "unclear"
    assert harm.verdict.winner == "tight"
    assert (
        "Its p90 latency (+" in harm.verdict.text and "nor shown to exceed it" in harm.verdict.text
    )
    prove = run(arms, 40, 3, rule=parse_decision({"guardrail_mode": "prove"}))
    assert prove.verdict.status == "inconclusive"
    assert "is not shown to stay within the limit +30%" in prove.verdict.text
    # A regression of twice the margin is blocked either way.
    arms = {"control": Arm(), "slow": Arm(quality_shift=0.1, latency_factor=1.6)}
    assert run(arms, 40, 3).verdict.status == "inconclusive"


def test_an_unknown_guardrail_mode_is_a_spec_error():
    with pytest.raises(SpecError, match="guardrail_mode"):
        parse_decision({"guardrail_mode": "lenient"})
