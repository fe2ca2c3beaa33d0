"""The SQLite connection, the schema and the helpers the web layer uses."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    customer TEXT NOT NULL,
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    created_at TEXT NOT NULL  -- ISO 8601, UTC, second precision: 2024-05-01T12:00:00Z
);
CREATE INDEX IF NOT EXISTS orders_created_at ON orders (created_at);
"""


def connect(path: str = ":memory:") -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.executescript(SCHEMA)
    return conn


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_order(
    conn: sqlite3.Connection, customer: str, total_cents: int, created_at: str | None = None
) -> int:
    cur = conn.execute(
        "INSERT INTO orders (customer, total_cents, created_at) VALUES (?, ?, ?)",
        (customer, total_cents, created_at or now_iso()),
    )
    conn.commit()
    assert cur.lastrowid is not None
    return cur.lastrowid


def order_dict(row: sqlite3.Row) -> dict[str, object]:
    return {
        "id": row["id"],
        "customer": row["customer"],
        "total_cents": row["total_cents"],
        "created_at": row["created_at"],
    }
