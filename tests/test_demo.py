"""`registry demo`: the whole loop offline, end to end, on a fresh machine's defaults."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli


def test_demo_runs_the_whole_loop_and_ships_the_winner(tmp_path: Path) -> None:
    cli = Cli(str(tmp_path / "ignored.db"), tmp_path)  # the demo makes its own database
    result = cli.ok("demo", "--dir", "demo")
    out = result.stdout
    for step in (
        "1. Publish",
        "2. Derive",
        "3. What the checklist",
        "4. Run",
        "5. The report",
        "6. Export",
        "7. Does Claude pick the agent?",
        "8. The delegation report",
        "9. What does the agent build?",
        "10. The agentic report",
    ):
        assert step in out
    assert "SIMULATED" in out
    assert "verdict: WINNER: checklist" in out
    assert "checklist vs control:" in out and "position bias" in out  # the pairwise judge ran
    exported = tmp_path / "demo" / "agents" / "backend-logic-implementer.md"
    assert exported.is_file()
    assert "registry --db demo/registry.db dashboard" in out

    demo_db = Cli(str(tmp_path / "demo" / "registry.db"), tmp_path)
    assert demo_db.ok("show", "backend-logic-implementer@candidate").stdout_bytes == (
        exported.read_bytes()
    )
    assert b"Passwords: a slow adaptive hash" in exported.read_bytes()
    listed = json.loads(demo_db.ok("experiments", "--json").stdout)
    assert [(e["name"], e["status"], e["trials"]) for e in listed] == [
        ("demo-agentic", "completed", 2 * 10),  # newest first
        ("demo-delegation", "completed", 2 * 58 * 3),
        ("demo-backend", "completed", 3 * 28 * 3),
    ]
    # The delegation report: routing figures of both variants, and what changed between them.
    delegation = json.loads(demo_db.ok("report", "demo-delegation", "--json").stdout)
    assert [v["label"] for v in delegation["variants"]] == ["control", "better-examples"]
    for variant in delegation["variants"]:
        assert variant["quality"]["mean"] == variant["delegation"]["accuracy"]["rate"]
        assert 0 < variant["delegation"]["recall"]["rate"] < 1
    assert delegation["delegation"]["changed"]
    assert "routed correctly" in out and "requests that changed:" in out
    # The agentic report: every session ran the shipped suite's checks, and the sessions table.
    agentic = json.loads(demo_db.ok("report", "demo-agentic", "--json").stdout)
    assert agentic["agentic"]["runtime"] == "simulated"
    for variant in agentic["variants"]:
        figures = variant["agentic"]
        assert figures["sessions"] == 10 and figures["ended"] == {"finished": 10}
        assert 0.5 < figures["checks_passed"] <= 1 and figures["mean_turns"] > 0
    assert "agentic sessions: run by simulated" in out
    log = json.loads(demo_db.ok("log", "backend-logic-implementer", "--json").stdout)
    reasons = [m["reason"] or "" for m in log["label_moves"] if m["label"] == "candidate"]
    assert reasons and reasons[0].startswith("winner of experiment 1")

    again = cli.ok("demo", "--dir", "demo")  # a second demo starts from a fresh database
    assert "backend-logic-implementer@1  new" in again.stdout
