"""Projects and their tasks.

Projects are soft-deleted: `delete_project` sets `deleted_at`, every read skips those rows,
and `restore_project` brings one back. Slugs are unique among live projects (a partial
unique index, migration 0002), so a deleted project's slug can be used again.
"""

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
    row = conn.execute(
        "SELECT * FROM projects WHERE id = ? AND deleted_at IS NULL", (project_id,)
    ).fetchone()
    return None if row is None else dict(row)


def get_project_by_slug(conn: sqlite3.Connection, slug: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM projects WHERE slug = ? AND deleted_at IS NULL", (slug,)
    ).fetchone()
    return None if row is None else dict(row)


def list_projects(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in conn.execute("SELECT * FROM projects WHERE deleted_at IS NULL ORDER BY name, id")
    ]


def count_projects(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM projects WHERE deleted_at IS NULL").fetchone()[0]


def add_task(conn: sqlite3.Connection, project_id: int, title: str) -> int:
    cur = conn.execute("INSERT INTO tasks (project_id, title) VALUES (?, ?)", (project_id, title))
    conn.commit()
    assert cur.lastrowid is not None
    return cur.lastrowid


def project_tasks(conn: sqlite3.Connection, project_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT tasks.* FROM tasks JOIN projects ON projects.id = tasks.project_id"
        " WHERE tasks.project_id = ? AND projects.deleted_at IS NULL ORDER BY tasks.id",
        (project_id,),
    ).fetchall()
    return [dict(row) for row in rows]


def delete_project(conn: sqlite3.Connection, project_id: int) -> bool:
    """Soft-delete a live project (its tasks are kept); False when there is none."""
    cur = conn.execute(
        "UPDATE projects SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
        (_now(), project_id),
    )
    conn.commit()
    return cur.rowcount == 1


def restore_project(conn: sqlite3.Connection, project_id: int) -> bool:
    """Bring a deleted project back; False when there is no deleted project with this id.

    SlugTaken when a live project took its slug meanwhile (it stays deleted).
    """
    try:
        cur = conn.execute(
            "UPDATE projects SET deleted_at = NULL WHERE id = ? AND deleted_at IS NOT NULL",
            (project_id,),
        )
    except sqlite3.IntegrityError:
        conn.rollback()
        raise SlugTaken(f"another project uses the slug of project {project_id}") from None
    conn.commit()
    return cur.rowcount == 1
