"""Strict YAML reads through libyaml when PyYAML has it, and says what is wrong as it always did."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from variants import yamlio
from variants.yamlio import load_strict_yaml, yaml_error_line

pytestmark = pytest.mark.skipif(
    not yaml.__with_libyaml__, reason="PyYAML without libyaml reads with the pure-Python loader"
)


def shipped_yaml() -> list[Path]:
    return sorted(
        p for folder in ("data", "examples", "tests") for p in (REPO / folder).rglob("*.y*ml")
    )


def test_every_shipped_yaml_file_reads_the_same_through_both_loaders() -> None:
    files = shipped_yaml()
    assert len(files) >= 10
    for path in files:
        source = path.read_bytes()
        try:
            expected = yamlio._load(yamlio._StrictLoader, source)
        except yaml.YAMLError:
            continue  # an invalid file on purpose: the error test below covers those
        assert yamlio._FastLoader is not None
        assert yamlio._load(yamlio._FastLoader, source) == expected, path


def test_a_valid_document_is_read_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the pure-Python loader was used for a valid document")

    monkeypatch.setattr(yamlio._StrictLoader, "__init__", refuse)
    assert load_strict_yaml(b"tasks:\n  - id: t1\n    prompt: hi\n") == {
        "tasks": [{"id": "t1", "prompt": "hi"}]
    }


@pytest.mark.parametrize(
    ("source", "line"),
    [
        # libyaml puts these at other lines or says them in other words
        (
            b"tasks: [",
            "f.yaml:1: invalid YAML: expected the node content, but found '<stream end>'",
        ),
        (
            b"a: 1\nb: [1,\n",
            "f.yaml:3: invalid YAML: expected the node content, but found '<stream end>'",
        ),
        (b"a: 1\na: 2\n", "f.yaml:2: invalid YAML: duplicate key 'a'"),
        (
            b"a:\n\t- 1\n",
            "f.yaml:2: invalid YAML: found character '\\t' that cannot start any token",
        ),
    ],
)
def test_errors_are_the_pure_python_loaders(source: bytes, line: str) -> None:
    with pytest.raises(yaml.YAMLError) as raised:
        load_strict_yaml(source)
    assert yaml_error_line("f.yaml", raised.value) == line


@pytest.mark.parametrize("source", [b"a:\t1\n", b"a: 1\t# c\n", b"{a:\t1}\n", "- a:\t1\n  b: 2\n"])
def test_a_tab_libyaml_takes_as_a_separator_is_refused_as_it_always_was(
    source: str | bytes,
) -> None:
    with pytest.raises(yaml.YAMLError, match="cannot start any token"):
        load_strict_yaml(source)


def test_a_lone_surrogate_in_a_command_line_value_is_a_yaml_error() -> None:
    # Python decodes command-line arguments with surrogateescape: `--set k=$'\xff'` is '\udcff'.
    with pytest.raises(yaml.YAMLError, match="special characters are not allowed"):
        load_strict_yaml("k: \udcff")
