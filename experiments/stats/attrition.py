"""Attrition: are failed or ungraded trials more frequent in a variant than in the control?

The analogue of a sample-ratio check (notes section 2): a variant that fails where it would have
answered badly looks better on the trials that remain. Cells (task, epoch) are paired: only the
cells recorded in both arms count, and the exact McNemar test compares the discordant ones (the
variant missing where the control was graded, and the other way round). Trials not run at all
(a budget stop) are not attrition, and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.stats.paired import mcnemar_exact


@dataclass(frozen=True)
class FailureComparison:
    cells: int  # (task, epoch) cells recorded in both arms
    control_missing: int  # of those, failed or ungraded in the control
    variant_missing: int
    discordant: tuple[int, int]  # (missing only in the variant, missing only in the control)
    p: float  # exact McNemar, two-sided
    higher: bool  # the variant misses significantly more often, at alpha


def compare_failures(
    control_graded: np.ndarray,
    variant_graded: np.ndarray,
    recorded: np.ndarray,
    *,
    alpha: float = 0.05,
) -> FailureComparison:
    """Compare ``tasks x epochs`` graded masks on the cells ``recorded`` (a mask) in both arms.

    Invariant: ``higher`` implies p < alpha and more variant-only than control-only misses.
    """
    control_missing = recorded & ~control_graded
    variant_missing = recorded & ~variant_graded
    only_variant = int(np.count_nonzero(variant_missing & ~control_missing))
    only_control = int(np.count_nonzero(control_missing & ~variant_missing))
    p = mcnemar_exact(only_variant, only_control)
    return FailureComparison(
        cells=int(np.count_nonzero(recorded)),
        control_missing=int(np.count_nonzero(control_missing)),
        variant_missing=int(np.count_nonzero(variant_missing)),
        discordant=(only_variant, only_control),
        p=p,
        higher=p < alpha and only_variant > only_control,
    )
