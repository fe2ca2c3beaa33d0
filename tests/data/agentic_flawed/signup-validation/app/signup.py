"""POST /signup."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from app.security import hash_password


class Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def signup(conn: sqlite3.Connection, raw_body: bytes) -> tuple[int, dict[str, Any]]:
    # Hurried version: the first problem only, isinstance(int) for age, exact-case emails.
    try:
        data = json.loads(raw_body)
    except ValueError:
        return 400, {"error": {"code": "invalid_json", "message": "bad JSON"}}
    if not isinstance(data, dict):
        return 400, {"error": {"code": "invalid_json", "message": "send an object"}}
    try:
        email = data.get("email")
        if not isinstance(email, str) or not re.fullmatch(r".+@.+\..+", email.strip()):
            raise Invalid("email", "invalid email")
        email = email.strip()
        password = data.get("password")
        if not isinstance(password, str) or not 12 <= len(password) <= 128:
            raise Invalid("password", "password must be 12 to 128 characters")
        age = data.get("age")
        if age is not None and (not isinstance(age, int) or not 13 <= age <= 130):
            raise Invalid("age", "invalid age")
        name = data.get("display_name")
        if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 50):
            raise Invalid("display_name", "invalid display name")
    except Invalid as invalid:
        return 422, {
            "error": {"code": "validation_failed", "fields": {invalid.field: invalid.message}}
        }
    try:
        cur = conn.execute(
            "INSERT INTO users (email, password_hash, display_name, age) VALUES (?, ?, ?, ?)",
            (email, hash_password(password), name, age),
        )
    except sqlite3.IntegrityError:
        return 409, {"error": {"code": "email_taken", "message": "email taken"}}
    conn.commit()
    return 201, {"id": cur.lastrowid, "email": email, "display_name": name}
