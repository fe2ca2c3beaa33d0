"""The catalog's operations: publish versions, resolve references, move labels, read history.

Every write is one transaction. Version numbers come from ``max(number) + 1`` under a lock
(SQLite: BEGIN IMMEDIATE, see database.py; PostgreSQL: the agent row FOR UPDATE), and the unique
constraints on (agent, number) and (agent, content hash) turn any race that slips through into
an IntegrityError that is retried, so concurrent publishers never share or lose a number.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from core.errors import ConflictError, NotFoundError
from registry.models import Agent, Label, LabelEvent, Version, utcnow
from variants.refs import Ref, check_label, parse_ref

if TYPE_CHECKING:
    from sqlmodel import Session

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
        from sqlalchemy.exc import IntegrityError

        agent_name = name or definition.name
        if label is not None:
            check_label(label)
        last_error: Exception | None = None
        for _ in range(_PUBLISH_ATTEMPTS):
            try:
                with self.db.session(write=True) as session:
                    result = self._publish_once(
                        session, definition, agent_name, message, origin, parent, spec
                    )
                    if label is not None:
                        version = self._version(session, Ref(agent_name, number=result.number))
                        self._move_label(session, version, label, reason or message)
                        result = PublishResult(result.name, result.number, result.created, label)
                    session.commit()
                    return result
            except IntegrityError as err:  # a concurrent publisher won the race: try again
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
        session: Session,
        definition: AgentDefinition,
        agent_name: str,
        message: str | None,
        origin: str | None,
        parent: Ref | None,
        spec: str | None,
    ) -> PublishResult:
        from sqlmodel import col, select

        agent = self._agent(session, agent_name, lock=True, create=True)
        existing = session.exec(
            select(Version.number).where(
                Version.agent_id == agent.id, Version.content_hash == definition.content_hash
            )
        ).first()
        if existing is not None:
            return PublishResult(agent_name, existing, created=False)
        # The newest version: the next number follows it, and it is the parent unless one is given.
        last = session.exec(
            select(Version.id, Version.number)
            .where(Version.agent_id == agent.id)
            .order_by(col(Version.number).desc())
            .limit(1)
        ).first()
        parent_id = self._version(session, parent).id if parent is not None else last and last[0]
        number = (last[1] if last else 0) + 1
        version = Version(
            agent_id=_stored_id(agent),
            number=number,
            content_hash=definition.content_hash,
            source=definition.source,
            fields=jsonable(definition.fields),
            model=definition.model,
            parent_id=parent_id,
            message=message,
            author=current_author(),
            origin=origin,
            spec=spec,
        )
        session.add(version)
        session.flush()
        return PublishResult(agent_name, number, created=True)

    def set_label(self, ref: str | Ref, label: str, *, reason: str | None = None) -> LabelMove:
        check_label(label)
        with self.db.session(write=True) as session:
            version = self._version(session, ref)
            move = self._move_label(session, version, label, reason)
            session.commit()
            return move

    def delete_label(self, name: str, label: str, *, reason: str | None = None) -> LabelMove:
        from sqlmodel import select

        with self.db.session(write=True) as session:
            agent = self._agent(session, name)
            row = session.exec(
                select(Label).where(Label.agent_id == agent.id, Label.name == label)
            ).first()
            if row is None:
                raise NotFoundError(f"{name} has no label {label!r}")
            from_version = session.get(Version, row.version_id)
            event = LabelEvent(
                agent_id=_stored_id(agent),
                label=label,
                from_version_id=row.version_id,
                to_version_id=None,
                actor=current_author(),
                reason=reason,
            )
            session.delete(row)
            session.add(event)
            session.commit()
            return LabelMove(
                name,
                label,
                from_version.number if from_version else None,
                None,
                event.actor,
                reason,
                event.created_at,
            )

    def _move_label(
        self, session: Session, version: Version, label: str, reason: str | None
    ) -> LabelMove:
        from sqlmodel import select

        agent = session.get(Agent, version.agent_id)
        assert agent is not None
        row = session.exec(
            select(Label).where(Label.agent_id == agent.id, Label.name == label)
        ).first()
        previous = session.get(Version, row.version_id) if row is not None else None
        if row is None:
            row = Label(agent_id=_stored_id(agent), name=label, version_id=_stored_id(version))
        elif row.version_id == version.id:  # already there: nothing moves, nothing recorded
            return LabelMove(
                agent.name, label, version.number, version.number, None, None, row.updated_at
            )
        else:
            row.version_id = _stored_id(version)
            row.updated_at = utcnow()
        event = LabelEvent(
            agent_id=_stored_id(agent),
            label=label,
            from_version_id=previous.id if previous else None,
            to_version_id=version.id,
            actor=current_author(),
            reason=reason,
        )
        session.add(row)
        session.add(event)
        session.flush()
        return LabelMove(
            agent.name,
            label,
            previous.number if previous else None,
            version.number,
            event.actor,
            reason,
            event.created_at,
        )

    # -- reading ---------------------------------------------------------------------------

    def version(self, ref: str | Ref) -> Version:
        """The stored version row (immutable) that ``ref`` names."""
        with self.db.session() as session:
            return self._version(session, ref)

    def exact(self, version_id: int) -> ExactVersion:
        """The version with this id (as an experiment pinned it), whatever labels say today."""
        with self.db.session() as session:
            version = session.get(Version, version_id)
            if version is None:
                raise NotFoundError(f"no version with id {version_id}")
            return self._exact(session, version)

    def resolve(self, ref: str | Ref) -> ExactVersion:
        """The version ``ref`` names today (a label, a number or the latest), pinned."""
        with self.db.session() as session:
            return self._exact(session, self._version(session, ref))

    def source(self, ref: str | Ref) -> bytes:
        with self.db.session() as session:
            return self._version(session, ref).source

    def info(self, ref: str | Ref) -> VersionInfo:
        with self.db.session() as session:
            version = self._version(session, ref)
            return self._info(session, version)

    def _agent(
        self, session: Session, name: str, *, lock: bool = False, create: bool = False
    ) -> Agent:
        from sqlmodel import select

        query = select(Agent).where(Agent.name == name)
        if lock:
            query = query.with_for_update()
        agent = session.exec(query).first()
        if agent is None:
            if not create:
                raise NotFoundError(f"no agent named {name!r}")
            agent = Agent(name=name)
            session.add(agent)
            session.flush()
        return agent

    def _version(self, session: Session, ref: str | Ref) -> Version:
        from sqlmodel import col, select

        ref = parse_ref(ref) if isinstance(ref, str) else ref
        agent = self._agent(session, ref.name)
        query = select(Version).where(Version.agent_id == agent.id)
        if ref.number is not None:
            version = session.exec(query.where(Version.number == ref.number)).first()
            if version is None:
                raise NotFoundError(f"{ref.name} has no version {ref.number}")
            return version
        if ref.label is not None:
            label = session.exec(
                select(Label).where(Label.agent_id == agent.id, Label.name == ref.label)
            ).first()
            if label is None:
                raise NotFoundError(f"{ref.name} has no label {ref.label!r}")
            version = session.get(Version, label.version_id)
            assert version is not None
            return version
        version = session.exec(query.order_by(col(Version.number).desc())).first()
        if version is None:
            raise NotFoundError(f"{ref.name} has no versions")
        return version

    def _exact(self, session: Session, version: Version) -> ExactVersion:
        agent = session.get(Agent, version.agent_id)
        assert agent is not None  # a foreign key: every version has its agent
        return ExactVersion(
            _stored_id(version), Ref(agent.name, number=version.number), version.source
        )

    def _info(self, session: Session, version: Version) -> VersionInfo:
        from sqlmodel import select

        agent = session.get(Agent, version.agent_id)
        assert agent is not None
        parent = session.get(Version, version.parent_id) if version.parent_id else None
        labels = session.exec(select(Label.name).where(Label.version_id == version.id)).all()
        return VersionInfo(
            name=agent.name,
            number=version.number,
            content_hash=version.content_hash,
            model=version.model,
            parent=f"{agent.name}@{parent.number}" if parent else None,
            message=version.message,
            author=version.author,
            origin=version.origin,
            spec=version.spec,
            created_at=version.created_at,
            labels=tuple(sorted(labels)),
        )


def _stored_id(row: Agent | Version) -> int:
    """The primary key of a row in the database (loaded, or added and flushed): never None."""
    assert row.id is not None
    return row.id


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
