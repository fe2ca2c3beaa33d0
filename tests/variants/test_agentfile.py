"""AgentDefinition: hand-made layouts, the seed agent, validation errors and field edits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from core.errors import AgentFileError, AgentRegistryError
from variants import frontmatter as fm
from variants.agentfile import KNOWN_FIELDS, MAX_FILE_BYTES, AgentDefinition
from variants.tools import split_tools

DATA = Path(__file__).parent / "data"
SEED = DATA.parent.parent.parent / "data" / "agents" / "backend-logic-implementer.md"
HAND_MADE = sorted(DATA.glob("*.md"))


def _parse(text: str, **kwargs: str) -> AgentDefinition:
    return AgentDefinition.parse(text.encode("utf-8"), **kwargs)


def _frontmatter(definition: AgentDefinition) -> str:
    return "".join(fm.split_document(definition.render().decode("utf-8")).lines)


@pytest.fixture
def seed() -> AgentDefinition:
    return AgentDefinition.parse(SEED.read_bytes(), origin=str(SEED))


# -- round trip on hand-made layouts ------------------------------------------------------------


def test_hand_made_cases_exist() -> None:
    assert {path.name for path in HAND_MADE} >= {
        "bom.md",
        "crlf-no-final-newline.md",
        "lone-cr.md",
        "unicode.md",
        "empty-body.md",
        "dashes-in-body.md",
        "comments.md",
    }


@pytest.mark.parametrize("path", HAND_MADE, ids=lambda p: p.name)
def test_hand_made_round_trip(path: Path) -> None:
    data = path.read_bytes()
    definition = AgentDefinition.parse(data, origin=path.name)
    assert definition.render() == data
    assert definition.content_hash == hashlib.sha256(data).hexdigest()
    assert definition.strict_yaml and definition.warnings == ()


def test_bom_is_kept_but_not_part_of_the_frontmatter() -> None:
    definition = AgentDefinition.parse((DATA / "bom.md").read_bytes())
    assert definition.name == "bom-agent"
    edited = definition.with_field("model", "opus")
    assert edited.render().startswith(b"\xef\xbb\xbf---\n")
    assert edited.model == "opus"


def test_crlf_without_final_newline() -> None:
    definition = AgentDefinition.parse((DATA / "crlf-no-final-newline.md").read_bytes())
    assert definition.body == "\r\nBody line one.\r\nBody line two."
    added = definition.with_field("color", "blue").render()
    assert b"color: blue\r\n---\r\n" in added
    assert added.count(b"\n") == added.count(b"\r\n")


def test_lone_cr_line_endings() -> None:
    definition = AgentDefinition.parse((DATA / "lone-cr.md").read_bytes())
    assert (definition.name, definition.body) == ("cr-agent", "Body.\r")
    assert definition.with_field("model", "haiku").render() == (
        b"---\rname: cr-agent\rdescription: Classic Mac line endings.\rmodel: haiku\r---\rBody.\r"
    )


def test_unicode_values_and_body() -> None:
    definition = AgentDefinition.parse((DATA / "unicode.md").read_bytes())
    assert "日本語" in definition.description and "🚀" in definition.description
    assert definition.body == "Réponds en français. 🚀\n"


def test_empty_body_and_adding_one() -> None:
    definition = AgentDefinition.parse((DATA / "empty-body.md").read_bytes())
    assert definition.body == ""
    with_body = definition.with_body("You review code.\n")
    assert with_body.body == "You review code.\n"
    assert with_body.render().endswith(b"---\nYou review code.\n")
    assert with_body.with_body("").body == ""


def test_dashes_in_body_stay_in_the_body() -> None:
    definition = AgentDefinition.parse((DATA / "dashes-in-body.md").read_bytes())
    assert definition.body == "Intro.\n\n---\n\nSection after a rule.\n---\n"
    assert list(definition.fields) == ["name", "description"]


def test_comments_survive_an_edit_of_their_neighbours() -> None:
    data = (DATA / "comments.md").read_bytes()
    definition = AgentDefinition.parse(data)
    assert definition.name == "commented-agent"
    assert definition.tools == ["Read", "Agent(worker, researcher)", "Grep"]
    edited = definition.with_field("model", "sonnet").without_field("tools")
    assert edited.render() == data.replace(b"model: opus", b"model: sonnet").replace(
        b"tools: Read, Agent(worker, researcher), Grep\n", b""
    )


# -- the seed: not strict YAML, yet Claude Code reads it ----------------------------------------


def test_seed_parses_like_claude_code(seed: AgentDefinition) -> None:
    assert seed.name == "backend-logic-implementer"
    assert seed.model == "sonnet"
    assert seed.fields["color"] == "orange"
    assert list(seed.fields) == ["name", "description", "model", "color"]
    assert not seed.strict_yaml
    assert len(seed.warnings) == 1 and "not strict YAML" in seed.warnings[0]
    # Plain scalars do not unescape: the two characters backslash-n stay as written.
    assert "\\n\\nExamples:\\n- <example>" in seed.description
    assert "\n" not in seed.description
    assert seed.body.startswith("\nYou are an expert backend engineer")
    assert len(seed.examples) == 3
    assert seed.render() == SEED.read_bytes()
    assert seed.tools is None


def test_tolerant_reader_keeps_unindented_example_lines_in_the_description() -> None:
    definition = _parse(
        "---\nname: a\ndescription: Use it. Examples:\n\n<example>\nContext: x\n"
        'user: "hi: there"\nassistant: "ok"\n</example>\ncolor: red\n---\nBody\n'
    )
    assert list(definition.fields) == ["name", "description", "color"]
    assert definition.description.endswith('user: "hi: there"\nassistant: "ok"\n</example>')
    assert definition.examples[0].user == "hi: there"


def test_tolerant_reader_strips_only_full_quotes() -> None:
    definition = _parse(
        '---\nname: a\ndescription: "He said: \\"go\\"" now: yes\nmodel: "opus"\n'
        "color: 'red'\n---\n"
    )
    assert not definition.strict_yaml
    assert definition.description == '"He said: \\"go\\"" now: yes'
    assert (definition.model, definition.fields["color"]) == ("opus", "red")


def test_dates_stay_text() -> None:
    definition = _parse("---\nname: a\ndescription: d\nversion: 2025-01-31\n---\n")
    assert definition.fields["version"] == "2025-01-31"


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "f.md: file is empty"),
        (b"  \n\n", "f.md: file is empty"),
        (b"---\nname: a\x00\n---\n", "f.md: file is binary (contains NUL bytes), not markdown"),
        (b"---\nname: caf\xe9\n---\n", "f.md: file is not UTF-8 (invalid byte at offset 13)"),
        (b"# Just markdown\n", "f.md: no frontmatter (the file must start with a '---' line)"),
        (b"\n---\nname: a\n---\n", "f.md: no frontmatter (the file must start with a '---' line)"),
        (
            b"---\nname: a\ndescription: d\n",
            "f.md: frontmatter never closed (no '---' line after the opening one)",
        ),
        (b"---\ndescription: d\n---\nBody\n", "f.md: frontmatter has no 'name'"),
        (b"---\nname: a\n---\nBody\n", "f.md: frontmatter has no 'description'"),
        (b"---\nname: a\ndescription: ''\n---\n", "f.md: frontmatter has no 'description'"),
        (
            b"---\nname: a\ndescription:\n  when: x\n---\n",
            "f.md: 'description' must be text, not a dict (quote it, or use a '|' block)",
        ),
    ],
)
def test_validation_errors_are_one_clear_line(data: bytes, message: str) -> None:
    with pytest.raises(AgentFileError) as caught:
        AgentDefinition.parse(data, origin="f.md")
    assert str(caught.value) == message
    assert isinstance(caught.value, AgentRegistryError)


def test_too_large_is_rejected_before_anything_else() -> None:
    data = b"---\nname: a\ndescription: d\n---\n" + b"x" * MAX_FILE_BYTES
    with pytest.raises(AgentFileError, match=r"^big\.md: file is \d+ bytes, larger than the"):
        AgentDefinition.parse(data, origin="big.md")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ('"a:b"', "contains ':', which Claude Code refuses"),
        ('"   "', "is empty"),
        ('"a/b"', "contains a path separator"),
        ('"..\\\\x"', "contains a path separator"),
        ('".."', "contains '..' or is '.'"),
        ('"a..b"', "contains '..' or is '.'"),
        ('"."', "contains '..' or is '.'"),
        ('"a\\x00b"', "contains a control character"),
        ('"a\\x1b[31mb"', "contains a control character"),
        ('"a\\u2028b"', "contains a control character"),
        ('" padded"', "starts or ends with a blank"),
        ("a" * 65, "is longer than 64 characters"),
    ],
)
def test_names_unsafe_or_refused_by_claude_code(name: str, reason: str) -> None:
    with pytest.raises(AgentFileError, match=r"^f\.md: name '.*' ") as caught:
        _parse(f"---\nname: {name}\ndescription: d\n---\n", origin="f.md")
    assert str(caught.value).endswith(reason)


def test_a_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(AgentFileError, match=r"^f\.md: name '12' must be text, not a int"):
        _parse("---\nname: 12\ndescription: d\n---\n", origin="f.md")


@pytest.mark.parametrize("name", ["a", "a" * 64, "backend-2", "0-x"])
def test_recommended_names_load_without_warning(name: str) -> None:
    definition = _parse(f"---\nname: {name}\ndescription: d\n---\n")
    assert definition.name == name and definition.warnings == ()


@pytest.mark.parametrize(
    "name",
    ["PM", "Browser Automation Agent", "geepers_scout", "v1.2", "-lead", "리뷰어 (검토)", "a@b"],
)
def test_names_claude_code_loads_are_accepted_with_a_warning(name: str) -> None:
    definition = _parse(f"---\nname: {name}\ndescription: d\n---\n")
    assert definition.name == name
    assert definition.warnings == (
        f"name {name!r} is not in the form Claude Code recommends (lowercase letters, digits "
        "and hyphens); it loads as written",
    )


def test_name_override_supplies_or_replaces_the_name() -> None:
    data = b"---\ndescription: d\n---\n"
    definition = AgentDefinition.parse(data, name_override="from-file")
    assert definition.name == "from-file"
    assert definition.render() == data
    assert "name" not in definition.fields
    # Edits keep the override (the file still has no name of its own).
    assert definition.with_field("model", "opus").name == "from-file"
    replaced = AgentDefinition.parse(
        b"---\nname: Bad_Name\ndescription: d\n---\n", name_override="ok"
    )
    assert replaced.name == "ok"
    with pytest.raises(AgentFileError, match="name 'a:b' contains ':'"):
        AgentDefinition.parse(data, name_override="a:b")


def test_an_edit_that_breaks_validation_raises() -> None:
    definition = _parse("---\nname: a\ndescription: d\n---\n")
    with pytest.raises(AgentFileError, match="no 'description'"):
        definition.without_field("description")
    with pytest.raises(AgentFileError, match="contains ':'"):
        definition.with_field("name", "Not: Valid")


# -- edits ----------------------------------------------------------------------------------------


def test_known_fields_are_the_documented_ones() -> None:
    assert KNOWN_FIELDS[:2] == ("name", "description")
    assert len(KNOWN_FIELDS) == 16 and "initialPrompt" in KNOWN_FIELDS


def test_with_field_changes_only_the_model_line(seed: AgentDefinition) -> None:
    edited = seed.with_field("model", "haiku")
    assert edited.render() == seed.render().replace(b"\nmodel: sonnet\n", b"\nmodel: haiku\n")
    assert edited.model == "haiku" and edited.content_hash != seed.content_hash
    assert seed.model == "sonnet"  # the original is untouched (frozen)


def test_with_same_value_is_a_no_op(seed: AgentDefinition) -> None:
    assert seed.with_field("model", "sonnet") is seed
    assert seed.with_description(seed.description) is seed


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("plain words", "color: plain words"),
        ("has: colon", 'color: "has: colon"'),
        ("issue #12", 'color: "issue #12"'),
        ("yes", 'color: "yes"'),
        ("123", 'color: "123"'),
        ("*star", 'color: "*star"'),
        ("it's", "color: it's"),
        (" padded ", 'color: " padded "'),
        (7, "color: 7"),
        (True, "color: true"),
    ],
)
def test_new_values_are_written_so_yaml_reads_them_back(value: object, line: str) -> None:
    definition = _parse("---\nname: a\ndescription: d\ncolor: red\n---\n").with_field(
        "color", value
    )
    assert definition.render().decode().splitlines()[3] == line
    assert definition.strict_yaml
    assert yaml.safe_load(_frontmatter(definition))["color"] == value


def test_multi_line_values_become_block_scalars() -> None:
    definition = _parse("---\nname: a\ndescription: d\n---\nBody\n")
    edited = definition.with_field("description", "First: line\n\nSecond #line\n")
    assert _frontmatter(edited) == "name: a\ndescription: |\n  First: line\n\n  Second #line\n"
    assert edited.description == "First: line\n\nSecond #line\n"


def test_lists_and_mappings_are_block_style() -> None:
    definition = _parse("---\nname: a\ndescription: d\ntools: Read\nmodel: opus\n---\n")
    edited = definition.with_field("tools", ["Read", "Agent(a, b)"])
    assert _frontmatter(edited) == (
        "name: a\ndescription: d\ntools:\n  - Read\n  - Agent(a, b)\nmodel: opus\n"
    )
    hooks = {"Stop": [{"matcher": "*"}]}
    assert edited.with_field("hooks", hooks).fields["hooks"] == hooks


def test_without_field_removes_all_its_lines_and_keeps_comments() -> None:
    text = (
        "---\nname: a\ndescription: d\ntools:\n  - Read\n  - Grep\n# keep me\nmodel: opus\n---\nB\n"
    )
    edited = _parse(text).without_field("tools")
    assert edited.render().decode() == text.replace("tools:\n  - Read\n  - Grep\n", "")
    assert edited.without_field("tools") is edited


def test_with_body_keeps_the_frontmatter_bytes(seed: AgentDefinition) -> None:
    edited = seed.with_body("\nYou are terse.\n")
    head = seed.render()[: len(seed.render()) - len(seed.body.encode())]
    assert edited.render() == head + b"\nYou are terse.\n"
    assert edited.fields == seed.fields


def test_with_description_keeps_the_literal_escape_style(seed: AgentDefinition) -> None:
    edited = seed.with_description("Short: now.\n\nExamples:\n<example>x</example>")
    line = edited.render().decode().splitlines()[2]
    assert line == "description: Short: now.\\n\\nExamples:\\n<example>x</example>"
    assert edited.description == "Short: now.\\n\\nExamples:\\n<example>x</example>"
    assert edited.render().count(b"\n") == seed.render().count(b"\n")


def test_with_description_in_a_strict_file_stays_strict() -> None:
    definition = _parse("---\nname: a\ndescription: Use it.\\nThen stop\nmodel: opus\n---\n")
    assert definition.strict_yaml  # a plain scalar with a literal backslash-n is valid YAML
    edited = definition.with_description("Use it: now.\nThen stop")
    assert edited.strict_yaml
    assert edited.description == "Use it: now.\\nThen stop"


def test_with_description_keeps_double_quotes_and_blocks() -> None:
    quoted = _parse('---\nname: a\ndescription: "One\\ntwo"\n---\n').with_description("One\nthree")
    assert _frontmatter(quoted) == 'name: a\ndescription: "One\\nthree"\n'
    block = _parse("---\nname: a\ndescription: |\n  One\n  two\n---\n").with_description("A\nB\n")
    assert _frontmatter(block) == "name: a\ndescription: |\n  A\n  B\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", []),
        ("Read, Grep, Glob", ["Read", "Grep", "Glob"]),
        ("Read, Agent(a, b), Grep", ["Read", "Agent(a, b)", "Grep"]),
        ("Bash(git diff:*), mcp__github__list_prs", ["Bash(git diff:*)", "mcp__github__list_prs"]),
        (["Read", "Agent(a, b)"], ["Read", "Agent(a, b)"]),
    ],
)
def test_split_tools(value: object, expected: list[str] | None) -> None:
    assert split_tools(value) == expected
