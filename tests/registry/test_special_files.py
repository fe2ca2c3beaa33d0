"""Files a spec names are read only when regular and bounded: devices fail fast, in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.files import read_regular_file
from tests.conftest import SEED, Cli

DEVICES = ["/dev/zero", "/dev/urandom"]


@pytest.mark.parametrize("device", DEVICES)
def test_body_from_a_device(sqlite_cli: Cli, tmp_path: Path, device: str) -> None:
    sqlite_cli.ok("publish", str(SEED))
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"base: backend-logic-implementer@1\nlabel: dev\nwording:\n  - body_from: {device}\n"
    )
    assert "not a regular file" in sqlite_cli.one_error_line("publish", str(spec))
    line = sqlite_cli.one_error_line(
        "derive", "backend-logic-implementer@1", "--label", "d", "--body-from", device
    )
    assert "not a regular file" in line
    assert [v["number"] for v in _versions(sqlite_cli)] == [1]


def _versions(cli: Cli) -> list[dict[str, object]]:
    import json

    return json.loads(cli.ok("log", "backend-logic-implementer", "--json").stdout)["versions"]


@pytest.mark.parametrize("device", DEVICES)
def test_tasks_from_a_device(sqlite_cli: Cli, tmp_path: Path, device: str) -> None:
    sqlite_cli.ok("publish", str(SEED))
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: e\nvariants:\n  a: backend-logic-implementer@1\n  b: backend-logic-implementer@1\n"
        f"control: a\ntasks: {device}\nprovider: simulated\n"
    )
    assert "not a regular file" in sqlite_cli.one_error_line("run", str(spec), "--dry-run")


def test_an_experiment_spec_that_is_a_device(sqlite_cli: Cli) -> None:
    assert "not a regular file" in sqlite_cli.one_error_line("run", "/dev/zero", "--dry-run")


def test_regular_files_over_the_bound_and_fifos(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * 11)
    assert read_regular_file(big, 11) == b"x" * 11
    with pytest.raises(OSError, match="larger than the 10-byte limit"):
        read_regular_file(big, 10)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        read_regular_file(fifo, 10)  # returns at once: no writer is waited for


@pytest.mark.parametrize("command", ["publish", "lint"])
def test_an_agent_path_that_is_a_device_or_a_fifo(
    sqlite_cli: Cli, tmp_path: Path, command: str
) -> None:
    fifo = tmp_path / "agent.md"
    os.mkfifo(fifo)
    for path in ("/dev/null", str(fifo)):
        line = sqlite_cli.one_error_line(command, path)
        assert line == f"registry: error: {path}: not a regular file or a folder"
    missing = tmp_path / "gone.md"
    assert sqlite_cli.one_error_line(command, str(missing)).endswith(": no such file or folder")
