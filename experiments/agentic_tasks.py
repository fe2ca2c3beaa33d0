"""The agentic part of a task: the workspace it starts from, its reference solution, its checks.

A task of an agentic suite names folders beside the suite file (``workspace``, ``solution``, a
check's ``hidden``), each inside the suite's folder and holding only folders and regular files,
and the checks run in the trial's workspace after the session, in order:

- ``run``: a shell command that must exit 0 within ``timeout_s`` (its ``hidden`` folder is
  copied into the workspace just before it runs, so the agent never sees it);
- ``file_exists``: a glob, relative to the workspace, that must match a file;
- ``file_matches``: ``{path, pattern}``, a Python regex searched in that file.

Each check is a score of 0 or 1 with a ``weight`` (1 by default), combined with the task's
graders. Everything is checked while loading, in one line naming the file, the task and the field.

The plan keeps each task's ``fingerprint``, a hash of every file of its folders, so that a
resumed run refuses to start sessions from folders that changed since the experiment was planned
(its trials would measure two different tasks under one id).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from core.errors import SpecError

CHECK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CHECK_KINDS = ("run", "file_exists", "file_matches")
_CHECK_KEYS = ("name", *CHECK_KINDS, "hidden", "timeout_s", "weight")
AGENTIC_TASK_KEYS = ("workspace", "solution", "checks")
MAX_CHECK_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Check:
    name: str
    run: str | None = None
    file_exists: str | None = None
    file_matches: tuple[str, str] | None = None  # (path, pattern)
    hidden: Path | None = None  # a folder copied into the workspace just before the check
    timeout_s: float | None = None  # None: the experiment's check_timeout_s
    weight: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "run": self.run,
            "file_exists": self.file_exists,
            "file_matches": list(self.file_matches) if self.file_matches else None,
            "hidden": str(self.hidden) if self.hidden else None,
            "timeout_s": self.timeout_s,
            "weight": self.weight,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Check:
        matches = raw.get("file_matches")
        hidden = raw.get("hidden")
        return cls(
            name=raw["name"],
            run=raw.get("run"),
            file_exists=raw.get("file_exists"),
            file_matches=(str(matches[0]), str(matches[1])) if matches else None,
            hidden=Path(hidden) if hidden else None,
            timeout_s=raw.get("timeout_s"),
            weight=float(raw.get("weight", 1.0)),
        )


@dataclass(frozen=True)
class AgenticTask:
    """Where an agentic trial of the task starts, and how its result is checked."""

    workspace: Path
    checks: tuple[Check, ...]
    solution: Path | None = None  # laid over the workspace by the simulated runtime only
    fingerprint: str = ""  # of every file in its folders when planned ("" in older plans)

    def folders(self) -> tuple[Path, ...]:
        """The workspace, the solution and each check's hidden folder, in a fixed order."""
        hidden = (check.hidden for check in self.checks if check.hidden is not None)
        return tuple(p for p in (self.workspace, self.solution, *hidden) if p is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": str(self.workspace),
            "solution": str(self.solution) if self.solution else None,
            "checks": [check.to_json() for check in self.checks],
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AgenticTask:
        solution = raw.get("solution")
        return cls(
            workspace=Path(raw["workspace"]),
            checks=tuple(Check.from_json(c) for c in raw.get("checks", [])),
            solution=Path(solution) if solution else None,
            fingerprint=str(raw.get("fingerprint") or ""),
        )


# Python's bytecode caches are not part of a task: pip compiles every .py file it installs,
# the shipped suite's included, and a stale cache must never be copied into a trial.
BYTECODE_CACHE = "__pycache__"


def task_files(folder: Path) -> list[Path]:
    """The regular files under ``folder`` that make up a task's folder, relative and sorted."""
    return sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and BYTECODE_CACHE not in p.relative_to(folder).parts
    )


def fingerprint(folders: tuple[Path, ...]) -> str:
    """sha256 over each folder's files: their paths inside it and their bytes."""
    digest = hashlib.sha256()
    for index, folder in enumerate(folders):
        for relative in task_files(folder):
            path = folder / relative
            name = relative.as_posix().encode()
            digest.update(b"%d\0%s\0%d\0" % (index, name, path.stat().st_size))
            digest.update(path.read_bytes())
    return digest.hexdigest()


def verify_unchanged(tasks: Mapping[str, AgenticTask]) -> None:
    """``SpecError`` when a task's folders are gone or differ from what the plan recorded."""
    for task_id, task in tasks.items():
        if not task.fingerprint:
            continue
        missing = [folder for folder in task.folders() if not folder.is_dir()]
        if missing:
            raise SpecError(f"task {task_id!r}: {missing[0]} is gone; the experiment's trials "
                            "start from it")  # fmt: skip
        if fingerprint(task.folders()) != task.fingerprint:
            raise SpecError(
                f"task {task_id!r}: the files under {task.workspace.parent} changed since the "
                "experiment was planned; run the changed suite as a new experiment"
            )


def parse_agentic_task(raw: Mapping[str, Any], where: str, base_dir: Path) -> AgenticTask | None:
    """The task's agentic fields (None: it has none); ``where`` names the task in errors."""
    if not any(key in raw for key in AGENTIC_TASK_KEYS):
        return None
    if "workspace" not in raw:
        given = [key for key in AGENTIC_TASK_KEYS if key in raw]
        raise SpecError(
            f"{where}: {' and '.join(given)} {'is' if len(given) == 1 else 'are'} for an agentic "
            "task, which needs a workspace: (the folder the agent starts from); a response "
            "task is graded by graders:"
        )
    workspace = _folder(raw["workspace"], f"{where}: workspace", base_dir)
    solution = None
    if raw.get("solution") is not None:
        solution = _folder(raw["solution"], f"{where}: solution", base_dir)
    checks = raw.get("checks", [])
    if not isinstance(checks, list):
        raise SpecError(f"{where}: checks: must be a list of checks")
    parsed: list[Check] = []
    for index, entry in enumerate(checks):
        check = _parse_check(entry, f"{where}: checks[{index}]", base_dir)
        if any(c.name == check.name for c in parsed):
            raise SpecError(f"{where}: checks[{index}].name: two checks named {check.name!r}")
        parsed.append(check)
    task = AgenticTask(workspace, tuple(parsed), solution)
    return replace(task, fingerprint=fingerprint(task.folders()))


def _parse_check(raw: Any, where: str, base_dir: Path) -> Check:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: must be a mapping with name and one of {', '.join(CHECK_KINDS)}")
    unknown = sorted(str(k) for k in raw if k not in _CHECK_KEYS)
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}: unknown field; expected one of "
                        f"{', '.join(_CHECK_KEYS)}")  # fmt: skip
    name = raw.get("name")
    if not isinstance(name, str) or not CHECK_NAME.fullmatch(name):
        raise SpecError(f"{where}.name: required, letters, digits, . _ - (got {name!r})")
    given = [key for key in CHECK_KINDS if key in raw]
    if len(given) != 1:
        raise SpecError(f"{where}: needs exactly one of {', '.join(CHECK_KINDS)}")
    run = raw.get("run")
    if "run" in raw and (not isinstance(run, str) or not run.strip()):
        raise SpecError(f"{where}.run: must be a shell command")
    pattern_of_files = raw.get("file_exists")
    if "file_exists" in raw:
        pattern_of_files = _relative(pattern_of_files, f"{where}.file_exists")
    matches = None
    if "file_matches" in raw:
        matches = _file_matches(raw["file_matches"], f"{where}.file_matches")
    hidden = None
    if raw.get("hidden") is not None:
        hidden = _folder(raw["hidden"], f"{where}.hidden", base_dir)
    timeout = raw.get("timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_CHECK_TIMEOUT_S
    ):
        raise SpecError(
            f"{where}.timeout_s: must be seconds above 0, at most {MAX_CHECK_TIMEOUT_S}"
        )
    weight = raw.get("weight", 1)
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not (math.isfinite(weight) and weight >= 0)
    ):
        raise SpecError(f"{where}.weight: must be a finite number >= 0, got {weight!r}")
    return Check(
        name=name,
        run=run,
        file_exists=pattern_of_files,
        file_matches=matches,
        hidden=hidden,
        timeout_s=float(timeout) if timeout is not None else None,
        weight=float(weight),
    )


def _file_matches(raw: Any, where: str) -> tuple[str, str]:
    if not isinstance(raw, Mapping) or set(raw) != {"path", "pattern"}:
        raise SpecError(f"{where}: must be {{path: FILE, pattern: REGEX}}")
    path = _relative(raw["path"], f"{where}.path")
    pattern = raw["pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise SpecError(f"{where}.pattern: must be a regular expression")
    try:
        re.compile(pattern)
    except re.error as err:
        raise SpecError(f"{where}.pattern: not a valid regular expression: {err}") from None
    return path, pattern


def _relative(raw: Any, where: str) -> str:
    """A path (or glob) inside the workspace: relative, without ``..``."""
    if not isinstance(raw, str) or not raw.strip():
        raise SpecError(f"{where}: must be a path relative to the workspace")
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts:
        raise SpecError(f"{where}: must stay inside the workspace (relative, no ..), got {raw!r}")
    return raw


def _folder(raw: Any, where: str, base_dir: Path) -> Path:
    """A folder inside the suite's folder holding only folders and regular files."""
    if not isinstance(raw, str) or not raw.strip():
        raise SpecError(f"{where}: must be a folder relative to the suite file")
    root = base_dir.resolve()
    path = (base_dir / raw).resolve()
    if not path.is_relative_to(root):
        raise SpecError(f"{where}: {raw!r} is outside the suite's folder")
    if not path.is_dir():
        raise SpecError(f"{where}: {raw!r} is not a folder")
    for folder, dirs, files in os.walk(path):
        for entry in (*dirs, *files):
            mode = os.lstat(os.path.join(folder, entry)).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                inner = Path(folder, entry).relative_to(path)
                raise SpecError(f"{where}: {raw}/{inner} is not a regular file")
    return path
