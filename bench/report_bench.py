"""Report benchmark: the full report for 10 variants x 1,000 tasks x 5 epochs (50,000 trials).

    .venv/bin/python bench/report_bench.py [--db URL]

Stores a synthetic experiment with bulk inserts, then times `build_report` (load from the
database + statistics + verdict) in a warm process, and `registry report --json` as a cold
command. Aim: under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VARIANTS, TASKS, EPOCHS = 10, 1_000, 5


def build(db_url: str) -> int:
    from sqlalchemy import insert

    from experiments.records import Experiment, ExperimentTask, ExperimentVariant, Trial
    from registry.database import Database
    from registry.store import Registry
    from variants.agentfile import AgentDefinition

    db = Database(db_url)
    registry = Registry(db)
    versions = []
    for v in range(VARIANTS):
        text = f"---\nname: bench\ndescription: Use this agent.\nmodel: sonnet\n---\nVariant {v}.\n"
        versions.append(registry.publish(AgentDefinition.parse(text.encode())).number)
    rng = np.random.default_rng(1)
    now = datetime.now(UTC)
    with db.session() as session:
        experiment = Experiment(
            name="report-bench",
            status="completed",
            provider="simulated",
            simulated=True,
            control="v0",
            epochs=EPOCHS,
            spec_yaml="",
        )
        session.add(experiment)
        session.flush()
        exp = experiment.id
        version_rows = [registry.version(f"bench@{n}") for n in versions]
        session.execute(
            insert(ExperimentVariant),
            [
                {
                    "experiment_id": exp,
                    "label": f"v{i}",
                    "ref": f"bench@{versions[i]}",
                    "version_id": version_rows[i].id,
                    "model_id": "claude-sonnet-5-5",
                    "position": i,
                }
                for i in range(VARIANTS)
            ],
        )
        session.execute(
            insert(ExperimentTask),
            [
                {
                    "experiment_id": exp,
                    "task_id": f"t{t}",
                    "position": t,
                    "prompt": "p",
                    "reference": [],
                    "graders": [],
                }
                for t in range(TASKS)
            ],
        )
        difficulty = rng.normal(0.6, 0.15, TASKS)
        rows = []
        for i in range(VARIANTS):
            for t in range(TASKS):
                for e in range(1, EPOCHS + 1):
                    rows.append(
                        {
                            "experiment_id": exp,
                            "variant": f"v{i}",
                            "task_id": f"t{t}",
                            "epoch": e,
                            "provider": "simulated",
                            "model_id": "claude-sonnet-5-5",
                            "request": {},
                            "quality": float(
                                np.clip(difficulty[t] + 0.01 * i + rng.normal(0, 0.1), 0, 1)
                            ),
                            "cost_usd": float(rng.lognormal(-4.6, 0.3)),
                            "latency_s": float(rng.lognormal(1.6, 0.4)),
                            "ttft_s": 0.5,
                            "created_at": now,
                        }
                    )
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Trial), rows[start : start + 10_000])
        session.commit()
    db.dispose()
    return exp  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db or str(Path(tmp) / "report.db")
        start = time.perf_counter()
        exp = build(db_url)
        print(f"stored {VARIANTS * TASKS * EPOCHS} trials in {time.perf_counter() - start:.1f} s")

        from experiments.report import build_report
        from registry.database import Database

        db = Database(db_url)
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            report = build_report(db, exp)
            timings.append(time.perf_counter() - start)
        print(
            f"build_report, warm process: median {statistics.median(timings):.2f} s "
            f"(first {timings[0]:.2f} s); verdict {report['verdict']['status']}"
        )
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "registry.cli", "--db", db_url, "report", str(exp), "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=REPO,
        )
        print(
            f"`registry report --json`, cold command: {time.perf_counter() - start:.2f} s "
            "(aim < 2 s)"
        )


if __name__ == "__main__":
    main()
