"""`registry export --winner`: the exact version that won, written whole, and the label moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.database import Database, database_url
from registry.store import Registry
from tests.conftest import Cli

AGENT = "backend-logic-implementer"


def _experiment(cli: Cli, *, tasks: int, epochs: int, name: str) -> int:
    """A completed simulated experiment stored directly (4 arms; "tight" is better by design)."""
    from bench.synthetic import build_experiment

    db = Database(database_url(cli.db))
    try:
        return build_experiment(db, tasks=tasks, epochs=epochs, name=name)
    finally:
        db.dispose()


@pytest.fixture
def decided(sqlite_cli: Cli) -> int:
    return _experiment(sqlite_cli, tasks=40, epochs=5, name="decided")


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_no_winner_writes_nothing(sqlite_cli: Cli, tmp_path: Path) -> None:
    exp = _experiment(sqlite_cli, tasks=2, epochs=1, name="undecided")
    result = sqlite_cli("export", "--winner", str(exp), "-o", "out/", "--label", "production")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: error: experiment {exp} has no winner, nothing written: "
        + json.loads(sqlite_cli.ok("report", str(exp), "--json").stdout)["verdict"]["text"]
    ]
    assert result.stdout == ""
    assert _files(tmp_path / "out") == []
    log = json.loads(sqlite_cli.ok("log", AGENT, "--json").stdout)
    assert [m["label"] for m in log["label_moves"] if m["label"] == "production"] == []


def test_a_bad_label_writes_nothing(sqlite_cli: Cli, decided: int, tmp_path: Path) -> None:
    result = sqlite_cli("export", "--winner", str(decided), "-o", "out/", "--label", "Not A Label")
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and "'Not A Label'" in result.stderr
    assert _files(tmp_path / "out") == []
    assert not (tmp_path / "out").exists()


def test_the_winner_is_written_byte_for_byte_and_labelled(
    sqlite_cli: Cli, decided: int, tmp_path: Path
) -> None:
    result = sqlite_cli.ok("export", "--winner", "decided", "-o", "out/", "--label", "production")
    db = Database(database_url(sqlite_cli.db))
    try:
        registry = Registry(db)
        tight = registry.info(f"{AGENT}@tight")
        expected = registry.source(f"{AGENT}@{tight.number}")
    finally:
        db.dispose()
    written = tmp_path / "out" / f"{AGENT}.md"
    assert _files(tmp_path / "out") == [f"{AGENT}.md"]  # no temporary file left behind
    assert written.read_bytes() == expected
    assert f"({AGENT}@{tight.number}, variant tight)" in result.stderr
    log = json.loads(sqlite_cli.ok("log", AGENT, "--json").stdout)
    move = log["label_moves"][0]
    assert (move["label"], move["to_number"]) == ("production", tight.number)
    assert move["reason"].startswith(f"winner of experiment {decided}: tight beats control")


def test_the_winner_to_stdout(sqlite_cli: Cli, decided: int) -> None:
    shown = sqlite_cli.ok("show", f"{AGENT}@tight").stdout_bytes
    assert sqlite_cli.ok("export", "--winner", str(decided)).stdout_bytes == shown
