"""The edits a variant is made of: exact bytes, only the lines of what changes, clear errors."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from core.errors import AgentFileError, SpecError
from tests.conftest import SEED, corpus_files
from variants import derive
from variants.agentfile import AgentDefinition
from variants.examples import Example
from variants.spec import parse_variant_spec

DATA = Path(__file__).parent / "data"
SEED_BYTES = SEED.read_bytes()


@pytest.fixture(scope="module")
def seed() -> AgentDefinition:
    return AgentDefinition.parse(SEED_BYTES, origin=str(SEED))


def changed_lines(before: bytes, after: bytes) -> tuple[list[bytes], list[bytes]]:
    """(lines only in ``before``, lines only in ``after``) of a line diff, endings kept."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed: list[bytes] = []
    added: list[bytes] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, False).get_opcodes():
        if tag != "equal":
            removed += old[i1:i2]
            added += new[j1:j2]
    return removed, added


def _agent(body: str, *, description: str = "Use it.", newline: str = "\n") -> AgentDefinition:
    text = f"---\nname: demo\ndescription: {description}\nmodel: sonnet\n---\n{body}"
    return AgentDefinition.parse(text.replace("\n", newline).encode())


# -- fields ------------------------------------------------------------------------------------


def test_set_model_changes_only_the_model_line(seed: AgentDefinition) -> None:
    result = derive.set_model(seed, "haiku").render()
    assert result == SEED_BYTES.replace(b"\nmodel: sonnet\n", b"\nmodel: haiku\n")
    assert changed_lines(SEED_BYTES, result) == ([b"model: sonnet\n"], [b"model: haiku\n"])
    assert derive.set_model(seed, "claude-haiku-5-5").model == "claude-haiku-5-5"


@pytest.mark.parametrize("model", ["", "claude haiku", None, 3])
def test_set_model_rejects_what_is_not_a_model(seed: AgentDefinition, model: object) -> None:
    with pytest.raises(SpecError, match="alias or a model ID"):
        derive.set_model(seed, model)  # type: ignore[arg-type]


def test_set_and_remove_fields(seed: AgentDefinition) -> None:
    coloured = derive.set_field(seed, "color", "blue").render()
    assert changed_lines(SEED_BYTES, coloured) == ([b"color: orange\n"], [b"color: blue\n"])
    added = derive.set_field(seed, "maxTurns", 5).render()
    assert changed_lines(SEED_BYTES, added) == ([], [b"maxTurns: 5\n"])
    removed = derive.remove_field(seed, "color").render()
    assert changed_lines(SEED_BYTES, removed) == ([b"color: orange\n"], [])


def test_set_description_keeps_its_one_line_style(seed: AgentDefinition) -> None:
    result = derive.set_field(seed, "description", "Backend work.\nExamples: none")
    assert result.render().splitlines()[2] == b"description: Backend work.\\nExamples: none"
    assert len(result.render().splitlines()) == len(SEED_BYTES.splitlines())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: derive.set_field(d, "name", "other"), "cannot change 'name'"),
        (lambda d: derive.remove_field(d, "name"), "cannot change 'name'"),
        (lambda d: derive.set_field(d, "colour", "x"), "unknown field 'colour' (fields: name,"),
        (lambda d: derive.remove_field(d, "effort"), "the base has no such field"),
        (lambda d: derive.set_field(d, "description", 3), "description must be text"),
    ],
)
def test_field_errors(seed: AgentDefinition, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError, match=re.escape(message)):
        call(seed)


def test_a_result_that_is_no_agent_raises(seed: AgentDefinition) -> None:
    with pytest.raises(AgentFileError, match="frontmatter has no 'description'"):
        derive.remove_field(seed, "description")


def test_unknown_keys_already_in_the_file_can_be_changed() -> None:
    definition = AgentDefinition.parse(b"---\nname: demo\ndescription: d\nteam: a\n---\nBody\n")
    assert derive.set_field(definition, "team", "b").fields["team"] == "b"
    assert "team" not in derive.remove_field(definition, "team").fields


# -- wording -----------------------------------------------------------------------------------


def test_replace_in_the_body_changes_one_line(seed: AgentDefinition) -> None:
    result = derive.replace_text(
        seed, "You are an expert backend engineer", "You are a backend engineer"
    )
    removed, added = changed_lines(SEED_BYTES, result.render())
    assert len(removed) == len(added) == 1
    assert added[0] == removed[0].replace(b"You are an expert", b"You are a")
    assert result.fields == seed.fields


def test_replace_needs_a_single_match_or_an_occurrence(seed: AgentDefinition) -> None:
    with pytest.raises(SpecError) as err:
        derive.replace_text(seed, "## ", "### ")
    assert str(err.value) == (
        "'## ' in the body is ambiguous: found 5 times; add 'occurrence: N' (1-5) to pick one"
    )
    second = derive.replace_text(seed, "## ", "### ", occurrence=2).body
    assert "## Core Responsibilities" in second and "### Technical Guidelines" in second
    with pytest.raises(SpecError, match="'nowhere' in the body not found"):
        derive.replace_text(seed, "nowhere", "x")
    with pytest.raises(
        SpecError, match="occurrence 6 of '## ' in the body is out of range: found 5"
    ):
        derive.replace_text(seed, "## ", "x", occurrence=6)
    with pytest.raises(SpecError, match="empty"):
        derive.replace_text(seed, "", "x")


def test_replace_in_an_escaped_description_accepts_real_newlines(seed: AgentDefinition) -> None:
    result = derive.replace_text(
        seed, "pipelines.\n\nExamples:", "pipelines.\n\nFor example:", target="description"
    )
    removed, added = changed_lines(SEED_BYTES, result.render())
    assert removed == [SEED_BYTES.splitlines(keepends=True)[2]]
    assert added == [removed[0].replace(b"\\n\\nExamples:", b"\\n\\nFor example:")]
    assert len(result.examples) == 3


def test_append_and_prepend_keep_crlf_line_endings() -> None:
    definition = _agent("First.\nLast.\n", newline="\r\n")
    appended = derive.append_text(definition, "Added.\n")
    assert appended.render().endswith(b"First.\r\nLast.\r\nAdded.\r\n")
    prepended = derive.prepend_text(definition, "Top.\n")
    assert prepended.render().endswith(b"---\r\nTop.\r\nFirst.\r\nLast.\r\n")
    described = derive.append_text(definition, " Proactively.", target="description")
    assert b"description: Use it. Proactively.\r\n" in described.render()


BODY = """\
Intro.

## Output

Old line one.
Old line two.

```markdown
## Not a heading
```

### Details

Detail text.

## Next

Keep.
"""


def test_replace_section_keeps_the_heading_and_the_blank_lines_around() -> None:
    definition = _agent(BODY)
    result = derive.replace_section(definition, "Output", "New text.")
    assert result.body == BODY.replace(
        BODY[BODY.index("Old") : BODY.index("## Next")], "New text.\n\n"
    )
    same = derive.replace_section(definition, "## Output", "New text.")
    assert same.body == result.body
    details = derive.replace_section(definition, "Details", "Short.\n")
    assert details.body == BODY.replace("Detail text.", "Short.")


def test_replace_section_errors() -> None:
    definition = _agent(BODY + "\n## Next\n\nAgain.\n")
    with pytest.raises(SpecError) as err:
        derive.replace_section(definition, "Not a heading", "x")
    assert str(err.value) == (
        "section 'Not a heading' not found in the body "
        "(headings: '## Output', '### Details', '## Next', '## Next')"
    )
    with pytest.raises(SpecError, match="section 'Next' is ambiguous: found 2 times"):
        derive.replace_section(definition, "Next", "x")
    assert derive.replace_section(definition, "Next", "Y.", occurrence=2).body.endswith(
        "## Next\n\nKeep.\n\n## Next\n\nY.\n"
    )


def test_replace_body_keeps_the_frontmatter_bytes(seed: AgentDefinition) -> None:
    result = derive.replace_body(seed, "\nBe brief.\n").render()
    assert result == SEED_BYTES[: SEED_BYTES.index(b"\n---\n") + 5] + b"\nBe brief.\n"


# -- examples ----------------------------------------------------------------------------------


def _users(definition: AgentDefinition) -> list[str]:
    return [(example.user or "")[:20] for example in definition.examples]


def test_example_selection(seed: AgentDefinition) -> None:
    users = _users(seed)
    assert _users(derive.keep_examples(seed, [3, 1])) == [users[2], users[0]]
    assert _users(derive.drop_examples(seed, [2])) == [users[0], users[2]]
    assert _users(derive.reorder_examples(seed, [2, 3, 1])) == [users[1], users[2], users[0]]
    dropped = derive.drop_examples(seed, [2]).render()
    removed, added = changed_lines(SEED_BYTES, dropped)
    assert removed == [SEED_BYTES.splitlines(keepends=True)[2]] and len(added) == 1
    assert added[0].count(b"<example>") == 2


def test_examples_added_in_the_description_style(seed: AgentDefinition) -> None:
    new = Example.build("A refund flow", "Add refunds", "I'll use the agent.", "Payments.")
    first = derive.add_examples(seed, [new], at=1)
    assert _users(first)[0] == "Add refunds"
    assert len(first.examples) == 4
    assert len(first.render().splitlines()) == len(SEED_BYTES.splitlines())  # still one line
    assert "\\n- <example>\\nContext: A refund flow\\n" in first.description
    last = derive.add_examples(seed, [new])
    assert _users(last)[3] == "Add refunds"
    replaced = derive.replace_examples(seed, [new])
    assert [e.user for e in replaced.examples] == ["Add refunds"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda d: derive.keep_examples(d, [4]),
            "example position 4 is out of range: the definition has 3",
        ),
        (lambda d: derive.drop_examples(d, [0]), "example position 0 is out of range"),
        (lambda d: derive.drop_examples(d, [1, 1]), "example positions repeat"),
        (
            lambda d: derive.reorder_examples(d, [2, 1]),
            "reorder must list each of the positions 1-3",
        ),
        (lambda d: derive.add_examples(d, [], at=5), "'at' goes from 1 to 4"),
        (lambda d: derive.keep_examples(d, ["1"]), "positions are numbers from 1"),
    ],
)
def test_example_errors(seed: AgentDefinition, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError, match=re.escape(message)):
        call(seed)


# -- the whole corpus ---------------------------------------------------------------------------


def _load(path: Path) -> AgentDefinition:
    data = path.read_bytes()
    try:
        return AgentDefinition.parse(data, origin=str(path))
    except AgentFileError:  # files whose name Claude Code rejects; the corpus test lists them
        return AgentDefinition.parse(data, origin=str(path), name_override="override-name")


def test_a_model_variant_of_every_corpus_file_changes_only_the_model_line() -> None:
    files = [*corpus_files(), SEED, *sorted(DATA.glob("*.md"))]
    assert len(files) > 163
    to_haiku, to_opus = (
        parse_variant_spec(f"base: a\nlabel: b\nmodel: {m}\n", origin="t", root=DATA).variants[0]
        for m in ("haiku", "opus")
    )
    for path in files:
        definition = _load(path)
        data = definition.render()
        variant, target = (
            (to_opus, b"opus") if definition.model == "haiku" else (to_haiku, b"haiku")
        )
        removed, added = changed_lines(data, variant.apply(definition, "t").render())
        assert [line.rstrip(b"\r\n") for line in added] == [b"model: " + target], path
        assert len(removed) == (1 if "model" in definition.fields else 0), path
        assert all(line.startswith(b"model:") for line in removed), path
