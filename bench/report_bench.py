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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VARIANTS, TASKS, EPOCHS = 10, 1_000, 5


def build(db_url: str) -> int:
    """10 arms of the same model with small quality shifts; the first is the control."""
    from bench.synthetic import build_experiment
    from registry.database import Database

    arms = {f"v{i}": ("sonnet", "claude-sonnet-5-5", 0.01 * i, 0.01, 6.0) for i in range(VARIANTS)}
    db = Database(db_url)
    try:
        return build_experiment(db, tasks=TASKS, epochs=EPOCHS, arms=arms, name="report-bench")
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db or str(Path(tmp) / "report.db")
        start = time.perf_counter()
        exp = build(db_url)
        print(f"stored {VARIANTS * TASKS * EPOCHS} trials in {time.perf_counter() - start:.1f} s")

        from experiments.reporting import build_report
        from registry.database import Database

        db = Database(db_url)
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            report = build_report(db, exp)
            timings.append(time.perf_counter() - start)
        print(
            f"build_report, warm process: median {statistics.median(timings):.2f} s "
            f"(first {timings[0]:.2f} s); verdict {report.verdict.status}"
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
