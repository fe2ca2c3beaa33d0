"""The contract over real files: byte-exact round trip, one-line edits, tolerant reader agreement.

The corpus (163 agent files from public repositories) lives in ``shared/`` beside the checkout;
a missing corpus fails these tests rather than skipping them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from core.errors import AgentFileError
from tests.conftest import CORPUS, SEED, corpus_files
from variants import frontmatter as fm
from variants.agentfile import AgentDefinition

FILES = corpus_files()
ALL = [*FILES, SEED]

# Files without a name at all: they need `publish --name`.
NEEDS_NAME_OVERRIDE = {
    "TechDufus__oh-my-claude/advisor.md",
    "TechDufus__oh-my-claude/code-reviewer.md",
    "TechDufus__oh-my-claude/librarian.md",
    "TechDufus__oh-my-claude/validator.md",
}
# Names Claude Code loads but does not recommend (underscores, dots, spaces, capitals): a warning.
NAME_WARNED = {
    "VoltAgent__awesome-claude-code-subagents/powershell-5.1-expert.md",
    "mathrunet__flutter_masamune/design_rules_guide.md",
    "mathrunet__flutter_masamune/firebase_flutter_debugger.md",
    "mathrunet__flutter_masamune/masamune_framework_helper.md",
    "mathrunet__flutter_masamune/notion_requirements_analyzer.md",
    "vijaythecoder__awesome-claude-agents/security-expert.md",
}


def test_corpus_is_present() -> None:
    assert len(FILES) == 163, f"agent corpus not found at {CORPUS}"


def _key(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix() if path.is_relative_to(CORPUS) else path.name


def _load(path: Path) -> AgentDefinition:
    data = path.read_bytes()
    if _key(path) in NEEDS_NAME_OVERRIDE:
        return AgentDefinition.parse(data, origin=str(path), name_override="override-name")
    return AgentDefinition.parse(data, origin=str(path))


def _frontmatter_text(definition: AgentDefinition) -> str:
    return "".join(fm.split_document(definition.render().decode("utf-8")).lines)


def test_corpus_is_the_expected_one() -> None:
    assert len(FILES) == 163


def test_name_rule_rejects_and_warns_about_exactly_the_known_files() -> None:
    rejected, warned = set(), set()
    for path in FILES:
        try:
            definition = AgentDefinition.parse(path.read_bytes())
        except AgentFileError as err:
            assert str(err) == "<input>: frontmatter has no 'name'"
            rejected.add(_key(path))
            continue
        if any(warning.startswith("name ") for warning in definition.warnings):
            warned.add(_key(path))
    assert rejected == NEEDS_NAME_OVERRIDE
    assert warned == NAME_WARNED


@pytest.mark.parametrize("path", ALL, ids=_key)
def test_round_trip_is_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    definition = _load(path)
    assert definition.render() == data
    text = data.decode("utf-8").removeprefix("\ufeff")
    end = re.search(r"\A---[ \t]*(\r\n|\r|\n).*?(\r\n|\r|\n)---[ \t]*(\r\n|\r|\n|\Z)", text, re.S)
    assert end is not None
    assert definition.body == text[end.end() :]


@pytest.mark.parametrize("path", ALL, ids=_key)
def test_model_edit_changes_exactly_one_line(path: Path) -> None:
    data = path.read_bytes()
    definition = _load(path)
    new_model = "opus" if definition.model == "haiku" else "haiku"
    edited = definition.with_field("model", new_model)
    before, after = data.splitlines(keepends=True), edited.render().splitlines(keepends=True)
    newline = b"\r\n" if b"\r\n" in data else b"\r" if b"\n" not in data else b"\n"
    if "model" in definition.fields:
        assert len(after) == len(before)
        changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
        assert len(changed) == 1
        assert changed[0][1].startswith(b"model: " + new_model.encode())
        assert changed[0][1].endswith(newline)
    else:
        assert len(after) == len(before) + 1
        added = [line for line in after if line not in before]
        assert added == [b"model: " + new_model.encode() + newline]
    assert edited.model == new_model
    assert {k: v for k, v in edited.fields.items() if k != "model"} == {
        k: v for k, v in definition.fields.items() if k != "model"
    }
    assert edited.body == definition.body
    assert edited.with_field("model", definition.model).fields.get("model") == definition.model


EDITS = [
    ("color", "red: #1 choice"),
    ("description", "Line one: with a colon #and hash\nline two\n"),
    ("tools", ["Read", "Agent(worker, researcher)"]),
    ("maxTurns", 7),
    ("initialPrompt", "yes"),
]


@pytest.mark.parametrize("path", ALL, ids=_key)
def test_edits_read_back_and_keep_strict_yaml_strict(path: Path) -> None:
    definition = _load(path)
    for key, value in EDITS:
        edited = definition.with_field(key, value)
        assert edited.fields[key] == value, key
        if definition.strict_yaml:
            assert edited.strict_yaml, key
            assert (
                yaml.load(
                    _frontmatter_text(edited), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
                )[key]
                == value
            ), key
        if key not in definition.fields:
            assert edited.without_field(key).render() == definition.render(), key


def test_tolerant_reader_agrees_with_yaml_where_yaml_works() -> None:
    compared = 0
    for path in ALL:
        lines = fm.split_document(path.read_bytes().decode("utf-8")).lines
        strict = fm.read_frontmatter(lines)
        if not strict.strict:
            continue
        tolerant = fm.read_tolerant(lines)
        assert [e.key for e in tolerant.entries] == [e.key for e in strict.entries], path
        assert tolerant.fields.get("name") == strict.fields.get("name"), path
        assert tolerant.fields.get("model") == strict.fields.get("model"), path
        compared += 1
    assert compared == len(FILES) - 47


def test_corpus_has_both_kinds_of_frontmatter() -> None:
    kinds = {_load(path).strict_yaml for path in FILES}
    assert kinds == {True, False}
    not_strict = [path for path in FILES if not _load(path).strict_yaml]
    assert len(not_strict) == 47
    assert all(any(re.search("not strict YAML", w) for w in _load(p).warnings) for p in not_strict)
