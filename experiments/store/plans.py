"""Plans kept with their experiment: the experiment row, its variants, its tasks, its document."""

from __future__ import annotations

from dataclasses import replace

from core.errors import NotFoundError
from experiments.plan import (
    Arm,
    Plan,
    PlanDocument,
    grader_config_from_json,
    grader_config_json,
    system_prompt,
)
from experiments.roster import RosterAgent
from experiments.tasks import Task, TaskSuite
from registry.database import Database, utcnow


def store_plan(
    db: Database, plan: Plan, spec_yaml: str, suite: TaskSuite, *, simulated: bool
) -> Plan:
    """Write the experiment, its variants and its tasks; return the plan with its id.
    ``simulated``: the provider's answers come from the offline simulator (labelled so)."""
    with db.connect(write=True) as conn:
        now = conn.timestamp(utcnow())
        experiment_id = conn.insert(
            "experiment",
            {
                "name": plan.name,
                "status": "running",
                "provider": plan.provider,
                "simulated": simulated,
                "control": plan.control,
                "epochs": plan.epochs,
                "seed": plan.seed,
                "spec_yaml": spec_yaml,
                "spec": conn.json(plan.document.to_json()),
                "suite_name": suite.name,
                "suite_hash": suite.content_hash,
                "max_cost_usd": plan.max_cost_usd,
                "created_at": now,
            },
        )
        conn.insert_many(
            "experiment_variant",
            [
                {
                    "experiment_id": experiment_id,
                    "label": arm.label,
                    "ref": arm.ref,
                    "version_id": arm.version_id,
                    "model_alias": arm.model_alias,
                    "model_id": arm.model_id,
                    "position": position,
                }
                for position, arm in enumerate(plan.arms)
            ],
        )
        conn.insert_many(
            "experiment_task",
            [
                {
                    "experiment_id": experiment_id,
                    "task_id": task.id,
                    "position": position,
                    "prompt": task.prompt,
                    "reference": conn.json(list(task.reference)),
                    "rubric": task.rubric,
                    "area": task.area,
                    "graders": conn.json([grader_config_json(c) for c in task.graders]),
                    "expect": task.expect,
                }
                for position, task in enumerate(plan.tasks)
            ],
        )
    return replace(plan, experiment_id=experiment_id)


def load_document(db: Database, experiment_id: int) -> PlanDocument:
    """The plan document of a stored experiment (for the report's decision rule)."""
    from experiments.store.tables import Experiment

    with db.session() as session:
        experiment = session.get(Experiment, experiment_id)
        if experiment is None:
            raise NotFoundError(f"no experiment with id {experiment_id}")
        return PlanDocument.from_json(experiment.spec)


def load_plan(db: Database, experiment_id: int) -> Plan:
    """The plan of a stored experiment, exactly as it was run (for ``--resume`` and re-grading)."""
    from sqlmodel import col, select

    from experiments.store.tables import Experiment, ExperimentTask, ExperimentVariant
    from registry.store import Registry

    with db.session() as session:
        experiment = session.get(Experiment, experiment_id)
        if experiment is None:
            raise NotFoundError(f"no experiment with id {experiment_id}")
        variants = session.exec(
            select(ExperimentVariant)
            .where(ExperimentVariant.experiment_id == experiment_id)
            .order_by(col(ExperimentVariant.position))
        ).all()
        rows = session.exec(
            select(ExperimentTask)
            .where(ExperimentTask.experiment_id == experiment_id)
            .order_by(col(ExperimentTask.position))
        ).all()
    registry = Registry(db)
    arms = []
    for v in variants:
        definition = registry.exact(v.version_id).definition(v.ref)
        arms.append(
            Arm(v.label, v.ref, v.version_id, v.model_alias or "", v.model_id,
                system_prompt(definition), RosterAgent.from_definition(definition, v.ref))
        )  # fmt: skip
    document = PlanDocument.from_json(experiment.spec)
    agentic = document.agentic.tasks if document.agentic else {}
    tasks = tuple(
        Task(
            r.task_id,
            r.prompt,
            tuple(r.reference),
            r.rubric,
            tuple(grader_config_from_json(g) for g in r.graders),
            r.area,
            r.expect,
            agentic.get(r.task_id),
        )
        for r in rows
    )
    return Plan(
        experiment_id=experiment_id,
        name=experiment.name,
        provider=experiment.provider,
        epochs=experiment.epochs,
        seed=experiment.seed,
        control=experiment.control,
        arms=tuple(arms),
        tasks=tasks,
        document=document,
        max_cost_usd=experiment.max_cost_usd,
    )
