"""Projects and their tasks."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any


class SlugTaken(Exception):
    pass


def connect(path: str = ":memory:") -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_project(conn: sqlite3.Connection, slug: str, name: str) -> int:
    try:
        cur = conn.execute(
            "INSERT INTO projects (slug, name, created_at) VALUES (?, ?, ?)", (slug, name, _now())
        )
    except sqlite3.IntegrityError:
        conn.rollback()
        raise SlugTaken(slug) from None
    conn.commit()
    assert cur.lastrowid is not None
    return cur.lastrowid


def get_project(conn: sqlite3.Connection, project_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
    return None if row is None else dict(row)


def get_project_by_slug(conn: sqlite3.Connection, slug: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM projects WHERE slug = ?", (slug,)).fetchone()
    return None if row is None else dict(row)


def list_projects(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute("SELECT * FROM projects ORDER BY name, id")]


def count_projects(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM projects").fetchone()[0]


def add_task(conn: sqlite3.Connection, project_id: int, title: str) -> int:
    cur = conn.execute("INSERT INTO tasks (project_id, title) VALUES (?, ?)", (project_id, title))
    conn.commit()
    assert cur.lastrowid is not None
    return cur.lastrowid


def project_tasks(conn: sqlite3.Connection, project_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM tasks WHERE project_id = ? ORDER BY id", (project_id,)
    ).fetchall()
    return [dict(row) for row in rows]


def delete_project(conn: sqlite3.Connection, project_id: int) -> bool:
    """Delete a project and its tasks; False when there was no such project."""
    conn.execute("DELETE FROM tasks WHERE project_id = ?", (project_id,))
    cur = conn.execute("DELETE FROM projects WHERE id = ?", (project_id,))
    conn.commit()
    return cur.rowcount == 1
