"""``registry derive``: a one-axis variant from the command line.

The flags are turned into a variant spec and go through the same parser, checks and publishing as
``registry publish SPEC.yaml``; the version stores that spec, so its lineage reads the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core.errors import AgentRegistryError, SpecError
from registry.commands.agent_files import warn_derived
from registry.commands.common import echo, emit_json, json_option, open_registry
from registry.commands.publish_rows import variant_row

ORIGIN = "registry derive"


@click.command(
    epilog="""\b
Examples:
  registry derive backend-logic-implementer@1 --model haiku --label haiku
  registry derive backend-logic-implementer@1 --drop-example 3 --label fewer-examples
  registry derive backend-logic-implementer@1 --replace "an expert" "a senior" --label senior
  registry derive backend-logic-implementer@1 --set effort=low --unset color --label low-effort
"""
)
@click.argument("ref")
@click.option("--label", required=True, help="Label the derived version gets.")
@click.option("--model", help="Model alias (haiku, sonnet, opus, ...) or model ID.")
@click.option(
    "--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Set a field (VALUE is YAML)."
)
@click.option("--unset", multiple=True, metavar="KEY", help="Remove a field.")
@click.option(
    "--replace",
    "replacements",
    nargs=2,
    multiple=True,
    metavar="OLD NEW",
    help="Replace the single occurrence of OLD in the body by NEW.",
)
@click.option("--body-from", metavar="FILE", help="Replace the whole body by FILE's text.")
@click.option("--keep-example", type=int, multiple=True, metavar="N", help="Keep example N.")
@click.option("--drop-example", type=int, multiple=True, metavar="N", help="Drop example N.")
@click.option(
    "--examples-from", metavar="FILE", help="Replace all examples by the <example> blocks of FILE."
)
@click.option("-m", "--message", help="Why this variant exists.")
@json_option
@click.pass_context
def derive(
    ctx: click.Context,
    ref: str,
    label: str,
    model: str | None,
    assignments: tuple[str, ...],
    unset: tuple[str, ...],
    replacements: tuple[tuple[str, str], ...],
    body_from: str | None,
    keep_example: tuple[int, ...],
    drop_example: tuple[int, ...],
    examples_from: str | None,
    message: str | None,
    as_json: bool,
) -> None:
    """Publish a variant of REF with one kind of change, labelled LABEL."""
    import yaml

    from variants.spec import parse_variant_spec

    changes: dict[str, Any] = {}
    if model is not None:
        changes["model"] = model
    fields: dict[str, Any] = {}
    if assignments:
        fields["set"] = dict(_assignment(text) for text in assignments)
    if unset:
        fields["remove"] = list(unset)
    if fields:
        changes["fields"] = fields
    wording: list[dict[str, Any]] = [{"replace": old, "with": new} for old, new in replacements]
    if body_from is not None:
        wording.append({"body_from": body_from})
    if wording:
        changes["wording"] = wording
    examples: dict[str, Any] = {}
    for key, positions in (("keep", keep_example), ("drop", drop_example)):
        if positions:
            examples[key] = list(positions)
    if examples_from is not None:
        examples["replace"] = [{"file": examples_from}]
    if examples:
        changes["examples"] = examples
    if not changes:
        raise AgentRegistryError(
            "derive needs a change: --model, --set, --unset, --replace, --body-from, "
            "--keep-example, --drop-example or --examples-from"
        )
    spec = {"base": ref, "label": label, **({"message": message} if message else {}), **changes}
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=10**9)
    prepared = parse_variant_spec(text, origin=ORIGIN, root=Path.cwd())
    (published,) = open_registry(ctx).publish_derived(prepared)
    warn_derived([published])
    row = variant_row(published, prepared.origin)
    if as_json:
        emit_json(row)
        return
    echo(f"{row['ref']}  {row['status']}  from {row['base']}  -> {row['label']}")


def _assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``, the value read as strict YAML: aliases bounded, duplicate keys refused."""
    import yaml

    from variants.yamlio import load_strict_yaml, yaml_problem

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"{ORIGIN}: --set needs KEY=VALUE, got {text!r}")
    try:
        return key.strip(), load_strict_yaml(value)
    except yaml.YAMLError as err:
        raise SpecError(
            f"{ORIGIN}: --set {key.strip()}: the value is not valid YAML: {yaml_problem(err)}"
        ) from None
