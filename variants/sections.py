"""Markdown sections of an agent body: ATX headings (``## Title``) outside fenced code blocks.

A section runs from its heading line to the next heading of the same or a higher level (fewer
``#``), so ``### Details`` belongs to the ``## Guidelines`` above it. Lines before the first
heading form a preamble with no heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from variants import frontmatter as fm

_HEADING_RE = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_FENCE_RE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Heading:
    index: int  # line index in the body
    level: int  # number of '#'
    text: str  # the title without the '#' marks
    line: str  # the heading line as written, without its line ending


@dataclass(frozen=True)
class Section:
    heading: Heading | None  # None: the preamble before the first heading
    start: int  # first line (the heading line itself, when there is one)
    stop: int


def headings(lines: list[str]) -> list[Heading]:
    """The headings of ``lines`` (from ``fm.split_lines``), skipping fenced code blocks."""
    found: list[Heading] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        content = fm.line_content(line)
        opened = _FENCE_RE.match(content)
        if fence is not None:
            # A fence closes with the same character, at least as long, and nothing after it.
            if opened and _closes(opened.group(1), fence) and not content[opened.end() :].strip():
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        match = _HEADING_RE.fullmatch(content)
        if match:
            level = len(match.group(1))
            found.append(Heading(index, level, (match.group(2) or "").strip(), content.strip()))
    return found


def _closes(marker: str, fence: str) -> bool:
    return marker[0] == fence[0] and len(marker) >= len(fence)


def section_stop(lines: list[str], heading: Heading, all_headings: list[Heading]) -> int:
    """Where the section under ``heading`` ends: the next heading of its level or higher."""
    for other in all_headings:
        if other.index > heading.index and other.level <= heading.level:
            return other.index
    return len(lines)


def split_sections(lines: list[str], *, max_level: int = 2) -> list[Section]:
    """``lines`` cut at every heading of ``max_level`` or higher; deeper ones stay inside."""
    cuts = [h for h in headings(lines) if h.level <= max_level]
    sections: list[Section] = []
    first = cuts[0].index if cuts else len(lines)
    if first > 0:
        sections.append(Section(None, 0, first))
    for position, heading in enumerate(cuts):
        stop = cuts[position + 1].index if position + 1 < len(cuts) else len(lines)
        sections.append(Section(heading, heading.index, stop))
    return sections
