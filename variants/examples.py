"""The ``<example>`` blocks of a description: list, rebuild, add, remove, reorder.

A description is ``before + block + separator + block + ... + after``. Splitting keeps every
character, so joining the same blocks gives back the same description, and removing or reordering
blocks leaves the text around them byte-identical.

Descriptions come in two styles: real newlines (block scalars, quoted strings) and the Claude Code
generator style, one plain line whose line breaks are the two characters ``\\n``. An example is
kept in the style of the description it came from; ``join_examples`` converts new ones.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

_BLOCK_RE = re.compile(r"<example>.*?</example>", re.DOTALL)
_COMMENTARY_RE = re.compile(r"<commentary>(.*?)</commentary>", re.DOTALL)
_ESCAPED_NEWLINE = "\\n"


@dataclass(frozen=True)
class Example:
    """One ``<example>...</example>`` block, as written, with best-effort fields read from it."""

    text: str
    context: str | None = None
    user: str | None = None
    assistant: str | None = None
    commentary: str | None = None

    @classmethod
    def from_text(cls, text: str) -> Example:
        plain = text.replace(_ESCAPED_NEWLINE, "\n") if "\n" not in text else text
        inner = plain.removeprefix("<example>").removesuffix("</example>")
        commentary = _COMMENTARY_RE.search(inner)
        dialogue = _COMMENTARY_RE.sub("\n", inner)
        return cls(
            text=text,
            context=_labelled(dialogue, "Context"),
            user=_labelled(dialogue, "user"),
            assistant=_labelled(dialogue, "assistant"),
            commentary=commentary.group(1).strip() if commentary else None,
        )

    @classmethod
    def build(
        cls, context: str, user: str, assistant: str, commentary: str | None = None
    ) -> Example:
        """A block in the layout of Anthropic's agent-development template (real newlines)."""
        lines = ["<example>", f"Context: {context}", f'user: "{user}"', f'assistant: "{assistant}"']
        if commentary is not None:
            lines += ["<commentary>", commentary, "</commentary>"]
        lines.append("</example>")
        return cls.from_text("\n".join(lines))


_LABELS = ("Context", "user", "assistant")


def _labelled(dialogue: str, label: str) -> str | None:
    """The text after the first ``label:`` line, up to the next labelled line."""
    others = "|".join(re.escape(other) for other in _LABELS if other != label)
    match = re.search(
        rf"^[ \t]*{re.escape(label)}:[ \t]*(.*?)(?=^[ \t]*(?:{others}):|\Z)",
        dialogue,
        re.DOTALL | re.MULTILINE | re.IGNORECASE,
    )
    if not match:
        return None
    value = match.group(1).strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def split_examples(description: str) -> tuple[str, list[Example], str]:
    """``(text before the first block, the blocks, text after the last block)``."""
    matches = list(_BLOCK_RE.finditer(description))
    if not matches:
        return description, [], ""
    before = description[: matches[0].start()]
    after = description[matches[-1].end() :]
    return before, [Example.from_text(match.group(0)) for match in matches], after


def replace_examples(description: str, examples: list[Example]) -> str:
    """``description`` with ``examples`` where its blocks were, in the description's style.

    The text before the first block and after the last one is kept as it is. Blocks are joined
    by the separator the description already uses most (for example ``"\\n- "`` in the generator
    style with list markers), else by a blank line.
    """
    matches = list(_BLOCK_RE.finditer(description))
    escaped = _ESCAPED_NEWLINE in description and "\n" not in description
    newline = _ESCAPED_NEWLINE if escaped else "\n"
    separators = [description[a.end() : b.start()] for a, b in pairwise(matches)]
    found = Counter(separators).most_common(1)
    separator = found[0][0] if found else newline * 2
    texts = [_in_style(example.text, escaped) for example in examples]
    if matches:
        before, after = description[: matches[0].start()], description[matches[-1].end() :]
    elif not texts:
        return description
    else:
        # No blocks yet: they go after the text, a blank line apart.
        before, after = _strip_trailing_breaks(description), ""
        if before:
            before += newline * 2
    return before + separator.join(texts) + after


def _strip_trailing_breaks(text: str) -> str:
    text = text.rstrip()
    while text.endswith(_ESCAPED_NEWLINE):
        text = text.removesuffix(_ESCAPED_NEWLINE).rstrip()
    return text


def _in_style(text: str, escaped: bool) -> str:
    """``text`` with its line breaks written the way the target description writes them."""
    if escaped:
        return text.replace("\r\n", "\n").replace("\n", _ESCAPED_NEWLINE)
    if "\n" not in text and _ESCAPED_NEWLINE in text:
        return text.replace(_ESCAPED_NEWLINE, "\n")
    return text
