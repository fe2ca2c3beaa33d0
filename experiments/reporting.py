"""The report of one stored experiment: load what the analysis needs, and analyse it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from experiments.agentic_analysis import agentic_figures, agentic_summary
from experiments.agentic_plan import Agentic
from experiments.analysis import TrialRecord, VariantInfo, analyse
from experiments.decision import DecisionRule
from experiments.delegation_analysis import delegation_summary
from experiments.plan import Delegation
from experiments.report import ExperimentInfo, PairwiseResult, PairwiseSummary, PositionBias, Report
from experiments.sequential_rule import sequential_summary
from experiments.store.looks import experiment_looks
from experiments.store.plans import load_document, load_plan
from experiments.store.reads import (
    choice_records,
    experiment_tasks,
    experiment_variants,
    find_experiment_id,
    get_experiment,
    pairwise_summary,
    session_details,
    trial_records,
)
from registry.database import Database


def build_report(
    db: Database,
    experiment_ref: str | int,
    *,
    seed: int | None = None,
    trials: Sequence[TrialRecord] | None = None,
) -> Report:
    """The report of an experiment (by id or name); ``seed`` overrides the spec's bootstrap seed.
    ``trials``: its trial records when the caller has read them already (the dashboard's charts
    share the read)."""
    experiment_id = find_experiment_id(db, str(experiment_ref))
    document = load_document(db, experiment_id)
    looks = experiment_looks(db, experiment_id)
    rule = document.decision
    if looks:  # the sequential test's verdict: the level of its last look, not the fixed one
        rule = replace(rule, alpha=looks[-1].nominal_alpha)
    # A run stopped by a look expects trials of the tasks run by then, not of the whole suite.
    stopped = next((look for look in looks if look.stopped), None)
    expected = stopped.tasks if stopped is not None else None
    report = analyse_stored(
        db, experiment_id, rule, seed=seed, expected_tasks=expected, trials=trials
    )
    if looks:
        report = replace(report, sequential=sequential_summary(looks, document.decision.alpha))
    if document.agentic is not None:
        return _with_agentic(db, report, document.agentic)
    if document.delegation is None:
        return report
    return _with_delegation(db, report, document.delegation)


def _with_agentic(db: Database, report: Report, agentic: Agentic) -> Report:
    """The report with what each variant's sessions did."""
    sessions = session_details(db, report.experiment.id)
    figures = agentic_figures(sessions)
    variants = tuple(replace(v, agentic=figures.get(v.label)) for v in report.variants)
    summary = agentic_summary(
        (details for _, details in sessions),
        runtime=agentic.settings.runtime,
        max_turns=agentic.settings.max_turns,
        time_limit_s=agentic.settings.time_limit_s,
    )
    return replace(report, variants=variants, agentic=summary)


def analyse_stored(
    db: Database,
    experiment_id: int,
    rule: DecisionRule,
    *,
    seed: int | None = None,
    expected_tasks: int | None = None,
    trials: Sequence[TrialRecord] | None = None,
) -> Report:
    """The analysis of the trials stored so far under ``rule`` (a sequential look passes its
    own alpha), without the figures only the full report adds. ``expected_tasks``: how many
    tasks the missing-data counts expect (default: the suite's); the report still gives the
    suite's count as ``experiment.tasks``."""
    experiment = get_experiment(db, experiment_id)
    tasks = len(experiment_tasks(db, experiment_id))
    report = analyse(
        experiment=ExperimentInfo(
            id=experiment_id,
            name=experiment.name,
            provider=experiment.provider,
            simulated=experiment.simulated,
            status=experiment.status,
            tasks=tasks if expected_tasks is None else expected_tasks,
            epochs=experiment.epochs,
            suite=experiment.suite_name,
            created_at=experiment.created_at.isoformat(),
        ),
        variants=[
            VariantInfo(label=v.label, ref=v.ref, model=v.model_id, model_alias=v.model_alias)
            for v in experiment_variants(db, experiment_id)
        ],
        control=experiment.control,
        trials=trial_records(db, experiment_id) if trials is None else trials,
        rule=rule,
        seed=experiment.seed if seed is None else seed,
        pairwise=_pairwise(pairwise_summary(db, experiment_id)),
    )
    return replace(report, experiment=replace(report.experiment, tasks=tasks))


def _with_delegation(db: Database, report: Report, delegation: Delegation) -> Report:
    """The report with its routing figures: per variant, and the requests that changed."""
    plan = load_plan(db, report.experiment.id)
    agents = {arm.label: arm.agent.name for arm in plan.arms}
    summary, figures = delegation_summary(
        choice_records(db, report.experiment.id),
        control=report.control,
        agents=agents,
        expect={t.id: t.expect for t in plan.tasks if t.expect is not None},
        task_order=[t.id for t in plan.tasks],
        router=delegation.router,
        main_model=delegation.main_model_id,
        roster=[agent.name for agent in delegation.roster],
    )
    variants = tuple(replace(v, delegation=figures.get(v.label)) for v in report.variants)
    return replace(report, variants=variants, delegation=summary)


def _pairwise(summary: dict[str, Any]) -> PairwiseSummary | None:
    """``graders.pairwise.summarise``'s dict, typed; None when no variant has pairwise grades."""
    if not summary["variants"]:
        return None
    return PairwiseSummary(
        grading_run=summary["grading_run"],
        control=summary["control"],
        variants=tuple(PairwiseResult(**row) for row in summary["variants"]),
        position_bias=PositionBias(**summary["position_bias"]),
    )
