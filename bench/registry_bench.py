"""Registry benchmark: publish 1,000 files, cold `registry list`, `log` of 1,000 versions.

Run: .venv/bin/python bench/registry_bench.py [--db URL]   (default: a temporary SQLite file)
Prints one line per figure. The aim for a cold `registry list` is under 0.25 s of wall time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = 1_000
REPO = Path(__file__).resolve().parent.parent


def registry(db: str, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "registry.cli", "--db", db, *args],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=REPO,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "bench.db")
        folder = Path(tmp) / "agents"
        folder.mkdir()
        for i in range(N):
            (folder / f"agent-{i:04d}.md").write_text(
                f"---\nname: bench-{i:04d}\ndescription: Use this agent for job {i}.\n"
                f"model: sonnet\n---\n\nYou do job {i}.\n"
            )
        seconds = registry(db, "publish", str(folder))
        print(
            f"publish {N} files (one process): {seconds:.2f} s ({seconds / N * 1000:.1f} ms/file)"
        )

        from registry.database import Database
        from registry.store import Registry
        from variants.agentfile import AgentDefinition

        store = Registry(Database(db))
        start = time.perf_counter()
        for i in range(N):
            text = f"---\nname: deep\ndescription: Use this agent deeply.\n---\nRevision {i}.\n"
            store.publish(AgentDefinition.parse(text.encode()))
        seconds = time.perf_counter() - start
        print(f"publish {N} versions of one agent (library): {seconds:.2f} s")
        store.db.dispose()

        lists = [registry(db, "list") for _ in range(7)]
        print(
            f"cold `registry list` ({N + 1} agents, {2 * N} versions): "
            f"median {statistics.median(lists):.3f} s, best {min(lists):.3f} s (aim < 0.25 s)"
        )
        logs = [registry(db, "log", "deep") for _ in range(5)]
        median = statistics.median(logs)
        print(f"cold `registry log` of an agent with {N} versions: median {median:.3f} s")


if __name__ == "__main__":
    main()
