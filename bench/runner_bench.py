"""Runner benchmark: an experiment through the real SDK against the loopback fake at latency L.

    .venv/bin/python bench/runner_bench.py                 # 2 variants x 200 tasks, conc 32 and 128
    .venv/bin/python bench/runner_bench.py --memory        # also 2,000 vs 20,000 trials (the same
                                                           # 1,000 tasks x 1 or 10 epochs), peak RSS

Prints, per run: wall time, the physical limit (calls x L / concurrency) and the ratio to it,
the same for whole waves (ceil(calls / concurrency) x L, what equal-latency calls can reach),
CPU seconds per trial, and peak memory. Each run is its own process (clean peak-RSS figures); the
fake Messages API runs in another process so that it does not compete for the runner's GIL.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def serve_fake(latency: float, ready: multiprocessing.Queue[str]) -> None:
    from tests.fake_anthropic import Text, fake_anthropic

    answer = Text(
        "Use bcrypt, return 409, retry with backoff and an idempotency key.",
        first_token_delay=latency * 0.3,
        chunks=4,
        chunk_delay=latency * 0.7 / 3,
    )
    with fake_anthropic(default=answer) as fake:
        ready.put(fake.base_url)
        while True:
            time.sleep(3600)


def child(db: str, base_url: str, tasks: int, concurrency: int, epochs: int) -> dict[str, float]:
    """Run one experiment in this process and measure it."""
    import asyncio

    from experiments.plan import build_plan
    from experiments.providers.anthropic import AnthropicProvider
    from experiments.runner import Runner
    from experiments.spec import parse_experiment_spec
    from experiments.store.plans import store_plan
    from registry.database import Database
    from registry.store import Registry
    from tests.fake_anthropic import DEFAULT_KEY
    from variants.agentfile import AgentDefinition

    work = Path(db).parent
    suite = work / f"tasks-{tasks}.yaml"
    suite.write_text(
        "tasks:\n"
        + "".join(
            f"  - id: t{i}\n    prompt: Implement endpoint {i}.\n    reference: [bcrypt, '409']\n"
            for i in range(tasks)
        )
    )
    database = Database(db)
    registry = Registry(database)
    for model in ("sonnet", "haiku"):
        text = f"---\nname: bench\ndescription: Use this agent.\nmodel: {model}\n---\nBe good.\n"
        registry.publish(AgentDefinition.parse(text.encode()), label=model)
    spec = parse_experiment_spec(
        {
            "name": "bench",
            "variants": {"a": "bench@sonnet", "b": "bench@haiku"},
            "control": "a",
            "tasks": str(suite),
            "epochs": epochs,
            "provider": "anthropic",
            "cache": False,
        },
        base_dir=work,
    )
    plan, suite_obj, _ = build_plan(registry, spec)
    plan = store_plan(
        database,
        plan.overridden(concurrency=concurrency),
        spec.source_text,
        suite_obj,
        simulated=False,
    )
    provider = AnthropicProvider(api_key=DEFAULT_KEY, base_url=base_url)
    cpu0 = time.process_time()
    start = time.perf_counter()
    summary = asyncio.run(Runner(database, plan, provider).run())
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    assert summary.done == plan.total_cells and summary.failed == 0, summary
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall": wall,
        "cpu_per_trial_ms": cpu / summary.done * 1000,
        "peak_mb": peak_mb,
        "trials": summary.done,
    }


def run_child(base_url: str, tasks: int, concurrency: int, epochs: int = 1) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                base_url,
                str(tasks),
                str(concurrency),
                str(epochs),
                str(Path(tmp) / "bench.db"),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
    if out.returncode != 0:
        raise SystemExit(f"benchmark run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per call (L)")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument(
        "--memory", action="store_true", help="also 1,000 tasks x 1 and x 10 epochs (peak RSS)"
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        base_url, tasks, concurrency, epochs, db = args.child
        print(json.dumps(child(db, base_url, int(tasks), int(concurrency), int(epochs))))
        return
    ready: multiprocessing.Queue[str] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_fake, args=(args.latency, ready), daemon=True)
    server.start()
    base_url = ready.get(timeout=30)
    os.environ.pop("ANTHROPIC_API_KEY", None)
    try:
        print(f"fake Messages API at {base_url}, latency L = {args.latency} s per call")
        # (tasks, concurrency, epochs); the memory pair keeps the suite and grows the trials 10x
        runs = [(args.tasks, 32, 1), (args.tasks, 128, 1)]
        if args.memory:
            runs += [(1_000, 128, 1), (1_000, 128, 10)]
        for tasks, concurrency, epochs in runs:
            r = run_child(base_url, tasks, concurrency, epochs)
            limit = r["trials"] * args.latency / concurrency
            # Calls of equal latency go in whole waves: this is the bound a runner can reach.
            waves = math.ceil(r["trials"] / concurrency) * args.latency
            print(
                f"{int(r['trials']):>6} trials, concurrency {concurrency:>3}: "
                f"wall {r['wall']:.2f} s, "
                f"limit {limit:.2f} s, ratio {r['wall'] / limit:.3f} "
                f"(whole waves {waves:.2f} s, ratio {r['wall'] / waves:.3f}), "
                f"CPU {r['cpu_per_trial_ms']:.2f} ms/trial, peak RSS {r['peak_mb']:.0f} MB"
            )
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
