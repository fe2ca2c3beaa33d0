"""The catalog as a run reads it: the version each variant names, on the run's plain connection.

The same answers as ``registry.store.Registry.resolve`` (a number, a label, else the latest
version), without importing the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import NotFoundError
from experiments.store.connection import RunDatabase
from variants.agentfile import AgentDefinition
from variants.refs import Ref


@dataclass(frozen=True)
class StoredVersion:
    version_id: int
    ref: Ref  # NAME@N
    source: bytes

    def definition(self, origin: str | None = None) -> AgentDefinition:
        """The parsed version, named as stored (a file published with ``--name`` has no name)."""
        return AgentDefinition.parse(
            self.source, origin=origin or str(self.ref), name_override=self.ref.name
        )


class CatalogVersions:
    """``experiments.versions.Versions`` on a ``RunDatabase``."""

    def __init__(self, db: RunDatabase) -> None:
        self.db = db

    def resolve(self, ref: Ref) -> StoredVersion:
        with self.db.transaction() as sql:
            agents = sql.rows("SELECT id FROM agent WHERE name = ?", (ref.name,))
            if not agents:
                raise NotFoundError(f"no agent named {ref.name!r}")
            columns = "SELECT v.id, v.number, v.source FROM version v"
            if ref.number is not None:
                found = sql.rows(
                    f"{columns} WHERE v.agent_id = ? AND v.number = ?", (agents[0][0], ref.number)
                )
                missing = f"{ref.name} has no version {ref.number}"
            elif ref.label is not None:
                found = sql.rows(
                    f"{columns} JOIN label l ON l.version_id = v.id"
                    " WHERE l.agent_id = ? AND l.name = ?",
                    (agents[0][0], ref.label),
                )
                missing = f"{ref.name} has no label {ref.label!r}"
            else:
                found = sql.rows(
                    f"{columns} WHERE v.agent_id = ? ORDER BY v.number DESC LIMIT 1",
                    (agents[0][0],),
                )
                missing = f"{ref.name} has no versions"
        if not found:
            raise NotFoundError(missing)
        version_id, number, source = found[0]
        return StoredVersion(version_id, Ref(ref.name, number=number), bytes(source))
