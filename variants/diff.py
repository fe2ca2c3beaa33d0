"""What differs between two agent definitions, per axis: model, other fields, examples, body.

The description is split into its ``<example>`` blocks and the text around them: the blocks are
compared as examples (matched by text first, then by position), the text around them as the
description. The body is compared as a unified diff whose hunks are grouped by markdown section
(``#`` and ``##`` headings), with line numbers of the whole file.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from variants import frontmatter as fm
from variants.agentfile import AgentDefinition
from variants.examples import Example, split_examples
from variants.sections import Section, split_sections

_CONTEXT = 3
_ESCAPED_NEWLINE = "\\n"
_ABSENT = object()
_SIMILAR = 0.5  # how alike two examples must be to count as one edited example


@dataclass(frozen=True)
class FieldChange:
    key: str
    status: str  # "added", "removed" or "changed"
    old: Any  # None when added
    new: Any  # None when removed

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "status": self.status, "from": self.old, "to": self.new}

    def render(self) -> str:
        old = "(absent)" if self.status == "added" else _value(self.old)
        new = "(removed)" if self.status == "removed" else _value(self.new)
        return f"{old} -> {new}"


@dataclass(frozen=True)
class ExampleRef:
    position: int  # from 1, in the version it belongs to
    summary: str
    text: str


@dataclass(frozen=True)
class ExampleEdit:
    old_position: int
    new_position: int
    summary: str
    diff: tuple[str, ...]  # unified diff lines of the block, without file headers


@dataclass(frozen=True)
class ExamplesDiff:
    old_count: int
    new_count: int
    added: tuple[ExampleRef, ...]
    removed: tuple[ExampleRef, ...]
    edited: tuple[ExampleEdit, ...]
    order: tuple[int | None, ...]  # per new example, its old position (None: added)
    reordered: bool  # the examples kept or edited are no longer in their old order

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.edited or self.reordered)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_count": self.old_count,
            "new_count": self.new_count,
            "added": [vars(ref) for ref in self.added],
            "removed": [vars(ref) for ref in self.removed],
            "edited": [{**vars(edit), "diff": list(edit.diff)} for edit in self.edited],
            "order": list(self.order),
            "reordered": self.reordered,
        }


@dataclass(frozen=True)
class SectionDiff:
    heading: str | None  # the heading line; None for the text before the first heading
    status: str  # "changed", "added" or "removed"
    hunks: tuple[str, ...]  # unified diff lines, "@@ -a,b +c,d @@" headers included

    @property
    def title(self) -> str:
        return self.heading or "(before the first heading)"

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.heading, "status": self.status, "diff": list(self.hunks)}


@dataclass(frozen=True)
class DefinitionDiff:
    old_label: str
    new_label: str
    identical: bool  # the same bytes
    model: FieldChange | None
    fields: tuple[FieldChange, ...]  # every changed field but model and description
    description: FieldChange | None  # the description's text around its examples
    examples: ExamplesDiff
    body: tuple[SectionDiff, ...]

    @property
    def summary(self) -> list[str]:
        """One line per changed axis."""
        lines: list[str] = []
        if self.model is not None:
            lines.append(f"model: {self.model.render()}")
        lines += [f"field {change.key}: {change.status}" for change in self.fields]
        if self.description is not None:
            lines.append("description: text changed")
        if self.examples.changed:
            ex = self.examples
            parts = [
                f"{len(items)} {what}"
                for items, what in (
                    (ex.added, "added"),
                    (ex.removed, "removed"),
                    (ex.edited, "edited"),
                )
                if items
            ]
            if ex.reordered:
                parts.append("reordered")
            lines.append(f"examples: {', '.join(parts)} ({ex.old_count} -> {ex.new_count})")
        if self.body:
            titles = ", ".join(f"{s.title} {s.status}" for s in self.body)
            lines.append(f"body: {len(self.body)} section(s): {titles}")
        if not lines and not self.identical:
            lines.append("formatting only: quoting, whitespace or line endings")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old_label,
            "new": self.new_label,
            "identical": self.identical,
            "summary": self.summary,
            "model": self.model.to_dict() if self.model else None,
            "fields": [change.to_dict() for change in self.fields],
            "description": self.description.to_dict() if self.description else None,
            "examples": self.examples.to_dict(),
            "body": [section.to_dict() for section in self.body],
        }

    def render_text(self) -> str:
        if self.identical:
            return f"no differences between {self.old_label} and {self.new_label}\n"
        out = [f"--- {self.old_label}", f"+++ {self.new_label}"]
        if self.model is not None:
            out.append(f"model: {self.model.render()}")
        out += [f"{change.key}: {change.render()}" for change in self.fields]
        if self.description is not None:
            out.append("description (the text around the examples):")
            out += [
                f"  {line}"
                for line in _line_diff(_plain(self.description.old), _plain(self.description.new))
            ]
        if self.examples.changed:
            out += _render_examples(self.examples)
        if self.body:
            out.append("body:")
            for section in self.body:
                out.append(f"  {section.title} ({section.status})")
                out += [f"    {line}" for line in section.hunks]
        if len(out) == 2:
            out += self.summary
        return "\n".join(out) + "\n"


def diff_definitions(
    old: AgentDefinition, new: AgentDefinition, *, old_label: str = "old", new_label: str = "new"
) -> DefinitionDiff:
    old_before, old_examples, old_after = split_examples(old.description)
    new_before, new_examples, new_after = split_examples(new.description)
    description = _field_change("description", old_before + old_after, new_before + new_after)
    return DefinitionDiff(
        old_label=old_label,
        new_label=new_label,
        identical=old.source == new.source,
        model=_field_change(
            "model", old.fields.get("model", _ABSENT), new.fields.get("model", _ABSENT)
        ),
        fields=_field_changes(old.fields, new.fields),
        description=description,
        examples=_examples_diff(old_examples, new_examples),
        body=_body_diff(old, new),
    )


# -- fields ------------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # True and 1 are different values in a frontmatter


def _field_change(key: str, old: Any, new: Any) -> FieldChange | None:
    if _same(old, new):
        return None
    if old is _ABSENT:
        return FieldChange(key, "added", None, new)
    if new is _ABSENT:
        return FieldChange(key, "removed", old, None)
    return FieldChange(key, "changed", old, new)


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldChange, ...]:
    keys = [*new, *(key for key in old if key not in new)]
    changes = (
        _field_change(key, old.get(key, _ABSENT), new.get(key, _ABSENT))
        for key in keys
        if key not in ("model", "description")
    )
    return tuple(change for change in changes if change is not None)


def _value(value: Any) -> str:
    """One-line text as it is; anything else (numbers, lists, multi-line text) as JSON."""
    if isinstance(value, str) and value and "\n" not in value and value == value.strip():
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# -- examples ----------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """An example's text with real line breaks, whatever the description's style."""
    return text.replace(_ESCAPED_NEWLINE, "\n") if "\n" not in text else text


def _summary(example: Example, limit: int = 72) -> str:
    text = example.user or _plain(example.text).removeprefix("<example>").strip()
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _examples_diff(old: list[Example], new: list[Example]) -> ExamplesDiff:
    old_texts, new_texts = [_plain(e.text) for e in old], [_plain(e.text) for e in new]
    matched: dict[int, int] = {}  # new index -> old index
    for j, text in enumerate(new_texts):
        for i, candidate in enumerate(old_texts):
            if candidate == text and i not in matched.values():
                matched[j] = i
                break
    # Then by position among the rest: the k-th unmatched new example is an edit of the k-th
    # unmatched old one, unless the two have little in common (a drop plus an add).
    rest_old = [i for i in range(len(old)) if i not in matched.values()]
    rest_new = [j for j in range(len(new)) if j not in matched]
    edited: list[ExampleEdit] = []
    for i, j in zip(rest_old, rest_new, strict=False):
        similarity = difflib.SequenceMatcher(None, old_texts[i], new_texts[j]).ratio()
        if similarity >= _SIMILAR:
            matched[j] = i
            diff = tuple(_line_diff(old_texts[i], new_texts[j]))
            edited.append(ExampleEdit(i + 1, j + 1, _summary(new[j]), diff))
    order = tuple(matched[j] + 1 if j in matched else None for j in range(len(new)))
    kept = [position for position in order if position is not None]
    return ExamplesDiff(
        old_count=len(old),
        new_count=len(new),
        added=tuple(
            ExampleRef(j + 1, _summary(new[j]), new[j].text)
            for j in range(len(new))
            if j not in matched
        ),
        removed=tuple(
            ExampleRef(i + 1, _summary(old[i]), old[i].text)
            for i in range(len(old))
            if i not in matched.values()
        ),
        edited=tuple(edited),
        order=order,
        reordered=kept != sorted(kept),
    )


def _render_examples(examples: ExamplesDiff) -> list[str]:
    out = [f"examples: {examples.old_count} -> {examples.new_count}"]
    out += [f"  removed #{ref.position}: {ref.summary}" for ref in examples.removed]
    out += [f"  added #{ref.position}: {ref.summary}" for ref in examples.added]
    for edit in examples.edited:
        moved = f" (now #{edit.new_position})" if edit.new_position != edit.old_position else ""
        out.append(f"  edited #{edit.old_position}{moved}: {edit.summary}")
        out += [f"    {line}" for line in edit.diff]
    if examples.reordered:
        order = ", ".join("new" if p is None else f"#{p}" for p in examples.order)
        out.append(f"  reordered: now {order}")
    return out


# -- body --------------------------------------------------------------------------------------


def _body_diff(old: AgentDefinition, new: AgentDefinition) -> tuple[SectionDiff, ...]:
    old_lines, new_lines = _lines(old.body), _lines(new.body)
    old_start, new_start = _body_start(old), _body_start(new)
    old_sections, new_sections = split_sections(old_lines), split_sections(new_lines)
    matcher = difflib.SequenceMatcher(
        None, _keys(old_sections), _keys(new_sections), autojunk=False
    )
    result: list[SectionDiff] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for a, b in zip(old_sections[i1:i2], new_sections[j1:j2], strict=True):
                hunks = _hunks(
                    old_lines[a.start : a.stop],
                    new_lines[b.start : b.stop],
                    old_start + a.start,
                    new_start + b.start,
                )
                if hunks:
                    result.append(SectionDiff(_heading(b), "changed", hunks))
            continue
        # Where the other side's text would be: the start of its next section, or its end.
        old_at = old_sections[i1].start if i1 < len(old_sections) else len(old_lines)
        new_at = new_sections[j1].start if j1 < len(new_sections) else len(new_lines)
        for a in old_sections[i1:i2]:
            hunks = _hunks(old_lines[a.start : a.stop], [], old_start + a.start, new_start + new_at)
            result.append(SectionDiff(_heading(a), "removed", hunks))
        for b in new_sections[j1:j2]:
            hunks = _hunks([], new_lines[b.start : b.stop], old_start + old_at, new_start + b.start)
            result.append(SectionDiff(_heading(b), "added", hunks))
    return tuple(result)


def _lines(text: str) -> list[str]:
    return [fm.line_content(line) for line in fm.split_lines(text)]


def _body_start(definition: AgentDefinition) -> int:
    """How many lines of the file come before the body."""
    text = definition.source.decode("utf-8")
    return len(fm.split_lines(text)) - len(fm.split_lines(definition.body))


def _keys(sections: list[Section]) -> list[tuple[str | None, int]]:
    """Each section's heading with its occurrence, so that repeated headings pair in order."""
    seen: dict[str | None, int] = {}
    keys = []
    for section in sections:
        heading = _heading(section)
        seen[heading] = seen.get(heading, 0) + 1
        keys.append((heading, seen[heading]))
    return keys


def _heading(section: Section) -> str | None:
    return section.heading.line if section.heading else None


def _hunks(
    old: list[str], new: list[str], old_start: int, new_start: int, *, context: int = _CONTEXT
) -> tuple[str, ...]:
    """Unified diff hunks of ``old`` against ``new``, numbered from the given file lines."""
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(old_start + i1, i2 - i1)} +{_range(new_start + j1, j2 - j1)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [f" {line}" for line in old[a1:a2]]
                continue
            out += [f"-{line}" for line in old[a1:a2]]
            out += [f"+{line}" for line in new[b1:b2]]
    return tuple(out)


def _range(start: int, length: int) -> str:
    """A hunk range as ``diff -u`` writes it: 1-based, and an empty range names the line before."""
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _line_diff(old: str, new: str) -> list[str]:
    """Short texts whole, line by line, marked ``-``/``+``/`` ``, without the hunk header."""
    a, b = old.splitlines(), new.splitlines()
    return list(_hunks(a, b, 0, 0, context=len(a) + len(b))[1:])
