"""``registry lint``: what Claude Code will do with agent files, before they reach a session."""

from __future__ import annotations

import os
from pathlib import Path

import click
import yaml

from core.errors import AgentFileError, AgentRegistryError
from registry.commands.agent_files import agent_files_in, read_bytes
from registry.commands.common import emit_json, json_option
from registry.shipped import data_path
from variants.lint import LintResult, lint_file, lint_folder

MODELS_ENV = "REGISTRY_MODELS"  # the model table's override, as for registry run


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
    aliases = _model_aliases()
    scopes: dict[Path, list[Path]] = {}  # a folder given, or the folder of a file given
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            scopes.setdefault(path, []).extend(agent_files_in(path))
        elif path.is_file():
            scopes.setdefault(path.parent, []).append(path)
        else:
            raise AgentFileError(f"{path}: no such file or folder")
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
            click.echo(f"loaded   {result.name}  {result.path}")
            first = (result.description or "").splitlines()[0]
            click.echo(f"  description: {first[:100]}{'...' if len(first) > 100 else ''}")
        else:
            click.echo(f"dropped  {result.path}: {result.reason}")
        for finding in result.warnings:
            click.echo(f"  warning ({finding.kind}): {finding.message}")
    dropped = sum(not r.loaded for r in results)
    warned = sum(bool(r.warnings) for r in results)
    click.echo(
        f"{len(results) - dropped} loaded, {dropped} dropped, {warned} with warnings", err=True
    )


def _model_aliases() -> frozenset[str]:
    """The aliases of the model table (``$REGISTRY_MODELS``, else the shipped ``models.yaml``)."""
    path = Path(os.environ.get(MODELS_ENV) or data_path("models.yaml"))
    try:
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise AgentRegistryError(f"{path}: cannot read the model table: {err}") from None
    aliases = table.get("aliases") if isinstance(table, dict) else None
    if not isinstance(aliases, dict):
        raise AgentRegistryError(f"{path}: the model table has no 'aliases' mapping")
    return frozenset(str(alias) for alias in aliases)
