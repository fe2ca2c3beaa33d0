"""The agent definition: a Claude Code subagent markdown file, parsed without losing a byte.

Contract: ``AgentDefinition.parse(data).render() == data``. Every edit works on the text of
``source`` and changes only the lines of what it edits, then parses the result again, so an edited
definition is held to the same rules as a file read from disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core.errors import AgentFileError
from variants import frontmatter as fm
from variants.examples import Example, replace_examples, split_examples
from variants.tools import split_tools
from variants.validate import MAX_FILE_BYTES, check_fields, decode_source
from variants.yamlio import AliasExpansionError

__all__ = ["KNOWN_FIELDS", "MAX_FILE_BYTES", "AgentDefinition"]

KNOWN_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "tools",
    "disallowedTools",
    "model",
    "permissionMode",
    "maxTurns",
    "skills",
    "mcpServers",
    "hooks",
    "memory",
    "background",
    "effort",
    "isolation",
    "color",
    "initialPrompt",
)

NOT_STRICT_WARNING = "frontmatter is not strict YAML; read it as Claude Code does"


@dataclass(frozen=True)
class AgentDefinition:
    source: bytes
    fields: dict[str, Any]
    body: str
    strict_yaml: bool
    warnings: tuple[str, ...]
    origin: str = field(default="<input>", compare=False, repr=False)
    name_override: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(
        cls, data: bytes, *, origin: str = "<input>", name_override: str | None = None
    ) -> AgentDefinition:
        text = decode_source(data, origin)
        try:
            document = fm.split_document(text)
        except fm.DocumentError as err:
            raise AgentFileError(f"{origin}: {err}") from None
        try:
            front = fm.read_frontmatter(document.lines)
        except AliasExpansionError as err:
            raise AgentFileError(f"{origin}: invalid frontmatter: {err}") from None
        warnings = check_fields(front.fields, origin, name_override)
        if not front.strict:
            warnings += (f"{NOT_STRICT_WARNING} ({front.error})",)
        warnings += front.duplicate_key_warnings()
        return cls(
            source=bytes(data),
            fields=front.fields,
            body=document.body,
            strict_yaml=front.strict,
            warnings=warnings,
            origin=origin,
            name_override=name_override,
        )

    # -- reading -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.name_override if self.name_override is not None else str(self.fields["name"])

    @property
    def description(self) -> str:
        return str(self.fields["description"])

    @property
    def model(self) -> str | None:
        value = self.fields.get("model")
        return None if value is None else str(value)

    @property
    def tools(self) -> list[str] | None:
        return split_tools(self.fields.get("tools"))

    @property
    def examples(self) -> list[Example]:
        return split_examples(self.description)[1]

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.source).hexdigest()

    def render(self) -> bytes:
        return self.source

    # -- editing -------------------------------------------------------------------------------

    @cached_property
    def _document(self) -> fm.Document:
        return fm.split_document(self.source.decode("utf-8"))

    @cached_property
    def _entries(self) -> tuple[fm.Entry, ...]:
        return fm.read_frontmatter(self._document.lines).entries

    def _reparse(self, document: fm.Document) -> AgentDefinition:
        return AgentDefinition.parse(
            document.text().encode("utf-8"), origin=self.origin, name_override=self.name_override
        )

    def _last_entry(self, key: str) -> fm.Entry | None:
        """Where ``key`` is written; of repeated keys the last, as YAML lets that one win."""
        matches = [entry for entry in self._entries if entry.key == key]
        return matches[-1] if matches else None

    def _replace_entry(self, key: str, new_lines: list[str]) -> AgentDefinition:
        """Put ``new_lines`` where ``key`` is written, or at the end of the frontmatter."""
        document = self._document
        lines = list(document.lines)
        entry = self._last_entry(key)
        if entry is None:
            lines.extend(new_lines)
        else:
            lines[entry.start : entry.stop] = new_lines
        return self._reparse(
            fm.Document(
                document.bom, document.opening, tuple(lines), document.closing, document.body
            )
        )

    def _entry_newline(self, key: str) -> str:
        """The line ending ``key``'s lines use now; the file's own one for a new key."""
        entry = self._last_entry(key)
        if entry is None:
            return self._document.newline
        return fm.line_ending(self._document.lines[entry.stop - 1]) or self._document.newline

    def _has(self, key: str, value: Any) -> bool:
        """Whether ``key`` already holds ``value`` (``True`` is not ``1`` here)."""
        current = self.fields.get(key)
        return key in self.fields and type(current) is type(value) and current == value

    def with_field(self, key: str, value: Any) -> AgentDefinition:
        """Set or replace one field; a new key goes at the end of the frontmatter."""
        if self._has(key, value):
            return self
        return self._replace_entry(key, fm.render_entry(key, value, self._entry_newline(key)))

    def without_field(self, key: str) -> AgentDefinition:
        if key not in self.fields:
            return self
        return self._replace_entry(key, [])

    def with_body(self, body: str) -> AgentDefinition:
        document = self._document
        closing = document.closing
        if body and not fm.line_ending(closing):
            closing += document.newline
        return self._reparse(
            fm.Document(document.bom, document.opening, document.lines, closing, body)
        )

    def with_description(self, text: str) -> AgentDefinition:
        """Like ``with_field("description", text)``, keeping how the description is written.

        A one-line description with literal ``\\n`` escapes (the Claude Code generator style)
        stays one line with literal escapes; a block scalar stays a block scalar; a quoted
        one stays quoted.
        """
        if self._has("description", text):
            return self
        entry = self._last_entry("description")
        style = None if entry is None else fm.value_style(self._document.lines, entry)
        newline = self._entry_newline("description")
        return self._replace_entry(
            "description",
            fm.render_entry("description", text, newline, style=style, strict=self.strict_yaml),
        )

    def with_examples(self, examples: list[Example]) -> AgentDefinition:
        """Replace the ``<example>`` blocks, keeping the text before and after them."""
        return self.with_description(replace_examples(self.description, examples))
