"""The sequential rule: when a look may stop a run, at which level, and what stopping saved.

Pure functions over the looks (``experiments.report.Look``); the runner's side, which takes the
looks and stores them, is ``experiments.sequential``.

- The decision rule's ``alpha`` is two-sided and the verdict one-sided (a winner must be better
  than the control), so the looks spend ``alpha / 2`` on the upper side with the O'Brien-Fleming
  -type function (``experiments.stats.sequential``); a look hands the analysis twice its nominal
  one-sided level, which the analysis' two-sided tests then apply as at a fixed design.
- A run stops at a look whose verdict is decided: ``winner`` or ``no_difference``. Stopping for
  no difference can only lower the chance of a false winner, so it needs no alpha of its own.
- Boundaries are recomputed from the stored looks' fractions, so a resumed run spends from where
  the earlier looks left off and never re-spends what they spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import overload

from experiments.report import Look, SequentialSummary, VerdictStatus
from experiments.stats.sequential import SPENDING_FUNCTION, Boundary, boundaries

DECIDED: tuple[VerdictStatus, ...] = ("winner", "no_difference")
METHOD = (
    f"group-sequential, {SPENDING_FUNCTION} of alpha/2 (one-sided) over the information "
    "fraction tasks analysed / tasks in the suite; boundaries by numerical integration"
)


def look_boundaries(fractions: Sequence[float], alpha: float) -> tuple[Boundary, ...]:
    """The boundaries of looks at ``fractions`` for the decision rule's two-sided ``alpha``."""
    return boundaries(fractions, alpha / 2)


def next_boundary(previous: Sequence[Look], tasks: int, total_tasks: int, alpha: float) -> Boundary:
    """The boundary of a look at ``tasks`` of ``total_tasks`` after the ``previous`` looks."""
    fractions = [look.tasks / look.total_tasks for look in previous]
    return look_boundaries([*fractions, tasks / total_tasks], alpha)[-1]


def look_alpha(boundary: Boundary) -> float:
    """The two-sided alpha the analysis is given at a look (see the module's docstring)."""
    return 2 * boundary.nominal_alpha


def stop_note(look: Look) -> str:
    """The experiment's note when a look stopped it."""
    return (
        f"sequential: stopped at look {look.look} with {look.tasks} of {look.total_tasks} tasks "
        f"(nominal alpha {look.nominal_alpha:.4g}), verdict {look.status}: {look.reason}"
    )


def sequential_summary(looks: Sequence[Look], alpha: float) -> SequentialSummary:
    """What the report says of a sequential run's looks (at least one)."""
    last = looks[-1]
    stopped = next((look for look in looks if look.stopped), None)
    if stopped is not None:
        reason = f"stopped at look {stopped.look}: the verdict is {stopped.status}"
    elif last.tasks >= last.total_tasks:
        reason = "ran the whole suite: no look decided the verdict"
    else:
        reason = "not decided yet: the run stopped before the suite's end (budget or interrupt)"
    # The fixed design's cost is extrapolated from what each task has cost so far: the same
    # tasks, variants and epochs, so the spend per task is the best estimate of the rest.
    full = last.cost_usd / last.tasks * last.total_tasks if last.tasks and last.cost_usd else None
    # An undecided run cut short saved nothing: it is unfinished, and says so.
    finished = stopped is not None or last.tasks >= last.total_tasks
    saved = full - last.cost_usd if full is not None and finished else None
    return SequentialSummary(
        method=METHOD,
        alpha=alpha,
        looks=tuple(_rounded_look(look) for look in looks),
        stopped_at=stopped.look if stopped is not None else None,
        stop_reason=reason,
        cost_usd=_sig(last.cost_usd),
        full_cost_usd=_sig(full),
        saved_usd=_sig(saved),
        saved_share=_sig(saved / full) if saved is not None and full else None,
    )


def _rounded_look(look: Look) -> Look:
    return replace(
        look,
        information=_sig(look.information),
        spent_alpha=_sig(look.spent_alpha),
        nominal_alpha=_sig(look.nominal_alpha),
        cost_usd=_sig(look.cost_usd),
    )


@overload
def _sig(value: float) -> float: ...
@overload
def _sig(value: None) -> None: ...
def _sig(value: float | None) -> float | None:
    """6 significant digits, the precision every figure of the report claims."""
    return None if value is None else float(f"{value:.6g}")


def summary_sentence(summary: SequentialSummary) -> str:
    """One line for the renderings and the dashboard: why the run stopped, what it saved."""
    last = summary.looks[-1]
    text = (
        f"sequential: {len(summary.looks)} looks, {summary.stop_reason} "
        f"({last.tasks} of {last.total_tasks} tasks, ${summary.cost_usd:.4f} spent"
    )
    if summary.full_cost_usd is not None and summary.saved_usd is not None:
        share = f"{summary.saved_share:.0%}" if summary.saved_share is not None else "-"
        text += (
            f" of the fixed design's ~${summary.full_cost_usd:.4f}: ~${summary.saved_usd:.4f} "
            f"saved, {share}"
        )
    return text + ")"
