"""The catalog's operations: publish versions, resolve references, move labels, read history.

The SQL runs on a DB-API connection (``Database.connect``), the same on SQLite and PostgreSQL, so
a catalog command never imports SQLAlchemy (about 0.4 s of a cold process here).

Every write is one transaction. Version numbers come from ``max(number) + 1`` under a lock
(SQLite: BEGIN IMMEDIATE, see database.py; PostgreSQL: the agent row FOR UPDATE), and the unique
constraints on (agent, number) and (agent, content hash) turn any race that slips through into
an IntegrityError that is retried, so concurrent publishers never share or lose a number.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from core.errors import ConflictError, NotFoundError
from registry.database import Connection, utcnow
from variants.refs import Ref, check_label, parse_ref

if TYPE_CHECKING:
    from registry.database import Database
    from variants.agentfile import AgentDefinition
    from variants.spec import Derived, VariantSpec

_PUBLISH_ATTEMPTS = 20


def current_author() -> str:
    author = os.environ.get("REGISTRY_AUTHOR")
    if author:
        return author
    try:
        return getpass.getuser()
    except Exception:  # KeyError or OSError: a container user with no passwd entry, no $USER
        return "unknown"


@dataclass(frozen=True)
class PublishResult:
    name: str
    number: int
    created: bool  # False: identical content was already stored as this version
    label: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.number}"


@dataclass(frozen=True)
class VersionInfo:
    name: str
    number: int
    content_hash: str
    model: str | None
    parent: str | None  # NAME@N of the version it was derived from
    message: str | None
    author: str | None
    origin: str | None
    spec: str | None
    created_at: datetime
    labels: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.number}"


@dataclass(frozen=True)
class PublishedVariant:
    """One variant of a spec, derived from its base and published (or found unchanged)."""

    derived: Derived
    result: PublishResult


@dataclass(frozen=True)
class ExactVersion:
    """One stored version by its id: its ``NAME@N`` and its exact bytes."""

    version_id: int
    ref: Ref
    source: bytes

    def definition(self, origin: str | None = None) -> AgentDefinition:
        """The parsed version, named as stored (a file published with ``--name`` has no name)."""
        from variants.agentfile import AgentDefinition

        return AgentDefinition.parse(
            self.source, origin=origin or str(self.ref), name_override=self.ref.name
        )


@dataclass(frozen=True)
class LabelMove:
    name: str
    label: str
    from_number: int | None
    to_number: int | None  # None: the label was deleted
    actor: str | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class _Stored:
    """A version row as the store reads it (every column but ``fields``)."""

    id: int
    agent_id: int
    number: int
    content_hash: str
    source: bytes
    model: str | None
    parent_id: int | None
    message: str | None
    author: str | None
    origin: str | None
    spec: str | None
    created_at: datetime


_VERSION_COLUMNS = (
    "id, agent_id, number, content_hash, source, model, parent_id, message, author, origin,"
    " spec, created_at"
)


def _stored(conn: Connection, row: tuple[Any, ...] | None) -> _Stored | None:
    if row is None:
        return None
    id_, agent_id, number, content_hash, source, *texts, created_at = row
    model, parent_id, message, author, origin, spec = texts
    return _Stored(
        id_,
        agent_id,
        number,
        content_hash,
        bytes(source),  # psycopg reads bytea as bytes or memoryview
        model,
        parent_id,
        message,
        author,
        origin,
        spec,
        conn.utc(created_at),
    )


class Registry:
    def __init__(self, db: Database):
        self.db = db

    # -- writing ---------------------------------------------------------------------------

    def publish(
        self,
        definition: AgentDefinition,
        *,
        name: str | None = None,
        message: str | None = None,
        origin: str | None = None,
        label: str | None = None,
        parent: Ref | None = None,
        spec: str | None = None,
        reason: str | None = None,
    ) -> PublishResult:
        """Store ``definition`` as the next version of its agent, unless its bytes are stored."""
        agent_name = name or definition.name
        if label is not None:
            check_label(label)
        last_error: Exception | None = None
        for _ in range(_PUBLISH_ATTEMPTS):
            try:
                with self.db.connect(write=True) as conn:
                    result = self._publish_once(
                        conn, definition, agent_name, message, origin, parent, spec
                    )
                    if label is not None:
                        version = self._version(conn, Ref(agent_name, number=result.number))
                        self._move_label(conn, agent_name, version, label, reason or message)
                        result = PublishResult(result.name, result.number, result.created, label)
                    return result
            except self.db.integrity_error as err:  # a concurrent publisher won the race: retry
                last_error = err
        raise ConflictError(f"could not publish {agent_name}: {last_error}")

    def publish_derived(
        self, spec: VariantSpec, *, message: str | None = None, derived: list[Derived] | None = None
    ) -> list[PublishedVariant]:
        """Publish every variant as a version of the base's agent, its label pointing at it.

        ``derived`` is the result of an earlier ``spec.derive(registry.resolve)`` (so that callers
        can check several specs before writing any); without it the variants are derived here.
        Each version records the spec that derived it and its base as parent.
        """
        published: list[PublishedVariant] = []
        for item in derived if derived is not None else spec.derive(self.resolve):
            levels = item.variant.levels
            how = f" ({', '.join(f'{k}={v}' for k, v in levels.items())})" if levels else ""
            result = self.publish(
                item.definition,
                name=item.base.name,
                message=message or spec.message,
                origin=spec.origin,
                label=item.variant.label,
                parent=item.base,
                spec=item.variant.spec_text,
                reason=f"derived by {spec.origin}{how}",
            )
            published.append(PublishedVariant(item, result))
        return published

    def _publish_once(
        self,
        conn: Connection,
        definition: AgentDefinition,
        agent_name: str,
        message: str | None,
        origin: str | None,
        parent: Ref | None,
        spec: str | None,
    ) -> PublishResult:
        agent_id = self._agent(conn, agent_name, lock=True, create=True)
        existing = conn.one(
            "SELECT number FROM version WHERE agent_id = ? AND content_hash = ?",
            (agent_id, definition.content_hash),
        )
        if existing is not None:
            return PublishResult(agent_name, existing[0], created=False)
        # The newest version: the next number follows it, and it is the parent unless one is given.
        last = conn.one(
            "SELECT id, number FROM version WHERE agent_id = ? ORDER BY number DESC LIMIT 1",
            (agent_id,),
        )
        parent_id = self._version(conn, parent).id if parent is not None else last and last[0]
        number = (last[1] if last else 0) + 1
        conn.execute(
            "INSERT INTO version (agent_id, number, content_hash, source, fields, model,"
            " parent_id, message, author, origin, spec, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                agent_id,
                number,
                definition.content_hash,
                definition.source,
                json.dumps(jsonable(definition.fields)),
                definition.model,
                parent_id,
                message,
                current_author(),
                origin,
                spec,
                conn.timestamp(utcnow()),
            ),
        )
        return PublishResult(agent_name, number, created=True)

    def set_label(self, ref: str | Ref, label: str, *, reason: str | None = None) -> LabelMove:
        check_label(label)
        with self.db.connect(write=True) as conn:
            ref = parse_ref(ref) if isinstance(ref, str) else ref
            version = self._version(conn, ref)
            return self._move_label(conn, ref.name, version, label, reason)

    def delete_label(self, name: str, label: str, *, reason: str | None = None) -> LabelMove:
        with self.db.connect(write=True) as conn:
            agent_id = self._agent(conn, name)
            row = conn.one(
                "SELECT l.id, v.id, v.number FROM label l JOIN version v ON v.id = l.version_id"
                " WHERE l.agent_id = ? AND l.name = ?",
                (agent_id, label),
            )
            if row is None:
                raise NotFoundError(f"{name} has no label {label!r}")
            label_id, from_id, from_number = row
            conn.execute("DELETE FROM label WHERE id = ?", (label_id,))
            return self._record_move(
                conn, agent_id, name, label, (from_id, from_number), None, reason
            )

    def _move_label(
        self, conn: Connection, name: str, version: _Stored, label: str, reason: str | None
    ) -> LabelMove:
        row = conn.one(
            "SELECT l.id, v.id, v.number, l.updated_at FROM label l"
            " JOIN version v ON v.id = l.version_id WHERE l.agent_id = ? AND l.name = ?",
            (version.agent_id, label),
        )
        now = conn.timestamp(utcnow())
        if row is None:
            conn.execute(
                "INSERT INTO label (agent_id, name, version_id, updated_at) VALUES (?, ?, ?, ?)",
                (version.agent_id, label, version.id, now),
            )
            previous = None
        elif row[1] == version.id:  # already there: nothing moves, nothing recorded
            return LabelMove(
                name, label, version.number, version.number, None, None, conn.utc(row[3])
            )
        else:
            conn.execute(
                "UPDATE label SET version_id = ?, updated_at = ? WHERE id = ?",
                (version.id, now, row[0]),
            )
            previous = (row[1], row[2])
        return self._record_move(
            conn, version.agent_id, name, label, previous, (version.id, version.number), reason
        )

    def _record_move(
        self,
        conn: Connection,
        agent_id: int,
        name: str,
        label: str,
        from_version: tuple[int, int] | None,
        to_version: tuple[int, int] | None,
        reason: str | None,
    ) -> LabelMove:
        """Add the label event: ``from_version`` and ``to_version`` are (id, number), or None."""
        actor, created_at = current_author(), utcnow()
        conn.execute(
            "INSERT INTO label_event (agent_id, label, from_version_id, to_version_id, actor,"
            " reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                agent_id,
                label,
                from_version[0] if from_version else None,
                to_version[0] if to_version else None,
                actor,
                reason,
                conn.timestamp(created_at),
            ),
        )
        return LabelMove(
            name,
            label,
            from_version[1] if from_version else None,
            to_version[1] if to_version else None,
            actor,
            reason,
            created_at,
        )

    # -- reading ---------------------------------------------------------------------------

    def exact(self, version_id: int) -> ExactVersion:
        """The version with this id (as an experiment pinned it), whatever labels say today."""
        with self.db.connect() as conn:
            row = conn.one(
                "SELECT v.id, a.name, v.number, v.source FROM version v"
                " JOIN agent a ON a.id = v.agent_id WHERE v.id = ?",
                (version_id,),
            )
        if row is None:
            raise NotFoundError(f"no version with id {version_id}")
        return ExactVersion(row[0], Ref(row[1], number=row[2]), bytes(row[3]))

    def resolve(self, ref: str | Ref) -> ExactVersion:
        """The version ``ref`` names today (a label, a number or the latest), pinned."""
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        with self.db.connect() as conn:
            version = self._version(conn, ref)
        return ExactVersion(version.id, Ref(ref.name, number=version.number), version.source)

    def source(self, ref: str | Ref) -> bytes:
        with self.db.connect() as conn:
            return self._version(conn, ref).source

    def info(self, ref: str | Ref) -> VersionInfo:
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        with self.db.connect() as conn:
            version = self._version(conn, ref)
            parent = (
                conn.one("SELECT number FROM version WHERE id = ?", (version.parent_id,))
                if version.parent_id is not None
                else None
            )
            labels = conn.all("SELECT name FROM label WHERE version_id = ?", (version.id,))
        return VersionInfo(
            name=ref.name,
            number=version.number,
            content_hash=version.content_hash,
            model=version.model,
            parent=f"{ref.name}@{parent[0]}" if parent else None,
            message=version.message,
            author=version.author,
            origin=version.origin,
            spec=version.spec,
            created_at=version.created_at,
            labels=tuple(sorted(label for (label,) in labels)),
        )

    def _agent(
        self, conn: Connection, name: str, *, lock: bool = False, create: bool = False
    ) -> int:
        """The agent's id; ``lock``: hold its row until the transaction ends (PostgreSQL)."""
        for_update = " FOR UPDATE" if lock and conn.dialect != "sqlite" else ""
        row = conn.one(f"SELECT id FROM agent WHERE name = ?{for_update}", (name,))
        if row is not None:
            return int(row[0])
        if not create:
            raise NotFoundError(f"no agent named {name!r}")
        created = conn.one(
            "INSERT INTO agent (name, created_at) VALUES (?, ?) RETURNING id",
            (name, conn.timestamp(utcnow())),
        )
        assert created is not None
        return int(created[0])

    def _version(self, conn: Connection, ref: str | Ref) -> _Stored:
        ref = parse_ref(ref) if isinstance(ref, str) else ref
        agent_id = self._agent(conn, ref.name)
        select = f"SELECT {_VERSION_COLUMNS} FROM version"
        if ref.number is not None:
            version = _stored(
                conn,
                conn.one(f"{select} WHERE agent_id = ? AND number = ?", (agent_id, ref.number)),
            )
            if version is None:
                raise NotFoundError(f"{ref.name} has no version {ref.number}")
            return version
        if ref.label is not None:
            version = _stored(
                conn,
                conn.one(
                    f"{select} WHERE id = (SELECT version_id FROM label"
                    " WHERE agent_id = ? AND name = ?)",
                    (agent_id, ref.label),
                ),
            )
            if version is None:
                raise NotFoundError(f"{ref.name} has no label {ref.label!r}")
            return version
        version = _stored(
            conn,
            conn.one(f"{select} WHERE agent_id = ? ORDER BY number DESC LIMIT 1", (agent_id,)),
        )
        if version is None:
            raise NotFoundError(f"{ref.name} has no versions")
        return version


@overload
def jsonable(value: dict[str, Any]) -> dict[str, Any]: ...
@overload
def jsonable(value: object) -> object: ...
def jsonable(value: object) -> object:
    """Frontmatter values as JSON can hold them (YAML may give dates or sets)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
