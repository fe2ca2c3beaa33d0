"""Time the dashboard's Compare page on an experiment of 100,000 trials.

Builds the experiment straight into a SQLite file (bulk inserts into the records tables: 4
variants x 500 tasks x 50 epochs, two grades per trial), then measures request to rendered page:
the Compare script under Streamlit's AppTest (cold cache, then warm), and, when
REGISTRY_TEST_CHROMIUM names a Chromium binary, a real ``registry dashboard`` loaded in headless
Chromium until the verdict and the statistics table are on screen.

Run: python bench/dashboard_bench.py [--trials N] [--db PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from registry.database import Database  # noqa: E402

AGENT = REPO / "data" / "agents" / "backend-logic-implementer.md"
# label -> (model alias, model id, quality shift, cost per trial, median latency in s)
ARMS: dict[str, tuple[str, str, float, float, float]] = {
    "control": ("sonnet", "claude-sonnet-5-5", 0.00, 0.010, 6.0),
    "tight": ("sonnet", "claude-sonnet-5-5", 0.05, 0.0095, 5.8),
    "cheap": ("haiku", "claude-haiku-5-5", -0.06, 0.0004, 2.5),
    "opus": ("opus", "claude-opus-5-5", 0.03, 0.021, 9.0),
}
_CHUNK = 20_000


def build_experiment(
    db: Database, *, tasks: int = 500, epochs: int = 50, seed: int = 7, name: str = "bench"
) -> int:
    """Store a completed, simulated experiment of ``4 x tasks x epochs`` trials; its id."""
    from sqlalchemy import func, insert, select

    from experiments.records import Experiment, ExperimentTask, ExperimentVariant, Grade, Trial

    version_ids = _publish_versions(db)
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    with db.session() as session:
        experiment = Experiment(
            name=name,
            status="completed",
            provider="simulated",
            simulated=True,
            control="control",
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
        for position, (label, (alias, model_id, *_)) in enumerate(ARMS.items()):
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
        for label, (_alias, model_id, shift, cost, latency) in ARMS.items():
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


def _flush(conn: Any, trials: Any, trial_rows: list, grades: Any, grade_rows: list) -> None:  # type: ignore[type-arg]
    if trial_rows:
        conn.execute(trials, trial_rows)
        conn.execute(grades, grade_rows)
    trial_rows.clear()
    grade_rows.clear()


def _publish_versions(db: Database) -> dict[str, int]:
    """One registry version per arm (the body differs), labelled with the arm's name."""
    from registry.store import Registry
    from variants.agentfile import AgentDefinition

    registry = Registry(db)
    source = AGENT.read_bytes()
    ids = {}
    for label, (alias, *_rest) in ARMS.items():
        text = source.replace(b"model: sonnet", f"model: {alias}".encode(), 1)
        text += f"\n<!-- {label} -->\n".encode()
        definition = AgentDefinition.parse(text, origin=label)
        published = registry.publish(definition, label=label, message=f"bench arm {label}")
        ids[label] = registry.version(published.ref).id
    return ids


def time_apptest(db_url: str, experiment_id: int) -> tuple[float, float]:
    """Seconds to render the Compare page under AppTest: first view, then a cached one.

    The app's landing page runs first, as on a server that is already up: imports are paid
    once per process, not per request.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["REGISTRY_DB"] = db_url
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=120).run()
    times = []
    for _ in range(2):
        at.query_params["experiment"] = str(experiment_id)
        at.switch_page("views/compare_view.py")
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        if at.exception:
            raise SystemExit(f"Compare page failed: {at.exception[0].message}")
        if not any("Verdict" in box.value for box in (*at.success, *at.info, *at.warning)):
            raise SystemExit("Compare page rendered without a verdict")
    return times[0], times[1]


def time_browser(db_url: str, experiment_id: int, chromium: str) -> tuple[float, float]:
    """Seconds from navigation to the verdict and the statistics table on screen, in real
    Chromium on the real ``registry dashboard``: first view of the experiment, then a reload."""
    from playwright.sync_api import sync_playwright

    from dashboard.server import running_dashboard

    with running_dashboard(db_url) as base_url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base_url, wait_until="networkidle")  # the landing page: server warm
            page.get_by_text("Experiments").first.wait_for(timeout=60_000)
            times = []
            for _ in range(2):
                started = time.perf_counter()
                page.goto(f"{base_url}/compare?experiment={experiment_id}")
                page.get_by_text("Verdict:").first.wait_for(timeout=120_000)
                page.get_by_test_id("stDataFrame").first.wait_for(timeout=120_000)
                times.append(time.perf_counter() - started)
                # The run goes on below the table: let it end before the next request.
                page.get_by_text("Pairwise judge").first.wait_for(timeout=120_000)
            return times[0], times[1]
        finally:
            browser.close()


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=100_000, help="A multiple of 4 x 50.")
    parser.add_argument("--db", help="SQLite file to build into (default: a temporary one).")
    args = parser.parse_args()
    tasks = max(1, args.trials // (len(ARMS) * 50))
    with tempfile.TemporaryDirectory() as tmp:
        db_path = args.db or str(Path(tmp) / "bench.db")
        db = Database(db_path)
        started = time.perf_counter()
        exp_id = build_experiment(db, tasks=tasks, epochs=50)
        built = time.perf_counter() - started
        n = len(ARMS) * tasks * 50
        print(f"built experiment {exp_id}: {n:,} trials, {2 * n:,} grades in {built:.1f} s")
        cold, warm = time_apptest(db.url, exp_id)
        print(f"Compare page, AppTest: {cold:.2f} s first view, {warm:.2f} s cached")
        chromium = os.environ.get("REGISTRY_TEST_CHROMIUM")
        if chromium:
            first, again = time_browser(db.url, exp_id, chromium)
            print(
                f"Compare page, headless Chromium, request to verdict + table: {first:.2f} s "
                f"first view of the experiment, {again:.2f} s cached"
            )
        else:
            print("browser timing skipped: REGISTRY_TEST_CHROMIUM is not set")
        db.dispose()


if __name__ == "__main__":
    main()
