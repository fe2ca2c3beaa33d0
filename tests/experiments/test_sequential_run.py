"""Sequential runs through the CLI with the simulated provider: the bundled agent against its
``checklist`` variant, which wins by a wide margin in the demo (experiments/demo.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, Cli

AGENT = REPO / "data" / "agents" / "backend-logic-implementer.md"
SPEC = f"""\
name: sequential
variants:
  control: backend-logic-implementer@1
  checklist: backend-logic-implementer@checklist
control: control
tasks: {REPO / "data" / "tasks" / "backend.yaml"}
epochs: 3
provider: simulated
seed: 7
"""


def _setup(cli: Cli, tmp_path: Path, extra: str) -> Path:
    cli.ok("publish", str(AGENT), "--label", "production")
    cli.ok("publish", str(REPO / "data" / "variants" / "checklist.yaml"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC + extra)
    return spec


def test_a_large_effect_stops_early_completed_and_reported(cli: Cli, tmp_path: Path) -> None:
    spec = _setup(cli, tmp_path, "")
    run = json.loads(cli.ok("run", str(spec), "--sequential", "--json").stdout)
    assert run["status"] == "completed" and run["trials"] < run["total"]
    assert run["note"].startswith("sequential: stopped at look 2 with 16 of 28 tasks")
    assert "verdict winner: checklist beats control" in run["note"]

    report = json.loads(cli.ok("report", str(run["experiment"]), "--json").stdout)
    sequential = report["sequential"]
    assert [look["tasks"] for look in sequential["looks"]] == [8, 16]
    assert [look["status"] for look in sequential["looks"]] == ["inconclusive", "winner"]
    assert sequential["stopped_at"] == 2 and sequential["alpha"] == 0.05
    assert sequential["looks"][-1]["nominal_alpha"] == report["decision"]["alpha"] < 0.05
    assert 0 < sequential["cost_usd"] < sequential["full_cost_usd"]
    assert sequential["saved_share"] == round(1 - 16 / 28, 6)
    assert report["verdict"]["status"] == "winner" and report["missing"]["total"] == 0

    text = cli.ok("report", str(run["experiment"])).stdout
    assert "sequential: 2 looks, stopped at look 2: the verdict is winner" in text
    assert "| 2 (stopped) | 16/28 |" in cli.ok("report", "1", "--markdown").stdout
    # resumed, a decided run runs nothing more and stays completed
    again = json.loads(cli.ok("run", str(spec), "--resume", "1", "--json").stdout)
    assert again["status"] == "completed" and again["trials"] == run["trials"]


def test_resume_keeps_the_looks_and_spends_from_where_they_left(cli: Cli, tmp_path: Path) -> None:
    # Without the p90 latency guardrail, which few tasks cannot prove within its margin.
    spec = _setup(
        cli, tmp_path, "sequential: {batch_tasks: 8}\ndecision: {guardrails: {cost: 0.2}}\n"
    )
    first = json.loads(cli.ok("run", str(spec), "--json", "--max-cost", "0.6").stdout)
    assert first["status"] == "stopped" and first["note"].startswith("budget")
    looks = json.loads(cli.ok("report", "1", "--json").stdout)["sequential"]["looks"]
    assert [look["tasks"] for look in looks] == [8, 10]

    resumed = json.loads(
        cli.ok("run", str(spec), "--resume", "1", "--max-cost", "20", "--json").stdout
    )
    assert resumed["status"] == "completed" and "stopped at look 3" in resumed["note"]
    sequential = json.loads(cli.ok("report", "1", "--json").stdout)["sequential"]
    assert sequential["looks"][:2] == looks  # kept as they were taken
    assert [look["tasks"] for look in sequential["looks"]] == [8, 10, 18]
    spent = [look["spent_alpha"] for look in sequential["looks"]]
    assert spent == sorted(spent) and spent[-1] < 0.025


def test_no_sequential_overrides_the_spec_and_batch_refuses_it(cli: Cli, tmp_path: Path) -> None:
    spec = _setup(cli, tmp_path, "sequential: true\n")
    result = cli("run", str(spec), "--batch", "--json")
    assert result.exit_code == 2 and "sequential run cannot stop early" in result.stderr
    fixed = json.loads(cli.ok("run", str(spec), "--no-sequential", "--json").stdout)
    assert fixed["status"] == "completed" and fixed["trials"] == fixed["total"]
    assert json.loads(cli.ok("report", "1", "--json").stdout)["sequential"] is None


def test_a_decided_run_keeps_its_failed_trials_on_resume(cli: Cli, tmp_path: Path) -> None:
    """Its failures are part of the evidence it decided on: a resume neither drops nor reruns
    them."""
    import sqlite3

    from registry.database import database_url, sqlite_path

    spec = _setup(cli, tmp_path, "")
    run = json.loads(cli.ok("run", str(spec), "--sequential", "--json").stdout)
    path = sqlite_path(database_url(cli.db))
    if path is None:
        return  # the failed rows are planted with sqlite3: the SQLite run covers it
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE trial SET error = 'timeout' WHERE id IN "
            "(SELECT id FROM trial WHERE variant = 'checklist' LIMIT 3)"
        )
    again = json.loads(cli.ok("run", str(spec), "--resume", "1", "--json").stdout)
    assert again["status"] == "completed" and again["trials"] == run["trials"]
    with sqlite3.connect(path) as conn:
        failed = conn.execute("SELECT count(*) FROM trial WHERE error IS NOT NULL").fetchone()[0]
    assert failed == 3


def test_resume_refuses_to_change_the_design(cli: Cli, tmp_path: Path) -> None:
    spec = _setup(cli, tmp_path, "max_cost_usd: 0.2\n")
    first = json.loads(cli.ok("run", str(spec), "--sequential", "--json").stdout)
    result = cli("run", str(spec), "--resume", str(first["experiment"]), "--no-sequential")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "was run sequentially" in result.stderr and "without --no-sequential" in result.stderr
    fixed = json.loads(cli.ok("run", str(spec), "--no-sequential", "--json").stdout)
    refused = cli("run", str(spec), "--resume", str(fixed["experiment"]), "--sequential")
    assert refused.exit_code == 1 and "was run as a fixed design" in refused.stderr
