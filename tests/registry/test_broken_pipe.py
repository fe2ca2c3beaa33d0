"""A reader that goes away (``registry log NAME | head -1``) ends any command quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry.cli import EXIT_BROKEN_PIPE
from tests.conftest import REPO, SEED, Cli

NAME = "backend-logic-implementer"


@pytest.mark.parametrize(
    "args",
    [
        ("list",),
        ("list", "--json"),
        ("log", NAME),
        ("log", NAME, "--json"),
        ("show", NAME),
        ("show", NAME, "--json"),
        ("export", NAME),
        ("diff", f"{NAME}@1", "@2"),
        ("--help",),
        ("log", "--help"),
    ],
    ids=" ".join,
)
def test_a_closed_pipe_ends_the_command_quietly(
    sqlite_cli: Cli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    changed = tmp_path / "changed.md"
    changed.write_bytes(SEED.read_bytes() + b"\nOne more line.\n" * 200)
    sqlite_cli.ok("publish", str(changed))
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "--db", sqlite_cli.db, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the command writes a byte
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert stderr == b""
