"""Registry benchmark: every catalog command in a cold process, and publishing in bulk.

Run: .venv/bin/python bench/registry_bench.py [--db URL] [--runs N]   (default: a temporary SQLite
file, 7 runs). On a registry of 1,001 agents and 2,000 versions it times each command as a user
types it (a new ``python -m registry.cli`` process each time) and prints, per command, the min and
median of the runs in wall time and in CPU time (user + sys of that process, which other work on
the machine disturbs less). The aims: every command under 0.25 s wall, ``list`` under 0.15 s.
Then one line each for publishing 1,000 files in one process and 1,000 versions of one agent
through the library.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

N = 1_000
REPO = Path(__file__).resolve().parent.parent
AIMS = {"list": 0.15}
AIM = 0.25


def registry(db: str, *args: str) -> tuple[float, float]:
    """Run one cold ``registry`` command: its wall and CPU (user + sys) seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "--db", db, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    errors = proc.stderr.read().decode()
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"registry {' '.join(args)} failed: {errors}")
    return wall, usage.ru_utime + usage.ru_stime


def agent_file(name: str, body: str) -> str:
    description = f"Use this agent for {name}."
    return f"---\nname: {name}\ndescription: {description}\nmodel: sonnet\n---\n\n{body}\n"


def commands(db: str, tmp: Path) -> dict[str, Callable[[int], tuple[str, ...]]]:
    """Each command by name: the arguments of its run ``i`` (a write writes something new)."""

    def publish_one(i: int) -> tuple[str, ...]:
        path = tmp / f"one-{i}.md"
        path.write_text(agent_file("solo", f"Revision {i}."))
        return ("publish", str(path))

    def publish_ten(i: int) -> tuple[str, ...]:
        folder = tmp / f"ten-{i}"
        folder.mkdir()
        for k in range(10):
            (folder / f"a{k}.md").write_text(agent_file(f"team-{k}", f"Revision {i}."))
        return ("publish", str(folder))

    return {
        "list": lambda i: ("list",),
        "log": lambda i: ("log", "deep"),
        "show": lambda i: ("show", "deep@7"),
        "export": lambda i: ("export", "deep@7", "-o", str(tmp / "export") + "/"),
        "diff": lambda i: ("diff", "deep@1", "@2"),
        "label": lambda i: ("label", f"deep@{i % 2 + 1}", "production"),
        "publish 1 file": publish_one,
        "publish folder of 10": publish_ten,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="database URL (default: a new SQLite file)")
    parser.add_argument("--runs", type=int, default=7, help="cold runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = args.db or str(tmp / "bench.db")
        folder = tmp / "agents"
        folder.mkdir()
        for i in range(N):
            (folder / f"agent-{i:04d}.md").write_text(agent_file(f"bench-{i:04d}", f"Job {i}."))
        seconds, cpu = registry(db, "publish", str(folder))
        print(
            f"publish {N} files (one process): wall {seconds:.2f} s ({seconds / N * 1000:.1f} "
            f"ms/file), cpu {cpu:.2f} s"
        )

        from registry.database import Database
        from registry.store import Registry
        from variants.agentfile import AgentDefinition

        store = Registry(Database(db))
        start, started_cpu = time.perf_counter(), time.process_time()
        for i in range(N):
            text = f"---\nname: deep\ndescription: Use this agent deeply.\n---\nRevision {i}.\n"
            store.publish(AgentDefinition.parse(text.encode()))
        seconds, cpu = time.perf_counter() - start, time.process_time() - started_cpu
        print(f"publish {N} versions of one agent (library): wall {seconds:.2f} s, cpu {cpu:.2f} s")
        store.db.dispose()

        print(
            f"cold commands on {N + 1} agents, {2 * N} versions ({args.runs} runs each; "
            "wall and CPU = user + sys, seconds):"
        )
        for name, arguments in commands(db, tmp).items():
            runs = [registry(db, *arguments(i)) for i in range(args.runs)]
            wall = [w for w, _ in runs]
            cpus = [c for _, c in runs]
            aim = AIMS.get(name, AIM)
            print(
                f"  {name:<21} wall min {min(wall):.3f} median {statistics.median(wall):.3f}"
                f"  cpu min {min(cpus):.3f} median {statistics.median(cpus):.3f}"
                f"  (aim < {aim} s wall{'' if min(wall) < aim else ': MISSED'})"
            )


if __name__ == "__main__":
    main()
