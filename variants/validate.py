"""What Claude Code requires of an agent file; every failure is one line naming the origin."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from core.errors import AgentFileError

MAX_FILE_BYTES = 1_048_576
# What Claude Code recommends: lowercase letters, digits and hyphens, starting and ending with a
# letter or digit. Other names load (capitals, spaces, underscores, dots, any script): a warning.
RECOMMENDED_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
MAX_NAME_CHARS = 64  # the agent name column


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an agent name, or None.

    Refused: what Claude Code refuses (a ``:``), and what is unsafe as the file name NAME.md that
    ``registry export`` writes in a folder: empty, a path separator, ``..``, control characters
    (NUL included), blanks at either end, more than 64 characters. ``@`` is allowed: references
    split at the last ``@`` (see variants/refs.py).
    """
    if not name.strip():
        return "is empty"
    if len(name) > MAX_NAME_CHARS:
        return f"is longer than {MAX_NAME_CHARS} characters"
    if name != name.strip():
        return "starts or ends with a blank"
    if ":" in name:
        return "contains ':', which Claude Code refuses"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if ".." in name or name == ".":
        return "contains '..' or is '.'"
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in name):
        return "contains a control character"
    return None


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


def check_fields(fields: dict[str, Any], origin: str, name_override: str | None) -> tuple[str, ...]:
    """Refuse what cannot be an agent; return the warnings (without the origin)."""
    name = name_override if name_override is not None else fields.get("name")
    if name is None or name == "":
        raise AgentFileError(f"{origin}: frontmatter has no 'name'")
    if not isinstance(name, str):
        raise AgentFileError(
            f"{origin}: name {str(name)!r} must be text, not a {type(name).__name__} (quote it)"
        )
    problem = name_problem(name)
    if problem is not None:
        raise AgentFileError(f"{origin}: name {name!r} {problem}")
    description = fields.get("description")
    if description is None or (isinstance(description, str) and not description.strip()):
        raise AgentFileError(f"{origin}: frontmatter has no 'description'")
    if not isinstance(description, str):
        raise AgentFileError(
            f"{origin}: 'description' must be text, not a {type(description).__name__} "
            "(quote it, or use a '|' block)"
        )
    if RECOMMENDED_NAME_RE.fullmatch(name):
        return ()
    return (
        f"name {name!r} is not in the form Claude Code recommends (lowercase letters, digits "
        "and hyphens); it loads as written",
    )
