"""A synthetic, completed experiment stored straight into the database, for benchmarks and
tests that need a big or a known experiment without running one (the statistics are what they
are: quality is task difficulty plus the arm's shift plus noise)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from registry.database import Database

REPO = Path(__file__).resolve().parents[1]
AGENT = REPO / "data" / "agents" / "backend-logic-implementer.md"
# label -> (model alias, model id, quality shift, cost per trial, median latency in s)
Arm = tuple[str, str, float, float, float]
ARMS: dict[str, Arm] = {
    "control": ("sonnet", "claude-sonnet-5-5", 0.00, 0.010, 6.0),
    "tight": ("sonnet", "claude-sonnet-5-5", 0.05, 0.0095, 5.8),
    "cheap": ("haiku", "claude-haiku-5-5", -0.06, 0.0004, 2.5),
    "opus": ("opus", "claude-opus-5-5", 0.03, 0.021, 9.0),
}
_CHUNK = 20_000


def build_experiment(
    db: Database,
    *,
    tasks: int = 500,
    epochs: int = 50,
    seed: int = 7,
    name: str = "bench",
    arms: Mapping[str, Arm] = ARMS,
) -> int:
    """Store a completed, simulated experiment of ``arms x tasks x epochs`` trials (two grades
    each) with bulk inserts; its id. The first arm is the control."""
    from sqlalchemy import func, insert, select

    from experiments.store.tables import Experiment, ExperimentTask, ExperimentVariant, Grade, Trial

    version_ids = _publish_versions(db, arms)
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    with db.session() as session:
        experiment = Experiment(
            name=name,
            status="completed",
            provider="simulated",
            simulated=True,
            control=next(iter(arms)),
            epochs=epochs,
            seed=seed,
            spec_yaml=f"name: {name}\n",
            suite_name="bench",
            finished_at=now,
        )
        session.add(experiment)
        session.flush()
        exp_id = experiment.id
        assert exp_id is not None
        for position, (label, (alias, model_id, *_)) in enumerate(arms.items()):
            session.add(
                ExperimentVariant(
                    experiment_id=exp_id,
                    label=label,
                    ref=f"backend-logic-implementer@{label}",
                    version_id=version_ids[label],
                    model_alias=alias,
                    model_id=model_id,
                    position=position,
                )
            )
        for position in range(tasks):
            session.add(
                ExperimentTask(
                    experiment_id=exp_id,
                    task_id=f"task-{position:04d}",
                    position=position,
                    prompt=f"Implement backend feature {position}.",
                    reference=["correct"],
                )
            )
        session.commit()
        next_trial = (session.exec(select(func.max(Trial.id))).one()[0] or 0) + 1  # type: ignore[call-overload]

    difficulty = rng.uniform(0.3, 0.85, tasks)
    trial_rows: list[dict[str, Any]] = []
    grade_rows: list[dict[str, Any]] = []
    with db.engine.begin() as conn:
        for label, (_alias, model_id, shift, cost, latency) in arms.items():
            quality = np.clip(
                difficulty[:, None] + shift + rng.normal(0, 0.12, (tasks, epochs)), 0, 1
            )
            latencies = latency * rng.lognormal(0, 0.3, (tasks, epochs))
            costs = cost * rng.lognormal(0, 0.1, (tasks, epochs))
            for t, e in np.ndindex(tasks, epochs):
                q = float(quality[t, e])
                trial_rows.append(
                    {
                        "id": next_trial,
                        "experiment_id": exp_id,
                        "variant": label,
                        "task_id": f"task-{t:04d}",
                        "epoch": e + 1,
                        "provider": "simulated",
                        "model_id": model_id,
                        "request": {},
                        "response_text": f"Answer of {label} to task {t}, epoch {e + 1}.",
                        "stop_reason": "end_turn",
                        "input_tokens": 1200,
                        "output_tokens": 600,
                        "cost_usd": float(costs[t, e]),
                        "latency_s": float(latencies[t, e]),
                        "ttft_s": float(latencies[t, e]) * 0.2,
                        "quality": q,
                        "created_at": now,
                    }
                )
                for grader, score in (("checks", q), ("length", min(1.0, q + 0.2))):
                    grade_rows.append(
                        {
                            "trial_id": next_trial,
                            "grader": grader,
                            "score": score,
                            "passed": score >= 0.5,
                            "reason": f"{grader} scored {score:.2f}",
                            "details": {},
                            "created_at": now,
                        }
                    )
                next_trial += 1
                if len(trial_rows) >= _CHUNK:
                    _flush(conn, insert(Trial), trial_rows, insert(Grade), grade_rows)
        _flush(conn, insert(Trial), trial_rows, insert(Grade), grade_rows)
    return exp_id


def _flush(
    conn: Any, trials: Any, trial_rows: list[Any], grades: Any, grade_rows: list[Any]
) -> None:
    if trial_rows:
        conn.execute(trials, trial_rows)
        conn.execute(grades, grade_rows)
    trial_rows.clear()
    grade_rows.clear()


def _publish_versions(db: Database, arms: Mapping[str, Arm]) -> dict[str, int]:
    """One registry version per arm (the body differs), labelled with the arm's name."""
    from registry.store import Registry
    from variants.agentfile import AgentDefinition

    registry = Registry(db)
    source = AGENT.read_bytes()
    ids = {}
    for label, (alias, *_rest) in arms.items():
        text = source.replace(b"model: sonnet", f"model: {alias}".encode(), 1)
        text += f"\n<!-- {label} -->\n".encode()
        definition = AgentDefinition.parse(text, origin=label)
        published = registry.publish(definition, label=label, message=f"bench arm {label}")
        ids[label] = registry.resolve(published.ref).version_id
    return ids
