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
    """Move `amount_cents` from one account to another; the id of the transfer."""
    if balance(conn, from_id) < amount_cents:
        raise InsufficientFunds(f"account {from_id} cannot pay {amount_cents}")
    conn.execute(
        "UPDATE accounts SET balance_cents = balance_cents - ? WHERE id = ?",
        (amount_cents, from_id),
    )
    conn.commit()
    conn.execute(
        "UPDATE accounts SET balance_cents = balance_cents + ? WHERE id = ?",
        (amount_cents, to_id),
    )
    cur = conn.execute(
        "INSERT INTO transfers (from_id, to_id, amount_cents) VALUES (?, ?, ?)",
        (from_id, to_id, amount_cents),
    )
    conn.commit()
    assert cur.lastrowid is not None
    return cur.lastrowid
