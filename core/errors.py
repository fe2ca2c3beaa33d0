"""One hierarchy for every error a user can cause or meet.

The CLI turns any ``AgentRegistryError`` into a single line on stderr and a non-zero exit.
Anything else is a bug: the CLI still prints one line (``unexpected TypeName: message``) and exits
1, and shows the traceback only when ``REGISTRY_DEBUG=1`` is set.
"""


class AgentRegistryError(Exception):
    """Base of all domain errors. ``str(err)`` is the one line shown to the user."""

    exit_code = 1


class AgentFileError(AgentRegistryError):
    """An agent markdown file that cannot be read as a Claude Code agent definition."""


class SpecError(AgentRegistryError):
    """A variant spec, experiment spec or task suite that is invalid; names the field."""


class NotFoundError(AgentRegistryError):
    """A reference, agent, label or experiment that does not exist."""


class ConflictError(AgentRegistryError):
    """An operation that contradicts what is stored (for example a clashing version)."""
