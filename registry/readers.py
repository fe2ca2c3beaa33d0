"""Read-only queries behind ``registry list`` and ``registry log``.

They run on a plain DB-API connection (``Database.connect``: the stdlib sqlite3 module, or
psycopg) instead of SQLAlchemy: importing SQLAlchemy alone costs about 0.4 s here, more than the
whole budget for a cold ``registry list``. A SQLite file that does not exist, or is empty, reads
as empty and is not created; a database behind the newest migration is migrated on open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.errors import NotFoundError
from registry.database import (
    Connection,
    Database,
    connect_read_only,
    database_exists,
    sqlite_path,
    sqlite_schema,
)


@dataclass(frozen=True)
class AgentSummary:
    name: str
    latest: int
    versions: int
    model: str | None
    labels: dict[str, int]  # label -> version number
    updated_at: datetime


@dataclass(frozen=True)
class LogVersion:
    number: int
    content_hash: str
    model: str | None
    parent: int | None  # the parent's version number (same agent)
    message: str | None
    author: str | None
    origin: str | None
    derived_by_spec: bool
    created_at: datetime
    labels: tuple[str, ...]


@dataclass(frozen=True)
class LogLabelMove:
    label: str
    from_number: int | None
    to_number: int | None  # None: deleted
    actor: str | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class AgentLog:
    name: str
    versions: list[LogVersion]  # newest first
    label_moves: list[LogLabelMove]  # newest first


@contextmanager
def _connect(url: str) -> Iterator[Connection | None]:
    """A connection to the registry; None for an empty SQLite file (nothing is created in it)."""
    path = sqlite_path(url)
    if path is not None and path.is_file() and _is_empty_sqlite(path):
        yield None
        return
    db = Database(url, read_only=True)
    try:
        with db.connect() as conn:
            yield conn
    finally:
        db.dispose()


def _is_empty_sqlite(path: Path) -> bool:
    try:
        with closing(connect_read_only(path)) as conn:
            return sqlite_schema(conn) == (None, [])
    except sqlite3.Error:
        return False  # not readable as SQLite: Database says why, in one line


def list_agents(url: str) -> list[AgentSummary]:
    if not database_exists(url):
        return []  # reading creates no database
    with _connect(url) as db:
        if db is None:
            return []
        rows = db.all(
            "SELECT a.name, v.number, v.model, v.created_at, c.n FROM agent a"
            " JOIN (SELECT agent_id, MAX(number) AS latest, COUNT(*) AS n FROM version"
            "       GROUP BY agent_id) c ON c.agent_id = a.id"
            " JOIN version v ON v.agent_id = a.id AND v.number = c.latest ORDER BY a.name"
        )
        labels: dict[str, dict[str, int]] = {}
        for name, label, number in db.all(
            "SELECT a.name, l.name, v.number FROM label l JOIN agent a ON a.id = l.agent_id"
            " JOIN version v ON v.id = l.version_id ORDER BY l.name"
        ):
            labels.setdefault(name, {})[label] = number
    return [
        AgentSummary(name, latest, n, model, labels.get(name, {}), Connection.utc(created))
        for name, latest, model, created, n in rows
    ]


def agent_log(url: str, name: str) -> AgentLog:
    missing = NotFoundError(f"no agent named {name!r}")
    if not database_exists(url):
        raise missing  # reading creates no database
    with _connect(url) as db:
        found = [] if db is None else db.all("SELECT id FROM agent WHERE name = ?", (name,))
        if db is None or not found:
            raise missing
        agent_id = found[0][0]
        labels: dict[int, list[str]] = {}
        for number, label in db.all(
            "SELECT v.number, l.name FROM label l JOIN version v ON v.id = l.version_id"
            " WHERE l.agent_id = ? ORDER BY l.name",
            (agent_id,),
        ):
            labels.setdefault(number, []).append(label)
        version_rows = db.all(
            "SELECT v.number, v.content_hash, v.model, p.number, v.message, v.author,"
            " v.origin, v.spec, v.created_at FROM version v"
            " LEFT JOIN version p ON p.id = v.parent_id"
            " WHERE v.agent_id = ? ORDER BY v.number DESC",
            (agent_id,),
        )
        versions = [
            LogVersion(
                number,
                content_hash,
                model,
                parent,
                message,
                author,
                origin,
                spec is not None,
                Connection.utc(created),
                tuple(labels.get(number, [])),
            )
            for (number, content_hash, model, parent, message, author, origin, spec, created) in (
                version_rows
            )
        ]
        moves = [
            LogLabelMove(label, from_n, to_n, actor, reason, Connection.utc(created))
            for label, from_n, to_n, actor, reason, created in db.all(
                "SELECT e.label, f.number, t.number, e.actor, e.reason, e.created_at"
                " FROM label_event e LEFT JOIN version f ON f.id = e.from_version_id"
                " LEFT JOIN version t ON t.id = e.to_version_id"
                " WHERE e.agent_id = ? ORDER BY e.id DESC",
                (agent_id,),
            )
        ]
    return AgentLog(name, versions, moves)
