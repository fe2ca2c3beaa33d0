"""Claude Code's built-in agents, as its main loop lists them after the project agents.

The names and tools are Claude Code's (shared notes, claude-code-runtime.md); the descriptions
are short summaries in our own words, not Claude Code's prompt text. A router that captures the
real listing (``messages``, ``claude-code``) lists what Claude Code itself sends instead.
"""

from __future__ import annotations

from experiments.roster import GENERAL_PURPOSE, RosterAgent

# Explore and Plan may use every tool but the ones that change files or start agents; the listing
# writes that as one phrase, kept here as one entry so the line reads as Claude Code's does.
_READ_ONLY = ("All tools except Agent, ExitPlanMode, Edit, Write, NotebookEdit",)

BUILTIN_AGENTS: tuple[RosterAgent, ...] = (
    RosterAgent(
        name=GENERAL_PURPOSE,
        description=(
            "General-purpose agent for researching open questions, searching code across many "
            "files and carrying out multi-step tasks. Use it when a search may take several "
            "rounds, or when no more specific agent fits the task."
        ),
        tools=("*",),
        source="built-in",
        builtin=True,
    ),
    RosterAgent(
        name="Explore",
        description=(
            "Fast read-only agent for exploring a codebase: finds files by pattern, searches the "
            "code for keywords and explains where something lives and how the pieces connect. "
            "Say how thorough it should be: quick, medium or very thorough."
        ),
        tools=_READ_ONLY,
        source="built-in",
        builtin=True,
    ),
    RosterAgent(
        name="Plan",
        description=(
            "Software architect agent that designs an implementation plan before any change is "
            "made: the steps, the files involved and the trade-offs between approaches."
        ),
        tools=_READ_ONLY,
        source="built-in",
        builtin=True,
    ),
    RosterAgent(
        name="statusline-setup",
        description="Configures the user's Claude Code status line setting.",
        tools=("Read", "Edit"),
        source="built-in",
        builtin=True,
    ),
)
BUILTIN_NAMES: frozenset[str] = frozenset(agent.name for agent in BUILTIN_AGENTS)
