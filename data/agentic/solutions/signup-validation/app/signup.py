"""POST /signup."""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from typing import Any

from app.security import hash_password

FIELDS = {"email", "password", "display_name", "age"}
# One @, a local part and a dotted domain, no whitespace: plausible, not RFC 5322.
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def signup(conn: sqlite3.Connection, raw_body: bytes) -> tuple[int, dict[str, Any]]:
    """Create a user; 400 invalid_json, 422 validation_failed (every field at once), 409."""
    try:
        data = json.loads(raw_body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return 400, {"error": {"code": "invalid_json", "message": "send a JSON object"}}
    errors: dict[str, str] = {}
    for name in sorted(set(data) - FIELDS):
        errors[name] = "unknown field"
    email = _email(data.get("email"), errors)
    password = _password(data.get("password"), email, errors)
    display_name = _display_name(data, errors)
    age = _age(data, errors)
    if errors:
        return 422, {
            "error": {
                "code": "validation_failed",
                "message": "some fields are invalid",
                "fields": errors,
            }
        }
    assert email is not None and password is not None
    if conn.execute("SELECT 1 FROM users WHERE lower(email) = ?", (email,)).fetchone():
        return 409, _taken()
    try:
        cur = conn.execute(
            "INSERT INTO users (email, password_hash, display_name, age) VALUES (?, ?, ?, ?)",
            (email, hash_password(password), display_name, age),
        )
    except sqlite3.IntegrityError:  # signed up concurrently
        conn.rollback()
        return 409, _taken()
    conn.commit()
    return 201, {"id": cur.lastrowid, "email": email, "display_name": display_name}


def _taken() -> dict[str, Any]:
    return {"error": {"code": "email_taken", "message": "an account already uses this email"}}


def _email(value: object, errors: dict[str, str]) -> str | None:
    if value is None:
        errors["email"] = "email is required"
        return None
    if not isinstance(value, str):
        errors["email"] = "email must be a string"
        return None
    email = value.strip().lower()
    if not EMAIL.fullmatch(email):
        errors["email"] = "email is not a valid address"
        return None
    return email


def _password(value: object, email: str | None, errors: dict[str, str]) -> str | None:
    if value is None:
        errors["password"] = "password is required"
    elif not isinstance(value, str):
        errors["password"] = "password must be a string"
    elif not 12 <= len(value) <= 128:
        errors["password"] = "password must be 12 to 128 characters"
    elif value.isdigit():
        errors["password"] = "password must not be only digits"
    elif email and email.split("@")[0] in value.lower():
        errors["password"] = "password must not contain your email address"
    else:
        return value
    return None


def _display_name(data: dict[str, Any], errors: dict[str, str]) -> str | None:
    if "display_name" not in data or data["display_name"] is None:
        return None
    value = data["display_name"]
    if not isinstance(value, str):
        errors["display_name"] = "display_name must be a string"
        return None
    name = value.strip()
    if not 1 <= len(name) <= 50:
        errors["display_name"] = "display_name must be 1 to 50 characters"
    elif any(unicodedata.category(ch) == "Cc" for ch in name):
        errors["display_name"] = "display_name must not contain control characters"
    else:
        return name
    return None


def _age(data: dict[str, Any], errors: dict[str, str]) -> int | None:
    value = data.get("age")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        errors["age"] = "age must be a whole number"
    elif not 13 <= value <= 130:
        errors["age"] = "age must be between 13 and 130"
    else:
        return value
    return None
