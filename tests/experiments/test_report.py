"""The typed report: its comparison table, and its JSON (the contract in DESIGN.md)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from experiments.analysis import analyse
from experiments.comparison_table import comparison_rows
from experiments.decision import DecisionRule
from experiments.report import Report
from experiments.reporting import build_report
from registry.database import Database, database_url
from tests.conftest import REPO, Cli
from tests.dashboard.conftest import run_experiment
from tests.stats.synthetic import Arm, experiment, make_trials, variants


def crafted() -> Report:
    arms = {"control": Arm(), "tight": Arm(quality_shift=0.1), "broken": Arm(fail_rate=1.0)}
    return analyse(
        experiment=experiment(30, 2),
        variants=variants(*arms),
        control="control",
        trials=make_trials(arms, n_tasks=30, epochs=2, seed=2),
        rule=DecisionRule(),
        seed=2,
    )


def test_comparison_rows_put_each_variants_figures_next_to_its_comparison() -> None:
    report = crafted()
    control, tight, broken = comparison_rows(report)
    assert [r.variant for r in (control, tight, broken)] == ["control", "tight", "broken"]
    assert control.is_control and not tight.is_control
    assert (control.diff, control.diff_ci, control.p, control.p_adjusted) == (None,) * 4
    assert control.cost_ratio is None
    summary, comparison = report.variants[1], report.comparison("tight")
    assert comparison is not None
    assert (tight.quality, tight.quality_ci) == (summary.quality.mean, summary.quality.ci)
    assert (tight.diff, tight.diff_ci) == (comparison.quality.diff, comparison.quality.ci)
    assert (tight.p, tight.p_adjusted) == (comparison.quality.p, comparison.quality.p_adjusted)
    assert (tight.cost_per_task, tight.cost_ratio) == (summary.cost.mean, comparison.cost.ratio)
    assert (tight.latency_p50, tight.latency_p90) == (summary.latency.p50, summary.latency.p90)
    assert (tight.trials, tight.errors) == (60, 0)
    # Every trial of broken failed: it is listed, with nothing to compare.
    assert broken.errors == 60 and broken.diff is None and broken.p is None


# registry report --json as DESIGN.md's contract shows it ("prints at least"): every key here
# must be in a real report, with a value of the same JSON kind (or null where one may be missing).
DOCUMENTED = {
    "experiment": {"id": 1, "name": "backend-wording", "provider": "simulated", "tasks": 24,
                   "epochs": 3},
    "control": "control",
    "variants": [{"label": "control", "ref": "backend-logic-implementer@1", "trials": 72,
                  "errors": 0, "quality": {"mean": 0.61, "ci": [0.55, 0.67]},
                  "cost": {"mean": 0.0123}, "latency": {"p50": 4.1, "p90": 7.9}}],
    "comparisons": [{"variant": "tight", "vs": "control",
                     "quality": {"diff": 0.08, "ci": [0.02, 0.14], "p": 0.011,
                                 "p_adjusted": 0.011}}],
    "verdict": {"status": "winner", "winner": "tight", "text": "..."},
}  # fmt: skip
NULLABLE = {"verdict.winner"}

# Every key the report has printed, in its order: a renamed or moved field shows here.
KEYS = {
    "": ["experiment", "control", "decision", "variants", "comparisons", "omnibus", "power",
         "missing", "verdict", "pairwise", "delegation", "agentic", "sequential"],
    "experiment": ["id", "name", "provider", "simulated", "status", "tasks", "epochs", "suite",
                   "created_at"],
    "decision": ["primary", "alpha", "guardrails", "guardrail_confidence", "effect_of_interest",
                 "guardrail_mode"],
    "variants[]": ["label", "ref", "trials", "errors", "quality", "cost", "latency", "model",
                   "model_alias", "delegation", "agentic", "quality_paired"],
    "variants[].quality": ["mean", "se", "ci", "n_tasks", "ci_method"],
    "variants[].cost": ["mean", "total", "n_tasks"],
    "variants[].latency": ["p50", "p90", "n_trials"],
    "comparisons[]": ["variant", "vs", "n_tasks", "epochs", "quality", "cost", "latency",
                      "guardrails", "failures"],
    "comparisons[].quality": ["diff", "se", "ci", "p", "p_adjusted", "test", "p_t",
                              "p_permutation", "permutation_method", "p_wilcoxon",
                              "wilcoxon_method", "p_mcnemar", "discordant", "correlation",
                              "control_mean", "control_se", "variant_mean", "variant_se", "mde",
                              "tasks_needed", "epochs_needed", "equivalence_ci",
                              "p_equivalence", "equivalent"],
    "comparisons[].cost": ["n_tasks", "control_mean", "variant_mean", "diff", "ci", "ratio",
                           "ratio_ci", "ratio_upper", "ratio_method", "bootstrap_ci",
                           "bootstrap_ratio_ci"],
    "comparisons[].latency": ["p50_diff", "p50_ci", "p50_ratio", "p50_ratio_upper", "p90_diff",
                              "p90_ci", "p90_ratio", "p90_ratio_upper", "method"],
    "comparisons[].guardrails.cost": ["margin", "ratio", "lower", "upper", "status"],
    "comparisons[].failures": ["cells", "control_missing", "variant_missing", "discordant", "p",
                               "higher"],
    "power": ["target_power", "alpha", "alpha_per_comparison", "effect_of_interest", "n_tasks",
              "epochs", "tasks_needed", "epochs_needed", "min_tasks"],
    "missing": ["total", "expected_per_variant", "by_variant", "policy", "sensitivity"],
    "missing.by_variant.control": ["expected", "graded", "missing", "errors", "ungraded",
                                   "not_run"],
    "verdict": ["status", "winner", "text"],
    "pairwise": ["grading_run", "control", "variants", "position_bias"],
    "pairwise.variants[]": ["variant", "vs", "pairs", "wins", "ties", "losses", "errors",
                            "win_rate", "preference", "flip_rate"],
    "pairwise.position_bias": ["pairs", "flipped", "flip_rate", "first_position_share"],
}  # fmt: skip


def at(value: Any, path: str) -> Any:
    """The value at a KEYS path ("a.b", "a[]" for a list's first element)."""
    for part in filter(None, path.split(".")):
        key, listed = part.removesuffix("[]"), part.endswith("[]")
        value = value[key][0] if listed else value[key]
    return value


def kind(value: Any) -> str:
    """The JSON kind of a parsed value: an integer and a fraction are both numbers."""
    return "number" if type(value) in (int, float) else type(value).__name__


def undocumented(documented: Any, actual: Any, path: str = "") -> list[str]:
    """The documented keys a report lacks, or whose value is of another JSON kind."""
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [path]
        problems = []
        for key, value in documented.items():
            where = f"{path}.{key}" if path else key
            problems += undocumented(value, actual[key], where) if key in actual else [where]
        return problems
    if isinstance(documented, list) and isinstance(documented[0], dict):
        if not isinstance(actual, list) or not actual:
            return [path]
        return [p for item in actual for p in undocumented(documented[0], item, path + "[]")]
    if actual is None and path in NULLABLE:
        return []
    return [] if kind(documented) == kind(actual) else [path]


def test_report_json_round_trips_the_documented_keys(sqlite_cli: Cli, tmp_path: Path) -> None:
    exp = run_experiment(sqlite_cli, tmp_path)
    (tmp_path / "judges.yaml").write_text("- {type: pairwise, model: haiku}\n")
    sqlite_cli.ok("grade", str(exp), "--graders", "judges.yaml")
    printed = json.loads(sqlite_cli.ok("report", str(exp), "--json").stdout)

    db = Database(database_url(sqlite_cli.db))
    try:
        report = build_report(db, exp)
    finally:
        db.dispose()
    assert printed == report.to_json()  # what --json prints is the typed report, unchanged
    assert json.loads(json.dumps(report.to_json(), allow_nan=False)) == printed
    assert undocumented(DOCUMENTED, printed) == []
    for path, keys in KEYS.items():
        assert list(at(printed, path)) == keys, path
    # and back: the figures read by attribute are the ones printed
    assert printed["verdict"]["text"] == report.verdict.text
    assert printed["comparisons"][0]["quality"]["p_adjusted"] == (
        report.comparisons[0].quality.p_adjusted
    )
    assert printed["variants"][1]["model"] == report.variants[1].model == "claude-haiku-5-5"
    assert printed["pairwise"]["variants"][0]["variant"] == "cheap"
    assert printed["verdict"]["status"] in ("winner", "no_difference", "inconclusive")
    assert printed["verdict"]["winner"] is None or printed["verdict"]["status"] == "winner"


def test_omnibus_json_names_its_test_and_variants() -> None:
    arms = {"control": Arm(), "a": Arm(quality_shift=0.1), "b": Arm()}
    report = analyse(
        experiment=experiment(20, 2),
        variants=variants(*arms),
        control="control",
        trials=make_trials(arms, n_tasks=20, epochs=2, seed=3),
        rule=DecisionRule(),
    )
    omnibus = report.to_json()["omnibus"]
    assert list(omnibus) == ["test", "statistic", "df", "p", "n_tasks", "variants"]
    assert omnibus["variants"] == ["control", "a", "b"]


def test_to_json_gives_lists_and_null_for_figures_that_are_not_finite() -> None:
    report = crafted()
    odd = replace(report, power=replace(report.power, alpha=math.nan, effect_of_interest=math.inf))
    power = odd.to_json()["power"]
    assert power["alpha"] is None and power["effect_of_interest"] is None
    ci = odd.to_json()["variants"][0]["quality"]["ci"]
    assert isinstance(ci, list) and ci == list(report.variants[0].quality.ci)


def test_report_figures_have_six_significant_digits() -> None:
    q = crafted().comparisons[0].quality
    for figure in (q.diff, q.p, q.se, q.mde, *q.ci):
        assert figure == float(f"{figure:.6g}")


def test_the_report_types_import_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import experiments.report, experiments.comparison_table\n"
        "heavy = ('numpy', 'pandas', 'sqlalchemy', 'sqlmodel', 'experiments.analysis')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == ""
