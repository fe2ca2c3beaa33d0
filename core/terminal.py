"""Text from files and the database, made safe to print: control characters become visible.

An agent file or a stored row may hold ESC sequences (``\\x1b]0;...``, ``\\x1b[2J``) that a
terminal would obey. Every command prints such text through ``visible``; only ``show`` and
``export`` write the stored bytes unchanged, as their contract says.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, line and paragraph separators, and bidirectional overrides.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEPING_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, lines: bool = True) -> str:
    """``text`` with each control character written as ``\\xNN`` (``\\uNNNN``).

    ``lines=True`` keeps line feeds and tabs (multi-line output such as a diff); ``lines=False``
    escapes them too, for a value that must stay on its one line.
    """
    return (_UNSAFE_KEEPING_LINES if lines else _UNSAFE).sub(_escape, text)
