"""Fixtures of the dashboard tests: a real simulated experiment, a decided one, AppTest helpers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from registry.database import Database, database_url
from tests.conftest import REPO, SEED, Cli

APP = REPO / "dashboard" / "app.py"
PAGES = {
    "experiments": "views/experiments_view.py",
    "compare": "views/compare_view.py",
    "agents": "views/agents_view.py",
    "export": "views/export_view.py",
}


@dataclass(frozen=True)
class Experiment:
    db: Database
    url: str
    id: int
    cli: Cli


def publish_pair(cli: Cli, tmp: Path) -> None:
    """Publish the seed agent (@1) and a haiku copy of it (@2, label cheap)."""
    cli.ok("publish", str(SEED))
    cheap = tmp / "cheap" / SEED.name
    cheap.parent.mkdir()
    cheap.write_bytes(SEED.read_bytes().replace(b"model: sonnet", b"model: haiku", 1))
    cli.ok("publish", str(cheap), "--label", "cheap", "-m", "try haiku")


def run_experiment(cli: Cli, tmp: Path, *, epochs: int = 2) -> int:
    """Publish the seed agent and a haiku copy (label cheap), run them on the bundled suite."""
    publish_pair(cli, tmp)
    spec = tmp / "spec.yaml"
    spec.write_text(
        "name: cheap-vs-control\n"
        "variants:\n  control: backend-logic-implementer@1\n"
        "  cheap: backend-logic-implementer@cheap\n"
        f"control: control\ntasks: {REPO / 'data' / 'tasks' / 'backend.yaml'}\n"
        f"epochs: {epochs}\nprovider: simulated\nseed: 7\n"
    )
    return int(json.loads(cli.ok("run", str(spec), "--json").stdout)["experiment"])


AGENTIC = REPO / "data" / "agentic"
AGENTIC_TASKS = ("orders-pagination", "teams-n-plus-one")  # two of the shipped suite's ten


def run_agentic(cli: Cli, tmp: Path) -> int:
    """The pair on two tasks of the shipped agentic suite (a copy), simulated, 2 epochs."""
    publish_pair(cli, tmp)
    suite = tmp / "agentic"
    raw = yaml.safe_load((AGENTIC / "suite.yaml").read_text())
    raw["tasks"] = [t for t in raw["tasks"] if t["id"] in AGENTIC_TASKS]
    for task in AGENTIC_TASKS:
        for folder in ("workspaces", "hidden", "solutions"):
            shutil.copytree(AGENTIC / folder / task, suite / folder / task)
    (suite / "suite.yaml").write_text(yaml.safe_dump(raw))
    spec = tmp / "agentic.yaml"
    spec.write_text(
        "name: agentic\nkind: agentic\nvariants:\n  control: backend-logic-implementer@1\n"
        "  cheap: backend-logic-implementer@cheap\n"
        f"control: control\ntasks: {suite / 'suite.yaml'}\nruntime: simulated\n"
        "epochs: 2\nseed: 7\n"
    )
    return int(json.loads(cli.ok("run", str(spec), "--json").stdout)["experiment"])


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> Iterator[None]:
    # st.cache_data and st.cache_resource are process-global and outlive an AppTest.
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def experiment(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Experiment]:
    """A finished simulated experiment of its own, on every supported backend (tests may write)."""
    exp_id = run_experiment(cli, tmp_path)
    url = database_url(cli.db)
    monkeypatch.setenv("REGISTRY_DB", url)
    db = Database(url)
    yield Experiment(db, url, exp_id, cli)
    db.dispose()


@pytest.fixture(scope="session")
def _shared_experiment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Experiment]:
    tmp = tmp_path_factory.mktemp("shared")
    cli = Cli(str(tmp / "registry.db"), tmp)
    exp_id = run_experiment(cli, tmp)
    db = Database(database_url(cli.db))
    yield Experiment(db, db.url, exp_id, cli)
    db.dispose()


@pytest.fixture
def shared(_shared_experiment: Experiment, monkeypatch: pytest.MonkeyPatch) -> Experiment:
    """One SQLite experiment for the whole session: for tests that only read."""
    monkeypatch.setenv("REGISTRY_DB", _shared_experiment.url)
    return _shared_experiment


@pytest.fixture(scope="session")
def _agentic_experiment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Experiment]:
    tmp = tmp_path_factory.mktemp("agentic")
    cli = Cli(str(tmp / "registry.db"), tmp)
    exp_id = run_agentic(cli, tmp)
    db = Database(database_url(cli.db))
    yield Experiment(db, db.url, exp_id, cli)
    db.dispose()


@pytest.fixture
def agentic(_agentic_experiment: Experiment, monkeypatch: pytest.MonkeyPatch) -> Experiment:
    """One simulated agentic SQLite experiment for the whole session: for tests that only read."""
    monkeypatch.setenv("REGISTRY_DB", _agentic_experiment.url)
    return _agentic_experiment


@pytest.fixture
def decided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Experiment]:
    """An experiment with a clear winner ("tight"), stored directly as the benchmark does."""
    from bench.synthetic import build_experiment

    url = database_url(str(tmp_path / "decided.db"))
    monkeypatch.setenv("REGISTRY_DB", url)
    db = Database(url)
    exp_id = build_experiment(db, tasks=40, epochs=5)
    yield Experiment(db, url, exp_id, Cli(str(tmp_path / "decided.db"), tmp_path))
    db.dispose()


@pytest.fixture
def open_page() -> Callable[..., AppTest]:
    """Run the app, then switch to a page (optionally with ``?experiment=``), like a user."""

    def open_(page: str, experiment: int | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60).run()
        assert not at.exception, at.exception[0].message
        if experiment is not None:
            at.query_params["experiment"] = str(experiment)
        at.switch_page(PAGES[page]).run()
        assert not at.exception, at.exception[0].message
        return at

    return open_
