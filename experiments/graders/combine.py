"""One quality score per trial from its graders' results.

The combined score is the weighted mean of the scores, over the graders whose weight is above 0.
It is None (no score, and the trial counts as a grading error) when any weighted grader failed:
averaging over the graders that happened to work would quietly change what the score measures
from trial to trial, and counting a failure as 0 would punish a variant for a broken grader.
A grader with weight 0 is informational: shown in reports, never combined, its failure harmless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from experiments.graders.base import GradeResult


def combine(results: Sequence[GradeResult], weights: Mapping[str, float]) -> float | None:
    """Weighted mean of the scores; None when a weighted grader errored or nothing was graded.

    ``weights`` maps grader name to weight; every result needs one (a missing weight is a bug in
    the caller, so it raises ``KeyError`` rather than guessing).
    """
    total = weighted = 0.0
    for result in results:
        weight = weights[result.grader]
        if weight < 0:
            raise ValueError(f"grader {result.grader!r} has a negative weight {weight}")
        if weight == 0:
            continue
        if result.error is not None or result.score is None:
            return None
        total += weight
        weighted += weight * result.score
    return weighted / total if total else None
