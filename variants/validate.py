"""What Claude Code requires of an agent file; every failure is one line naming the origin."""

from __future__ import annotations

import re
from typing import Any

from core.errors import AgentFileError

MAX_FILE_BYTES = 1_048_576
# Lowercase letters, digits and hyphens, 1..64 characters, starting and ending alphanumeric.
NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


def decode_source(data: bytes, origin: str) -> str:
    """The text of ``data``, or ``AgentFileError`` for what cannot be an agent file."""
    if len(data) > MAX_FILE_BYTES:
        raise AgentFileError(
            f"{origin}: file is {len(data)} bytes, larger than the {MAX_FILE_BYTES}-byte limit"
        )
    if not data.strip():
        raise AgentFileError(f"{origin}: file is empty")
    if b"\x00" in data:
        raise AgentFileError(f"{origin}: file is binary (contains NUL bytes), not markdown")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise AgentFileError(
            f"{origin}: file is not UTF-8 (invalid byte at offset {err.start})"
        ) from None


def check_fields(fields: dict[str, Any], origin: str, name_override: str | None) -> None:
    name = name_override if name_override is not None else fields.get("name")
    if name is None or name == "":
        raise AgentFileError(f"{origin}: frontmatter has no 'name'")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise AgentFileError(
            f"{origin}: name {str(name)!r} is not accepted by Claude Code (use 1-64 lowercase "
            "letters, digits and hyphens, starting and ending with a letter or digit)"
        )
    description = fields.get("description")
    if description is None or (isinstance(description, str) and not description.strip()):
        raise AgentFileError(f"{origin}: frontmatter has no 'description'")
    if not isinstance(description, str):
        raise AgentFileError(
            f"{origin}: 'description' must be text, not a {type(description).__name__} "
            "(quote it, or use a '|' block)"
        )
