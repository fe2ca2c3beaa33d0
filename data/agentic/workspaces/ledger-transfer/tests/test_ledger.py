from __future__ import annotations

import pytest

from app import ledger


@pytest.fixture
def conn():
    connection = ledger.connect()
    yield connection
    connection.close()


def test_a_transfer_moves_money(conn):
    alice = ledger.open_account(conn, "alice", 10_000)
    bob = ledger.open_account(conn, "bob", 500)
    transfer_id = ledger.transfer(conn, alice, bob, 2_500)
    assert ledger.balance(conn, alice) == 7_500 and ledger.balance(conn, bob) == 3_000
    row = conn.execute("SELECT * FROM transfers WHERE id = ?", (transfer_id,)).fetchone()
    assert (row["from_id"], row["to_id"], row["amount_cents"]) == (alice, bob, 2_500)


def test_insufficient_funds(conn):
    alice = ledger.open_account(conn, "alice", 100)
    bob = ledger.open_account(conn, "bob")
    with pytest.raises(ledger.InsufficientFunds):
        ledger.transfer(conn, alice, bob, 101)
    assert ledger.balance(conn, alice) == 100


def test_unknown_account_balance(conn):
    with pytest.raises(ledger.UnknownAccount):
        ledger.balance(conn, 42)
