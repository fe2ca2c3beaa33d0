"""What Claude Code will do with an agent file: load it or drop it, under which name, shown how.

Pure: bytes in, a ``LintResult`` out. The rules are Claude Code's, as observed and reported
(shared notes ``platform-facts.md`` 1.1-1.3, ``claude-code-runtime.md``, corpus ``SOURCES.md``),
not the registry's own: the name check here is Claude Code's (any text; ``:`` is flagged), so a
file the registry refuses can still be linted.

Dropped (Claude Code silently skips the file):
  - it does not start with a ``---`` frontmatter, or the frontmatter is never closed;
  - it starts with a UTF-8 BOM (anthropics/claude-code#73158);
  - no ``name``, or no ``description`` (anthropics/claude-code#50522);
  - ``description:`` with its value on the following lines, the Prettier layout
    (anthropics/claude-code#7943).
Loaded with a warning: not strict YAML, a ``:`` in the name, a key written twice in one mapping
(top level or nested: which one Claude Code keeps is not defined), unknown tools, an unknown model
alias, and two files of one folder with the same name (Claude Code keeps only one of them; which
one is not documented).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Any

from core.errors import AgentFileError
from variants import frontmatter as fm
from variants.tools import split_tools
from variants.validate import decode_source

__all__ = ["KNOWN_TOOLS", "Finding", "LintResult", "lint_file", "lint_folder"]

# Claude Code's tool names: those seen in its own requests (claude-code-runtime.md: Agent, Bash,
# Edit, Read, Skill, ToolSearch, Write; Task is Agent's old name) and the built-in names the
# agent files of the shared corpus allow. Not here, so flagged: shell commands (``swift``),
# ``WriteFile``, ``TodoRead``, ``Workflow``, which the corpus also lists.
KNOWN_TOOLS: frozenset[str] = frozenset(
    {
        "Agent", "AskUserQuestion", "Bash", "BashOutput", "CronCreate", "CronDelete", "CronList",
        "Edit", "EnterPlanMode", "EnterWorktree", "ExitPlanMode", "ExitWorktree", "Glob", "Grep",
        "KillShell", "LS", "LSP", "ListMcpResourcesTool", "MultiEdit", "NotebookEdit", "Read",
        "ReadMcpResourceTool", "SendMessage", "Skill", "Task", "TaskCreate", "TaskGet",
        "TaskList", "TaskOutput", "TaskStop", "TaskUpdate", "TeamCreate", "TeamDelete",
        "TodoWrite", "ToolSearch", "WebFetch", "WebSearch", "Write",
    }
)  # fmt: skip
_TOOL_FIELDS = ("tools", "disallowedTools")
# Model values Claude Code takes besides the aliases of the model table.
_MODEL_KEYWORDS = frozenset({"inherit", "default", "best", "opusplan"})
_MODEL_ID_RE = re.compile(r"claude-[a-z0-9.-]+(\[1m\])?")

# Warning kinds (the "kind" of a Finding), in the order a file is checked.
NOT_STRICT_YAML = "not-strict-yaml"
NAME_COLON = "name-colon"
DUPLICATE_KEY = "duplicate-key"
UNKNOWN_TOOL = "unknown-tool"
UNKNOWN_MODEL = "unknown-model"
DUPLICATE_NAME = "duplicate-name"


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str


@dataclass(frozen=True)
class LintResult:
    """One file: ``loaded`` or dropped with ``reason``; the name and the description as shown."""

    path: str
    loaded: bool
    reason: str | None
    name: str | None
    description: str | None  # as Claude Code lists it: generator-style "\\n" become line breaks
    warnings: tuple[Finding, ...]

    def with_warning(self, finding: Finding) -> LintResult:
        return replace(self, warnings=(*self.warnings, finding))


def _dropped(path: str, reason: str, name: str | None = None) -> LintResult:
    return LintResult(path, False, reason, name, None, ())


def lint_file(data: bytes, path: str, *, model_aliases: Collection[str]) -> LintResult:
    """What Claude Code does with the file ``data`` read from ``path``.

    ``model_aliases`` are the model aliases that resolve (the model table's, given by the caller).
    """
    try:
        text = decode_source(data, path)
    except AgentFileError as err:
        return _dropped(path, str(err).removeprefix(f"{path}: "))
    try:
        document = fm.split_document(text)
    except fm.DocumentError as err:
        return _dropped(path, str(err))
    if document.bom:
        return _dropped(path, "starts with a UTF-8 BOM, which Claude Code skips the file for")
    front = fm.read_frontmatter(document.lines)
    name = front.fields.get("name")
    if name is None or not str(name).strip():
        return _dropped(path, "frontmatter has no 'name'")
    name = str(name)
    description = front.fields.get("description")
    entry = _last_entry(front.entries, "description")
    if entry is not None and _value_on_next_line(document.lines, entry):
        return _dropped(
            path,
            "'description:' has its value on the next lines, which Claude Code does not read",
            name,
        )
    if not isinstance(description, str) or not description.strip():
        return _dropped(path, "frontmatter has no 'description' text", name)
    shown = description
    if entry is not None and fm.value_style(document.lines, entry) == fm.LITERAL_ESCAPES:
        shown = description.replace("\\n", "\n")
    warnings = [] if front.strict else [Finding(NOT_STRICT_YAML, _not_strict(front.error))]
    if ":" in name:
        warnings.append(
            Finding(
                NAME_COLON,
                f"name {name!r} contains ':', which Claude Code uses for plugin agents "
                "(plugin:agent); the registry refuses it",
            )
        )
    warnings += [Finding(DUPLICATE_KEY, message) for message in front.duplicate_key_warnings()]
    warnings += _tool_findings(front.fields)
    warnings += _model_findings(front.fields.get("model"), model_aliases)
    return LintResult(path, True, None, name, shown, tuple(warnings))


def lint_folder(results: Iterable[LintResult]) -> list[LintResult]:
    """Flag loaded files of one folder (one Claude Code scope) that share a name."""
    results = list(results)
    by_name: dict[str, list[str]] = {}
    for result in results:
        if result.loaded and result.name is not None:
            by_name.setdefault(result.name, []).append(result.path)
    out = []
    for result in results:
        paths = by_name.get(result.name or "", []) if result.loaded else []
        if len(paths) > 1:
            others = ", ".join(p for p in paths if p != result.path)
            result = result.with_warning(
                Finding(
                    DUPLICATE_NAME,
                    f"name {result.name!r} is also defined by {others}; Claude Code loads only "
                    "one of them",
                )
            )
        out.append(result)
    return out


def _last_entry(entries: tuple[fm.Entry, ...], key: str) -> fm.Entry | None:
    matches = [entry for entry in entries if entry.key == key]
    return matches[-1] if matches else None


def _value_on_next_line(lines: tuple[str, ...], entry: fm.Entry) -> bool:
    """``description:`` alone on its line, its text on indented lines below (not a block)."""
    head = fm.line_content(lines[entry.start])
    return head[head.index(":") + 1 :].strip() == "" and entry.stop - entry.start > 1


def _not_strict(error: str | None) -> str:
    return f"frontmatter is not strict YAML ({error}); Claude Code reads it, other tools may not"


def _tool_findings(fields: dict[str, Any]) -> list[Finding]:
    findings = []
    for key in _TOOL_FIELDS:
        unknown = [
            tool for tool in split_tools(fields.get(key)) or [] if not _known_tool(tool) and tool
        ]
        if unknown:
            findings.append(
                Finding(
                    UNKNOWN_TOOL,
                    f"{key}: unknown tool{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join(unknown)} (not a Claude Code tool)",
                )
            )
    return findings


def _known_tool(tool: str) -> bool:
    """A built-in, a pattern of one (``Bash(git log:*)``, ``Agent(a, b)``), MCP, or ``*``."""
    base = tool.split("(", 1)[0].strip()
    return tool == "*" or base.startswith("mcp__") or base in KNOWN_TOOLS


def _model_findings(model: Any, aliases: Collection[str]) -> list[Finding]:
    if model is None:
        return []
    value = str(model)
    if value in aliases or value in _MODEL_KEYWORDS or _MODEL_ID_RE.fullmatch(value):
        return []
    known = ", ".join(sorted({*aliases, "inherit"}))
    return [Finding(UNKNOWN_MODEL, f"model {value!r} is not a known alias ({known}) or model ID")]
