"""Shared fixtures: a CLI runner on a fresh database (SQLite, or PostgreSQL when available)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus" / "agents"
SEED = REPO / "data" / "agents" / "backend-logic-implementer.md"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes


@dataclass
class Cli:
    """Runs ``registry`` in-process against one database, as a user would type it."""

    db: str
    cwd: Path

    def __call__(self, *args: str, input: str | None = None) -> CliResult:
        from registry.cli import cli

        runner = CliRunner()
        old = Path.cwd()
        os.chdir(self.cwd)
        try:
            result = runner.invoke(
                cli, ["--db", self.db, *args], input=input, catch_exceptions=False
            )
        finally:
            os.chdir(old)
        return CliResult(result.exit_code, result.stdout, result.stderr, result.stdout_bytes)

    def one_error_line(self, *args: str) -> str:
        """Run a command that must fail within 10 s with one ``registry: error:`` line; the line."""
        started = time.monotonic()
        result = self(*args)
        assert time.monotonic() - started < 10
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("registry: error: "), result.stderr
        return lines[0]

    def ok(self, *args: str, input: str | None = None) -> CliResult:
        result = self(*args, input=input)
        assert result.exit_code == 0, f"registry {' '.join(args)} failed: {result.stderr}"
        return result


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may depend on, or leak, a real key from the environment it runs in."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _pg_admin_url() -> str | None:
    return os.environ.get("REGISTRY_TEST_PG")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    admin = _pg_admin_url()
    if not admin:
        pytest.skip("REGISTRY_TEST_PG is not set")
    import psycopg

    name = f"registry_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every backend the registry supports: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        return str(tmp_path / "registry.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return str(tmp_path / "registry.db")


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    return Cli(db_url, tmp_path)


@pytest.fixture
def sqlite_cli(sqlite_db: str, tmp_path: Path) -> Cli:
    return Cli(sqlite_db, tmp_path)


def corpus_files() -> list[Path]:
    return sorted(CORPUS.rglob("*.md"))
