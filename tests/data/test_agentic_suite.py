"""The shipped agentic suite (data/agentic/) holds up: every task discriminates.

For each task, in a temporary copy: the shipped workspace passes its own tests and fails its
hidden ones; the workspace with the reference solution laid over it passes every check; and
the hurried solutions kept in tests/data/agentic_flawed/<task-id>/ fail the hidden tests,
while correct solutions written differently from the reference
(tests/data/agentic_alternative/<task-id>/) pass them: the hidden tests hold the task to its
request, not to one implementation.
The checks are run as the agentic kind runs them (`python` is this interpreter, first on
PATH; hidden files copied into the workspace just before their check; each with its
timeout), but through this file's small runner: the suite loader proper lives elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

SUITE_DIR = REPO / "data" / "agentic"
FLAWED_DIR = Path(__file__).resolve().parent / "agentic_flawed"
ALTERNATIVE_DIR = Path(__file__).resolve().parent / "agentic_alternative"
SUITE: dict[str, Any] = yaml.safe_load((SUITE_DIR / "suite.yaml").read_text())
TASKS: list[dict[str, Any]] = SUITE["tasks"]
IDS = [task["id"] for task in TASKS]
BY_ID = {task["id"]: task for task in TASKS}
ID = re.compile(r"[a-z0-9][a-z0-9._-]*")


def task_folders(folder: Path) -> list[str]:
    """The names of a folder's subfolders (local caches such as .ruff_cache left out)."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


FLAWED = task_folders(FLAWED_DIR)
ALTERNATIVE = task_folders(ALTERNATIVE_DIR)
CHECK_KINDS = ("run", "file_exists", "file_matches")


def files_under(folder: Path) -> list[Path]:
    """Every file of a folder, relative to it (caches left by a local run excluded)."""
    return sorted(
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def lay_over(source: Path, workspace: Path) -> None:
    """Copy `source`'s files into `workspace` at the same relative paths (replace or add)."""
    for relative in files_under(source):
        target = workspace / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target)


def python_first_on_path(tmp_path: Path) -> dict[str, str]:
    """The environment of a `run` check: `python` is the interpreter running these tests."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python"
    # A wrapper, not a symlink: a symlink to a venv's python loses the venv.
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def workspace_for(task: dict[str, Any], tmp_path: Path, *overlays: Path) -> Path:
    workspace = tmp_path / "workspace"
    shutil.copytree(SUITE_DIR / task["workspace"], workspace)
    for overlay in overlays:
        lay_over(overlay, workspace)
    return workspace


def run_check(check: dict[str, Any], workspace: Path, env: dict[str, str]) -> tuple[bool, str]:
    """(passed, what happened) for one check, as the agentic kind runs it."""
    if "hidden" in check:
        lay_over(SUITE_DIR / check["hidden"], workspace)
    if "run" in check:
        done = subprocess.run(
            check["run"],
            shell=True,
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=check.get("timeout_s", 60),
        )
        return done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    if "file_exists" in check:
        found = sorted(workspace.glob(check["file_exists"]))
        return bool(found), f"{check['file_exists']}: {[str(p) for p in found]}"
    spec = check["file_matches"]
    path = workspace / spec["path"]
    if not path.is_file():
        return False, f"{spec['path']} does not exist"
    matched = re.search(spec["pattern"], path.read_text()) is not None
    return matched, f"{spec['pattern']!r} {'found' if matched else 'not found'} in {spec['path']}"


# ------------------------------------------------------------------------------ structure


def test_the_suite_has_its_fields_and_enough_tasks() -> None:
    assert SUITE["name"] == "backend-agentic"
    assert isinstance(SUITE["description"], str) and SUITE["description"].strip()
    assert len(TASKS) >= 8
    assert len(set(IDS)) == len(IDS)
    assert all(ID.fullmatch(task_id) for task_id in IDS)


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_a_task_is_well_formed(task: dict[str, Any]) -> None:
    assert set(task) <= {"id", "area", "prompt", "workspace", "solution", "checks", "rubric"}
    assert isinstance(task["area"], str) and task["area"]
    assert isinstance(task["prompt"], str) and len(task["prompt"]) > 80
    workspace = (SUITE_DIR / task["workspace"]).resolve()
    solution = (SUITE_DIR / task["solution"]).resolve()
    assert workspace.is_dir() and (workspace / "tests").is_dir()
    assert workspace.is_relative_to(SUITE_DIR / "workspaces")
    assert solution.is_dir() and solution.is_relative_to(SUITE_DIR / "solutions")
    assert files_under(solution)
    for relative in files_under(solution):
        assert ".." not in relative.parts
        assert (workspace / relative).resolve().is_relative_to(workspace)
        assert not relative.parts[0].startswith("tests_hidden")

    checks = task["checks"]
    names = [check["name"] for check in checks]
    assert len(set(names)) == len(names)
    hidden_checks = [check for check in checks if "hidden" in check]
    assert hidden_checks, "a task needs hidden tests"
    for check in checks:
        assert [kind for kind in CHECK_KINDS if kind in check] != [], check
        assert sum(kind in check for kind in CHECK_KINDS) == 1, check
        assert 0 < check.get("timeout_s", 60) <= 60
        if "file_matches" in check:
            assert set(check["file_matches"]) == {"path", "pattern"}
            re.compile(check["file_matches"]["pattern"])
        if "hidden" in check:
            hidden = (SUITE_DIR / check["hidden"]).resolve()
            assert hidden.is_dir() and hidden.is_relative_to(SUITE_DIR / "hidden")
            assert not hidden.is_relative_to(workspace)
            for relative in files_under(hidden):
                assert ".." not in relative.parts
                # The agent never sees them: nothing of the hidden tests is in the workspace
                # or the solution.
                assert not (workspace / relative).exists(), relative
                assert not (workspace / relative.parts[0]).exists(), relative
                assert not (solution / relative).exists(), relative


def test_every_folder_belongs_to_a_task() -> None:
    for kind in ("workspaces", "hidden", "solutions"):
        assert task_folders(SUITE_DIR / kind) == sorted(IDS), kind


def test_flawed_fixtures_exist_for_at_least_four_tasks() -> None:
    assert len(FLAWED) >= 4
    assert set(FLAWED) <= set(IDS)
    assert ALTERNATIVE and set(ALTERNATIVE) <= set(IDS)
    for folder in [FLAWED_DIR / name for name in FLAWED] + [
        ALTERNATIVE_DIR / n for n in ALTERNATIVE
    ]:
        workspace = SUITE_DIR / "workspaces" / folder.name
        assert files_under(folder)
        for relative in files_under(folder):
            assert ".." not in relative.parts and not relative.name.startswith("test_")
            assert (workspace / relative.parts[0]).exists(), relative


# ------------------------------------------------------------------------------ discrimination


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_the_shipped_workspace_passes_its_tests_and_fails_the_hidden_ones(
    task: dict[str, Any], tmp_path: Path
) -> None:
    env = python_first_on_path(tmp_path)
    workspace = workspace_for(task, tmp_path)
    for check in task["checks"]:
        if "run" not in check:
            continue
        passed, output = run_check(check, workspace, env)
        if "hidden" in check:
            assert not passed, f"{check['name']} passes before the task is done:\n{output}"
            assert "passed" in output or "failed" in output or "error" in output, output
        else:
            assert passed, f"{check['name']} fails on the shipped workspace:\n{output}"


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_the_reference_solution_passes_every_check(task: dict[str, Any], tmp_path: Path) -> None:
    env = python_first_on_path(tmp_path)
    workspace = workspace_for(task, tmp_path, SUITE_DIR / task["solution"])
    for check in task["checks"]:
        passed, output = run_check(check, workspace, env)
        assert passed, f"{task['id']}: {check['name']} fails with the solution:\n{output}"


@pytest.mark.parametrize("task_id", FLAWED)
def test_a_hurried_solution_fails_the_hidden_tests(task_id: str, tmp_path: Path) -> None:
    task = BY_ID[task_id]
    env = python_first_on_path(tmp_path)
    workspace = workspace_for(task, tmp_path, FLAWED_DIR / task_id)
    results = [run_check(check, workspace, env) for check in task["checks"] if "hidden" in check]
    assert results and not all(passed for passed, _ in results), results
    # It failed on tests, not by not importing: the hidden tests ran and some passed.
    assert any(re.search(r"\d+ passed", output) for _, output in results), results


@pytest.mark.parametrize("task_id", ALTERNATIVE)
def test_another_correct_solution_passes_every_check(task_id: str, tmp_path: Path) -> None:
    task = BY_ID[task_id]
    env = python_first_on_path(tmp_path)
    workspace = workspace_for(task, tmp_path, ALTERNATIVE_DIR / task_id)
    for check in task["checks"]:
        passed, output = run_check(check, workspace, env)
        assert passed, f"{task_id}: {check['name']} fails with another correct solution:\n{output}"
