"""Catalog commands: publish, list, log, show, diff, label, and exporting a version.

``registry export`` itself is composed at the CLI root (registry/cli.py): it also exports an
experiment's winner, which is the experiments layer's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.errors import AgentFileError, AgentRegistryError, NotFoundError
from core.terminal import visible
from registry.commands.agent_files import (
    claude_code_warnings,
    model_aliases,
    named_files,
    read_bytes,
    warn_derived,
)
from registry.commands.common import (
    db_url,
    echo,
    emit_bytes,
    emit_json,
    json_option,
    open_registry,
)
from registry.commands.publish_rows import variant_row, version_row
from registry.files import export_path, write_atomically
from variants.refs import Ref, parse_ref

if TYPE_CHECKING:
    from registry.store import VersionInfo
    from variants.spec import Derived, VariantSpec

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class _Input:
    path: Path
    is_spec: bool


def _collect(paths: tuple[str, ...]) -> list[_Input]:
    """Files to publish, folders expanded recursively (agent markdown and variant specs); a file
    named twice (``agents/ agents/a.md``) is read once."""
    found: dict[Path, _Input] = {}
    for raw in paths:
        _, files, one = named_files(raw)
        for file in files:  # a variant spec only when named: a folder gives agent files
            item = _Input(file, one and file.suffix.lower() in SPEC_SUFFIXES)
            found.setdefault(file.resolve(), item)
    return list(found.values())


@click.command(
    epilog="""\b
Examples:
  registry publish .claude/agents/
  registry publish agent.md -m "tighter wording" --label candidate
  registry publish .claude/agents/helper.md --parent @5   # edited from an export of @5
  registry publish data/variants/haiku.yaml
"""
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-m", "--message", help="Why this version exists.")
@click.option("--label", help="Point this label at the published version(s).")
@click.option("--name", help="Agent name for a single file whose frontmatter has none.")
@click.option(
    "--parent",
    metavar="REF",
    help="The version a single file was edited from (default: the agent's latest version).",
)
@json_option
@click.pass_context
def publish(
    ctx: click.Context,
    paths: tuple[str, ...],
    message: str | None,
    label: str | None,
    name: str | None,
    parent: str | None,
    as_json: bool,
) -> None:
    """Publish agent files, folders of them (recursive) or variant specs."""
    from variants.agentfile import AgentDefinition
    from variants.refs import check_label

    inputs = _collect(paths)
    if (label, name, parent) != (None, None, None) and any(item.is_spec for item in inputs):
        raise AgentRegistryError(
            "--label, --name and --parent apply to agent files; a variant spec names its own "
            "label and base"
        )
    for option, given in (("--name", name), ("--parent", parent)):
        if given is not None and len(inputs) != 1:
            raise AgentFileError(f"{option} needs exactly one file")
    if label is not None:
        check_label(label)
    # Read and validate everything first, so that one bad file publishes nothing.
    definitions: list[tuple[_Input, AgentDefinition, list[str]]] = []
    parent_ref: Ref | None = None
    specs: list[_Input] = []
    seen: dict[str, Path] = {}
    aliases = model_aliases()
    for item in inputs:
        if item.is_spec:
            specs.append(item)
            continue
        data = read_bytes(item.path)
        definition = AgentDefinition.parse(data, origin=str(item.path), name_override=name)
        agent = name or definition.name
        if agent in seen:
            raise AgentFileError(f"{seen[agent]} and {item.path} both define agent {agent!r}")
        seen[agent] = item.path
        if parent is not None:
            parent_ref = parse_ref(parent, default_name=agent)
            if parent_ref.name != agent:
                raise AgentFileError(
                    f"--parent {parent} is a version of {parent_ref.name!r}, but {item.path} "
                    f"defines {agent!r}"
                )
        warnings = [*definition.warnings, *claude_code_warnings(data, str(item.path), aliases)]
        definitions.append((item, definition, warnings))
    prepared_specs = [_prepare_spec(item.path) for item in specs]

    registry = open_registry(ctx)
    if parent_ref is not None:
        registry.resolve(parent_ref)  # a missing version is refused before anything is written
    # Derive every spec before writing anything; a spec whose base agent arrives with the files
    # of this same command can only be derived after they are published.
    derived_specs: list[tuple[VariantSpec, list[Derived] | None]] = []
    for prepared in prepared_specs:
        try:
            derived_specs.append((prepared, prepared.derive(registry.resolve)))
        except NotFoundError:
            if prepared.base.name not in seen:
                raise
            derived_specs.append((prepared, None))
    results: list[dict[str, object]] = []
    for item, definition, warnings in definitions:
        for warning in warnings:
            echo(f"warning: {item.path}: {warning}", err=True)
        result = registry.publish(
            definition,
            name=name,
            message=message,
            origin=str(item.path),
            label=label,
            parent=parent_ref,
        )
        results.append(version_row(result, str(item.path)))
    for prepared, derived in derived_specs:
        published = registry.publish_derived(prepared, message=message, derived=derived)
        warn_derived(published)
        results.extend(variant_row(variant, prepared.origin) for variant in published)
    if as_json:
        emit_json(results)
        return
    for row in results:
        suffix = f"  -> {row['label']}" if row.get("label") else ""
        echo(f"{row['ref']}  {row['status']}  {row['path']}{suffix}")


def _prepare_spec(path: Path) -> VariantSpec:
    from variants.spec import load_variant_spec

    return load_variant_spec(path)


@click.command("list", epilog="Example:\n  registry list --json")
@json_option
@click.pass_context
def list_agents(ctx: click.Context, as_json: bool) -> None:
    """Agents, their latest version and labels."""
    from registry.readers import list_agents as read_agents

    agents = read_agents(db_url(ctx))
    if as_json:
        emit_json(
            [
                {
                    "name": a.name,
                    "latest": a.latest,
                    "versions": a.versions,
                    "model": a.model,
                    "labels": a.labels,
                    "updated_at": a.updated_at,
                }
                for a in agents
            ]
        )
        return
    if not agents:
        echo("no agents yet: registry publish PATH")
        return
    width = max(len(visible(a.name, lines=False)) for a in agents)
    for a in agents:
        labels = ", ".join(f"{k}=@{v}" for k, v in a.labels.items())
        name, model = visible(a.name, lines=False), visible(a.model or "-", lines=False)
        echo(f"{name:<{width}}  @{a.latest:<4} {model:<10} {labels}".rstrip())


@click.command(epilog="Example:\n  registry log backend-logic-implementer --json")
@click.argument("name")
@json_option
@click.pass_context
def log(ctx: click.Context, name: str, as_json: bool) -> None:
    """Versions and label moves of an agent, newest first."""
    from registry.readers import agent_log

    history = agent_log(db_url(ctx), parse_ref(name).name)
    if as_json:
        emit_json(history)
        return
    for v in history.versions:
        labels = f" ({', '.join(v.labels)})" if v.labels else ""
        echo(f"{history.name}@{v.number}{labels}  {_when(v.created_at)}  {v.author or '-'}")
        echo(f"    sha256 {v.content_hash[:12]}  model {visible(v.model or '-', lines=False)}")
        if v.parent is not None:
            how = "derived by spec from" if v.derived_by_spec else "after"
            spec = f" (spec: {v.origin})" if v.derived_by_spec and v.origin else ""
            echo(f"    {how} @{v.parent}{spec}")
        if v.message:
            echo(f"    {v.message}")
        if v.origin and not v.derived_by_spec:
            echo(f"    from {visible(v.origin, lines=False)}")
    if history.label_moves:
        echo("label moves:")
    for m in history.label_moves:
        src = f"@{m.from_number}" if m.from_number is not None else "(new)"
        dst = f"@{m.to_number}" if m.to_number is not None else "(deleted)"
        why = f"  {m.reason}" if m.reason else ""
        echo(f"  {_when(m.created_at)}  {m.label}: {src} -> {dst}  by {m.actor or '-'}{why}")


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}Z"


@click.command(epilog="Example:\n  registry show backend-logic-implementer@production")
@click.argument("ref")
@json_option
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Print a version's markdown, exactly what export writes."""
    registry = open_registry(ctx, create=False, read_only=True)
    if as_json:
        info = registry.info(ref)
        emit_json({**_info_dict(info), "markdown": registry.source(ref).decode("utf-8", "replace")})
        return
    emit_bytes(registry.source(ref))


def _info_dict(info: VersionInfo) -> dict[str, object]:
    from dataclasses import asdict

    return {"ref": info.ref, **asdict(info)}


@click.command(epilog="Example:\n  registry diff backend-logic-implementer@1 @3")
@click.argument("old")
@click.argument("new")
@json_option
@click.pass_context
def diff(ctx: click.Context, old: str, new: str, as_json: bool) -> None:
    """What changed between two versions: model, fields, examples, body."""
    from variants.diff import diff_definitions

    old_ref = parse_ref(old)
    new_ref = parse_ref(new, default_name=old_ref.name)
    registry = open_registry(ctx, create=False, read_only=True)
    a = registry.resolve(old_ref).definition(str(old_ref))
    b = registry.resolve(new_ref).definition(str(new_ref))
    result = diff_definitions(a, b, old_label=str(old_ref), new_label=str(new_ref))
    if as_json:
        emit_json(result.to_dict())
    else:
        echo(result.render_text(), nl=False)


@click.command(
    epilog="""\b
Examples:
  registry label backend-logic-implementer@3 production -m "won experiment 4"
  registry label --delete backend-logic-implementer candidate
"""
)
@click.argument("ref")
@click.argument("label")
@click.option("--delete", is_flag=True, help="Remove LABEL from agent REF (a name).")
@click.option("-m", "--message", "reason", help="Why the label moves (kept in the log).")
@json_option
@click.pass_context
def label(
    ctx: click.Context, ref: str, label: str, delete: bool, reason: str | None, as_json: bool
) -> None:
    """Move LABEL to the version REF, or remove it with --delete."""
    registry = open_registry(ctx, create=False)
    if delete:
        move = registry.delete_label(parse_ref(ref).name, label, reason=reason)
    else:
        move = registry.set_label(ref, label, reason=reason)
    if as_json:
        emit_json(move)
        return
    src = f"@{move.from_number}" if move.from_number is not None else "(new)"
    dst = f"@{move.to_number}" if move.to_number is not None else "(deleted)"
    echo(f"{move.name} {move.label}: {src} -> {dst}")


def export_version(ctx: click.Context, ref: str, output: str | None) -> None:
    """``registry export REF``: the version's markdown, byte-exact, to stdout or ``output``.

    ``output`` is a file, or a folder (existing, or ending in a slash) that gets NAME.md.
    """
    parsed = parse_ref(ref)
    data = open_registry(ctx, create=False, read_only=True).source(parsed)
    if output is None:
        emit_bytes(data)
        return
    target = export_path(output, parsed.name)
    write_atomically(target, data)
    echo(f"wrote {target}", err=True)
