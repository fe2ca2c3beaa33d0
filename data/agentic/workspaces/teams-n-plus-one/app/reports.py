"""What the /teams page shows."""

from __future__ import annotations

import sqlite3
from typing import Any


def team_roster(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every team, by name (then id), with its current members and its open task count.

    Each item: {"id", "name", "members": [{"id", "name", "role"}, ...] by name then id,
    "open_tasks": int}. Teams without members or tasks are listed too.
    """
    roster = []
    for team in conn.execute("SELECT id, name FROM teams ORDER BY name, id").fetchall():
        members = conn.execute(
            "SELECT id, name, role FROM members WHERE team_id = ? AND left_at IS NULL "
            "ORDER BY name, id",
            (team["id"],),
        ).fetchall()
        open_tasks = conn.execute(
            "SELECT count(*) FROM tasks WHERE team_id = ? AND done_at IS NULL", (team["id"],)
        ).fetchone()[0]
        roster.append(
            {
                "id": team["id"],
                "name": team["name"],
                "members": [{"id": m["id"], "name": m["name"], "role": m["role"]} for m in members],
                "open_tasks": open_tasks,
            }
        )
    return roster
