"""Concurrent publishers in separate processes never share or lose a version number."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, Cli

WRITERS = 8


def _registry(db: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "--db", db, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_eight_processes_publish_one_agent_at_once(db_url: str, tmp_path: Path) -> None:
    paths = []
    for i in range(WRITERS):
        path = tmp_path / f"v{i}.md"
        path.write_text(
            f"---\nname: racer\ndescription: Use this agent to race.\n---\nVariant {i}.\n"
        )
        paths.append(path)
    # The database is new: the writers also race to create the schema.
    procs = [_registry(db_url, "publish", str(p), "--json") for p in paths]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    refs = sorted(json.loads(out)[0]["ref"] for out, _ in outputs)
    assert refs == sorted(f"racer@{n}" for n in range(1, WRITERS + 1))

    cli = Cli(db_url, tmp_path)
    log = json.loads(cli.ok("log", "racer", "--json").stdout)
    assert [v["number"] for v in log["versions"]] == list(range(WRITERS, 0, -1))
    bodies = {
        cli.ok("show", f"racer@{n}").stdout.rsplit("\n", 2)[-2] for n in range(1, WRITERS + 1)
    }
    assert bodies == {f"Variant {i}." for i in range(WRITERS)}


def test_same_file_published_concurrently_is_stored_once(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "same.md"
    path.write_text("---\nname: twin\ndescription: Use this agent twice.\n---\nSame.\n")
    procs = [_registry(db_url, "publish", str(path), "--json") for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    statuses = sorted(json.loads(out)[0]["status"] for out, _ in outputs)
    assert statuses == ["new", "unchanged", "unchanged", "unchanged"]
