"""The agentic part of a plan: the runtime, the limits and every task's workspace and checks.

Kept whole in the plan document, so that a resumed run (whose tasks come from the database rows)
starts each session from the same folders and applies the same checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import SpecError
from experiments.agentic_tasks import AgenticTask
from experiments.spec import AgenticSpec
from experiments.tasks import TaskSuite


@dataclass(frozen=True)
class Agentic:
    settings: AgenticSpec
    tasks: Mapping[str, AgenticTask] = field(default_factory=dict)  # by task id

    def to_json(self) -> dict[str, Any]:
        return {
            **self.settings.to_json(),
            "tasks": {task_id: task.to_json() for task_id, task in self.tasks.items()},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Agentic:
        defaults = AgenticSpec()
        settings = AgenticSpec(
            runtime=raw.get("runtime", defaults.runtime),
            max_turns=int(raw.get("max_turns", defaults.max_turns)),
            time_limit_s=float(raw.get("time_limit_s", defaults.time_limit_s)),
            check_timeout_s=float(raw.get("check_timeout_s", defaults.check_timeout_s)),
            sandbox=bool(raw.get("sandbox", defaults.sandbox)),
        )
        tasks = {k: AgenticTask.from_json(v) for k, v in (raw.get("tasks") or {}).items()}
        return cls(settings, tasks)


def resolve_agentic(spec: AgenticSpec, suite: TaskSuite) -> Agentic:
    """The plan's ``Agentic``; ``SpecError`` for a task without a workspace."""
    tasks = {}
    for index, task in enumerate(suite.tasks):
        if task.agentic is None:
            raise SpecError(
                f"{suite.path}: tasks[{index}] '{task.id}': workspace: required in an agentic "
                "suite (the folder each trial starts from)"
            )
        if spec.runtime == "simulated" and task.agentic.solution is None:
            raise SpecError(
                f"{suite.path}: tasks[{index}] '{task.id}': solution: required by the simulated "
                "runtime (the files a successful session leaves)"
            )
        tasks[task.id] = task.agentic
    return Agentic(spec, tasks)
