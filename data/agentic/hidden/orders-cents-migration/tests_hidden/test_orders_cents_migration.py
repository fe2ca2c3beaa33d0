"""Hidden checks for the integer-cents migration."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app import migrate, repo

ROOT = Path(__file__).resolve().parent.parent
INIT_SHA256 = "b5da55d703c2436140f37a64f78e3a80b4476f93e7060c480673f3d4db21dcf0"

# Dollar amounts whose float times 100 is just below the integer (int() truncates them).
AMOUNTS = {19.99: 1999, 0.29: 29, 4.35: 435, 1.15: 115, 0.07: 7, 0.0: 0, 1234567.89: 123456789}


def columns(conn) -> dict[str, tuple[str, int]]:
    return {row[1]: (row[2].upper(), row[3]) for row in conn.execute("PRAGMA table_info(orders)")}


@pytest.fixture
def old_db():
    """A database at version 1 holding orders written by the current code."""
    conn = repo.connect()
    assert migrate.migrate(conn, target=1) == [1]
    conn.execute(
        "INSERT INTO customers (id, email, name) VALUES (1, 'a@x.io', 'A'), (2, 'b@x.io', 'B')"
    )
    for i, total in enumerate(AMOUNTS):
        conn.execute(
            "INSERT INTO orders (customer_id, total, created_at) VALUES (?, ?, ?)",
            (1 + i % 2, total, f"2024-05-0{1 + i}T10:00:00Z"),
        )
    conn.commit()
    yield conn
    conn.close()


def test_0001_is_not_edited():
    assert (
        hashlib.sha256((ROOT / "migrations" / "0001_init.sql").read_bytes()).hexdigest()
        == INIT_SHA256
    )


def test_a_new_numbered_migration_exists():
    versions = [version for version, _ in migrate.available()]
    assert versions[0] == 1 and len(versions) >= 2


def test_backfill_is_exact(old_db):
    ran = migrate.migrate(old_db)
    assert ran and 1 not in ran
    got = {
        row["total"]: row["total_cents"]
        for row in old_db.execute("SELECT total, total_cents FROM orders")
    }
    assert got == AMOUNTS
    assert old_db.execute("SELECT count(*) FROM orders").fetchone()[0] == len(AMOUNTS)


def test_total_cents_is_integer_not_null(old_db):
    migrate.migrate(old_db)
    kind, notnull = columns(old_db)["total_cents"]
    assert kind.startswith("INT") and notnull == 1
    assert "total" in columns(old_db)
    assert all(isinstance(row[0], int) for row in old_db.execute("SELECT total_cents FROM orders"))


def test_migrating_an_empty_database_and_again_is_fine():
    conn = repo.connect()
    first = migrate.migrate(conn)
    assert first[0] == 1 and len(first) >= 2
    assert migrate.migrate(conn) == []
    assert "total_cents" in columns(conn)


def test_orders_for_customer_uses_an_index(old_db):
    migrate.migrate(old_db)
    plan = " ".join(
        row[-1]
        for row in old_db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM orders WHERE customer_id = ?"
            " ORDER BY created_at DESC, id DESC",
            (1,),
        )
    )
    assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize(("total", "cents"), list(AMOUNTS.items()))
def test_new_orders_fill_both_columns(total, cents):
    conn = repo.connect()
    migrate.migrate(conn)
    customer = repo.add_customer(conn, "c@x.io", "C")
    order = repo.get_order(conn, repo.add_order(conn, customer, total, "2024-06-01T10:00:00Z"))
    assert order is not None
    assert order["total_cents"] == cents and isinstance(order["total_cents"], int)
    assert order["total"] == pytest.approx(total)
    listed = repo.orders_for_customer(conn, customer)
    assert [o["total_cents"] for o in listed] == [cents]


def test_old_rows_read_back_through_the_repo(old_db):
    migrate.migrate(old_db)
    cents = sorted(o["total_cents"] for c in (1, 2) for o in repo.orders_for_customer(old_db, c))
    assert cents == sorted(AMOUNTS.values())
