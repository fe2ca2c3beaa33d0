"""Hidden checks for soft delete of projects."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from app import migrate, projects

ROOT = Path(__file__).resolve().parent.parent
INIT_SHA256 = "6525d4d274144b37c914012ce14d0e35666b0e73ff21c2ab043ecd633824918b"


@pytest.fixture
def conn():
    connection = projects.connect()
    migrate.migrate(connection)
    yield connection
    connection.close()


@pytest.fixture
def alpha(conn):
    project_id = projects.create_project(conn, "alpha", "Alpha")
    projects.add_task(conn, project_id, "one")
    projects.add_task(conn, project_id, "two")
    projects.create_project(conn, "beta", "Beta")
    return project_id


def raw(conn, project_id):
    return conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()


def test_0001_is_not_edited_and_a_new_migration_exists():
    digest = hashlib.sha256((ROOT / "migrations" / "0001_init.sql").read_bytes()).hexdigest()
    assert digest == INIT_SHA256
    assert len(migrate.available()) >= 2


def test_migrating_a_database_with_data_keeps_it():
    conn = projects.connect()
    migrate.migrate(conn, target=1)
    conn.execute(
        "INSERT INTO projects (id, slug, name, created_at) VALUES (7, 'old', 'Old', '2023-01-01')"
    )
    conn.execute("INSERT INTO tasks (project_id, title) VALUES (7, 'kept')")
    conn.commit()
    assert migrate.migrate(conn)
    assert projects.get_project(conn, 7)["slug"] == "old"
    assert [t["title"] for t in projects.project_tasks(conn, 7)] == ["kept"]
    assert raw(conn, 7)["deleted_at"] is None
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert migrate.migrate(conn) == []


def test_delete_keeps_the_row_and_its_tasks(conn, alpha):
    assert projects.delete_project(conn, alpha) is True
    row = raw(conn, alpha)
    assert row is not None and row["deleted_at"] is not None
    assert (
        conn.execute("SELECT count(*) FROM tasks WHERE project_id = ?", (alpha,)).fetchone()[0] == 2
    )


def test_every_read_skips_deleted_projects(conn, alpha):
    projects.delete_project(conn, alpha)
    assert projects.get_project(conn, alpha) is None
    assert projects.get_project_by_slug(conn, "alpha") is None
    assert [p["slug"] for p in projects.list_projects(conn)] == ["beta"]
    assert projects.count_projects(conn) == 1
    assert projects.project_tasks(conn, alpha) == []


def test_deleting_twice_or_nothing_is_false(conn, alpha):
    assert projects.delete_project(conn, alpha) is True
    first = raw(conn, alpha)["deleted_at"]
    assert projects.delete_project(conn, alpha) is False
    assert raw(conn, alpha)["deleted_at"] == first
    assert projects.delete_project(conn, 9999) is False


def test_restore(conn, alpha):
    projects.delete_project(conn, alpha)
    assert projects.restore_project(conn, alpha) is True
    assert projects.get_project(conn, alpha)["slug"] == "alpha"
    assert len(projects.project_tasks(conn, alpha)) == 2
    assert projects.count_projects(conn) == 2
    assert projects.restore_project(conn, alpha) is False
    assert projects.restore_project(conn, 9999) is False


def test_a_deleted_slug_can_be_used_again(conn, alpha):
    projects.delete_project(conn, alpha)
    again = projects.create_project(conn, "alpha", "Alpha, take two")
    assert again != alpha
    assert projects.get_project_by_slug(conn, "alpha")["id"] == again
    with pytest.raises(projects.SlugTaken):
        projects.create_project(conn, "alpha", "A third")
    projects.delete_project(conn, again)
    third = projects.create_project(conn, "alpha", "A third")
    assert projects.get_project_by_slug(conn, "alpha")["id"] == third


def test_live_slugs_are_unique_in_the_database_itself(conn, alpha):
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO projects (slug, name, created_at) VALUES ('alpha', 'x', '2024-01-01')"
        )
    conn.rollback()


def test_restoring_onto_a_taken_slug_is_refused(conn, alpha):
    projects.delete_project(conn, alpha)
    projects.create_project(conn, "alpha", "New alpha")
    with pytest.raises(projects.SlugTaken):
        projects.restore_project(conn, alpha)
    assert raw(conn, alpha)["deleted_at"] is not None
    assert not conn.in_transaction
    assert projects.count_projects(conn) == 2


def test_tasks_can_still_be_added_to_live_projects(conn, alpha):
    projects.add_task(conn, alpha, "three")
    assert [t["title"] for t in projects.project_tasks(conn, alpha)] == ["one", "two", "three"]
