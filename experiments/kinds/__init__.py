"""Trial kinds; importing this package registers the built-in ones (``response``,
``delegation``, ``agentic``)."""

from experiments.kinds import agentic as _agentic  # noqa: F401  (registers the kind)
from experiments.kinds import delegation as _delegation  # noqa: F401  (registers the kind)
from experiments.kinds import response as _response  # noqa: F401  (registers the kind)
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
