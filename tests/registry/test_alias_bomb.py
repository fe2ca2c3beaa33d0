"""YAML aliases that expand to billions of values are refused in one line, fast, everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, Cli
from variants.yamlio import MAX_ALIAS_EXPANSION, load_strict_yaml


def _bomb(indent: str = "") -> str:
    """Ten lines of anchors, nine deep: 9**10 values once expanded, about 500 bytes."""
    lines = [f'{indent}a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{indent}a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


AGENTS = {
    "strict": "---\nname: bomb\ndescription: d\n" + _bomb() + "---\nBody\n",
    # not strict YAML (': ' in a plain scalar): the tolerant reader reads each entry on its own
    "tolerant": "---\nname: bomb\ndescription: d: e\nx:\n" + _bomb("  ") + "---\nBody\n",
    "recursive": "---\nname: bomb\ndescription: d\nx: &a [*a]\n---\nBody\n",
}


@pytest.mark.parametrize("case", AGENTS)
def test_publish_refuses_an_alias_bomb(sqlite_cli: Cli, tmp_path: Path, case: str) -> None:
    path = tmp_path / "bomb.md"
    path.write_text(AGENTS[case])
    line = sqlite_cli.one_error_line("publish", str(path))
    assert line.startswith(f"registry: error: {path}: invalid frontmatter: ")
    assert "aliases expand" in line or "refers to itself" in line
    assert json.loads(sqlite_cli.ok("list", "--json").stdout) == []


def test_an_experiment_spec_with_a_bomb_under_request(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: e\nvariants:\n  a: x@1\n  b: x@2\ncontrol: a\n"
        f"tasks: {REPO / 'data' / 'tasks' / 'backend.yaml'}\nrequest:\n" + _bomb("  ")
    )
    line = sqlite_cli.one_error_line("run", str(spec), "--dry-run")
    assert line.startswith(f"registry: error: {spec}:") and "invalid YAML: aliases expand" in line


def test_a_variant_spec_with_a_bomb(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "variant.yaml"
    spec.write_text("base: x@1\nlabel: l\nset:\n" + _bomb("  "))
    assert "invalid YAML: aliases expand" in sqlite_cli.one_error_line("publish", str(spec))


def test_aliases_within_the_bound_still_load() -> None:
    few = "base: &b {model: haiku, tools: [Read, Grep]}\nother: *b\nmore: [*b, *b]\n"
    assert load_strict_yaml(few)["more"][1] == {"model": "haiku", "tools": ["Read", "Grep"]}
    # No aliases: any size loads (the bound is on what aliases add).
    big = "".join(f"k{i}: [1, 2, 3]\n" for i in range(MAX_ALIAS_EXPANSION))
    assert len(load_strict_yaml(big)) == MAX_ALIAS_EXPANSION
    with pytest.raises(yaml.YAMLError, match="aliases expand"):
        load_strict_yaml(
            "a: &a [" + ",".join(["x"] * 1000) + "]\nb: [" + ",".join(["*a"] * 11) + "]"
        )


def _flow_bomb() -> str:
    """The bomb as one flow mapping: what fits in a ``--set KEY=VALUE`` argument."""
    return "{" + ", ".join(_bomb().strip().splitlines()) + "}"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (_flow_bomb(), "aliases expand to more than 10,000 values"),
        ("&a [*a]", "an alias refers to itself"),
        ("{a: 1, a: 2}", "duplicate key 'a'"),
    ],
)
def test_derive_set_values_are_bounded_like_every_yaml(
    sqlite_cli: Cli, tmp_path: Path, value: str, problem: str
) -> None:
    path = tmp_path / "agent.md"
    path.write_text("---\nname: base\ndescription: d\n---\nBody\n")
    sqlite_cli.ok("publish", str(path))
    line = sqlite_cli.one_error_line("derive", "base@1", "--set", f"hooks={value}", "--label", "x")
    assert line == (
        f"registry: error: registry derive: --set hooks: the value is not valid YAML: {problem}"
    )
    assert [a["latest"] for a in json.loads(sqlite_cli.ok("list", "--json").stdout)] == [1]
