"""Bad input through the CLI: one clear line on stderr, exit 1, and nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli

GOOD = b"---\nname: good-agent\ndescription: Use this agent for good work.\n---\nBody.\n"

CASES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "empty"),
    ("binary", b"---\nname: x\x00\x01\n---\n", "binary"),
    ("latin1", "---\nname: caf\xe9\ndescription: d\n---\n".encode("latin-1"), "UTF-8"),
    ("no-frontmatter", b"# Just markdown\n\nNo frontmatter here.\n", "frontmatter"),
    (
        "never-closed",
        b"---\nname: open-agent\ndescription: d\nBody without a closing line\n",
        "never closed",
    ),
    ("no-name", b"---\ndescription: Does things.\n---\nBody\n", "name"),
    ("no-description", b"---\nname: lonely\n---\nBody\n", "description"),
    ("bad-name", b"---\nname: Not_Valid Name\ndescription: d\n---\nBody\n", "name"),
    ("too-big", b"---\nname: big\ndescription: d\n---\n" + b"x" * 2_000_000, "large"),
]


def _stored(cli: Cli) -> list[dict[str, object]]:
    return json.loads(cli.ok("list", "--json").stdout)


@pytest.mark.parametrize(("case", "data", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_refused_and_nothing_is_written(
    sqlite_cli: Cli, tmp_path: Path, case: str, data: bytes, message: str
) -> None:
    good = tmp_path / "agents" / "good.md"
    bad = tmp_path / "agents" / f"{case}.md"
    good.parent.mkdir()
    good.write_bytes(GOOD)
    bad.write_bytes(data)
    result = sqlite_cli("publish", str(tmp_path / "agents"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("registry: error: ")
    assert str(bad) in lines[0] and message.lower() in lines[0].lower()
    assert _stored(sqlite_cli) == []  # the good file in the same folder was not published either


def test_missing_path_and_empty_folder(sqlite_cli: Cli, tmp_path: Path) -> None:
    result = sqlite_cli("publish", str(tmp_path / "nope.md"))
    assert result.exit_code == 1 and "no such file" in result.stderr
    (tmp_path / "empty").mkdir()
    result = sqlite_cli("publish", str(tmp_path / "empty"))
    assert result.exit_code == 1 and "no .md agent files" in result.stderr


def test_two_files_with_one_name_are_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.md").write_bytes(GOOD)
    (tmp_path / "a" / "two.md").write_bytes(GOOD.replace(b"Body.", b"Other body."))
    result = sqlite_cli("publish", str(tmp_path / "a"))
    assert result.exit_code == 1 and "both define agent 'good-agent'" in result.stderr
    assert _stored(sqlite_cli) == []


def test_database_path_that_is_a_folder(tmp_path: Path) -> None:
    cli = Cli(str(tmp_path), tmp_path)
    result = cli("list")
    assert result.exit_code == 1 and "is a folder" in result.stderr


def test_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    cli = Cli("postgresql://nobody:secret@127.0.0.1:1/none", tmp_path)
    result = cli("list")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot open the registry database" in result.stderr
    assert "secret" not in result.stderr


def test_not_a_registry_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    result = Cli(str(junk), tmp_path)("list")
    assert result.exit_code == 1 and "cannot open the registry database" in result.stderr
    assert junk.read_bytes() == b"this is not sqlite" * 100
