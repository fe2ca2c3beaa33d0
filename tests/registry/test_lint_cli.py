"""``registry lint`` through the CLI: the shared corpus, crafted files, JSON, exit codes."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import CORPUS, SEED, Cli, corpus_files

# The files of the corpus Claude Code drops, and why (SOURCES.md, STATS.md).
NEXT_LINE = {
    f"PaulRBerg__dot-claude/{n}.md" for n in ("code-reviewer", "debugger", "ui-ux-designer")
}
NO_NAME = {
    f"TechDufus__oh-my-claude/{n}.md"
    for n in ("advisor", "code-reviewer", "librarian", "validator")
}


def _manifest_strict_failures() -> set[str]:
    with (CORPUS.parent / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {
            row["file"].removeprefix("agents/") for row in rows if row["pyyaml_safe_load"] != "ok"
        }


def _relative(path: str) -> str:
    return Path(path).relative_to(CORPUS).as_posix()


def test_the_shared_corpus_loads_but_for_the_known_bad_files(sqlite_cli: Cli) -> None:
    folders = sorted(str(p) for p in CORPUS.iterdir() if p.is_dir())  # one scope per repository
    result = sqlite_cli("lint", *folders, "--json")
    assert result.exit_code == 1  # some files would be dropped
    rows = json.loads(result.stdout)
    assert len(rows) == len(corpus_files()) == 163
    dropped = {_relative(r["path"]): r["reason"] for r in rows if not r["loaded"]}
    assert set(dropped) == NEXT_LINE | NO_NAME
    assert all("next lines" in dropped[f] for f in NEXT_LINE)
    assert all("no 'name'" in dropped[f] for f in NO_NAME)
    warned = {
        kind: {_relative(r["path"]) for r in rows for w in r["warnings"] if w["kind"] == kind}
        for kind in ("not-strict-yaml", "unknown-tool", "unknown-model", "duplicate-name")
    }
    assert warned["not-strict-yaml"] == _manifest_strict_failures()  # 47, as STATS.md counts
    assert len(warned["unknown-tool"]) == 6 and not warned["unknown-model"]
    assert not warned["duplicate-name"]  # no repository defines a name twice
    assert result.stderr == ""  # --json prints no summary


def test_the_whole_corpus_as_one_scope_finds_names_repeated_across_repositories(
    sqlite_cli: Cli,
) -> None:
    rows = json.loads(sqlite_cli("lint", str(CORPUS), "--json").stdout)
    names = Counter(r["name"] for r in rows if r["loaded"])
    repeated = {r["path"] for r in rows for w in r["warnings"] if w["kind"] == "duplicate-name"}
    assert repeated and len(repeated) == sum(n for n in names.values() if n > 1)


def test_generator_style_description_is_shown_with_line_breaks(sqlite_cli: Cli) -> None:
    rows = json.loads(sqlite_cli.ok("lint", str(SEED), "--json").stdout)
    assert rows[0]["loaded"] and rows[0]["name"] == "backend-logic-implementer"
    assert "\\n" in SEED.read_text() and "\\n" not in rows[0]["description"]
    assert "\n</example>" in rows[0]["description"]


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_warnings_alone_exit_zero_and_are_printed(sqlite_cli: Cli, tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    _write(
        agents, "a.md", b"---\nname: a\ndescription: A: b.\nmodel: sonet\ntools: Read, Foo\n---\n"
    )
    _write(agents / "sub", "b.md", b"---\nname: a\ndescription: Other.\n---\n")
    _write(agents, "README.md", b"# notes, not an agent\n")
    result = sqlite_cli.ok("lint", str(agents))
    assert f"loaded   a  {agents / 'a.md'}" in result.stdout
    for kind in ("not-strict-yaml", "unknown-model", "unknown-tool", "duplicate-name"):
        assert f"warning ({kind})" in result.stdout
    assert "README.md: skipped" in result.stderr
    assert "2 loaded, 0 dropped, 2 with warnings" in result.stderr


def test_files_named_on_their_own_share_their_folders_scope(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    one = _write(tmp_path / "x", "one.md", b"---\nname: a\ndescription: x\n---\n")
    two = _write(tmp_path / "x", "two.md", b"---\nname: a\ndescription: y\n---\n")
    apart = _write(tmp_path / "y", "three.md", b"---\nname: a\ndescription: z\n---\n")
    rows = json.loads(sqlite_cli.ok("lint", str(one), str(apart), str(two), "--json").stdout)
    kinds = {r["path"]: [w["kind"] for w in r["warnings"]] for r in rows}
    assert kinds == {str(one): ["duplicate-name"], str(two): ["duplicate-name"], str(apart): []}


def test_a_dropped_file_exits_one_naming_the_reason(sqlite_cli: Cli, tmp_path: Path) -> None:
    bom = _write(tmp_path, "bom.md", b"\xef\xbb\xbf---\nname: a\ndescription: x\n---\n")
    good = _write(tmp_path, "good.md", b"---\nname: good\ndescription: x\n---\n")
    result = sqlite_cli("lint", str(good), str(bom))
    assert result.exit_code == 1
    assert f"dropped  {bom}: starts with a UTF-8 BOM" in result.stdout
    assert "Traceback" not in result.stderr


def test_bad_input_is_one_line_on_stderr(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = sqlite_cli("lint", str(tmp_path / "nope.md"))
    assert missing.exit_code != 0 and missing.stderr.strip().count("\n") == 0
    assert "no such file or folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    assert "no .md agent files" in sqlite_cli("lint", str(tmp_path / "empty")).stderr
    table = _write(tmp_path, "models.yaml", b"as_of: 2026-01-01\n")
    monkeypatch.setenv("REGISTRY_MODELS", str(table))
    broken = sqlite_cli("lint", str(SEED))
    assert broken.exit_code != 0 and "'aliases' must map alias names to model IDs" in broken.stderr
    assert broken.stderr.strip().count("\n") == 0


def test_lint_prints_control_characters_visibly(sqlite_cli: Cli, tmp_path: Path) -> None:
    agent = b"---\nname: calm\ndescription: Use it \x1b]52;c;ZXZpbA==\x07 now\n---\nBody.\n"
    out = sqlite_cli("lint", str(_write(tmp_path, "calm.md", agent))).stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]52;c;ZXZpbA==\\x07" in out


def test_keys_written_twice_at_the_top_or_nested_are_warned_about(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    from tests.registry.test_publish_cli import NESTED_DUPLICATES

    path = _write(
        tmp_path, "nested.md", NESTED_DUPLICATES.replace("base: &", "name: again\nbase: &").encode()
    )
    result = sqlite_cli.ok("lint", str(path), "--json")
    [linted] = json.loads(result.stdout)
    assert linted["loaded"] is True and linted["name"] == "again"
    keys = [
        w["message"].split(" appears")[0]
        for w in linted["warnings"]
        if w["kind"] == "duplicate-key"
    ]
    assert keys == [
        "key 'name'",
        "key 'hooks.PreToolUse'",
        "key 'hooks.PreToolUse[0].hooks[0].command'",
        "key 'mcpServers.github'",
    ]
    text = sqlite_cli.ok("lint", str(path)).stdout
    assert "warning (duplicate-key): key 'mcpServers.github' appears 2 times (lines 11, 13)" in text
