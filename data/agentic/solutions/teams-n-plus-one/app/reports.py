"""What the /teams page shows."""

from __future__ import annotations

import sqlite3
from typing import Any


def team_roster(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every team, by name (then id), with its current members and its open task count.

    Each item: {"id", "name", "members": [{"id", "name", "role"}, ...] by name then id,
    "open_tasks": int}. Teams without members or tasks are listed too.

    Two queries whatever the number of teams: the teams with their open task counts (counted
    in a subquery, so the count is not multiplied by a join with members), then every current
    member, grouped here.
    """
    teams = conn.execute(
        """
        SELECT t.id, t.name, coalesce(open.n, 0) AS open_tasks
        FROM teams AS t
        LEFT JOIN (
            SELECT team_id, count(*) AS n FROM tasks WHERE done_at IS NULL GROUP BY team_id
        ) AS open ON open.team_id = t.id
        ORDER BY t.name, t.id
        """
    ).fetchall()
    members: dict[int, list[dict[str, Any]]] = {team[0]: [] for team in teams}
    for row in conn.execute(
        "SELECT id, team_id, name, role FROM members WHERE left_at IS NULL ORDER BY name, id"
    ):
        if row[1] in members:
            members[row[1]].append({"id": row[0], "name": row[2], "role": row[3]})
    return [
        {"id": team[0], "name": team[1], "members": members[team[0]], "open_tasks": team[2]}
        for team in teams
    ]
