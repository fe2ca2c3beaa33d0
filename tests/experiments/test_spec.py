"""Experiment specs that are wrong in shape: one SpecError line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import SpecError
from experiments.spec import load_experiment_spec
from experiments.tasks import load_suite
from tests.conftest import REPO

SUITE = REPO / "data" / "tasks" / "backend.yaml"
GOOD = (
    "name: wording\n"
    "variants:\n  control: agent@1\n  tight: agent@2\n"
    "control: control\n"
    f"tasks: {SUITE}\n"
    "epochs: 3\n"
)


def _load(tmp_path: Path, text: str) -> str:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_experiment_spec(spec)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(str(spec), "SPEC")


def test_the_good_spec_loads(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(GOOD)
    loaded = load_experiment_spec(spec)
    assert (loaded.epochs, loaded.control, loaded.labels) == (3, "control", ["control", "tight"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "epochs: 5\n", "SPEC:8: invalid YAML: duplicate key 'epochs'"),
        (
            GOOD.replace("  tight: agent@2\n", "  tight: agent@2\n  control: agent@3\n"),
            "SPEC:5: invalid YAML: duplicate key 'control'",
        ),
        (
            GOOD.replace("control: control\n", "control: [control]\n"),
            "SPEC: control: ['control'] is not one of the variants (control, tight)",
        ),
        (GOOD + "1: x\nfoo: y\n", "SPEC: 1: keys must be text, like the known keys"),
    ],
    ids=["duplicate-top-level", "duplicate-nested", "unhashable-control", "mixed-key-types"],
)
def test_spec_errors(tmp_path: Path, text: str, message: str) -> None:
    assert _load(tmp_path, text) == message


def test_a_task_suite_path_with_a_nul_byte() -> None:
    with pytest.raises(SpecError) as caught:
        load_suite("tasks\0.yaml")
    assert str(caught.value) == "'tasks\\x00.yaml': cannot read task suite: the path has a NUL byte"


@pytest.mark.parametrize(
    ("value", "batch"),
    [(None, None), ("false", None), ("true", 8), ("{batch_tasks: 4}", 4), ("{}", 8)],
)
def test_sequential_is_tasks_per_look(tmp_path: Path, value: str | None, batch: int | None) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(GOOD + (f"sequential: {value}\n" if value is not None else ""))
    assert load_experiment_spec(spec).settings.sequential_batch_tasks == batch


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("8", "SPEC: sequential: must be true, false or a mapping like {batch_tasks: 8}"),
        ("{batch: 8}", "SPEC: sequential.batch: unknown key; the known key is batch_tasks"),
        ("{batch_tasks: 0}", "SPEC: sequential.batch_tasks: must be a whole number from 1 to "
         "100000, got 0"),
    ],
)  # fmt: skip
def test_sequential_errors(tmp_path: Path, value: str, message: str) -> None:
    assert _load(tmp_path, GOOD + f"sequential: {value}\n") == message


def test_the_stored_plan_keeps_the_batch_size_and_older_plans_are_fixed() -> None:
    from dataclasses import replace

    from experiments.plan import PlanDocument
    from experiments.spec import DEFAULT_SETTINGS

    document = PlanDocument(settings=replace(DEFAULT_SETTINGS, sequential_batch_tasks=4))
    stored = document.to_json()
    assert PlanDocument.from_json(stored).settings.sequential_batch_tasks == 4
    del stored["sequential_batch_tasks"]  # a plan stored before sequential runs existed
    assert PlanDocument.from_json(stored).settings.sequential_batch_tasks is None
