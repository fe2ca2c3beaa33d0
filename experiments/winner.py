"""Ship the winner: write its markdown byte for byte and, when asked, move a label to it.

The winner is the exact version the experiment ran (its stored version id), not whatever the
spec's reference points at today: a label such as ``@candidate`` may have moved since.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import click

from experiments.queries import experiment_variants
from experiments.report import build_report
from registry.commands.common import open_registry, write_atomically
from registry.models import Agent, Version
from registry.store import LabelMove, Registry
from variants.errors import AgentRegistryError
from variants.refs import Ref


class NoWinner(AgentRegistryError):
    """The experiment's verdict names no winner; nothing is written."""


@dataclass(frozen=True)
class Winner:
    experiment_id: int
    label: str  # the variant label in the experiment
    ref: Ref  # NAME@N of the exact version
    source: bytes
    verdict: dict[str, Any]


def find_winner(registry: Registry, experiment: str | int) -> Winner:
    report = build_report(registry.db, experiment)
    verdict = report["verdict"]
    exp_id = report["experiment"]["id"]
    if verdict["status"] != "winner" or not verdict.get("winner"):
        raise NoWinner(f"experiment {exp_id} has no winner, nothing written: {verdict['text']}")
    variant = next(
        v for v in experiment_variants(registry.db, exp_id) if v.label == verdict["winner"]
    )
    with registry.db.session() as session:
        version = session.get(Version, variant.version_id)
        assert version is not None
        agent = session.get(Agent, version.agent_id)
        assert agent is not None
        ref = Ref(agent.name, number=version.number)
        return Winner(exp_id, variant.label, ref, version.source, verdict)


def label_winner(registry: Registry, winner: Winner, label: str) -> LabelMove:
    reason = f"winner of experiment {winner.experiment_id}: {winner.verdict['text']}"
    return registry.set_label(winner.ref, label, reason=reason)


def export_winner(
    ctx: click.Context, experiment: str, *, output: str | None, label: str | None
) -> None:
    from registry.commands.catalog import export_path

    registry = open_registry(ctx)
    winner = find_winner(registry, experiment)
    if output is None:
        sys.stdout.buffer.write(winner.source)
        sys.stdout.buffer.flush()
    else:
        target = export_path(output, winner.ref.name)
        write_atomically(target, winner.source)
        click.echo(f"wrote {target} ({winner.ref}, variant {winner.label})", err=True)
    if label is not None:
        move = label_winner(registry, winner, label)
        src = f"@{move.from_number}" if move.from_number is not None else "(new)"
        click.echo(f"{move.name} {move.label}: {src} -> @{move.to_number}", err=True)
