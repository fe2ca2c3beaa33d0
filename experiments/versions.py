"""What a plan asks of the catalog: the version a reference names today, pinned by its id.

``registry.store.Registry`` answers it through SQLAlchemy; ``experiments.store.catalog`` answers
it on the run's plain connection, so that ``registry run`` resolves its variants without
importing the ORM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from variants.agentfile import AgentDefinition
    from variants.refs import Ref


class PinnedVersion(Protocol):
    @property
    def version_id(self) -> int: ...

    def definition(self, origin: str | None = None) -> AgentDefinition: ...


class Versions(Protocol):
    def resolve(self, ref: Ref) -> PinnedVersion:
        """The version ``ref`` names (a number, a label or the latest); ``NotFoundError``."""
        ...
