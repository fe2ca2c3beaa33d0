"""POST /signup."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from app.security import hash_password


def signup(conn: sqlite3.Connection, raw_body: bytes) -> tuple[int, dict[str, Any]]:
    data = json.loads(raw_body)
    cur = conn.execute(
        "INSERT INTO users (email, password_hash, display_name, age) VALUES (?, ?, ?, ?)",
        (
            data["email"],
            hash_password(data["password"]),
            data.get("display_name"),
            data.get("age"),
        ),
    )
    conn.commit()
    return 201, {
        "id": cur.lastrowid,
        "email": data["email"],
        "display_name": data.get("display_name"),
    }
