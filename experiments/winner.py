"""Ship the winner: write its markdown byte for byte and, when asked, move a label to it.

The winner is the exact version the experiment ran (its stored version id), not whatever the
spec's reference points at today: a label such as ``@candidate`` may have moved since.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import AgentRegistryError
from experiments.report import Verdict
from experiments.reporting import build_report
from experiments.store.reads import experiment_variants
from registry.files import export_path, write_atomically
from registry.store import LabelMove, Registry
from variants.refs import Ref, check_label


class NoWinner(AgentRegistryError):
    """The experiment's verdict names no winner; nothing is written."""


@dataclass(frozen=True)
class Winner:
    experiment_id: int
    label: str  # the variant label in the experiment
    ref: Ref  # NAME@N of the exact version
    source: bytes
    verdict: Verdict


def find_winner(registry: Registry, experiment: str | int) -> Winner:
    report = build_report(registry.db, experiment)
    verdict = report.verdict
    exp_id = report.experiment.id
    if verdict.status != "winner" or not verdict.winner:
        raise NoWinner(f"experiment {exp_id} has no winner, nothing written: {verdict.text}")
    variant = next(v for v in experiment_variants(registry.db, exp_id) if v.label == verdict.winner)
    exact = registry.exact(variant.version_id)
    return Winner(exp_id, variant.label, exact.ref, exact.source, verdict)


def label_winner(registry: Registry, winner: Winner, label: str) -> LabelMove:
    reason = f"winner of experiment {winner.experiment_id}: {winner.verdict.text}"
    return registry.set_label(winner.ref, label, reason=reason)


@dataclass(frozen=True)
class Shipped:
    path: Path | None  # the file written; None when no output was asked for
    move: LabelMove | None  # the label moved to the winner, if one was asked for


def ship_winner(
    registry: Registry, winner: Winner, *, output: str | None, label: str | None
) -> Shipped:
    """Write the winner's markdown byte for byte to ``output`` and move ``label`` to it.

    ``output`` is a file, or a folder (existing, or ending in a slash) that gets NAME.md; None
    writes nothing (the caller prints the markdown). The label is checked before anything is
    written, so a bad one leaves no half-done export.
    """
    if label is not None:
        check_label(label)
    path: Path | None = None
    if output is not None:
        path = export_path(output, winner.ref.name)
        write_atomically(path, winner.source)
    move = label_winner(registry, winner, label) if label is not None else None
    return Shipped(path, move)
