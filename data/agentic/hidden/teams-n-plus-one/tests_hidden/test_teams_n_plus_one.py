"""Hidden checks: team_roster in a fixed number of queries, with the same result."""

from __future__ import annotations

import random
import sqlite3
from typing import Any

import pytest

from app import db
from app.reports import team_roster


def reference(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The original implementation, query per team (what the result must stay equal to)."""
    roster = []
    for team in conn.execute("SELECT id, name FROM teams ORDER BY name, id").fetchall():
        members = conn.execute(
            "SELECT id, name, role FROM members WHERE team_id = ? AND left_at IS NULL "
            "ORDER BY name, id",
            (team[0],),
        ).fetchall()
        open_tasks = conn.execute(
            "SELECT count(*) FROM tasks WHERE team_id = ? AND done_at IS NULL", (team[0],)
        ).fetchone()[0]
        roster.append(
            {
                "id": team[0],
                "name": team[1],
                "members": [{"id": m[0], "name": m[1], "role": m[2]} for m in members],
                "open_tasks": open_tasks,
            }
        )
    return roster


def seed(conn: sqlite3.Connection, teams: int, rng: random.Random) -> None:
    names = ["Ann", "Bo", "Cy", "Di", "Ed", "Ann", "Zoe"]
    for t in range(1, teams + 1):
        # Duplicate team names: the order needs the id as tie-break.
        conn.execute("INSERT INTO teams (id, name) VALUES (?, ?)", (t, f"team-{t % 7}"))
        for _ in range(rng.randrange(0, 6)):
            conn.execute(
                "INSERT INTO members (team_id, name, role, left_at) VALUES (?, ?, ?, ?)",
                (
                    t,
                    rng.choice(names),
                    rng.choice(["dev", "lead", None]),
                    rng.choice([None, None, "2024-03-01"]),
                ),
            )
        for k in range(rng.randrange(0, 5)):
            conn.execute(
                "INSERT INTO tasks (team_id, title, done_at) VALUES (?, ?, ?)",
                (t, f"task {k}", rng.choice([None, "2024-04-01"])),
            )
    conn.commit()


def count_queries(conn: sqlite3.Connection) -> tuple[list[str], Any]:
    statements: list[str] = []

    def trace(sql: str) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append(sql)

    conn.set_trace_callback(trace)
    try:
        result = team_roster(conn)
    finally:
        conn.set_trace_callback(None)
    return statements, result


@pytest.fixture
def conn():
    connection = db.connect()
    yield connection
    connection.close()


@pytest.mark.parametrize("seed_value", [1, 2, 3])
def test_same_result_as_before(conn, seed_value):
    seed(conn, 40, random.Random(seed_value))
    _, result = count_queries(conn)
    assert result == reference(conn)


def test_a_fixed_number_of_queries(conn):
    seed(conn, 5, random.Random(7))
    few, _ = count_queries(conn)
    conn.executescript("DELETE FROM tasks; DELETE FROM members; DELETE FROM teams;")
    seed(conn, 120, random.Random(8))
    many, result = count_queries(conn)
    assert len(many) <= 3, many
    assert len(many) == len(few)
    assert result == reference(conn)


def test_many_members_and_many_tasks_do_not_multiply(conn):
    # A join of members and tasks in one query counts each open task once per member.
    conn.execute("INSERT INTO teams (id, name) VALUES (1, 'Big')")
    conn.executemany(
        "INSERT INTO members (team_id, name, role) VALUES (1, ?, 'dev')",
        [(f"m{i}",) for i in range(4)],
    )
    conn.executemany(
        "INSERT INTO tasks (team_id, title, done_at) VALUES (1, ?, ?)",
        [("t1", None), ("t2", None), ("t3", "2024-01-01")],
    )
    [team] = team_roster(conn)
    assert team["open_tasks"] == 2
    assert [m["name"] for m in team["members"]] == ["m0", "m1", "m2", "m3"]


def test_a_team_whose_members_all_left(conn):
    conn.execute("INSERT INTO teams (id, name) VALUES (1, 'Gone')")
    conn.execute("INSERT INTO members (team_id, name, left_at) VALUES (1, 'x', '2024-01-01')")
    conn.execute("INSERT INTO tasks (team_id, title) VALUES (1, 'open')")
    assert team_roster(conn) == [{"id": 1, "name": "Gone", "members": [], "open_tasks": 1}]


def test_no_teams(conn):
    assert team_roster(conn) == []
