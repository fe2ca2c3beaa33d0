"""Run benchmark: ``registry run`` beside the least a tool on the anthropic SDK can do, and
beside the machine's floor.

    .venv/bin/python bench/run_bench.py                        # tiny, C=32, C=128; 3 runs each
    .venv/bin/python bench/run_bench.py --scenarios c8 --runs 5

Three clients run as processes of their own against the loopback fake (tests/fake_anthropic.py,
in this process) at latency L per call, interleaved so that a busy machine slows all alike: the
project through its CLI (``registry run SPEC --json`` on a fresh copy of a SQLite registry);
``sdk``, as the peer benchmark's ``sdkclient`` does (import ``anthropic``, stream every call
through ``AsyncAnthropic`` with its aiohttp transport, check the text); and ``raw``, as its
``rawclient`` (plain aiohttp, here streamed like the others). Every call is counted at the fake.

Prints per scenario, min and median over the runs: wall seconds, CPU seconds (user + sys), peak
RSS, calls in flight on average from the first request to the last one sent (the runner's share:
the tail, when no cell is left to start, is not its choice) and over the whole window (beside
what a client with no overhead would keep: its last round is partial), and the project's
overhead: wall and CPU per trial beyond ``sdk`` (fixed costs spread over the trials too: the
project's start, and the interpreter's teardown at exit, about 0.4 s once the SDK is loaded,
which ``sdk`` pays and ``registry`` skips).

Calls in flight are bounded by CPU as well as by C: a process keeps at most L / (CPU per call)
calls in flight, and the SDK alone spends 1.5-2.5 ms of CPU on a streamed call here, so at
L = 0.2 s and C = 128 every client built on it keeps well under 128 (``sdk``: 86 over 400 calls,
108 over 2,000, on the machine of the README's figures). At a fixed latency
the answers of a round land together, so each waits for those handled before it: ``raw``, with
a quarter of the SDK's CPU per call, shows how many calls in flight that leaves at best.
``--latency 1`` shows the runner's own share at C = 128, as a real API's seconds per call would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MODEL = "claude-haiku-4-5-20251001"
# The two published variants (name -> body, which is the system prompt each call sends).
SYSTEM_PROMPTS = {"bench-a": "Be good.", "bench-b": "Be brief."}
# name -> (concurrency, tasks); every scenario runs two variants, as an experiment must.
# c128long: 2,000 calls, so that the first and the last rounds weigh little in the averages.
SCENARIOS = {
    "tiny": (32, 1),
    "c8": (8, 200),
    "c32": (32, 200),
    "c128": (128, 200),
    "c128long": (128, 1000),
}


def sdk_client(base_url: str, key: str, concurrency: int, tasks: int) -> None:
    """The peer benchmark's sdkclient: the SDK's floor (one streamed call per cell, retried)."""
    import anthropic

    async def run() -> None:
        client = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=base_url,
            max_retries=0,
            http_client=anthropic.DefaultAioHttpClient(),
        )
        limit = asyncio.Semaphore(concurrency)

        async def call(system: str, task: int) -> None:
            async with limit:
                for attempt in range(6):
                    try:
                        async with client.messages.stream(
                            model=MODEL,
                            max_tokens=256,
                            system=system,
                            messages=[{"role": "user", "content": f"task t{task}"}],
                        ) as stream:
                            text = "".join([t async for t in stream.text_stream])
                        assert f"t{task}" in text
                        return
                    except anthropic.APIStatusError as err:
                        if err.status_code != 429 and err.status_code < 500:
                            raise
                    await asyncio.sleep(0.5 * 2**attempt)

        await asyncio.gather(*(call(s, t) for s, t in cells(tasks)))
        await client.close()

    asyncio.run(run())


def raw_client(base_url: str, key: str, concurrency: int, tasks: int) -> None:
    """The machine's floor, as the peer benchmark's rawclient (but streamed, as the others are):
    plain aiohttp, one streamed POST per cell, its text deltas joined and checked."""
    import aiohttp

    headers = {"authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"}

    async def run() -> None:
        limit = asyncio.Semaphore(concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(base_url, connector=connector, headers=headers) as http:

            async def call(system: str, task: int) -> None:
                body = {
                    "model": MODEL,
                    "max_tokens": 256,
                    "system": system,
                    "stream": True,
                    "messages": [{"role": "user", "content": f"task t{task}"}],
                }
                async with limit:
                    for attempt in range(6):
                        async with http.post("/v1/messages", json=body) as response:
                            if response.status == 200:
                                text = ""
                                async for line in response.content:
                                    if line.startswith(b"data:"):
                                        event = json.loads(line[5:])
                                        text += event.get("delta", {}).get("text", "")
                                assert f"t{task}" in text
                                return
                            if response.status != 429 and response.status < 500:
                                raise SystemExit(f"HTTP {response.status}")
                        await asyncio.sleep(0.5 * 2**attempt)

            await asyncio.gather(*(call(s, t) for s, t in cells(tasks)))

    asyncio.run(run())


def cells(tasks: int) -> list[tuple[str, int]]:
    """The cells of the spec ``prepare`` writes: two variants x ``tasks``, by system prompt."""
    return [(system, t) for system in SYSTEM_PROMPTS.values() for t in range(tasks)]


CLIENTS = {"sdk": sdk_client, "raw": raw_client}


@dataclass(frozen=True)
class Measured:
    wall: float
    cpu: float
    rss_mb: float
    inflight_sending: float | None  # average, first request to the last one sent
    inflight_window: float  # average, first request to the last answer
    calls: int
    before_s: float  # from the start of the process to its first request
    after_s: float  # from the last answer to the end of the process


def measure(command: list[str], env: dict[str, str], calls: list[tuple[float, float]]) -> Measured:
    import time

    calls.clear()
    started = time.monotonic()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    ended = time.monotonic()
    out, err = child.communicate()
    if status != 0:
        raise SystemExit(f"{command[2:4]} failed:\n{err.decode()[-3000:]}{out.decode()[-500:]}")
    spans = list(calls)
    first = min(s for s, _ in spans)
    last_sent = max(s for s, _ in spans)
    last = max(e for _, e in spans)
    sending = None
    if last_sent > first:
        sending = sum(min(e, last_sent) - s for s, e in spans) / (last_sent - first)
    return Measured(
        wall=ended - started,
        cpu=usage.ru_utime + usage.ru_stime,
        rss_mb=usage.ru_maxrss / 1024,
        inflight_sending=sending,
        inflight_window=sum(e - s for s, e in spans) / (last - first),
        calls=len(spans),
        before_s=first - started,
        after_s=ended - last,
    )


def prepare(work: Path, tasks: int, concurrency: int) -> Path:
    """A registry with two published variants, a suite graded by "contains the task id", and
    the spec; returns the spec's path."""
    from registry.database import Database
    from registry.store import Registry
    from variants.agentfile import AgentDefinition

    template = work / "template.db"
    if not template.exists():
        registry = Registry(Database(str(template)))
        for name, body in SYSTEM_PROMPTS.items():
            text = f"---\nname: {name}\ndescription: Use this agent.\nmodel: haiku\n---\n{body}\n"
            registry.publish(AgentDefinition.parse(text.encode()))
        registry.db.dispose()
    suite = work / f"suite-{tasks}.yaml"
    suite.write_text(
        "tasks:\n"
        + "".join(
            f"  - id: t{i}\n    prompt: task t{i}\n    graders: [{{type: contains, any: [t{i}]}}]\n"
            for i in range(tasks)
        )
    )
    spec = work / f"spec-{tasks}-{concurrency}.yaml"
    spec.write_text(
        f"name: bench\nvariants:\n  a: bench-a@1\n  b: bench-b@1\ncontrol: a\n"
        f"tasks: {suite.name}\nprovider: anthropic\nconcurrency: {concurrency}\n"
        f"max_tokens: 256\nmax_cost_usd: 1000\n"
    )
    return spec


def figures(rows: list[Measured], field: str) -> tuple[float, float]:
    values = [getattr(r, field) for r in rows if getattr(r, field) is not None]
    return min(values), statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per call (L)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", default=["tiny", "c32", "c128"])
    # Internal: run one of the reference clients (as a process of its own) and exit.
    parser.add_argument("--client", choices=sorted(CLIENTS), help=argparse.SUPPRESS)
    parser.add_argument("--client-args", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        base_url, key, concurrency, tasks = args.client_args
        CLIENTS[args.client](base_url, key, int(concurrency), int(tasks))
        return

    from tests.fake_anthropic import DEFAULT_KEY, Text, fake_anthropic

    def answer(body: dict[str, Any]) -> Text:
        prompt = body["messages"][0]["content"]
        return Text(
            f"The answer to {prompt}.",
            first_token_delay=args.latency * 0.3,
            chunks=4,
            chunk_delay=args.latency * 0.7 / 3,
        )

    env = {**os.environ, "ANTHROPIC_API_KEY": DEFAULT_KEY}
    env.pop("REGISTRY_DB", None)
    with tempfile.TemporaryDirectory() as tmp, fake_anthropic(answer) as fake:
        work = Path(tmp)
        env["ANTHROPIC_BASE_URL"] = fake.base_url
        print(f"fake Messages API, L = {args.latency} s per call; min / median of {args.runs}")
        for name in args.scenarios:
            concurrency, tasks = SCENARIOS[name]
            spec = prepare(work, tasks, concurrency)
            calls = 2 * tasks
            ours: list[Measured] = []
            sdk: list[Measured] = []
            raw: list[Measured] = []
            for run in range(args.runs):
                db = work / f"run-{name}-{run}.db"
                shutil.copy(work / "template.db", db)
                project = [sys.executable, "-m", "registry.cli", "--db", str(db), "run"]
                ours.append(measure([*project, str(spec), "--json"], env, fake.calls))
                for client, rows in (("sdk", sdk), ("raw", raw)):
                    command = [sys.executable, __file__, "--client", client, "--client-args"]
                    command += [fake.base_url, DEFAULT_KEY, str(concurrency), str(tasks)]
                    rows.append(measure(command, env, fake.calls))
                assert all(r[-1].calls == calls for r in (ours, sdk, raw)), (ours, sdk, raw)
            # A client with no overhead at all, at exactly L per call, runs ceil(calls / C) rounds.
            ideal = calls / -(-calls // concurrency)
            print(
                f"{name}: C={concurrency}, {calls} calls, every one counted at the fake; a client "
                f"with no overhead would keep {ideal:.1f} in flight in the window"
            )
            for label, field, fmt in (
                ("wall s", "wall", ".2f"),
                ("CPU s", "cpu", ".2f"),
                ("peak RSS MB", "rss_mb", ".0f"),
                ("s to the first request", "before_s", ".2f"),
                ("s after the last answer", "after_s", ".2f"),
                ("in flight while sending", "inflight_sending", ".1f"),
                ("in flight in the window", "inflight_window", ".1f"),
            ):
                if any(getattr(r, field) is None for r in ours + sdk + raw):
                    continue
                shown = [
                    f"{who} {low:{fmt}} / {mid:{fmt}}"
                    for who, rows in (("project", ours), ("sdk", sdk), ("raw", raw))
                    for low, mid in [figures(rows, field)]
                ]
                print(f"  {label:<24} {'   '.join(shown)}")
            over = [o.wall - s.wall for o, s in zip(ours, sdk, strict=True)]
            ratio = [o.wall / s.wall for o, s in zip(ours, sdk, strict=True)]
            cpu = [(o.cpu - s.cpu) / calls * 1000 for o, s in zip(ours, sdk, strict=True)]
            print(
                f"  overhead vs sdk: wall {min(over):+.2f} / {statistics.median(over):+.2f} s "
                f"(ratio {min(ratio):.3f} / {statistics.median(ratio):.3f}), CPU beyond the SDK "
                f"{min(cpu):+.2f} / {statistics.median(cpu):+.2f} ms per trial"
            )


if __name__ == "__main__":
    main()
