"""Opening databases: migrations, defaults, and what a cheap command imports."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from registry.database import (
    KNOWN_REVISIONS,
    SCHEMA_HEAD,
    Database,
    database_url,
    redact,
    sqlite_path,
)
from tests.conftest import REPO, SEED, Cli


def test_schema_head_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(REPO / "registry" / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == SCHEMA_HEAD
    assert sorted(r.revision for r in script.walk_revisions()) == list(KNOWN_REVISIONS)


def test_a_registry_from_a_newer_version_is_one_clear_line_and_left_alone(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    raw = sqlite3.connect(sqlite_cli.db)
    raw.execute("UPDATE alembic_version SET version_num = '0099'")
    raw.commit()
    raw.close()
    before = Path(sqlite_cli.db).read_bytes()
    for args in (("list",), ("publish", str(SEED))):
        result = sqlite_cli(*args)
        assert result.exit_code == 1
        assert result.stderr == (
            "registry: error: this registry has schema 0099, newer than this version of "
            f"agent-registry knows (up to {SCHEMA_HEAD}): upgrade agent-registry to use it\n"
        )
    assert Path(sqlite_cli.db).read_bytes() == before


def test_new_database_is_migrated_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "r.db"))
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()
    raw = sqlite3.connect(tmp_path / "r.db")
    assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (SCHEMA_HEAD,)
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"agent", "version", "label", "label_event", "experiment", "trial", "grade"} <= tables


def test_default_location_and_urls(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("REGISTRY_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url() == f"sqlite:///{tmp_path / 'data' / 'registry.db'}"
    monkeypatch.setenv("REGISTRY_DB", "postgresql://u:p@h/db")
    assert database_url() == "postgresql+psycopg://u:p@h/db"
    assert redact("postgresql://u:p@h/db") == "postgresql://***@h/db"


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("postgresql://u:Pg@Sec:ret@host/db", "postgresql+psycopg://u:Pg%40Sec%3Aret@host/db"),
        ("postgresql://u:Pg%40Sec@host:5433/db", "postgresql+psycopg://u:Pg%40Sec@host:5433/db"),
        ("postgres://u@host/db?sslmode=require", "postgresql+psycopg://u@host/db?sslmode=require"),
        ("postgresql+psycopg://u:a/b@host/db", "postgresql+psycopg://u:a%2Fb@host/db"),
        ("postgresql://host/db", "postgresql+psycopg://host/db"),
    ],
)
def test_a_password_is_read_whole_and_never_shown(raw: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    assert database_url(raw) == url
    parsed = make_url(url)
    assert parsed.host == "host" and parsed.database == "db"
    if "@" in raw:
        assert redact(raw).partition("://")[2].startswith("***@host")


@pytest.mark.parametrize("args", [("list",), ("show", "x"), ("label", "x@1", "y")], ids=" ".join)
def test_an_error_never_shows_any_part_of_the_password(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    db = "postgresql://u:Pg@Sec:ret@127.0.0.1:1/db"  # nothing listens on port 1
    result = Cli(db, tmp_path)(*args)
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert not any(part in result.stderr for part in ("Pg", "Sec", "ret")), result.stderr


def test_created_at_is_timezone_aware_utc(tmp_path: Path) -> None:
    from registry.store import Registry
    from variants.agentfile import AgentDefinition

    registry = Registry(Database(str(tmp_path / "r.db")))
    registry.publish(AgentDefinition.parse(SEED.read_bytes()))
    info = registry.info("backend-logic-implementer")
    assert (
        info.created_at.utcoffset() is not None and info.created_at.utcoffset().total_seconds() == 0
    )


def test_catalog_commands_import_nothing_heavy(tmp_path: Path) -> None:
    """On a registry at the newest schema no catalog command imports SQLAlchemy or Alembic
    (they cost most of a cold command's time), nor the experiment engine."""
    db = str(tmp_path / "r.db")
    name = "backend-logic-implementer"
    second = tmp_path / "second.md"
    second.write_bytes(SEED.read_bytes() + b"\nOne more line.\n")
    folder = tmp_path / "agents"
    folder.mkdir()
    for i in range(3):
        (folder / f"a{i}.md").write_text(f"---\nname: a{i}\ndescription: Use it {i}.\n---\n{i}\n")
    subprocess.run(
        [sys.executable, "-m", "registry.cli", "--db", db, "publish", str(SEED)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    probe = (
        "import sys, json\n"
        "from registry.cli import cli\n"
        "try:\n"
        "    cli([*sys.argv[1:]], prog_name='registry')\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "heavy = {'anthropic', 'scipy', 'pandas', 'streamlit', 'sqlalchemy', 'alembic', 'numpy'}\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)\n"
    )
    for args in (
        ["list"],
        ["log", name],
        ["publish", str(second)],
        ["publish", str(folder)],
        ["show", f"{name}@1"],
        ["show", f"{name}@2", "--json"],
        ["export", name, "-o", str(tmp_path / "out") + "/"],
        ["diff", f"{name}@1", "@2"],
        ["label", f"{name}@2", "production"],
        ["label", "--delete", name, "production"],
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe, "--db", db, *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        assert json.loads(done.stderr.strip().splitlines()[-1]) == [], args


@pytest.mark.parametrize(
    "args",
    [("list",), ("show", "backend-logic-implementer"), ("publish", str(SEED))],
    ids=" ".join,
)
def test_an_older_registry_is_upgraded_when_opened(sqlite_cli: Cli, args: tuple[str, ...]) -> None:
    from alembic import command
    from alembic.config import Config

    sqlite_cli.ok("publish", str(SEED))
    db = Database(sqlite_cli.db)
    config = Config()
    config.set_main_option("script_location", str(REPO / "registry" / "migrations"))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, KNOWN_REVISIONS[-2])
    db.dispose()

    def revision() -> str:
        with closing(sqlite3.connect(sqlite_cli.db)) as raw:
            return str(raw.execute("SELECT version_num FROM alembic_version").fetchone()[0])

    assert revision() == KNOWN_REVISIONS[-2]
    sqlite_cli.ok(*args)
    assert revision() == SCHEMA_HEAD
    shown = sqlite_cli.ok("show", "backend-logic-implementer@1").stdout_bytes
    assert shown == SEED.read_bytes()


WEIRD_NAMES = ["what?.db", "a#b.db", "100%.db", "x%3Fy.db", "q?mode=rw#x%25.db"]


@pytest.mark.parametrize("name", WEIRD_NAMES)
def test_sqlite_path_inverts_database_url(tmp_path: Path, name: str) -> None:
    url = database_url(str(tmp_path / name))
    assert sqlite_path(url) == tmp_path / name
    assert database_url(url) == url  # a URL given again is kept as it is


@pytest.mark.parametrize("name", WEIRD_NAMES)
def test_a_database_file_name_with_url_characters(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "dbs"
    cli = Cli(str(folder / name), tmp_path)
    cli.ok("publish", str(SEED))
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        name
    ]
    # list and log read the file through sqlite3's read-only URI, show through SQLAlchemy.
    listed = json.loads(cli.ok("list", "--json").stdout)
    assert [(a["name"], a["latest"]) for a in listed] == [("backend-logic-implementer", 1)]
    log = json.loads(cli.ok("log", "backend-logic-implementer", "--json").stdout)
    assert [v["number"] for v in log["versions"]] == [1]
    assert cli.ok("show", "backend-logic-implementer").stdout_bytes == SEED.read_bytes()


def test_reading_commands_create_no_database(tmp_path: Path) -> None:
    db = tmp_path / "data" / "registry.db"
    cli = Cli(str(db), tmp_path)
    assert cli.ok("list").stdout == "no agents yet: registry publish PATH\n"
    assert json.loads(cli.ok("list", "--json").stdout) == []
    assert cli.ok("experiments").stdout == "no experiments yet: registry run SPEC\n"
    assert json.loads(cli.ok("experiments", "--json").stdout) == []
    missing = f"registry: error: no registry at {db}"
    for args, message in (
        (["log", "backend-logic-implementer"], "no agent named 'backend-logic-implementer'"),
        (["report", "1"], missing),
        (["show", "backend-logic-implementer"], missing),
        (["export", "backend-logic-implementer"], missing),
        (["export", "--winner", "1"], missing),
        (["diff", "backend-logic-implementer@1", "@2"], missing),
        (["label", "backend-logic-implementer@1", "production"], missing),
    ):
        result = cli(*args)
        assert result.exit_code == 1, args
        assert result.stderr.splitlines() == [
            message if message.startswith("registry:") else f"registry: error: {message}"
        ], args
    assert list(tmp_path.iterdir()) == []
    cli.ok("publish", str(SEED))  # writing still creates it
    assert db.is_file()


@pytest.mark.parametrize(
    ("driver_error", "line"),
    [
        ("database is locked", "another process kept the registry database locked for over 60 s"),
        ("database or disk is full", "the disk holding the registry database is full"),
        ("attempt to write a readonly database", "the registry database is read-only here"),
        ("database disk image is malformed", "the registry database is damaged"),
        ("disk I/O error", "the registry database failed: disk I/O error"),
    ],
)
def test_a_failure_of_the_database_itself_is_one_clear_line(driver_error: str, line: str) -> None:
    from sqlalchemy.exc import OperationalError

    from registry.database import database_failure

    for err in (
        sqlite3.OperationalError(driver_error),
        OperationalError("INSERT ...", {}, sqlite3.OperationalError(driver_error)),
    ):
        failure = database_failure(err)
        assert failure is not None and str(failure).startswith(line)
    assert database_failure(ValueError("database is locked")) is None  # not the database's


@pytest.mark.parametrize(
    ("driver_error", "line"),
    [
        ("database is locked", "another process kept the registry database locked for over 60 s"),
        ("database or disk is full", "the disk holding the registry database is full"),
    ],
)
def test_a_locked_database_or_a_full_disk_reaches_the_user_as_that_line(
    sqlite_cli: Cli, monkeypatch: pytest.MonkeyPatch, driver_error: str, line: str
) -> None:
    from registry.store import Registry

    def fails(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError(driver_error)

    sqlite_cli.ok("publish", str(SEED))
    monkeypatch.setattr(Registry, "set_label", fails)
    result = sqlite_cli("label", "backend-logic-implementer@1", "production")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"registry: error: {line}")


def test_a_database_file_deleted_after_opening_is_never_made_again(tmp_path: Path) -> None:
    from registry.store import Registry
    from variants.agentfile import AgentDefinition

    path = tmp_path / "r.db"
    registry = Registry(Database(str(path)))
    registry.publish(AgentDefinition.parse(SEED.read_bytes()))
    path.rename(tmp_path / "moved.db")
    registry.db.dispose()  # the next read opens the file again
    for read in (registry.source, registry.resolve):
        with pytest.raises(sqlite3.OperationalError):
            read("backend-logic-implementer")
    assert not path.exists()


def test_one_connection_serves_a_thread_until_disposed(tmp_path: Path) -> None:
    from registry.store import Registry
    from variants.agentfile import AgentDefinition

    db = Database(str(tmp_path / "r.db"))
    registry = Registry(db)
    for i in range(3):
        text = f"---\nname: many\ndescription: Use it.\n---\nRevision {i}.\n"
        registry.publish(AgentDefinition.parse(text.encode()))
    with db.connect() as first:
        kept = first.raw
        with db.connect(write=True) as inner:  # nested: its own connection, the outer one intact
            assert inner.raw is not kept
        assert kept.in_transaction
    with db.connect() as again:
        assert again.raw is kept
    db.dispose()
    assert registry.resolve("many").ref.number == 3  # opened again after dispose
    db.dispose()


def test_dispose_closes_the_connection_of_every_thread(tmp_path: Path) -> None:
    """A run's writer and heartbeat threads each get a connection; the command's dispose closes
    them all, so the WAL is checkpointed inside the command."""
    import threading

    db = Database(str(tmp_path / "r.db"))
    opened: list[sqlite3.Connection] = []

    def use() -> None:
        with db.connect(write=True) as conn:
            opened.append(conn.raw)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join()
    use()
    assert len(opened) == 2 and opened[0] is not opened[1]
    db.dispose()
    for raw in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            raw.execute("SELECT 1")
    assert not (tmp_path / "r.db-wal").exists()  # the last close checkpointed the WAL
