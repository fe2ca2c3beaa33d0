"""Hidden checks for sign-up validation and its error responses."""

from __future__ import annotations

import json

import pytest

from app import db
from app.signup import signup

GOOD = {"email": "ada@example.com", "password": "correct horse battery"}


@pytest.fixture
def conn():
    connection = db.connect()
    yield connection
    connection.close()


def send(conn, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, payload = signup(conn, raw)
    json.dumps(payload)  # the payload must be JSON
    return status, payload


def users(conn) -> int:
    return conn.execute("SELECT count(*) FROM users").fetchone()[0]


def fields(conn, body) -> dict[str, str]:
    status, payload = send(conn, body)
    assert status == 422, payload
    assert payload["error"]["code"] == "validation_failed"
    got = payload["error"]["fields"]
    assert all(isinstance(message, str) and message for message in got.values())
    assert users(conn) == 0
    return got


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"[]", b'"ada"', b"42", b"null"])
def test_a_body_that_is_not_a_json_object_is_400(conn, raw):
    status, payload = send(conn, raw)
    assert status == 400 and payload["error"]["code"] == "invalid_json"
    assert users(conn) == 0


def test_every_problem_is_reported_at_once(conn):
    got = fields(conn, {"email": "nope", "password": "short", "age": 5, "display_name": " "})
    assert set(got) == {"email", "password", "age", "display_name"}


def test_required_fields(conn):
    assert set(fields(conn, {})) == {"email", "password"}


@pytest.mark.parametrize(
    "email",
    [
        "a@b",
        "a b@example.com",
        "@example.com",
        "ada@",
        "a@@example.com",
        "ada.example.com",
        "ada@example.",
        "ada@.com",
        "",
        42,
        None,
        ["a@b.io"],
    ],
)
def test_implausible_emails(conn, email):
    assert set(fields(conn, {**GOOD, "email": email})) == {"email"}


def test_email_is_trimmed_and_lower_cased(conn):
    status, payload = send(conn, {**GOOD, "email": "  Ada.Lovelace@Example.COM "})
    assert status == 201 and payload["email"] == "ada.lovelace@example.com"
    assert conn.execute("SELECT email FROM users").fetchone()[0] == "ada.lovelace@example.com"


def test_a_taken_email_is_409_whatever_its_case(conn):
    assert send(conn, GOOD)[0] == 201
    status, payload = send(conn, {**GOOD, "email": "ADA@example.com"})
    assert status == 409 and payload["error"]["code"] == "email_taken"
    assert users(conn) == 1


@pytest.mark.parametrize(
    "password",
    [
        "elevenchars",
        "x" * 129,
        "123456789012345",
        "my-ada-password!",
        "MYADAPASSWORD",
        123456789012,
        None,
    ],
)
def test_weak_or_invalid_passwords(conn, password):
    assert set(fields(conn, {**GOOD, "password": password})) == {"password"}


@pytest.mark.parametrize("password", ["twelve chars", "y" * 128, "1234567890ab"])
def test_acceptable_passwords(conn, password):
    assert send(conn, {**GOOD, "password": password})[0] == 201


@pytest.mark.parametrize("age", [True, False, 12, 131, 20.5, "20", -1])
def test_invalid_ages(conn, age):
    assert set(fields(conn, {**GOOD, "age": age})) == {"age"}


@pytest.mark.parametrize("age", [13, 130, None])
def test_valid_ages(conn, age):
    body = dict(GOOD) if age is None else {**GOOD, "age": age}
    assert send(conn, body)[0] == 201
    assert conn.execute("SELECT age FROM users").fetchone()[0] == age


@pytest.mark.parametrize("name", ["", "   ", "x" * 51, "bell\x07", "new\nline", 7])
def test_invalid_display_names(conn, name):
    assert set(fields(conn, {**GOOD, "display_name": name})) == {"display_name"}


def test_display_name_is_trimmed(conn):
    status, payload = send(conn, {**GOOD, "display_name": "  Ada  "})
    assert status == 201 and payload["display_name"] == "Ada"


def test_unknown_fields_are_refused(conn):
    got = fields(conn, {**GOOD, "is_admin": True, "role": "owner"})
    assert set(got) == {"is_admin", "role"}


def test_the_response_never_holds_the_password(conn):
    status, payload = send(conn, GOOD)
    assert status == 201
    assert GOOD["password"] not in json.dumps(payload)
    status, payload = send(conn, {**GOOD, "email": "bad", "password": "tiny"})
    assert "tiny" not in json.dumps(payload)
