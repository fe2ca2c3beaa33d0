"""Provider names as a spec writes them (``provider: simulated``) -> provider instances.

Each provider module is imported only when asked for: the real one pulls in the SDK.
"""

from __future__ import annotations

from typing import Any

from core.errors import SpecError
from experiments.providers.base import PROVIDER_NAMES, Provider


def get_provider(name: str, **opts: Any) -> Provider:
    """A new provider; ``opts`` go to its constructor (``api_key``, ``base_url``, ``profiles``).

    ``anthropic`` raises ``FatalProviderError`` here, before any request, when no key is set.
    """
    if name == "anthropic":
        from experiments.providers.anthropic import AnthropicProvider

        return AnthropicProvider(**opts)
    if name == "simulated":
        from experiments.providers.simulated import SimulatedProvider

        return SimulatedProvider(**opts)
    raise SpecError(f"unknown provider {name!r}: use one of {', '.join(PROVIDER_NAMES)}")
