"""The edits a variant is made of, as pure functions ``AgentDefinition -> AgentDefinition``.

Each edit goes through ``AgentDefinition``'s own field, description and body edits, so the result
differs from its input only in the lines of what the edit changes, and is validated like a file
read from disk (an invalid result raises ``AgentFileError``). Mistakes in what an edit asks for
(text not found, a position out of range) raise ``SpecError`` with a message that does not name
the spec; variants.spec adds where in the spec the edit came from.

Example positions count from 1, as ``registry show`` users count them.
"""

from __future__ import annotations

from typing import Any, Literal

from core.errors import SpecError
from variants import frontmatter as fm
from variants.agentfile import KNOWN_FIELDS, AgentDefinition
from variants.examples import Example
from variants.sections import Heading, headings, section_stop

Target = Literal["body", "description"]
TARGETS: tuple[Target, ...] = ("body", "description")

_ESCAPED_NEWLINE = "\\n"


# -- fields ------------------------------------------------------------------------------------


def set_model(definition: AgentDefinition, model: str) -> AgentDefinition:
    """Set ``model`` to an alias (``haiku``) or a model ID (``claude-haiku-5-5``)."""
    return definition.with_field("model", check_model(model))


def check_model(model: object) -> str:
    if not isinstance(model, str) or not model or any(c.isspace() for c in model):
        raise SpecError(f"model must be an alias or a model ID without spaces, not {model!r}")
    return model


def set_field(definition: AgentDefinition, key: str, value: Any) -> AgentDefinition:
    """Set a frontmatter field; ``description`` keeps the way it is written."""
    _check_field(definition, key)
    if key == "description":
        if not isinstance(value, str):
            raise SpecError(f"description must be text, not {type(value).__name__}")
        return definition.with_description(value)
    return definition.with_field(key, value)


def remove_field(definition: AgentDefinition, key: str) -> AgentDefinition:
    _check_field(definition, key)
    if key not in definition.fields:
        raise SpecError(f"cannot remove field {key!r}: the base has no such field")
    return definition.without_field(key)


def _check_field(definition: AgentDefinition, key: str) -> None:
    if key == "name":
        raise SpecError("cannot change 'name': a variant is a new version of the same agent")
    # A misspelled key would be silently ignored by Claude Code: refuse new unknown keys.
    if key not in KNOWN_FIELDS and key not in definition.fields:
        raise SpecError(f"unknown field {key!r} (fields: {', '.join(KNOWN_FIELDS)})")


# -- wording -----------------------------------------------------------------------------------


def replace_text(
    definition: AgentDefinition,
    find: str,
    replacement: str,
    *,
    target: Target = "body",
    occurrence: int | None = None,
) -> AgentDefinition:
    """Replace one exact occurrence of ``find``; ``occurrence`` (from 1) picks one of several."""
    text = _text(definition, target)
    find, replacement = _styled(definition, target, find), _styled(definition, target, replacement)
    if not find:
        raise SpecError("the text to replace is empty")
    starts = _occurrences(text, find)
    start = starts[_pick(starts, occurrence, f"{_quote(find)} in the {target}")]
    return _with_text(definition, target, text[:start] + replacement + text[start + len(find) :])


def append_text(
    definition: AgentDefinition, text: str, *, target: Target = "body"
) -> AgentDefinition:
    """Add ``text`` as written at the end (end it with a newline to add whole lines)."""
    return _with_text(
        definition, target, _text(definition, target) + _styled(definition, target, text)
    )


def prepend_text(
    definition: AgentDefinition, text: str, *, target: Target = "body"
) -> AgentDefinition:
    return _with_text(
        definition, target, _styled(definition, target, text) + _text(definition, target)
    )


def replace_section(
    definition: AgentDefinition, heading: str, text: str, *, occurrence: int | None = None
) -> AgentDefinition:
    """Replace what is under a markdown heading, keeping the heading line and the blank lines
    around the section's text.

    ``heading`` is the title (``Output Format``) or the whole line (``## Output Format``).
    """
    lines = fm.split_lines(definition.body)
    found = headings(lines)
    wanted = heading.strip()
    matches = [h for h in found if (h.line if wanted.startswith("#") else h.text) == wanted]
    if not matches:
        known = ", ".join(_quote(h.line) for h in found) or "none"
        raise SpecError(f"section {_quote(wanted)} not found in the body (headings: {known})")
    chosen: Heading = matches[_pick(matches, occurrence, f"section {_quote(wanted)}")]
    first, stop = chosen.index + 1, section_stop(lines, chosen, found)
    while first < stop and not lines[first].strip():
        first += 1
    while stop > first and not lines[stop - 1].strip():
        stop -= 1
    newline = _body_newline(definition)
    new = _styled(definition, "body", text)
    if new and not new.endswith(newline):
        new += newline
    return definition.with_body("".join(lines[:first]) + new + "".join(lines[stop:]))


def replace_body(definition: AgentDefinition, body: str) -> AgentDefinition:
    """The whole body (system prompt) replaced by ``body``, as written."""
    return definition.with_body(body)


def _text(definition: AgentDefinition, target: Target) -> str:
    return definition.body if target == "body" else definition.description


def _with_text(definition: AgentDefinition, target: Target, text: str) -> AgentDefinition:
    return definition.with_body(text) if target == "body" else definition.with_description(text)


def _styled(definition: AgentDefinition, target: Target, text: str) -> str:
    """``text`` with line breaks written as the target writes them.

    A body with CRLF lines gets CRLF; a one-line description in the Claude Code generator style
    gets the two characters ``\\n``, so that a spec can write ordinary multi-line YAML text.
    """
    if target == "body":
        newline = _body_newline(definition)
        return text if newline == "\n" else text.replace("\r\n", "\n").replace("\n", newline)
    description = definition.description
    if _ESCAPED_NEWLINE in description and "\n" not in description:
        return text.replace("\r\n", "\n").replace("\n", _ESCAPED_NEWLINE)
    return text


def _body_newline(definition: AgentDefinition) -> str:
    """The line ending of the body's first line; of the file's first line for an empty body."""
    for line in fm.split_lines(definition.body or definition.source.decode("utf-8")):
        ending = fm.line_ending(line)
        if ending:
            return ending
    return "\n"


def _occurrences(text: str, find: str) -> list[int]:
    starts, start = [], text.find(find)
    while start >= 0:
        starts.append(start)
        start = text.find(find, start + 1)
    return starts


def _pick(matches: list[Any], occurrence: int | None, what: str) -> int:
    """The index of the match to edit, or ``SpecError`` when there is none or no single one."""
    if not matches:
        raise SpecError(f"{what} not found")
    if occurrence is None:
        if len(matches) > 1:
            raise SpecError(
                f"{what} is ambiguous: found {len(matches)} times; "
                f"add 'occurrence: N' (1-{len(matches)}) to pick one"
            )
        return 0
    if not 1 <= occurrence <= len(matches):
        raise SpecError(
            f"occurrence {occurrence} of {what} is out of range: found {len(matches)} time(s)"
        )
    return occurrence - 1


def _quote(text: str, limit: int = 60) -> str:
    short = text if len(text) <= limit else text[: limit - 3] + "..."
    return repr(short)


# -- examples ----------------------------------------------------------------------------------


def keep_examples(definition: AgentDefinition, positions: list[int]) -> AgentDefinition:
    """Keep only the examples at ``positions``, in that order."""
    examples = definition.examples
    _check_positions(positions, len(examples))
    return definition.with_examples([examples[p - 1] for p in positions])


def drop_examples(definition: AgentDefinition, positions: list[int]) -> AgentDefinition:
    examples = definition.examples
    _check_positions(positions, len(examples))
    dropped = set(positions)
    return definition.with_examples(
        [example for p, example in enumerate(examples, 1) if p not in dropped]
    )


def reorder_examples(definition: AgentDefinition, positions: list[int]) -> AgentDefinition:
    """Put the examples in the order of ``positions``: every position of the base exactly once."""
    examples = definition.examples
    _check_positions(positions, len(examples))
    if sorted(positions) != list(range(1, len(examples) + 1)):
        raise SpecError(
            f"reorder must list each of the positions 1-{len(examples)} exactly once, "
            f"got {positions}"
        )
    return definition.with_examples([examples[p - 1] for p in positions])


def add_examples(
    definition: AgentDefinition, new: list[Example], *, at: int | None = None
) -> AgentDefinition:
    """Insert ``new`` before position ``at`` (from 1), or after the last example."""
    examples = definition.examples
    if at is not None and not 1 <= at <= len(examples) + 1:
        raise SpecError(
            f"example position {at} is out of range: "
            f"the definition has {len(examples)} example(s), so 'at' goes from 1 to "
            f"{len(examples) + 1}"
        )
    index = len(examples) if at is None else at - 1
    return definition.with_examples([*examples[:index], *new, *examples[index:]])


def replace_examples(definition: AgentDefinition, new: list[Example]) -> AgentDefinition:
    return definition.with_examples(list(new))


def _check_positions(positions: list[int], count: int) -> None:
    for position in positions:
        if isinstance(position, bool) or not isinstance(position, int):
            raise SpecError(f"example positions are numbers from 1, not {position!r}")
        if not 1 <= position <= count:
            raise SpecError(
                f"example position {position} is out of range: "
                f"the definition has {count} example(s)"
            )
    if len(set(positions)) != len(positions):
        raise SpecError(f"example positions repeat: {positions}")
