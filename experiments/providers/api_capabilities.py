"""What the Anthropic Messages API accepts, per model.

One place for the real provider and the simulated one, which stands in for the same API (except
that the simulator also takes a forced tool choice on every model, so that its seeded judgements
do not depend on the judge's model family).

Forced tool choice (``tool_choice: {"type": "tool", ...}``) is rejected by Fable 5.1 and later
(``claude-fable-5-1``, ``claude-fable-5-2``, ...; Fable 5, ``claude-fable-5``, accepts it).
Structured outputs (a JSON-schema ``output_config.format``) are accepted by
the Claude 4.5 generation and later of every family (``claude-haiku-4-5``, ``claude-opus-4-6``,
``claude-sonnet-5-5``, ``claude-fable-5-2``, ...); an ID of another shape is taken not to.
"""

from __future__ import annotations

import re

from experiments.providers.base import Capabilities

# claude-fable-<major>[-<minor>][-<yyyymmdd snapshot>]; a bare major is minor 0.
_FABLE = re.compile(r"claude-fable-(\d+)(?:-(\d{1,2}))?(?:-\d{8})?")
FIRST_FABLE_WITHOUT_FORCED_TOOL_CHOICE = (5, 1)
# claude-<family>-<major>[-<minor>][-<yyyymmdd snapshot>]
_CLAUDE = re.compile(r"claude-[a-z]+-(\d+)(?:-(\d{1,2}))?(?:-\d{8})?")
FIRST_WITH_STRUCTURED_OUTPUTS = (4, 5)


def accepts_forced_tool_choice(model_id: str) -> bool:
    match = _FABLE.fullmatch(model_id)
    if match is None:
        return True
    version = (int(match.group(1)), int(match.group(2) or 0))
    return version < FIRST_FABLE_WITHOUT_FORCED_TOOL_CHOICE


def accepts_structured_outputs(model_id: str) -> bool:
    match = _CLAUDE.fullmatch(model_id)
    if match is None:
        return False
    version = (int(match.group(1)), int(match.group(2) or 0))
    return version >= FIRST_WITH_STRUCTURED_OUTPUTS


def messages_api_capabilities(model_id: str, *, streaming: bool, batches: bool) -> Capabilities:
    """The Messages API's capabilities for ``model_id``; how a provider reaches it decides
    ``streaming`` and ``batches``."""
    return Capabilities(
        streaming=streaming,
        tool_use=True,
        forced_tool_choice=accepts_forced_tool_choice(model_id),
        structured_output=accepts_structured_outputs(model_id),
        batches=batches,
    )
