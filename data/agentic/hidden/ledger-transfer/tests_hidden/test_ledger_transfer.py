"""Hidden checks: transfers are atomic, validated and never overdraw, in both modes."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from app import ledger

MODES = {"default": "", "autocommit": None}


@pytest.fixture(params=sorted(MODES))
def path(request, tmp_path):
    return str(tmp_path / "ledger.db"), MODES[request.param]


@pytest.fixture
def conn(path):
    file, mode = path
    connection = ledger.connect(file, isolation_level=mode)
    yield connection
    connection.close()


def observer(path) -> sqlite3.Connection:
    """Another process's view of the file: only committed data."""
    connection = sqlite3.connect(path[0])
    connection.execute("PRAGMA busy_timeout = 100")
    return connection


def state(path) -> tuple[list[tuple[int, int]], int]:
    other = observer(path)
    try:
        balances = other.execute("SELECT id, balance_cents FROM accounts ORDER BY id").fetchall()
        transfers = other.execute("SELECT count(*) FROM transfers").fetchone()[0]
    finally:
        other.close()
    return balances, transfers


@pytest.fixture
def accounts(conn):
    return ledger.open_account(conn, "alice", 10_000), ledger.open_account(conn, "bob", 500)


def test_a_transfer_is_committed(conn, path, accounts):
    alice, bob = accounts
    ledger.transfer(conn, alice, bob, 2_500)
    assert state(path) == ([(alice, 7_500), (bob, 3_000)], 1)


def test_the_exact_balance_can_be_sent(conn, path, accounts):
    alice, bob = accounts
    ledger.transfer(conn, bob, alice, 500)
    assert state(path)[0] == [(alice, 10_500), (bob, 0)]


def test_an_unknown_destination_loses_nothing(conn, path, accounts):
    alice, _ = accounts
    before = state(path)
    with pytest.raises(ledger.UnknownAccount):
        ledger.transfer(conn, alice, 999, 1_000)
    assert state(path) == before
    assert ledger.balance(conn, alice) == 10_000
    assert not conn.in_transaction


def test_an_unknown_source(conn, path, accounts):
    _, bob = accounts
    before = state(path)
    with pytest.raises(ledger.UnknownAccount):
        ledger.transfer(conn, 999, bob, 1)
    assert state(path) == before


@pytest.mark.parametrize("amount", [0, -100, 1.5, True, "100"])
def test_the_amount_must_be_a_positive_integer(conn, path, accounts, amount):
    alice, bob = accounts
    before = state(path)
    with pytest.raises(ledger.LedgerError):
        ledger.transfer(conn, alice, bob, amount)
    assert state(path) == before


def test_an_account_cannot_pay_itself(conn, path, accounts):
    alice, _ = accounts
    with pytest.raises(ledger.LedgerError):
        ledger.transfer(conn, alice, alice, 100)
    assert state(path)[1] == 0


def test_a_failure_after_the_debit_rolls_everything_back(conn, path, accounts):
    alice, bob = accounts
    conn.execute(
        "CREATE TRIGGER fail_audit BEFORE INSERT ON transfers WHEN NEW.amount_cents = 666 "
        "BEGIN SELECT RAISE(ABORT, 'audit failed'); END"
    )
    conn.commit()
    before = state(path)
    with pytest.raises(sqlite3.DatabaseError):
        ledger.transfer(conn, alice, bob, 666)
    assert state(path) == before
    assert (ledger.balance(conn, alice), ledger.balance(conn, bob)) == (10_000, 500)
    assert not conn.in_transaction
    ledger.transfer(conn, alice, bob, 1)  # the connection is still usable
    assert state(path)[1] == 1


def test_a_concurrent_transfer_cannot_overdraw(conn, path, accounts):
    """Another process empties the account between this transfer's check and its debit."""
    alice, bob = accounts
    carol = ledger.open_account(conn, "carol", 0)
    other = ledger.connect(path[0])
    other.execute("PRAGMA busy_timeout = 100")
    outcome: list[str] = []

    def interleave(sql: str) -> None:
        if not outcome and sql.lstrip().upper().startswith("UPDATE"):
            try:
                ledger.transfer(other, alice, carol, 10_000)
                outcome.append("other committed")
            except (ledger.LedgerError, sqlite3.OperationalError) as error:
                outcome.append(f"other refused: {error!r}")

    conn.set_trace_callback(interleave)
    try:
        with contextlib.suppress(ledger.LedgerError, sqlite3.OperationalError):
            ledger.transfer(conn, alice, bob, 10_000)
    finally:
        conn.set_trace_callback(None)
        other.close()
    balances, transfers = state(path)
    assert sum(b for _, b in balances) == 10_500, (balances, outcome)
    assert all(b >= 0 for _, b in balances), (balances, outcome)
    assert transfers == 1, outcome
