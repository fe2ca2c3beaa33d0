"""The agentic trial: the variant works in a copy of the task's workspace; its checks grade it.

Per cell: a fresh temporary folder with a copy of the task's workspace (a git repository with a
baseline commit, the variant's file in ``.claude/agents/``) and a fresh ``HOME``
(``experiments.workspace``); a session played by the plan's runtime (``experiments.sessions``:
the real Claude Code as the agent, or the offline simulation); then ``git diff`` against the
baseline and the task's checks, in order, in the workspace. Every check is a grade of 0 or 1
(``check_grades``), combined with the task's graders over the final answer. Anything still running
in the workspace afterwards is killed, and the folder is removed unless the run keeps it
(``--keep-workspaces``: ``kept`` lists the folders).

A session that reaches its turn or time limit is a measurement, checked like any other; one that
``ended`` in ``error`` fails the trial (retried on resume), and one that got no response from the
API counts toward the run's stopping as unreachable (``ModelCalls.reached``). The key is scrubbed
from the answer, the error and every detail (the diff among them) before anything is stored.
An agentic trial is never cached: a replayed answer could not rebuild the workspace its checks
read.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import SpecError
from experiments.agentic_plan import Agentic
from experiments.agentic_tasks import verify_unchanged
from experiments.claude_code_runtime import kill_all, processes_in
from experiments.graders.base import GradeResult
from experiments.kinds.base import CellEstimate, ModelCalls, Outcome, register_trial_kind
from experiments.plan import Cell, Plan
from experiments.pricing import PriceTable, cost_usd
from experiments.providers.base import scrub, scrub_value
from experiments.sessions.base import ERROR, Runtime, SessionSetup, estimated_usage
from experiments.sessions.sandbox import protected
from experiments.workspace import diff, prepare, run_checks

TEMP_PREFIX = "registry-agentic-"


def make_runtime(name: str, *, sandbox: bool = True) -> Runtime:
    """The runtime a spec names; ``SpecError`` when it cannot run here (``sandbox``: the
    claude-code runtime's Bash sandbox, whose tools must then be installed)."""
    if name == "claude-code":
        from experiments.sessions.claude_code import ClaudeCodeRuntime

        return ClaudeCodeRuntime(sandbox=sandbox)
    if name == "simulated":
        from experiments.sessions.simulated import SimulatedRuntime

        return SimulatedRuntime()
    raise SpecError(f"unknown agentic runtime {name!r}; one of claude-code, simulated")


class AgenticTrial:
    name = "agentic"

    def __init__(self, plan: Plan, prices: PriceTable, runtime: Runtime | None = None) -> None:
        if plan.document.agentic is None:
            raise SpecError(f"experiment {plan.name!r}: an agentic plan without its tasks")
        self.plan = plan
        self.prices = prices
        self.agentic: Agentic = plan.document.agentic
        verify_unchanged(self.agentic.tasks)  # a resumed run starts from the same files
        settings = self.agentic.settings
        self.runtime = runtime or make_runtime(settings.runtime, sandbox=settings.sandbox)
        self.keep_workspaces = False
        self.kept: list[Path] = []  # the trial folders kept, in the order their trials ended

    @property
    def unsandboxed(self) -> bool:
        """Real sessions whose Bash runs without a sandbox (``registry run --unsandboxed``)."""
        return not self.runtime.simulated and not self.agentic.settings.sandbox

    def warnings(self) -> list[str]:
        """What to say before anything is spent: a real session without the Bash sandbox."""
        if not self.unsandboxed:
            return []
        return [
            "sandbox: false: the agent's Bash commands can read the whole machine (your "
            "repository, your home, the suite's hidden tests), can read your API key and "
            "reach the network"
        ]

    def estimate(self, cell: Cell, *, batch: bool = False) -> CellEstimate:
        """Rough: a typical session of ``sessions.base.EXPECTED_TURNS`` turns (at most
        ``max_turns``), each resending the conversation, priced without prompt caching."""
        turns, usage = estimated_usage(self.agentic.settings.max_turns)
        cost = cost_usd(cell.arm.model_id, usage, batch=False, table=self.prices)
        return CellEstimate(turns, usage.input_tokens, usage.output_tokens, cost)

    def cache_key(self, cell: Cell) -> None:
        return None

    def replay(self, cell: Cell, record: Mapping[str, Any]) -> Outcome:
        raise SpecError("an agentic trial is never replayed from the cache")

    async def run(self, cell: Cell, calls: ModelCalls) -> Outcome:
        """One session and its checks; ``calls`` is unused (the session makes its own)."""
        task = self.agentic.tasks[cell.task.id]
        settings = self.agentic.settings
        secrets = (os.environ.get("ANTHROPIC_API_KEY", ""),)
        root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        started = time.monotonic()
        try:
            try:
                folder = await asyncio.to_thread(prepare, root, task.workspace, cell.arm.agent)
            except (OSError, SpecError) as err:
                return self._failed(cell, f"cannot prepare the workspace: {err}")
            setup = SessionSetup(
                root=folder.root,
                workspace=folder.work,
                home=folder.home,
                agent=cell.arm.agent,
                model_id=cell.arm.model_id,
                prompt=cell.task.prompt,
                max_turns=settings.max_turns,
                time_limit_s=settings.time_limit_s,
                seed=self.plan.seed,
                arm_label=cell.arm.label,
                task_id=cell.task.id,
                epoch=cell.epoch,
                system=cell.arm.system,
                reference=cell.task.reference,
                solution=task.solution,
                protected=self._protected(folder.root),
            )
            session = await self.runtime.play(setup)
            if session.unreachable is not None:
                calls.reached(not session.unreachable)
            wall = time.monotonic() - started
            leftovers = session.leftover_processes + await _end_processes_in(folder.root)
            changes, cut = await asyncio.to_thread(diff, folder, secrets)
            sandboxed = settings.sandbox and not self.runtime.simulated
            checks = await run_checks(
                folder, task.checks, default_timeout_s=settings.check_timeout_s, secrets=secrets,
                masked=setup.protected if sandboxed else None,
            )  # fmt: skip
            leftovers += await _end_processes_in(folder.root)
        finally:
            if self.keep_workspaces:
                self.kept.append(root)
            else:
                await asyncio.to_thread(shutil.rmtree, root, True)
        cost = session.cost_usd
        if cost is None:
            usages = session.request_usages or (session.usage,)
            model = cell.arm.model_id
            cost = sum(cost_usd(model, u, batch=False, table=self.prices) for u in usages)
        details = {
            **self._facts(),
            "ended": session.ended,
            "turns": session.turns,
            "tool_calls": dict(sorted(session.tool_calls.items())),
            "denied": dict(sorted(session.denied.items())),
            "requests": session.requests,
            "session_id": session.session_id,
            "session_error": session.error,
            "wall_s": round(wall, 3),
            "checks": [check.to_json() for check in checks],
            "diff": changes,
            "diff_truncated": cut,
            "leftover_processes": leftovers,
            "workspace": str(root) if self.keep_workspaces else None,
        }
        error = session.error if session.ended == ERROR else None
        return Outcome(
            text=scrub(session.answer, *secrets) if session.answer is not None else None,
            error=scrub(error, *secrets) if error is not None else None,
            model_id=session.model_id or cell.arm.model_id,
            stop_reason=session.ended,
            usage=session.usage,
            cost_usd=cost,
            latency_s=wall,
            request=self._request_record(cell),
            details=scrub_value(details, *secrets),
        )

    def _protected(self, trial_root: Path) -> tuple[Path, ...]:
        folders = [f for task in self.agentic.tasks.values() for f in task.folders()]
        return tuple(protected(folders, trial_root))

    def _failed(self, cell: Cell, message: str) -> Outcome:
        return Outcome(error=message, request=self._request_record(cell), details=self._facts())

    def _facts(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime.name,
            "runtime_version": self.runtime.version,
            "simulated": self.runtime.simulated,
            "max_turns": self.agentic.settings.max_turns,
            "time_limit_s": self.agentic.settings.time_limit_s,
            "sandbox": self.agentic.settings.sandbox and not self.runtime.simulated,
        }

    def _request_record(self, cell: Cell) -> dict[str, Any]:
        return {
            "runtime": self.runtime.name,
            "runtime_version": self.runtime.version,
            "model": cell.arm.model_id,
            "agent": cell.arm.agent.name,
            "prompt_sha256": hashlib.sha256(cell.task.prompt.encode()).hexdigest(),
        }


async def _end_processes_in(folder: Path) -> int:
    """End whatever still runs in the trial's folder (the workspace or its HOME)."""
    return await asyncio.to_thread(lambda: kill_all(processes_in(folder)))


def check_grades(outcome: Outcome) -> tuple[GradeResult, ...]:
    """An agentic outcome's checks as grades: 1 passed, 0 failed (none for other kinds)."""
    checks = (outcome.details or {}).get("checks") or []
    return tuple(
        GradeResult(
            grader=check["name"],
            score=1.0 if check["passed"] else 0.0,
            passed=bool(check["passed"]),
            reason=check.get("reason") or "",
            details={"check": True, "exit_code": check.get("exit_code")},
        )
        for check in checks
    )


register_trial_kind("agentic", AgenticTrial)
