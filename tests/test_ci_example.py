"""docs/ci-example.yml works: its ``run:`` steps, in order, in a copy of the checkout's data."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

WORKFLOW = REPO / "docs" / "ci-example.yml"


def _steps() -> list[tuple[str, str]]:
    job = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["experiment"]
    return [(step["name"], step["run"]) for step in job["steps"] if "run" in step]


def test_the_example_workflow_lints_publishes_runs_and_gates(tmp_path: Path) -> None:
    shutil.copytree(REPO / "data", tmp_path / "data")
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    bin_dir = str(Path(sys.executable).parent)  # where this environment's `registry` is
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "REGISTRY_DB": str(tmp_path / "registry.db")}  # fmt: skip
    names = []
    for name, script in _steps():
        names.append(name)
        if name == "Install":
            continue  # this test runs in the installed environment
        script = re.sub(r"\$\{\{ github\.event\.number \}\}", "1", script)
        script = "\n".join(line for line in script.splitlines() if not line.startswith("gh "))
        assert "${{" not in script, name
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"step {name!r} failed: {done.stderr}"
    assert names[-1].startswith("Gate") and "--fail-on regression" in _steps()[-1][1]
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert report.index("**Verdict") < report.index("| variant |")
