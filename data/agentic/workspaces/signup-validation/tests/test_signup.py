from __future__ import annotations

import json

import pytest

from app import db
from app.security import verify_password
from app.signup import signup


@pytest.fixture
def conn():
    connection = db.connect()
    yield connection
    connection.close()


def test_signup_creates_a_user(conn):
    body = {"email": "ada@example.com", "password": "correct horse battery", "display_name": "Ada"}
    status, payload = signup(conn, json.dumps(body).encode())
    assert status == 201
    assert payload["email"] == "ada@example.com" and payload["display_name"] == "Ada"
    assert "password" not in json.dumps(payload)
    row = conn.execute("SELECT * FROM users WHERE id = ?", (payload["id"],)).fetchone()
    assert row["password_hash"] != "correct horse battery"
    assert verify_password("correct horse battery", row["password_hash"])


def test_age_is_stored(conn):
    body = {"email": "bo@example.com", "password": "a long passphrase", "age": 33}
    status, _ = signup(conn, json.dumps(body).encode())
    assert status == 201
    assert conn.execute("SELECT age FROM users").fetchone()[0] == 33
