"""The registry database as a run reads and writes it: plain SQL on a DB-API connection.

Importing SQLAlchemy and SQLModel costs more CPU than a whole run's own overhead may, so the hot
path of ``registry run`` does without them. A SQLite file at the newest schema is opened with the
stdlib ``sqlite3`` module and the settings of ``registry.database`` (WAL, foreign keys, the busy
timeout, ``BEGIN IMMEDIATE`` for a writing transaction); any other database (PostgreSQL, a new
file, one behind the newest migration) is opened through ``Database``, which migrates, and the
same SQL runs on its driver connection. JSON and times are stored exactly as SQLAlchemy stores
them, so the ORM's reads (reports, the dashboard) see the same rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import Any

from registry.database import (
    LOCK_WAIT_S,
    SCHEMA_HEAD,
    Database,
    connect_read_only,
    database_url,
    sqlite_path,
    sqlite_schema,
)

# How SQLAlchemy's SQLite dialect writes a DATETIME (UTC, no offset).
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class Sql:
    """``?``-style statements in one transaction, on sqlite3 or the server's driver."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._cursor = cursor
        self._sqlite = dialect == "sqlite"

    def _sql(self, sql: str) -> str:
        return sql if self._sqlite else sql.replace("?", "%s")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), tuple(params))
        return list(self._cursor.fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute; the number of rows changed."""
        self._cursor.execute(self._sql(sql), tuple(params))
        return int(self._cursor.rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self._sql(sql), [tuple(r) for r in rows])

    def insert(self, table: str, values: dict[str, Any]) -> int:
        """Insert one row; its id."""
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        found = self.rows(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id", list(values.values())
        )
        return int(found[0][0])

    def insert_many(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows that all have the columns of the first."""
        if not rows:
            return
        columns = list(rows[0])
        marks = ", ".join("?" for _ in columns)
        self.many(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [[row[c] for c in columns] for row in rows],
        )

    def json(self, value: Any) -> Any:
        """A JSON column's parameter (None stays SQL NULL)."""
        if value is None:
            return None
        if self._sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)

    def from_json(self, value: Any) -> Any:
        """A JSON column's value as read (the server's driver parses it already)."""
        return json.loads(value) if isinstance(value, str) and self._sqlite else value

    def time(self, value: datetime) -> Any:
        """A UTC time column's parameter."""
        if self._sqlite:
            return value.astimezone(UTC).strftime(SQLITE_TIME_FORMAT)
        return value.astimezone(UTC)


class RunDatabase:
    """One registry database for one run: a connection opened on first use, one transaction at a
    time (the writer's thread, the heartbeat's and the event loop's take turns).

    Made from a URL (what ``--db`` gives) or an open ``Database``; ``database`` is the
    SQLAlchemy-backed one, made only when something asks for it (a sequential look, the pairwise
    judge, the response cache).
    """

    def __init__(self, db: str | Database | None = None) -> None:
        self._database = db if isinstance(db, Database) else None
        self.url = db.url if isinstance(db, Database) else database_url(db)
        self._lock = threading.Lock()
        self._conn: Any = None
        self._raw: Any = None  # the pooled connection behind ``_conn`` on a server
        self.dialect = "sqlite"

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.url)
        return self._database

    def _connection(self) -> Any:
        if self._conn is not None:
            return self._conn
        path = sqlite_path(self.url)
        if path is not None and not _at_head(path):
            self.database  # noqa: B018  (creates or migrates the file)
        if path is not None and _at_head(path):
            conn = sqlite3.connect(
                path, timeout=LOCK_WAIT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={LOCK_WAIT_S * 1000}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
            return conn
        self._raw = self.database.engine.raw_connection()
        self.dialect = self.database.dialect
        self._conn = self._raw.driver_connection
        return self._conn

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Sql]:
        """One transaction, committed when the block ends; ``write=True`` on SQLite takes the
        write lock up front, as ``Database.session(write=True)`` does."""
        with self._lock:
            conn = self._connection()
            cursor = conn.cursor()
            if self.dialect == "sqlite":
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Sql(cursor, self.dialect)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                self._raw.close()
            elif self._conn is not None:
                self._conn.close()
            self._conn = self._raw = None


def run_database(db: RunDatabase | Database) -> RunDatabase:
    return db if isinstance(db, RunDatabase) else RunDatabase(db)


def _at_head(path: Any) -> bool:
    """Whether the SQLite file exists at the newest schema (read without writing to it)."""
    if not path.is_file():
        return False
    try:
        with closing(connect_read_only(path)) as conn:
            revision, _ = sqlite_schema(conn)
    except sqlite3.Error:
        return False  # Database says why, in one line
    return revision == SCHEMA_HEAD
