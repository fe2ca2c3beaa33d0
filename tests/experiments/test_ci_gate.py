"""``registry report --fail-on`` and ``--markdown`` as a CI job uses them, on simulated runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.analysis import analyse
from experiments.decision import DecisionRule
from experiments.render import FAIL_ON_EXIT_CODES, gate_failure, render_markdown
from tests.conftest import REPO, SEED, Cli
from tests.stats.synthetic import Arm, experiment, make_trials, variants


def _run(cli: Cli, tmp: Path, model: str, *, epochs: int, decision: str = "") -> str:
    """The seed agent against a copy on ``model`` (label alt), simulated; the experiment id."""
    cli.ok("publish", str(SEED))
    alt = tmp / "alt" / SEED.name
    alt.parent.mkdir()
    alt.write_bytes(SEED.read_bytes().replace(b"model: sonnet", f"model: {model}".encode(), 1))
    cli.ok("publish", str(alt), "--label", "alt")
    spec = tmp / "spec.yaml"
    spec.write_text(
        "name: gate\nvariants:\n  control: backend-logic-implementer@1\n"
        "  alt: backend-logic-implementer@alt\n"
        f"control: control\ntasks: {REPO / 'data' / 'tasks' / 'backend.yaml'}\n"
        f"epochs: {epochs}\nprovider: simulated\nseed: 7\n{decision}"
    )
    return str(json.loads(cli.ok("run", str(spec), "--json").stdout)["experiment"])


@pytest.fixture(scope="module")
def worse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str]:
    """haiku (the simulator's weaker model) against sonnet: significantly worse on quality."""
    tmp = tmp_path_factory.mktemp("worse")
    cli = Cli(str(tmp / "registry.db"), tmp)
    return cli, _run(cli, tmp, "haiku", epochs=4)


@pytest.fixture(scope="module")
def better(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str]:
    """fable (the strongest) against sonnet, no guardrails: a winner."""
    tmp = tmp_path_factory.mktemp("better")
    cli = Cli(str(tmp / "registry.db"), tmp)
    return cli, _run(cli, tmp, "fable", epochs=2, decision="decision:\n  guardrails: {}\n")


def test_a_significantly_worse_variant_fails_the_regression_gate(worse: tuple[Cli, str]) -> None:
    cli, exp = worse
    report = json.loads(cli.ok("report", exp, "--json").stdout)
    quality = report["comparisons"][0]["quality"]
    assert quality["diff"] < 0 and quality["p_adjusted"] < report["decision"]["alpha"]
    assert report["verdict"]["status"] != "winner"
    gated = cli("report", exp, "--fail-on", "regression")
    assert gated.exit_code == 3
    assert "verdict:" in gated.stdout  # the report is printed all the same
    assert gated.stderr.startswith("registry: fail-on regression: significantly worse than")
    assert "alt (-0.0" in gated.stderr and gated.stderr.count("\n") == 1
    assert cli("report", exp, "--fail-on", "no-winner").exit_code == 4
    # Both asked: the regression is the one reported.
    assert cli("report", exp, "--fail-on", "no-winner", "--fail-on", "regression").exit_code == 3
    assert cli("report", exp, "--json", "--fail-on", "regression").exit_code == 3


def test_a_winner_passes_both_gates(better: tuple[Cli, str]) -> None:
    cli, exp = better
    report = json.loads(cli.ok("report", exp, "--json").stdout)
    assert report["verdict"] == {**report["verdict"], "status": "winner", "winner": "alt"}
    result = cli.ok("report", exp, "--fail-on", "regression", "--fail-on", "no-winner")
    assert result.stderr == ""


def test_no_gate_asked_exits_zero_on_a_regression(worse: tuple[Cli, str]) -> None:
    cli, exp = worse
    assert cli("report", exp).exit_code == 0


def test_markdown_puts_the_verdict_first_and_links_the_compare_page(
    worse: tuple[Cli, str],
) -> None:
    cli, exp = worse
    url = "https://dash.example.com/"
    text = cli.ok("report", exp, "--markdown", "--dashboard-url", url).stdout
    verdict, table = text.index("**Verdict: "), text.index("| variant |")
    assert verdict < table
    assert f"[Compare in the dashboard](https://dash.example.com/compare?experiment={exp})" in text
    assert text.rstrip().endswith(f"compare?experiment={exp})")
    assert "Compare in the dashboard" not in cli.ok("report", exp, "--markdown").stdout


def test_dashboard_url_without_markdown_is_a_usage_error(worse: tuple[Cli, str]) -> None:
    cli, exp = worse
    result = cli("report", exp, "--dashboard-url", "http://x")
    assert result.exit_code == 2 and "--dashboard-url goes with --markdown" in result.stderr
    assert cli("report", exp, "--fail-on", "loss").exit_code == 2


def test_regressions_are_significant_after_correction_and_only_worse() -> None:
    arms = {
        "control": Arm(),
        "worse": Arm(quality_shift=-0.2),
        "slightly": Arm(quality_shift=-0.01),
        "better": Arm(quality_shift=0.2),
    }
    report = analyse(
        experiment=experiment(30, 2),
        variants=variants(*arms),
        control="control",
        trials=make_trials(arms, n_tasks=30, epochs=2, seed=3),
        rule=DecisionRule(),
        seed=3,
    )
    assert [c.variant for c in report.regressions()] == ["worse"]
    failure = gate_failure(report, ["regression"])
    assert failure is not None and failure[0] == FAIL_ON_EXIT_CODES["regression"] == 3
    assert "worse (-" in failure[1] and "slightly" not in failure[1]
    assert gate_failure(report, []) is None
    assert render_markdown(report).index("**Verdict") < render_markdown(report).index("| variant")
