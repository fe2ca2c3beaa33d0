from __future__ import annotations

import pytest

from app import db
from app.reports import team_roster


@pytest.fixture
def conn():
    connection = db.connect()
    connection.executescript(
        """
        INSERT INTO teams (id, name) VALUES (1, 'Platform'), (2, 'Billing');
        INSERT INTO members (team_id, name, role, left_at) VALUES
            (1, 'Zoe', 'lead', NULL), (1, 'Ann', NULL, NULL), (1, 'Old', 'dev', '2024-01-01'),
            (2, 'Raj', 'dev', NULL);
        INSERT INTO tasks (team_id, title, done_at) VALUES
            (1, 'a', NULL), (1, 'b', '2024-02-01'), (2, 'c', NULL), (2, 'd', NULL);
        """
    )
    yield connection
    connection.close()


def test_roster(conn):
    roster = team_roster(conn)
    assert [team["name"] for team in roster] == ["Billing", "Platform"]
    platform = roster[1]
    assert [m["name"] for m in platform["members"]] == ["Ann", "Zoe"]
    assert platform["members"][0]["role"] is None
    assert platform["open_tasks"] == 1
    assert roster[0]["open_tasks"] == 2


def test_a_team_without_members_or_tasks(conn):
    conn.execute("INSERT INTO teams (id, name) VALUES (3, 'Empty')")
    empty = next(team for team in team_roster(conn) if team["name"] == "Empty")
    assert empty == {"id": 3, "name": "Empty", "members": [], "open_tasks": 0}
