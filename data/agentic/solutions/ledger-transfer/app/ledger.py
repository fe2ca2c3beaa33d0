"""Wallet balances and transfers."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    balance_cents INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers (
    id INTEGER PRIMARY KEY,
    from_id INTEGER NOT NULL REFERENCES accounts (id),
    to_id INTEGER NOT NULL REFERENCES accounts (id),
    amount_cents INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


class LedgerError(Exception):
    """A transfer that cannot be made."""


class InsufficientFunds(LedgerError):
    pass


class UnknownAccount(LedgerError):
    pass


class InvalidTransfer(LedgerError):
    """A non-positive or non-integer amount, or an account paying itself."""


def connect(path: str = ":memory:", isolation_level: str | None = "") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=isolation_level)
    conn.row_factory = sqlite3.Row
    conn.executescript(SCHEMA)
    return conn


def open_account(conn: sqlite3.Connection, owner: str, balance_cents: int = 0) -> int:
    cur = conn.execute(
        "INSERT INTO accounts (owner, balance_cents) VALUES (?, ?)", (owner, balance_cents)
    )
    conn.commit()
    assert cur.lastrowid is not None
    return cur.lastrowid


def balance(conn: sqlite3.Connection, account_id: int) -> int:
    row = conn.execute("SELECT balance_cents FROM accounts WHERE id = ?", (account_id,)).fetchone()
    if row is None:
        raise UnknownAccount(f"no account {account_id}")
    return row["balance_cents"]


def transfer(conn: sqlite3.Connection, from_id: int, to_id: int, amount_cents: int) -> int:
    """Move `amount_cents` from one account to another; the id of the transfer.

    The debit, the credit and the transfers row are one transaction: on any error nothing is
    written and the error propagates. The debit is conditional (`balance_cents >= amount`),
    so no other connection can spend the money between the check and the debit. The
    transaction is opened explicitly (BEGIN IMMEDIATE), so it also holds for a connection in
    autocommit mode; inside a caller's open transaction a savepoint is used instead.
    """
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise InvalidTransfer(f"amount must be a positive number of cents, not {amount_cents!r}")
    if from_id == to_id:
        raise InvalidTransfer("an account cannot transfer to itself")
    nested = conn.in_transaction
    conn.execute("SAVEPOINT transfer" if nested else "BEGIN IMMEDIATE")
    try:
        transfer_id = _transfer(conn, from_id, to_id, amount_cents)
    except BaseException:
        if nested:
            conn.execute("ROLLBACK TO transfer")
            conn.execute("RELEASE transfer")
        else:
            conn.execute("ROLLBACK")
        raise
    conn.execute("RELEASE transfer" if nested else "COMMIT")
    return transfer_id


def _transfer(conn: sqlite3.Connection, from_id: int, to_id: int, amount_cents: int) -> int:
    for account_id in (from_id, to_id):
        if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is None:
            raise UnknownAccount(f"no account {account_id}")
    debit = conn.execute(
        "UPDATE accounts SET balance_cents = balance_cents - ? WHERE id = ? AND balance_cents >= ?",
        (amount_cents, from_id, amount_cents),
    )
    if debit.rowcount != 1:
        raise InsufficientFunds(f"account {from_id} cannot pay {amount_cents}")
    conn.execute(
        "UPDATE accounts SET balance_cents = balance_cents + ? WHERE id = ?",
        (amount_cents, to_id),
    )
    cur = conn.execute(
        "INSERT INTO transfers (from_id, to_id, amount_cents) VALUES (?, ?, ?)",
        (from_id, to_id, amount_cents),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid
