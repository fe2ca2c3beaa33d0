"""The wheel carries the shipped data: `pip install .` works outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

SHIPPED = [
    "registry/_data/agents/backend-logic-implementer.md",
    "registry/_data/tasks/backend.yaml",
    "registry/_data/variants/tight.yaml",
    "registry/_data/delegation/suite.yaml",
    "registry/_data/delegation/agents/frontend-developer.md",
    "registry/_data/agentic/suite.yaml",
    "registry/_data/agentic/workspaces/orders-pagination/app/web.py",
    "registry/_data/agentic/workspaces/orders-pagination/tests/test_orders.py",
    "registry/_data/agentic/workspaces/orders-cents-migration/migrations/0001_init.sql",
    "registry/_data/agentic/hidden/orders-pagination/tests_hidden/test_orders_pagination.py",
    "registry/_data/agentic/solutions/orders-pagination/app/web.py",
    "registry/_data/models.yaml",
    "registry/_data/prices.yaml",
    "registry/migrations/env.py",
    "registry/migrations/versions/0001_initial_schema_catalog_and_experiments.py",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("agent_registry-*.whl"))


def test_wheel_contains_data_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in SHIPPED if name not in names]
    assert not missing
    assert not any(name.endswith(".db") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_wheel_ships_every_file_of_the_agentic_suite(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    suite = REPO / "data" / "agentic"
    for kind in ("workspaces", "hidden", "solutions"):
        for path in (suite / kind).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert f"registry/_data/agentic/{path.relative_to(suite).as_posix()}" in names


def test_installed_wheel_runs_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    # Only the installed copy is importable: the checkout is not on the path.
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    env.pop("REGISTRY_DB", None)
    done = subprocess.run(
        [sys.executable, "-m", "registry.cli", "demo", "--epochs", "1"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert (
        str(target)
        in subprocess.run(
            [sys.executable, "-c", "import registry; print(registry.__file__)"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert "verdict" in done.stdout.lower()
    assert (work / "agent-registry-demo" / "registry.db").is_file()
