from __future__ import annotations

import pytest

from app import migrate, projects


@pytest.fixture
def conn():
    connection = projects.connect()
    migrate.migrate(connection)
    yield connection
    connection.close()


def test_create_and_read(conn):
    project_id = projects.create_project(conn, "alpha", "Alpha")
    assert projects.get_project(conn, project_id)["slug"] == "alpha"
    assert projects.get_project_by_slug(conn, "alpha")["id"] == project_id
    assert projects.count_projects(conn) == 1


def test_slugs_are_unique(conn):
    projects.create_project(conn, "alpha", "Alpha")
    with pytest.raises(projects.SlugTaken):
        projects.create_project(conn, "alpha", "Another")


def test_list_by_name(conn):
    projects.create_project(conn, "b", "Beta")
    projects.create_project(conn, "a", "Alpha")
    assert [p["name"] for p in projects.list_projects(conn)] == ["Alpha", "Beta"]


def test_tasks(conn):
    project_id = projects.create_project(conn, "alpha", "Alpha")
    projects.add_task(conn, project_id, "write docs")
    assert [t["title"] for t in projects.project_tasks(conn, project_id)] == ["write docs"]


def test_delete(conn):
    project_id = projects.create_project(conn, "alpha", "Alpha")
    assert projects.delete_project(conn, project_id) is True
    assert projects.get_project(conn, project_id) is None
    assert projects.delete_project(conn, project_id) is False
