"""Another application's database is never changed; a read-only registry can still be read."""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SEED, Cli

NAME = "backend-logic-implementer"


def _other_app(path: Path) -> bytes:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("INSERT INTO users (email) VALUES ('a@example.com')")
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    "args",
    [("list",), ("log", NAME), ("show", NAME), ("diff", f"{NAME}@1", "@2"), ("export", NAME),
     ("publish", str(SEED)), ("label", f"{NAME}@1", "x")],
    ids=" ".join,
)  # fmt: skip
def test_another_applications_database_is_refused_unchanged(
    sqlite_cli: Cli, args: tuple[str, ...]
) -> None:
    path = Path(sqlite_cli.db)
    before = _other_app(path)
    result = sqlite_cli(*args)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: error: {path} is not a registry database (it has other tables: users); "
        "nothing was changed"
    ]
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name)) == [
        path.name
    ]


def test_an_empty_file_reads_as_an_empty_registry_and_stays_empty(sqlite_cli: Cli) -> None:
    path = Path(sqlite_cli.db)
    path.write_bytes(b"")
    assert sqlite_cli.ok("list").stdout == "no agents yet: registry publish PATH\n"
    assert sqlite_cli("log", NAME).stderr == f"registry: error: no agent named {NAME!r}\n"
    assert path.read_bytes() == b""


def _read_only_runner(folder: Path) -> list[str]:
    """A shell prefix that runs a command with ``folder`` read-only (even for root)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        for file in folder.iterdir():
            file.chmod(0o444)
        return []
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && "
         f"mount -o remount,bind,ro {folder}"],
        capture_output=True,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip("cannot make a read-only mount here (root without unshare)")
    mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec"
    return ["unshare", "-m", "sh", "-c", f'{mount} "$@"', "sh"]


@pytest.mark.parametrize(
    "args",
    [("list",), ("log", NAME), ("show", NAME), ("diff", f"{NAME}@1", "@2"), ("export", NAME)],
    ids=" ".join,
)  # fmt: skip
def test_a_read_only_registry_can_be_read(tmp_path: Path, args: tuple[str, ...]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    changed = tmp_path / "changed.md"
    changed.write_bytes(SEED.read_bytes() + b"\nMore.\n")
    registry = [sys.executable, "-m", "registry.cli", "--db", str(folder / "registry.db")]
    # A process of its own, so that the WAL files are gone once it ends, as after any session.
    for source in (SEED, changed):
        subprocess.run([*registry, "publish", str(source)], cwd=REPO, check=True)
    assert [p.name for p in folder.iterdir()] == ["registry.db"]
    prefix = _read_only_runner(folder)
    command = [*registry, *args]
    result = subprocess.run([*prefix, *command], cwd=REPO, capture_output=True, timeout=60)
    assert result.returncode == 0, (shlex.join(command), result.stderr)
    assert result.stderr == b"" and result.stdout
