"""The semantic diff: model, fields, examples and body by section, as text and as JSON."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SEED
from variants import derive
from variants.agentfile import AgentDefinition
from variants.diff import diff_definitions
from variants.examples import Example

SEED_BYTES = SEED.read_bytes()


@pytest.fixture(scope="module")
def seed() -> AgentDefinition:
    return AgentDefinition.parse(SEED_BYTES, origin=str(SEED))


def _line_number(definition: AgentDefinition, text: str) -> int:
    lines = definition.render().decode().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line == text)


def test_identical_versions(seed: AgentDefinition) -> None:
    result = diff_definitions(seed, seed, old_label="a@1", new_label="a@2")
    assert result.render_text() == "no differences between a@1 and a@2\n"
    data = result.to_dict()
    assert data["identical"] is True and data["summary"] == []
    assert data["model"] is None and data["fields"] == [] and data["body"] == []


def test_model_and_fields(seed: AgentDefinition) -> None:
    new = derive.set_model(derive.set_field(seed, "maxTurns", 5), "haiku")
    new = derive.remove_field(new, "color")
    result = diff_definitions(seed, new, old_label="a@1", new_label="a@2")
    assert result.summary == [
        "model: sonnet -> haiku",
        "field maxTurns: added",
        "field color: removed",
    ]
    assert result.render_text() == (
        "--- a@1\n+++ a@2\nmodel: sonnet -> haiku\n"
        "maxTurns: (absent) -> 5\ncolor: orange -> (removed)\n"
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data["model"] == {"key": "model", "status": "changed", "from": "sonnet", "to": "haiku"}
    assert data["fields"] == [
        {"key": "maxTurns", "status": "added", "from": None, "to": 5},
        {"key": "color", "status": "removed", "from": "orange", "to": None},
    ]
    assert data["examples"]["order"] == [1, 2, 3] and data["body"] == []


def test_description_text_around_the_examples(seed: AgentDefinition) -> None:
    new = derive.replace_text(
        seed, "pipelines.", "pipelines. Not for UI work.", target="description"
    )
    result = diff_definitions(seed, new)
    assert result.summary == ["description: text changed"]
    assert result.description is not None
    assert result.description.new == result.description.old.replace(
        "pipelines.", "pipelines. Not for UI work."
    )
    text = result.render_text()
    assert "description (the text around the examples):\n  -Use this agent" in text
    assert "\n  +Use this agent" in text and "Not for UI work.\n   \n   Examples:\n" in text


def test_examples_added_removed_reordered_and_edited(seed: AgentDefinition) -> None:
    users = [e.user for e in seed.examples]
    dropped = derive.drop_examples(seed, [2])
    result = diff_definitions(seed, dropped)
    assert result.summary == ["examples: 1 removed (3 -> 2)"]
    assert [(r.position, r.summary) for r in result.examples.removed] == [
        (2, users[1][:69] + "...")
    ]
    assert result.examples.order == (1, 3) and not result.examples.reordered

    reordered = diff_definitions(seed, derive.reorder_examples(seed, [3, 1, 2]))
    assert reordered.examples.order == (3, 1, 2) and reordered.examples.reordered
    assert reordered.summary == ["examples: reordered (3 -> 3)"]
    assert "  reordered: now #3, #1, #2\n" in reordered.render_text()

    edited = derive.replace_text(seed, "Stripe into", "Paddle into", target="description")
    moved = derive.reorder_examples(edited, [2, 1, 3])
    result = diff_definitions(seed, moved)
    assert result.summary == ["examples: 1 edited, reordered (3 -> 3)"]
    (edit,) = result.examples.edited
    assert (edit.old_position, edit.new_position) == (2, 1)
    assert [line for line in edit.diff if line[0] in "+-"] == [
        '-user: "How do I integrate Stripe into my application to handle subscription payments?"',
        '+user: "How do I integrate Paddle into my application to handle subscription payments?"',
    ]
    assert "  edited #2 (now #1): How do I integrate Paddle" in result.render_text()

    new = Example.build("Refunds", "Add refunds to checkout", "Using the agent.")
    swapped = derive.add_examples(derive.drop_examples(seed, [3]), [new])
    result = diff_definitions(seed, swapped)
    # A different example at the same place is a removal and an addition, not an edit.
    assert result.summary == ["examples: 1 added, 1 removed (3 -> 3)"]
    assert result.examples.added[0].position == 3
    assert result.examples.order == (1, 2, None)


def test_body_is_grouped_by_section_with_file_line_numbers(seed: AgentDefinition) -> None:
    new = derive.replace_section(seed, "Output Format", "Only code.")
    new = derive.append_text(new, "\n## Brevity\n\nBe brief.\n")
    result = diff_definitions(seed, new, old_label="a@1", new_label="a@2")
    heading_line = _line_number(seed, "## Output Format")
    assert [(s.heading, s.status) for s in result.body] == [
        ("## Output Format", "changed"),
        ("## Quality Assurance", "changed"),  # the blank line before the new heading
        ("## Brevity", "added"),
    ]
    output = result.body[0].hunks
    assert output[0] == f"@@ -{heading_line},11 +{heading_line},4 @@"
    assert output[1:3] == (" ## Output Format", " ")
    assert output[3] == "-When implementing features, provide:"
    assert output[-2:] == ("+Only code.", " ")
    last = len(SEED_BYTES.splitlines())
    assert result.body[2].hunks == (
        f"@@ -{last},0 +{_line_number(new, '## Brevity')},3 @@",
        "+## Brevity",
        "+",
        "+Be brief.",
    )
    assert result.summary == [
        "body: 3 section(s): ## Output Format changed, ## Quality Assurance changed, "
        "## Brevity added"
    ]
    text = result.render_text()
    assert text.endswith(
        "\n  ## Brevity (added)\n    " + "\n    ".join(result.body[2].hunks) + "\n"
    )


def test_removed_section_and_preamble(seed: AgentDefinition) -> None:
    body = "Intro.\n\n## A\n\nText A.\n\n## B\n\nText B.\n"
    base = derive.replace_body(seed, body)
    new = derive.replace_body(seed, "Intro, shorter.\n\n## B\n\nText B.\n")
    result = diff_definitions(base, new)
    assert [(s.title, s.status) for s in result.body] == [
        ("(before the first heading)", "changed"),
        ("## A", "removed"),
    ]
    start = _line_number(base, "## A")
    assert result.body[1].hunks == (
        f"@@ -{start},4 +{start - 1},0 @@",
        "-## A",
        "-",
        "-Text A.",
        "-",
    )


def test_formatting_only_is_not_called_identical() -> None:
    old = AgentDefinition.parse(b"---\nname: a\ndescription: d\n---\nBody\n")
    new = AgentDefinition.parse(b'---\nname: a\ndescription: "d"\n---\nBody\n')
    result = diff_definitions(old, new)
    assert not result.identical
    assert result.summary == ["formatting only: quoting, whitespace or line endings"]
    assert result.render_text() == (
        "--- old\n+++ new\nformatting only: quoting, whitespace or line endings\n"
    )
