"""Which agent files a PATH argument names (``publish`` and ``lint`` read folders the same way),
and what Claude Code would make of one."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import AgentFileError
from registry.commands.common import echo

if TYPE_CHECKING:
    from registry.store import PublishedVariant

_SKIPPED = "skipped, no frontmatter (not an agent file)"


def agent_files_in(folder: Path) -> list[Path]:
    """The ``.md`` agent files under ``folder``, recursively, in sorted order.

    A markdown file that does not start with frontmatter (a README, notes) is not an agent file:
    it is skipped with a warning on stderr. A folder with none is an error.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix == ".md")
    agents = []
    for file in files:
        if _is_other_markdown(file):
            echo(f"warning: {file}: {_SKIPPED}", err=True)
        else:
            agents.append(file)
    if not agents:
        raise AgentFileError(f"{folder}: no .md agent files in this folder")
    return agents


def named_files(raw: str) -> tuple[Path, list[Path], bool]:
    """What a PATH argument names: its scope (the folder, or a file's folder), its files (a
    folder's agent files, or the file), and whether it named one file. ``AgentFileError`` for
    anything else (missing, or a device such as /dev/null, a FIFO, a socket)."""
    path = Path(raw)
    if path.is_dir():
        return path, agent_files_in(path), False
    if path.is_file():
        return path.parent, [path], True
    if path.exists():
        raise AgentFileError(f"{path}: not a regular file or a folder")
    raise AgentFileError(f"{path}: no such file or folder")


def model_aliases() -> frozenset[str]:
    """The aliases of the model table ``registry run`` resolves with."""
    from registry.model_aliases import load_model_table

    return frozenset(load_model_table().aliases)


def claude_code_warnings(data: bytes, where: str, aliases: frozenset[str]) -> list[str]:
    """What Claude Code would do wrong with a file the registry accepts: drop it (and why), or
    meet a model or tools it does not know. ``registry lint`` says the rest."""
    from variants.lint import UNKNOWN_MODEL, UNKNOWN_TOOL, lint_file

    result = lint_file(data, where, model_aliases=aliases)
    if not result.loaded:
        return [f"Claude Code drops this file: {result.reason}"]
    return [f.message for f in result.warnings if f.kind in (UNKNOWN_MODEL, UNKNOWN_TOOL)]


def warn_derived(published: Iterable[PublishedVariant]) -> None:
    """``claude_code_warnings`` for each derived version (a model given to ``derive`` too)."""
    aliases = model_aliases()
    for variant in published:
        source = variant.derived.definition.source
        for warning in claude_code_warnings(source, variant.result.ref, aliases):
            echo(f"warning: {variant.result.ref}: {warning}", err=True)


def _is_other_markdown(path: Path) -> bool:
    """True for a non-empty file whose first line (after a BOM) is not the '---' fence.

    An empty file is left to the parser, which refuses it: it is more likely a broken agent file
    than a README.
    """
    from variants.frontmatter import starts_with_frontmatter

    data = read_bytes(path)
    return bool(data) and not starts_with_frontmatter(data.decode("utf-8", "replace"))


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise AgentFileError(f"{path}: cannot read: {err.strerror}") from None
