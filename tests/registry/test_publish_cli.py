"""Publishing, reading back and labelling through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SEED, Cli

SEED_NAME = "backend-logic-implementer"


def _agent(name: str, body: str = "You are helpful.\n", model: str = "sonnet") -> bytes:
    front = f"name: {name}\ndescription: Use this agent for {name} work.\nmodel: {model}\n"
    return f"---\n{front}---\n\n{body}".encode()


def test_publish_show_export_round_trip(cli: Cli, tmp_path: Path) -> None:
    result = cli.ok("publish", str(SEED), "-m", "first")
    assert result.stdout.split()[:2] == [f"{SEED_NAME}@1", "new"]
    assert "not strict YAML" in result.stderr  # the seed needs the tolerant reader

    assert cli.ok("show", SEED_NAME).stdout_bytes == SEED.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    cli.ok("export", f"{SEED_NAME}@1", "-o", str(out))
    assert (out / f"{SEED_NAME}.md").read_bytes() == SEED.read_bytes()
    cli.ok("export", SEED_NAME, "-o", str(tmp_path / "new-dir") + "/")
    assert (tmp_path / "new-dir" / f"{SEED_NAME}.md").read_bytes() == SEED.read_bytes()


def test_identical_content_is_a_no_op(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(_agent("alpha"))
    assert json.loads(cli.ok("publish", str(path), "--json").stdout)[0]["status"] == "new"
    again = json.loads(cli.ok("publish", str(path), "--json").stdout)[0]
    assert again == {"ref": "alpha@1", "status": "unchanged", "path": str(path), "label": None}
    path.write_bytes(_agent("alpha", body="Be brief.\n"))
    assert json.loads(cli.ok("publish", str(path), "--json").stdout)[0]["ref"] == "alpha@2"
    versions = json.loads(cli.ok("log", "alpha", "--json").stdout)["versions"]
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["parent"] == 1


def test_folders_are_published_recursively(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "agents"
    (root / "team").mkdir(parents=True)
    (root / "a.md").write_bytes(_agent("alpha"))
    (root / "team" / "b.md").write_bytes(_agent("beta", model="haiku"))
    rows = json.loads(cli.ok("publish", str(root), "--json").stdout)
    assert sorted(r["ref"] for r in rows) == ["alpha@1", "beta@1"]
    listed = json.loads(cli.ok("list", "--json").stdout)
    assert [(a["name"], a["latest"], a["model"]) for a in listed] == [
        ("alpha", 1, "sonnet"),
        ("beta", 1, "haiku"),
    ]


def test_references_of_every_form(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    for i in range(3):
        path.write_bytes(_agent("alpha", body=f"Version {i + 1}.\n"))
        cli.ok("publish", str(path))
    cli.ok("label", "alpha@2", "production")
    assert cli.ok("show", "alpha").stdout.endswith("Version 3.\n")
    assert cli.ok("show", "alpha@latest").stdout.endswith("Version 3.\n")
    assert cli.ok("show", "alpha@1").stdout.endswith("Version 1.\n")
    assert cli.ok("show", "alpha@production").stdout.endswith("Version 2.\n")
    info = json.loads(cli.ok("show", "alpha@production", "--json").stdout)
    assert info["ref"] == "alpha@2" and info["labels"] == ["production"]
    for bad, message in [
        ("alpha@9", "alpha has no version 9"),
        ("alpha@staging", "alpha has no label 'staging'"),
        ("nobody", "no agent named 'nobody'"),
        ("alpha@Bad!", "invalid reference"),
        ("alpha@0", "versions start at 1"),
    ]:
        result = cli("show", bad)
        assert result.exit_code == 1
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_label_moves_are_recorded(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(_agent("alpha"))
    cli.ok("publish", str(path), "--label", "candidate")
    path.write_bytes(_agent("alpha", body="Two.\n"))
    cli.ok("publish", str(path))
    cli.ok("label", "alpha@1", "production", "-m", "first release")
    moved = json.loads(cli.ok("label", "alpha@2", "production", "-m", "won exp 4", "--json").stdout)
    assert (moved["from_number"], moved["to_number"]) == (1, 2)
    cli.ok("label", "--delete", "alpha", "candidate")
    log = json.loads(cli.ok("log", "alpha", "--json").stdout)
    moves = [
        (m["label"], m["from_number"], m["to_number"], m["reason"]) for m in log["label_moves"]
    ]
    assert moves == [
        ("candidate", 1, None, None),
        ("production", 1, 2, "won exp 4"),
        ("production", None, 1, "first release"),
        ("candidate", None, 1, None),
    ]
    assert all(m["actor"] for m in log["label_moves"])
    assert {v["number"]: v["labels"] for v in log["versions"]} == {2: ["production"], 1: []}
    text = cli.ok("log", "alpha").stdout
    assert "production: @1 -> @2" in text and "candidate: @1 -> (deleted)" in text

    result = cli("label", "--delete", "alpha", "candidate")
    assert result.exit_code == 1 and "has no label 'candidate'" in result.stderr
    for bad in ["Prod", "7", "latest", "a b"]:
        result = cli("label", "alpha@1", bad)
        assert result.exit_code == 1 and "invalid label" in result.stderr


def test_no_name_needs_explicit_name(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "anon.md"
    path.write_bytes(b"---\ndescription: An agent without a name.\n---\nBody.\n")
    result = cli("publish", str(path))
    assert result.exit_code == 1 and "name" in result.stderr
    cli.ok("publish", str(path), "--name", "anon-agent")
    assert cli.ok("show", "anon-agent").stdout_bytes == path.read_bytes()


def test_a_version_published_with_name_reads_everywhere(sqlite_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "anon.md"
    path.write_bytes(b"---\ndescription: Nameless.\nmodel: sonnet\n---\nOne.\n")
    sqlite_cli.ok("publish", str(path), "--name", "anon-agent")
    path.write_bytes(b"---\ndescription: Nameless.\nmodel: haiku\n---\nTwo.\n")
    sqlite_cli.ok("publish", str(path), "--name", "anon-agent")
    diff = sqlite_cli.ok("diff", "anon-agent@1", "@2").stdout
    assert "sonnet -> haiku" in diff and "+Two." in diff
    assert json.loads(sqlite_cli.ok("diff", "anon-agent@1", "@2", "--json").stdout)
    (tmp_path / "tasks.yaml").write_text(
        "tasks:\n  - id: t\n    prompt: Hi\n    graders:\n      - {type: contains, any: [hi]}\n"
    )
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: e\nvariants:\n  a: anon-agent@1\n  b: anon-agent@2\ncontrol: a\n"
        "tasks: tasks.yaml\nprovider: simulated\n"
    )
    assert json.loads(sqlite_cli.ok("run", str(spec), "--dry-run", "--json").stdout)["calls"] == 2


def test_a_key_written_twice_is_a_warning_in_both_readers(sqlite_cli: Cli, tmp_path: Path) -> None:
    strict = "description: d\n"
    tolerant = "description: Use it: always\n"  # ': ' in a plain scalar: the tolerant reader
    for case, description in [("strict", strict), ("tolerant", tolerant)]:
        path = tmp_path / f"{case}.md"
        path.write_text(f"---\nname: {case}\nmodel: opus\n{description}model: haiku\n---\nB\n")
        result = sqlite_cli.ok("publish", str(path))
        duplicate = [line for line in result.stderr.splitlines() if "appears" in line]
        assert duplicate == [
            f"warning: {path}: key 'model' appears 2 times (lines 3, 5); the last is used here, "
            "and which one Claude Code uses is not defined"
        ]
    listed = json.loads(sqlite_cli.ok("list", "--json").stdout)
    assert [(a["name"], a["model"]) for a in listed] == [("strict", "haiku"), ("tolerant", "haiku")]


NESTED_DUPLICATES = """\
---
name: nested
description: Keys repeated inside mappings.
hooks:
  PreToolUse:
    - matcher: Bash
      hooks:
        - {type: command, command: echo one, command: echo two}
  PreToolUse: []
mcpServers:
  github:
    command: npx
  github:
    command: other
base: &base {x: 1}
merged:
  <<: *base
  x: 2
---
Body.
"""


def test_a_key_written_twice_inside_a_mapping_is_a_warning(sqlite_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "nested.md"
    path.write_text(NESTED_DUPLICATES)
    result = sqlite_cli.ok("publish", str(path))
    duplicate = [line for line in result.stderr.splitlines() if "appears" in line]
    tail = "the last is used here, and which one Claude Code uses is not defined"
    assert duplicate == [
        f"warning: {path}: key 'hooks.PreToolUse' appears 2 times (lines 5, 9); {tail}",
        f"warning: {path}: key 'hooks.PreToolUse[0].hooks[0].command' appears 2 times "
        f"(lines 8, 8); {tail}",
        f"warning: {path}: key 'mcpServers.github' appears 2 times (lines 11, 13); {tail}",
    ]  # a merge key (<<) overridden in place repeats nothing
    assert "nested@1" in result.stdout


def test_a_nested_duplicate_is_one_warning_on_its_own_line_whatever_aliases_it(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    # A duplicate inside an aliased mapping is one warning, not one per alias; 1 and '1' are two
    # keys (int and str); U+2028 inside a quoted scalar ends no line of the file.
    path = tmp_path / "aliased.md"
    path.write_text(
        '---\nname: aliased\ndescription: "one\u2028two"\nbase: &b\n  k: 1\n  k: 2\n'
        + "".join(f"c{i}: *b\n" for i in range(50))
        + "m:\n  1: a\n  '1': b\n---\nBody.\n"
    )
    result = sqlite_cli.ok("publish", str(path))
    duplicate = [line for line in result.stderr.splitlines() if "appears" in line]
    assert duplicate == [
        f"warning: {path}: key 'base.k' appears 2 times (lines 5, 6); the last is used here, "
        "and which one Claude Code uses is not defined"
    ]
