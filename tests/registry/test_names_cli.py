"""Agent names Claude Code loads but does not recommend: published with a warning, referenced,
exported inside the folder; names unsafe as a file name are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import AgentRegistryError
from registry.files import export_path
from tests.conftest import Cli
from variants.refs import InvalidReference, Ref, parse_ref


def _agent(name: str, body: str = "Body.\n") -> bytes:
    return f'---\nname: "{name}"\ndescription: Use it.\n---\n{body}'.encode()


@pytest.mark.parametrize(
    "name", ["PM", "Browser Automation Agent", "geepers_scout", "코드 리뷰어 (검토)", "a@b"]
)
def test_names_claude_code_loads_work_in_every_command(cli: Cli, tmp_path: Path, name: str) -> None:
    path = tmp_path / "agent.md"
    path.write_bytes(_agent(name))
    published = cli.ok("publish", str(path))
    assert published.stdout.split("  ")[0] == f"{name}@1"
    assert published.stderr.splitlines() == [
        f"warning: {path}: name {name!r} is not in the form Claude Code recommends (lowercase "
        "letters, digits and hyphens); it loads as written"
    ]
    path.write_bytes(_agent(name, body="Second.\n"))
    cli.ok("publish", str(path), "--label", "candidate")
    assert [a["name"] for a in json.loads(cli.ok("list", "--json").stdout)] == [name]
    assert cli.ok("show", f"{name}@1").stdout_bytes == _agent(name)
    assert cli.ok("show", f"{name}@candidate").stdout.endswith("Second.\n")
    assert cli.ok("show", f"{name}@latest").stdout.endswith("Second.\n")
    assert "+Second." in cli.ok("diff", f"{name}@1", "@2").stdout
    log = json.loads(cli.ok("log", f"{name}@latest", "--json").stdout)
    assert [v["number"] for v in log["versions"]] == [2, 1]
    out = tmp_path / "out"
    cli.ok("export", f"{name}@1", "-o", f"{out}/")
    assert [p.name for p in out.iterdir()] == [f"{name}.md"]


def test_the_selector_starts_at_the_last_at_sign() -> None:
    assert parse_ref("Browser Automation Agent@production") == Ref(
        "Browser Automation Agent", label="production"
    )
    assert parse_ref("a@b@3") == Ref("a@b", number=3)
    assert parse_ref("a@b@latest") == Ref("a@b")
    assert parse_ref("a@b") == Ref("a", label="b")  # a name holding '@' needs a selector
    assert parse_ref("@2", default_name="PM") == Ref("PM", number=2)
    for bad in ["a:b@1", "../x", "PM @1", "@1"]:
        with pytest.raises(InvalidReference):
            parse_ref(bad)


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "a\x00b", "a\x1bb"])
def test_export_never_leaves_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(
        AgentRegistryError,
        match=r"refusing to export agent .*: its name is not a plain file name \(it ",
    ):
        export_path(f"{tmp_path}/", name)
