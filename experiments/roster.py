"""The agents a delegation trial offers Claude Code's main loop, as the main loop sees them.

In Claude Code the ``description`` (with its ``<example>`` blocks) and the ``tools`` of every
agent reach only the main loop, as one line each of a ``<system-reminder>`` listing:
``- NAME: DESCRIPTION (Tools: ...)``; the real CLI sorts project and built-in agents together
by name (``routers.capture.listing_order``). A description written in the generator's one-line
style (literal ``\\n`` escapes) is listed with real line breaks. See shared notes,
claude-code-runtime.md, and the capture module for what the real CLI was seen to send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from variants.agentfile import AgentDefinition
from variants.examples import Example, split_examples

# What a trial records when the main loop answered itself (no Agent call).
NONE = "none"
# What an Agent call without ``subagent_type`` starts.
GENERAL_PURPOSE = "general-purpose"
LISTING_HEADER = "Available agent types for the Agent tool:"
# The tool the main loop delegates with; "Task" is its name in older Claude Code versions.
AGENT_TOOLS = ("Agent", "Task")


def choice_of(tool_name: str, tool_input: Mapping[str, Any] | None) -> str:
    """What the main loop's first tool call means: an Agent call delegates to its
    ``subagent_type`` (general-purpose without one); any other tool means the main thread works
    on the request itself."""
    if tool_name not in AGENT_TOOLS:
        return NONE
    subagent = (tool_input or {}).get("subagent_type")
    return subagent if isinstance(subagent, str) and subagent else GENERAL_PURPOSE


@dataclass(frozen=True)
class RosterAgent:
    """One agent of a delegation trial's roster."""

    name: str
    description: str  # as written in the file (escapes and all)
    tools: tuple[str, ...] | None  # None: the file names no tools (all tools)
    source: str  # where it came from: a file path, a registry reference, or "built-in"
    markdown: str = ""  # the agent file as Claude Code reads it ("" for a built-in)
    builtin: bool = False

    @classmethod
    def from_definition(cls, definition: AgentDefinition, source: str) -> RosterAgent:
        tools = definition.tools
        return cls(
            name=definition.name,
            description=definition.description,
            tools=None if tools is None else tuple(tools),
            source=source,
            markdown=definition.source.decode("utf-8"),
        )

    @property
    def listed_description(self) -> str:
        """The description as the listing shows it: ``\\n`` escapes become line breaks."""
        text = self.description
        return text.replace("\\n", "\n") if "\n" not in text else text

    @property
    def examples(self) -> list[Example]:
        return split_examples(self.description)[1]

    def listing_line(self) -> str:
        tools = "All tools" if self.tools is None else ", ".join(self.tools)
        return f"- {self.name}: {self.listed_description} (Tools: {tools})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tools": None if self.tools is None else list(self.tools),
            "source": self.source,
            "markdown": self.markdown,
            "builtin": self.builtin,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RosterAgent:
        tools = raw.get("tools")
        return cls(
            name=raw["name"],
            description=raw["description"],
            tools=None if tools is None else tuple(tools),
            source=raw.get("source", ""),
            markdown=raw.get("markdown", ""),
            builtin=bool(raw.get("builtin", False)),
        )


def agent_listing(agents: Iterable[RosterAgent]) -> str:
    """The ``<system-reminder>`` block of the main loop's first user message."""
    lines = [LISTING_HEADER, *(agent.listing_line() for agent in agents)]
    return "<system-reminder>\n" + "\n".join(lines) + "\n</system-reminder>"


def is_correct(choice: str, expected: str, agent: str, under_test: frozenset[str]) -> bool:
    """Whether a pick is the route the suite expects (the variant's own agent standing for any
    agent under test)."""
    if expected in under_test:
        return choice == agent
    return choice == expected
