"""Control characters from files and the database are printed visibly, never obeyed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.terminal import visible
from tests.conftest import Cli

ESC = "\x1b]0;pwned\x07\x1b[2J"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J"


def _agent(model: str, body: str = "Body.\n") -> bytes:
    escaped = model.replace("\x1b", "\\e").replace("\x07", "\\a").replace("\x9b", "\\x9b")
    return f'---\nname: esc\ndescription: d\nmodel: "{escaped}"\n---\n{body}'.encode()


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if c in "\x1b\x07\x9b"]


def test_list_log_diff_publish_show_controls_visibly(sqlite_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / f"dir{ESC}"
    folder.mkdir()
    path = folder / "esc.md"
    path.write_bytes(_agent(f"sonnet{ESC}"))
    published = sqlite_cli.ok("publish", str(path), "-m", f"why{ESC}")
    path.write_bytes(_agent(f"haiku{ESC}\x9b", body=f"Body {ESC}.\n"))
    published2 = sqlite_cli.ok("publish", str(path))
    outputs = {
        "publish": published.stdout + published2.stdout,
        "list": sqlite_cli.ok("list").stdout,
        "log": sqlite_cli.ok("log", "esc").stdout,
        "diff": sqlite_cli.ok("diff", "esc@1", "@2").stdout,
        "list --json": sqlite_cli.ok("list", "--json").stdout,
        "log --json": sqlite_cli.ok("log", "esc", "--json").stdout,
        "diff --json": sqlite_cli.ok("diff", "esc@1", "@2", "--json").stdout,
    }
    for command, out in outputs.items():
        assert not _raw_controls(out), command
    assert SHOWN in outputs["publish"] and f"sonnet{SHOWN}" in outputs["log"]
    assert f"haiku{SHOWN}\\x9b" in outputs["list"]
    assert f"why{SHOWN}" in outputs["log"] and f"Body {SHOWN}." in outputs["diff"]
    assert json.loads(outputs["list --json"])[0]["model"] == f"haiku{ESC}\x9b"  # JSON stays exact
    # show and export give the exact bytes.
    assert sqlite_cli.ok("show", "esc@1").stdout_bytes == _agent(f"sonnet{ESC}")
    assert sqlite_cli.ok("export", "esc@2").stdout_bytes == path.read_bytes()


def test_an_error_naming_a_file_shows_its_controls(sqlite_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / f"bad{ESC}.md"
    path.write_bytes(b"---\ndescription: d\n---\n")
    result = sqlite_cli("publish", str(path))
    assert result.exit_code == 1 and not _raw_controls(result.stderr)
    assert f"bad{SHOWN}.md: frontmatter has no 'name'" in result.stderr


@pytest.mark.parametrize(
    ("text", "lines", "shown"),
    [
        ("a\x1b[31mb", True, "a\\x1b[31mb"),
        ("one\ntwo\tthree", True, "one\ntwo\tthree"),
        ("one\ntwo\tthree\r", False, "one\\x0atwo\\x09three\\x0d"),
        ("\x00\x7f\x9b\u2028\u202e", True, "\\x00\\x7f\\x9b\\u2028\\u202e"),
        ("café 리뷰어", True, "café 리뷰어"),
    ],
)
def test_visible(text: str, lines: bool, shown: str) -> None:
    assert visible(text, lines=lines) == shown
