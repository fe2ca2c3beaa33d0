"""Task suites: the YAML files of tasks an experiment runs every variant on.

The smallest accepted file is a mapping with a ``tasks`` list of ``{id, prompt, reference}``.
Optional: the suite's ``name`` and ``description``; per task ``rubric``, ``area`` and ``graders``;
suite-level ``graders`` that apply to every task (listed before the task's own). A delegation
suite's tasks carry ``expect`` (the agent that should take the request, or ``none``); an agentic
suite's tasks a ``workspace``, a ``solution`` and ``checks`` (``experiments.agentic_tasks``). Every
grader is built once while loading so that a typo fails here, in one line naming the file, the
task and the field, and never half-way through a paid run.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from core.errors import SpecError
from core.files import MAX_SUITE_BYTES, read_regular_file
from experiments.agentic_tasks import AGENTIC_TASK_KEYS, AgenticTask, parse_agentic_task
from experiments.graders import GraderConfig, build_grader, parse_grader_config
from experiments.providers.base import TaskMaterial
from variants.yamlio import load_strict_yaml, yaml_error_line

TASK_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
_SUITE_KEYS = ("name", "description", "graders", "tasks")
_TASK_KEYS = (
    "id", "prompt", "reference", "rubric", "area", "graders", "expect", *AGENTIC_TASK_KEYS,
)  # fmt: skip


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    reference: tuple[str, ...] = ()
    rubric: str | None = None
    graders: tuple[GraderConfig, ...] = ()  # the suite's graders, then the task's own
    area: str | None = None  # free-form grouping for reports (e.g. "auth")
    # A delegation task: the agent that should take the request, or "none" (the main thread).
    expect: str | None = None
    agentic: AgenticTask | None = None  # an agentic task: its workspace and checks

    def material(self) -> TaskMaterial:
        """What graders and the simulated provider see of this task."""
        return TaskMaterial(self.id, self.prompt, self.reference, self.rubric, self.area)

    def weights(self) -> dict[str, float]:
        """Grader name -> weight, as ``combine`` takes it (an agentic task's checks too)."""
        checks = self.agentic.checks if self.agentic else ()
        return {
            **{config.name: config.weight for config in self.graders},
            **{check.name: check.weight for check in checks},
        }


@dataclass(frozen=True)
class TaskSuite:
    name: str
    tasks: tuple[Task, ...]
    path: Path
    content_hash: str  # sha256 of the file's bytes: an experiment records which suite it ran

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)


def load_suite(path: str | Path) -> TaskSuite:
    """Read and validate a task suite; ``SpecError`` is one line naming file, task and field."""
    path = Path(path)
    try:
        raw_bytes = read_regular_file(path, MAX_SUITE_BYTES)
    except OSError as err:
        raise SpecError(f"{path}: cannot read task suite: {err.strerror or err}") from err
    except ValueError:  # a NUL byte in the path
        raise SpecError(f"{str(path)!r}: cannot read task suite: the path has a NUL byte") from None
    try:
        data = load_strict_yaml(raw_bytes)
    except yaml.YAMLError as err:
        raise SpecError(yaml_error_line(str(path), err)) from err
    try:
        return _parse_suite(data, path, hashlib.sha256(raw_bytes).hexdigest())
    except SpecError as err:
        raise SpecError(f"{path}: {err}") from err


def _parse_suite(data: Any, path: Path, content_hash: str) -> TaskSuite:
    if not isinstance(data, Mapping):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise SpecError(f"expected a mapping with a 'tasks' list at the top level, got {got}")
    if "tasks" not in data:
        raise SpecError("tasks: required, a list of tasks with id, prompt and reference")
    _check_keys(data, _SUITE_KEYS, "")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise SpecError(f"name: must be a non-empty string, got {name!r}")
    suite_graders = _parse_graders(data.get("graders", []), "graders", path.parent)
    tasks = data["tasks"]
    if not isinstance(tasks, list) or not tasks:
        raise SpecError("tasks: must be a non-empty list of tasks")
    first_seen: dict[str, int] = {}
    parsed = []
    for index, raw in enumerate(tasks):
        task = _parse_task(raw, index, suite_graders, path.parent)
        if task.id in first_seen:
            raise SpecError(
                f"tasks[{index}].id: duplicate id '{task.id}' (also tasks[{first_seen[task.id]}])"
            )
        first_seen[task.id] = index
        parsed.append(task)
    return TaskSuite(name, tuple(parsed), path, content_hash)


def _parse_task(raw: Any, index: int, suite_graders: list[GraderConfig], base_dir: Path) -> Task:
    where = f"tasks[{index}]"
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: must be a mapping with id, prompt and reference")
    task_id = raw.get("id")
    if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
        raise SpecError(
            f"{where}.id: must match [a-z0-9][a-z0-9._-]* (lower case), got {task_id!r}"
        )
    where = f"{where} '{task_id}'"
    _check_keys(raw, _TASK_KEYS, f"{where}: ")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise SpecError(f"{where}: prompt: required, a non-empty string")
    reference = raw.get("reference", [])
    if isinstance(reference, str):
        reference = [reference]
    if not isinstance(reference, list) or not all(isinstance(r, str) and r for r in reference):
        raise SpecError(f"{where}: reference: must be a list of non-empty strings")
    rubric = _optional_str(raw, "rubric", where)
    area = _optional_str(raw, "area", where)
    own = _parse_graders(raw.get("graders", []), f"{where}: graders", base_dir)
    expect = _optional_str(raw, "expect", where)
    agentic = parse_agentic_task(raw, where, base_dir)
    graders = _name_graders(suite_graders + own, where)
    for check in agentic.checks if agentic else ():
        if any(config.name == check.name for config in graders):
            raise SpecError(f"{where}: checks: {check.name!r} is also the name of a grader")
    return Task(
        task_id,
        prompt,
        tuple(reference),
        rubric,
        graders,
        area,
        expect.strip() if expect else None,
        agentic,
    )


def _parse_graders(raw: Any, where: str, base_dir: Path) -> list[GraderConfig]:
    """Validate and build each grader; names stay provisional until merged into a task."""
    if not isinstance(raw, list):
        raise SpecError(f"{where}: must be a list of graders")
    configs = []
    for index, entry in enumerate(raw):
        try:
            config = parse_grader_config(entry, base_dir=base_dir)
            build_grader(config)
        except SpecError as err:
            raise SpecError(f"{where}[{index}]: {err}") from err
        configs.append(config)
    return configs


def _name_graders(configs: list[GraderConfig], where: str) -> tuple[GraderConfig, ...]:
    """Give unnamed graders "<type>", then "<type>#2", ...; explicit names must be unique."""
    explicit = Counter(c.name for c in configs if c.name != c.type)
    for name, count in explicit.items():
        if count > 1:
            raise SpecError(f"{where}: graders: two graders named {name!r}")
    taken = set(explicit)
    named = []
    for config in configs:
        name = config.name
        if name == config.type:
            number = 1
            while name in taken:
                number += 1
                name = f"{config.type}#{number}"
        taken.add(name)
        named.append(replace(config, name=name))
    return tuple(named)


def _check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise SpecError(f"{where}{unknown[0]}: unknown field; expected one of {', '.join(allowed)}")


def _optional_str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise SpecError(f"{where}: {key}: must be a non-empty string")
    return value
