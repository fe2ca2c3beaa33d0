"""``registry lint``: what Claude Code will do with agent files, before they reach a session."""

from __future__ import annotations

from pathlib import Path

import click

from registry.commands.agent_files import model_aliases, named_files, read_bytes
from registry.commands.common import echo, emit_json, json_option
from variants.lint import LintResult, lint_file, lint_folder


@click.command(
    epilog="""\b
Examples:
  registry lint .claude/agents/
  registry lint agent.md --json
  registry lint .claude/agents/ || exit 1      # gate a commit: non-zero when a file is dropped
"""
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@json_option
def lint(paths: tuple[str, ...], as_json: bool) -> None:
    """Which agent files Claude Code loads or drops (and why), under which name, with warnings.

    Folders are read recursively, each as one Claude Code scope (two files with one name there:
    only one is loaded); files named on their own share the scope of their folder. Exit 1 when
    any file would be dropped, else 0 (warnings included).
    """
    aliases = model_aliases()
    scopes: dict[Path, list[Path]] = {}  # a folder given, or the folder of a file given
    for raw in paths:
        scope, files, _ = named_files(raw)
        scopes.setdefault(scope, []).extend(files)
    results: list[LintResult] = []
    for files in scopes.values():
        results += lint_folder(
            lint_file(read_bytes(f), str(f), model_aliases=aliases) for f in files
        )
    if as_json:
        emit_json(results)
    else:
        _print(results)
    if any(not result.loaded for result in results):
        raise click.exceptions.Exit(1)


def _print(results: list[LintResult]) -> None:
    for result in results:
        if result.loaded:
            echo(f"loaded   {result.name}  {result.path}")
            first = (result.description or "").splitlines()[0]
            echo(f"  description: {first[:100]}{'...' if len(first) > 100 else ''}")
        else:
            echo(f"dropped  {result.path}: {result.reason}")
        for finding in result.warnings:
            echo(f"  warning ({finding.kind}): {finding.message}")
    dropped = sum(not r.loaded for r in results)
    warned = sum(bool(r.warnings) for r in results)
    echo(f"{len(results) - dropped} loaded, {dropped} dropped, {warned} with warnings", err=True)
