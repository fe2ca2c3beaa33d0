"""Trial kinds. The built-in ones (``response``, ``delegation``, ``agentic``) are imported when a
plan first asks for them (``trial_kind``), so each run loads only its own."""

from experiments.kinds.base import (
    CellEstimate,
    ModelCalls,
    Outcome,
    SingleRequestKind,
    TrialKind,
    register_trial_kind,
    trial_kind,
)

__all__ = [
    "CellEstimate",
    "ModelCalls",
    "Outcome",
    "SingleRequestKind",
    "TrialKind",
    "register_trial_kind",
    "trial_kind",
]
