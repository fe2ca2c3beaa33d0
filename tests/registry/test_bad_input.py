"""Bad input through the CLI: one clear line on stderr, exit 1, and nothing stored."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import SEED, Cli

GOOD = b"---\nname: good-agent\ndescription: Use this agent for good work.\n---\nBody.\n"

CASES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "empty"),
    ("binary", b"---\nname: x\x00\x01\n---\n", "binary"),
    ("latin1", "---\nname: caf\xe9\ndescription: d\n---\n".encode("latin-1"), "UTF-8"),
    (
        "never-closed",
        b"---\nname: open-agent\ndescription: d\nBody without a closing line\n",
        "never closed",
    ),
    ("no-name", b"---\ndescription: Does things.\n---\nBody\n", "name"),
    ("no-description", b"---\nname: lonely\n---\nBody\n", "description"),
    ("colon-name", b"---\nname: 'ns: agent'\ndescription: d\n---\nBody\n", "contains ':'"),
    ("path-name", b"---\nname: ../../etc/x\ndescription: d\n---\nBody\n", "path separator"),
    ("dotdot-name", b"---\nname: ..\ndescription: d\n---\nBody\n", "'..'"),
    ("control-name", b'---\nname: "a\\e[2Jb"\ndescription: d\n---\nBody\n', "control"),
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


NO_FRONTMATTER = b"# Just markdown\n\nNo frontmatter here.\n"


def test_a_file_without_frontmatter_named_alone_is_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_bytes(NO_FRONTMATTER)
    result = sqlite_cli("publish", str(readme))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: error: {readme}: no frontmatter (the file must start with a '---' line)"
    ]
    assert _stored(sqlite_cli) == []


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_a_folder_skips_markdown_without_frontmatter(
    sqlite_cli: Cli, tmp_path: Path, bom: bytes
) -> None:
    folder = tmp_path / "agents"
    (folder / "docs").mkdir(parents=True)
    (folder / "good.md").write_bytes(bom + GOOD)
    (folder / "README.md").write_bytes(NO_FRONTMATTER)
    (folder / "docs" / "notes.md").write_bytes(b"\xef\xbb\xbfSome notes\n---\n")
    result = sqlite_cli("publish", str(folder))
    assert result.exit_code == 0, result.stderr
    # Published all the same, but said: Claude Code skips an agent file that starts with a BOM.
    dropped = "Claude Code drops this file: starts with a UTF-8 BOM, which Claude Code skips the"
    assert result.stderr.splitlines() == [
        f"warning: {folder / 'README.md'}: skipped, no frontmatter (not an agent file)",
        f"warning: {folder / 'docs' / 'notes.md'}: skipped, no frontmatter (not an agent file)",
        *([f"warning: {folder / 'good.md'}: {dropped} file for"] if bom else []),
    ]
    assert [a["name"] for a in _stored(sqlite_cli)] == ["good-agent"]


def test_publish_says_what_claude_code_would_drop_or_not_know_and_still_publishes(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    odd = tmp_path / "odd.md"
    odd.write_bytes(b"---\nname: odd\ndescription: d\nmodel: gpt-4\ntools: Read, swift\n---\nB\n")
    prettier = tmp_path / "prettier.md"
    prettier.write_bytes(b"---\nname: prettier\ndescription:\n  On the next line.\n---\nB\n")
    result = sqlite_cli("publish", str(odd), str(prettier), str(tmp_path / "good.md"))
    assert result.exit_code == 1  # good.md is missing: nothing is published, nothing is warned
    assert result.stderr.count("\n") == 1 and "good.md: no such file" in result.stderr
    (tmp_path / "good.md").write_bytes(GOOD)
    result = sqlite_cli("publish", str(odd), str(prettier), str(tmp_path / "good.md"))
    assert result.exit_code == 0
    tools, model, dropped = result.stderr.splitlines()
    assert tools == f"warning: {odd}: tools: unknown tool swift (not a Claude Code tool)"
    assert model.startswith(f"warning: {odd}: model 'gpt-4' is not a known alias (")
    assert model.endswith(", sonnet) or model ID")  # the aliases of data/models.yaml
    assert dropped == (
        f"warning: {prettier}: Claude Code drops this file: 'description:' has its value on the "
        "next lines, which Claude Code does not read"
    )
    assert sorted(a["name"] for a in _stored(sqlite_cli)) == ["good-agent", "odd", "prettier"]


def test_a_file_named_twice_is_published_once(sqlite_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "good.md").write_bytes(GOOD)
    again = str(folder / "." / "good.md")
    out = sqlite_cli.ok("publish", str(folder), again, str(folder / "good.md")).stdout
    assert out == f"good-agent@1  new  {folder / 'good.md'}\n"


def test_a_folder_of_only_other_markdown_is_refused(sqlite_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_bytes(NO_FRONTMATTER)
    result = sqlite_cli("publish", str(tmp_path / "docs"))
    assert result.exit_code == 1 and "no .md agent files" in result.stderr


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


def _spec(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"base: {SEED_NAME}@1\nlabel: haiku\n{text}")
    return spec


SEED_NAME = "backend-logic-implementer"


@pytest.mark.parametrize(
    "option",
    [("--label", "x"), ("--name", "x"), ("--parent", "@1")],
    ids=["label", "name", "parent"],
)
def test_label_name_and_parent_are_refused_with_a_spec(
    sqlite_cli: Cli, tmp_path: Path, option: tuple[str, str]
) -> None:
    spec = _spec(tmp_path, "model: haiku\n")
    result = sqlite_cli("publish", str(SEED), str(spec), *option)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "registry: error: --label, --name and --parent apply to agent files; a variant spec names"
        " its own label and base"
    ]
    assert _stored(sqlite_cli) == []


def test_duplicate_key_in_a_variant_spec(sqlite_cli: Cli, tmp_path: Path) -> None:
    sqlite_cli.ok("publish", str(SEED))
    spec = _spec(tmp_path, "model: haiku\nmessage: m\nmodel: opus\n")
    result = sqlite_cli("publish", str(spec))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: error: {spec}:5: invalid YAML: duplicate key 'model'"
    ]
    assert [a["latest"] for a in _stored(sqlite_cli)] == [1]


def test_a_nul_byte_in_a_file_a_spec_names(sqlite_cli: Cli, tmp_path: Path) -> None:
    sqlite_cli.ok("publish", str(SEED))
    spec = _spec(tmp_path, 'wording:\n  - {body_from: "new\\0body.md"}\n')
    result = sqlite_cli("publish", str(spec))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: error: {spec}: wording[1]: cannot read 'new\\x00body.md': the name has a NUL"
        " byte"
    ]


@pytest.mark.parametrize("bad", ["-1", "-x", ".hidden", "_x"])
def test_a_label_starts_with_a_letter_or_digit(sqlite_cli: Cli, tmp_path: Path, bad: str) -> None:
    good = tmp_path / "good.md"
    good.write_bytes(GOOD)
    result = sqlite_cli("publish", str(good), f"--label={bad}")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: error: invalid label: label {bad!r} must match [a-z0-9][a-z0-9._-]*, not be a"
        " number and not be 'latest'"
    ]
    assert _stored(sqlite_cli) == []
    sqlite_cli.ok("publish", str(good))
    result = sqlite_cli("label", "good-agent@1", "--", bad)
    assert result.exit_code == 1 and f"label {bad!r} must match" in result.stderr
    assert sqlite_cli.ok("label", "good-agent@1", "1.x").stdout == "good-agent 1.x: (new) -> @1\n"


def test_export_into_a_file_as_if_it_were_a_folder(sqlite_cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_bytes(GOOD)
    sqlite_cli.ok("publish", str(good))
    result = sqlite_cli("export", "good-agent", "-o", f"{good}/sub/x.md")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: error: cannot write {good}/sub/x.md: {good} is not a folder"
    ]
    assert good.read_bytes() == GOOD


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_export_into_a_read_only_folder(sqlite_cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_bytes(GOOD)
    sqlite_cli.ok("publish", str(good))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        result = sqlite_cli("export", "good-agent", "-o", f"{locked}/")
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: error: cannot write {locked}/good-agent.md: Permission denied"
    ]
    assert list(locked.iterdir()) == []


def test_an_author_without_a_user_name(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    def no_passwd_entry() -> str:
        raise KeyError("getpwuid(): uid not found: 4242")

    monkeypatch.delenv("REGISTRY_AUTHOR", raising=False)
    monkeypatch.setattr(getpass, "getuser", no_passwd_entry)
    good = tmp_path / "good.md"
    good.write_bytes(GOOD)
    sqlite_cli.ok("publish", str(good))
    log = json.loads(sqlite_cli.ok("log", "good-agent", "--json").stdout)
    assert log["versions"][0]["author"] == "unknown"


def test_a_bug_is_one_line_unless_debugging(
    sqlite_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import registry.readers

    def broken(url: str) -> list[object]:
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(registry.readers, "list_agents", broken)
    monkeypatch.delenv("REGISTRY_DEBUG", raising=False)
    result = sqlite_cli("list")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "registry: error: unexpected RuntimeError: something broke"
        " (set REGISTRY_DEBUG=1 for the traceback)"
    ]
    monkeypatch.setenv("REGISTRY_DEBUG", "1")
    with pytest.raises(RuntimeError, match="something"):
        sqlite_cli("list")


def test_usage_errors_stay_clicks(sqlite_cli: Cli) -> None:
    result = sqlite_cli("list", "--no-such-option")
    assert result.exit_code == 2 and "No such option '--no-such-option'" in result.stderr
