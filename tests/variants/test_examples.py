"""The <example> blocks of a description: read, remove, reorder, add, in both description styles."""

from __future__ import annotations

from pathlib import Path

import pytest

from variants.agentfile import AgentDefinition
from variants.examples import Example, replace_examples, split_examples

SEED = Path(__file__).parents[2] / "data" / "agents" / "backend-logic-implementer.md"

MULTI_LINE = """---
name: pipeline-implementer
description: |
  Use this agent when tests exist and the code must pass them.

  <example>
  Context: Tests are failing.
  user: "Implement the pipeline"
  assistant: "I'll use the pipeline-implementer agent."
  <commentary>
  Implementation follows TDD.
  </commentary>
  </example>

  <example>
  Context: Phase 3 is done.
  user: "Write the implementation"
  assistant: "Let me use the pipeline-implementer agent."
  </example>
model: opus
---
Body.
"""


@pytest.fixture
def seed() -> AgentDefinition:
    return AgentDefinition.parse(SEED.read_bytes())


@pytest.fixture
def multi_line() -> AgentDefinition:
    return AgentDefinition.parse(MULTI_LINE.encode())


def test_seed_examples_and_their_fields(seed: AgentDefinition) -> None:
    before, examples, after = split_examples(seed.description)
    assert before.endswith("pipelines.\\n\\nExamples:\\n- ")
    assert after == ""
    assert [example.context for example in examples] == [
        "User is building a new feature that requires both API and database work",
        "User is integrating a payment provider into their application",
        "User is experiencing database performance issues",
    ]
    assert examples[1].user == (
        "How do I integrate Stripe into my application to handle subscription payments?"
    )
    assert examples[1].assistant is not None
    assert examples[1].assistant.startswith("I'll use the backend-logic-implementer agent to set")
    assert examples[2].commentary == (
        "Since the user is dealing with database performance and optimization, the "
        "backend-logic-implementer agent should review and optimize the queries."
    )
    assert all(
        e.text.startswith("<example>\\n") and e.text.endswith("</example>") for e in examples
    )
    assert before + "\\n- ".join(e.text for e in examples) + after == seed.description


def test_removing_the_second_seed_example(seed: AgentDefinition) -> None:
    first, second, third = seed.examples
    edited = seed.with_examples([first, third])
    assert edited.examples == [first, third]
    assert edited.description == seed.description.replace(second.text + "\\n- ", "")
    before, after = seed.render().splitlines(True), edited.render().splitlines(True)
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [2]
    assert (edited.name, edited.model, edited.body) == (seed.name, seed.model, seed.body)


def test_reordering(seed: AgentDefinition, multi_line: AgentDefinition) -> None:
    first, second, third = seed.examples
    assert seed.with_examples([third, first, second]).examples == [third, first, second]
    one, two = multi_line.examples
    swapped = multi_line.with_examples([two, one])
    assert swapped.examples == [two, one]
    assert swapped.description == (
        "Use this agent when tests exist and the code must pass them.\n\n"
        + two.text
        + "\n\n"
        + one.text
        + "\n"
    )
    assert swapped.strict_yaml and swapped.model == "opus"


def test_build_follows_the_template() -> None:
    example = Example.build("User wants X", 'Do "X" now', "I'll use the x agent.", "X matches.")
    assert example.text == (
        '<example>\nContext: User wants X\nuser: "Do "X" now"\n'
        'assistant: "I\'ll use the x agent."\n<commentary>\nX matches.\n</commentary>\n</example>'
    )
    assert (example.context, example.user, example.assistant, example.commentary) == (
        "User wants X",
        'Do "X" now',
        "I'll use the x agent.",
        "X matches.",
    )
    assert Example.build("c", "u", "a").commentary is None


def test_adding_in_the_literal_escape_style(seed: AgentDefinition) -> None:
    new = Example.build("User needs a cron job", "Schedule: nightly cleanup", "I'll use it.")
    edited = seed.with_examples([*seed.examples, new])
    assert len(edited.examples) == 4
    assert edited.examples[3].user == "Schedule: nightly cleanup"
    assert edited.description == seed.description + "\\n- " + new.text.replace("\n", "\\n")
    # Still one line in the file: only the description line changed.
    assert edited.render().count(b"\n") == seed.render().count(b"\n")


def test_adding_in_the_multi_line_style(multi_line: AgentDefinition) -> None:
    new = Example.build("Phase 5", "Ship it", "Using the pipeline-implementer agent.", "Why not.")
    edited = multi_line.with_examples([*multi_line.examples, new])
    assert edited.strict_yaml
    assert [e.context for e in edited.examples] == [
        "Tests are failing.",
        "Phase 3 is done.",
        "Phase 5",
    ]
    assert (
        edited.description == multi_line.description.removesuffix("\n") + "\n\n" + new.text + "\n"
    )
    assert edited.render().decode().startswith(MULTI_LINE.split("  </example>\nmodel")[0])


def test_adding_to_a_description_without_examples() -> None:
    new = Example.build("c", "u", "a")
    assert (
        replace_examples("Use this agent for X.", [new]) == "Use this agent for X.\n\n" + new.text
    )
    escaped = "Use this agent.\\nExamples:\\n"
    assert replace_examples(escaped, [new]) == (
        "Use this agent.\\nExamples:\\n\\n" + new.text.replace("\n", "\\n")
    )
    assert replace_examples("No blocks.", []) == "No blocks."


def test_removing_all_examples_keeps_the_text(multi_line: AgentDefinition) -> None:
    edited = multi_line.with_examples([])
    assert edited.examples == []
    assert (
        edited.description == "Use this agent when tests exist and the code must pass them.\n\n\n"
    )


def test_description_without_examples() -> None:
    assert split_examples("Plain text, <example> never closed") == (
        "Plain text, <example> never closed",
        [],
        "",
    )
