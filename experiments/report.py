"""The full report of one stored experiment: load it, analyse it, name the verdict."""

from __future__ import annotations

from typing import Any

from experiments.analysis import analyse
from experiments.store.plans import load_document
from experiments.store.reads import (
    experiment_tasks,
    experiment_variants,
    find_experiment_id,
    get_experiment,
    trial_records,
)
from registry.database import Database


def build_report(
    db: Database, experiment_ref: str | int, *, seed: int | None = None
) -> dict[str, Any]:
    experiment_id = find_experiment_id(db, str(experiment_ref))
    experiment = get_experiment(db, experiment_id)
    variants = experiment_variants(db, experiment_id)
    tasks = experiment_tasks(db, experiment_id)
    report = analyse(
        experiment={
            "id": experiment.id,
            "name": experiment.name,
            "provider": experiment.provider,
            "simulated": experiment.simulated,
            "status": experiment.status,
            "tasks": len(tasks),
            "epochs": experiment.epochs,
            "suite": experiment.suite_name,
            "created_at": experiment.created_at.isoformat(),
        },
        variants=[
            {"label": v.label, "ref": v.ref, "model": v.model_id, "model_alias": v.model_alias}
            for v in variants
        ],
        control=experiment.control,
        trials=trial_records(db, experiment_id),
        rule=load_document(db, experiment_id).decision,
        seed=experiment.seed if seed is None else seed,
    )
    from experiments.store.reads import pairwise_summary

    pairwise = pairwise_summary(db, experiment_id)
    report["pairwise"] = pairwise if pairwise.get("variants") else None
    models = {v.label: (v.model_alias, v.model_id) for v in variants}
    for entry in report["variants"]:
        alias, model_id = models[entry["label"]]
        entry.setdefault("model", model_id)
        entry.setdefault("model_alias", alias)
    return report
