"""The ``simulated`` runtime: a plausible Claude Code session played offline, labelled simulated.

No CLI, no key, no request. Whether the session solves the task is drawn the way the simulated
provider draws an answer's coverage (``experiments.providers.simulated``): per point of the task
(its reference points, else its request) the model's skill, raised by the share of the point's
key words that the agent's body mentions; the session succeeds with the mean of those
probabilities. A success lays every file of the task's ``solution`` over the workspace; a failure
lays a part of them (half the time) or none. Turns, tool calls and tokens are drawn to match;
the draws are seeded by (seed, variant, task, epoch, model, body), so a trial replays exactly.
The task's real checks then run on the workspace, as after a real session.
"""

from __future__ import annotations

import random
from pathlib import Path

from experiments.providers.base import Usage
from experiments.providers.simulated import (
    DEFAULT_PROFILES,
    coverage_probability,
    draw_digest,
    profile_for,
    stems,
)
from experiments.sessions.base import (
    CONTEXT_GROWTH_TOKENS,
    FINISHED,
    FIRST_REQUEST_TOKENS,
    OUTPUT_TOKENS_PER_TURN,
    TURN_LIMIT,
    SessionResult,
    SessionSetup,
)
from experiments.workspace import lay_over, solution_files

VERSION = "simulated 1"


def success_probability(setup: SessionSetup) -> float:
    profile = profile_for(setup.model_id, DEFAULT_PROFILES)
    system = stems(setup.system)
    points = setup.reference or (setup.prompt,)
    return sum(coverage_probability(p, system, profile) for p in points) / len(points)


class SimulatedRuntime:
    name = "simulated"
    simulated = True
    version = VERSION

    async def play(self, setup: SessionSetup) -> SessionResult:
        digest = draw_digest(setup.seed, setup.arm_label, setup.task_id, setup.epoch,
                             setup.model_id, setup.system)  # fmt: skip
        rng = random.Random(int(digest, 16))
        files = solution_files(setup.solution) if setup.solution is not None else []
        draw = rng.random()
        probability = success_probability(setup)
        turns = rng.randint(4, 16)
        ended = FINISHED
        if turns > setup.max_turns:
            turns, ended = setup.max_turns, TURN_LIMIT
        if draw < probability and ended == FINISHED:
            edited = files
        elif draw < probability + (1 - probability) / 2 and len(files) > 1:
            edited = sorted(rng.sample(files, rng.randint(1, len(files) - 1)))
        else:
            edited = []
        existing = {f for f in edited if (setup.workspace / f).exists()}
        if setup.solution is not None and edited:
            lay_over(setup.solution, setup.workspace, edited)
        tools = {
            "Read": rng.randint(1, 4) + len(edited),
            "Bash": rng.randint(1, 3),
            **({"Edit": len(existing)} if existing else {}),
            **({"Write": len(edited) - len(existing)} if len(edited) > len(existing) else {}),
        }
        growth = CONTEXT_GROWTH_TOKENS * turns * (turns - 1) // 2
        usage = Usage(
            input_tokens=FIRST_REQUEST_TOKENS * turns + growth,
            output_tokens=round(OUTPUT_TOKENS_PER_TURN * turns * rng.uniform(0.6, 1.4)),
        )
        return SessionResult(
            ended=ended,
            answer=_answer(edited) if ended == FINISHED else None,
            turns=turns,
            tool_calls=tools,
            usage=usage,
            model_id=setup.model_id,
            requests=turns,
        )


def _answer(edited: list[Path]) -> str:
    if not edited:
        return "I looked into the request but did not change any file."
    listing = "\n".join(f"- {path}" for path in edited)
    return f"Done. I changed these files:\n{listing}\n\nThe tests pass locally."
