"""Data access for customers and orders."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal


def connect(path: str = ":memory:") -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def add_customer(conn: sqlite3.Connection, email: str, name: str) -> int:
    cur = conn.execute("INSERT INTO customers (email, name) VALUES (?, ?)", (email, name))
    conn.commit()
    assert cur.lastrowid is not None
    return cur.lastrowid


def to_cents(dollars: float | int | str | Decimal) -> int:
    """Exact cents of a dollar amount: 19.99 -> 1999 (int(19.99 * 100) would be 1998)."""
    return int(Decimal(str(dollars)).quantize(Decimal("0.01"), ROUND_HALF_UP) * 100)


def add_order(
    conn: sqlite3.Connection, customer_id: int, total: float, created_at: str | None = None
) -> int:
    """A new order; `total` is the amount in dollars, as the checkout sends it (19.99).

    Both `total` and `total_cents` are written until the billing export reads cents.
    """
    created_at = created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cur = conn.execute(
        "INSERT INTO orders (customer_id, total, total_cents, created_at) VALUES (?, ?, ?, ?)",
        (customer_id, total, to_cents(total), created_at),
    )
    conn.commit()
    assert cur.lastrowid is not None
    return cur.lastrowid


def get_order(conn: sqlite3.Connection, order_id: int) -> dict[str, object] | None:
    row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    return None if row is None else dict(row)


def orders_for_customer(conn: sqlite3.Connection, customer_id: int) -> list[dict[str, object]]:
    rows = conn.execute(
        "SELECT * FROM orders WHERE customer_id = ? ORDER BY created_at DESC, id DESC",
        (customer_id,),
    ).fetchall()
    return [dict(row) for row in rows]
