from __future__ import annotations

import pytest

from app import migrate, repo


@pytest.fixture
def conn():
    connection = repo.connect()
    migrate.migrate(connection)
    yield connection
    connection.close()


def test_migrate_is_idempotent(conn):
    assert migrate.migrate(conn) == []
    versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == sorted(versions) and versions[0] == 1


def test_order_round_trip(conn):
    customer = repo.add_customer(conn, "ada@example.com", "Ada")
    order_id = repo.add_order(conn, customer, 19.99, "2024-05-01T10:00:00Z")
    order = repo.get_order(conn, order_id)
    assert order is not None
    assert order["customer_id"] == customer and order["total"] == pytest.approx(19.99)


def test_orders_for_customer_newest_first(conn):
    customer = repo.add_customer(conn, "bob@example.com", "Bob")
    first = repo.add_order(conn, customer, 5.0, "2024-05-01T10:00:00Z")
    second = repo.add_order(conn, customer, 7.5, "2024-05-02T10:00:00Z")
    assert [o["id"] for o in repo.orders_for_customer(conn, customer)] == [second, first]


def test_bad_migration_names_are_refused(tmp_path):
    (tmp_path / "1_oops.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError):
        migrate.available(tmp_path)
