"""SQLModel tables of the catalog: agents, their immutable versions, labels and label history.

A version row is never updated after insert: its ``source`` is the exact bytes published and
``content_hash`` their SHA-256, unique per agent, so publishing identical content twice finds the
existing row instead of creating another. The catalog store (``store.py``) runs its SQL on these
tables without SQLAlchemy; these models are the schema the migrations and the experiment tables'
foreign keys are written against.
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.database import utcnow


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Agent(SQLModel, table=True):
    __tablename__ = "agent"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = created_at_field()


class Version(SQLModel, table=True):
    __tablename__ = "version"
    __table_args__ = (
        sa.UniqueConstraint("agent_id", "number", name="uq_version_agent_number"),
        sa.UniqueConstraint("agent_id", "content_hash", name="uq_version_agent_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    number: int
    content_hash: str = Field(max_length=64)
    source: bytes = Field(sa_type=sa.LargeBinary)
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    model: str | None = None
    parent_id: int | None = Field(default=None, foreign_key="version.id")
    message: str | None = None
    author: str | None = None
    origin: str | None = None  # the path or spec it was published from
    spec: str | None = None  # the variant spec text that derived it, if any
    created_at: datetime = created_at_field()


class Label(SQLModel, table=True):
    __tablename__ = "label"
    __table_args__ = (sa.UniqueConstraint("agent_id", "name", name="uq_label_agent_name"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    name: str = Field(max_length=64)
    version_id: int = Field(foreign_key="version.id")
    updated_at: datetime = created_at_field()


class LabelEvent(SQLModel, table=True):
    __tablename__ = "label_event"

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", index=True)
    label: str = Field(max_length=64)
    from_version_id: int | None = Field(default=None, foreign_key="version.id")
    to_version_id: int | None = Field(default=None, foreign_key="version.id")  # None: deleted
    actor: str | None = None
    reason: str | None = None
    created_at: datetime = created_at_field()
