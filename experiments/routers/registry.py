"""Routers by name: what a delegation spec's ``router:`` accepts."""

from __future__ import annotations

from core.errors import SpecError
from experiments.routers.base import ROUTER_NAMES, Router, RouterOptions


def make_router(name: str, options: RouterOptions) -> Router:
    """The router ``name``; ``SpecError`` when it cannot run here (say what to install)."""
    if name == "simulated":
        from experiments.routers.simulated import SimulatedRouter

        return SimulatedRouter(options)
    if name == "messages":
        from experiments.routers.messages import MessagesRouter

        return MessagesRouter(options)
    if name == "claude-code":
        from experiments.routers.claude_code import ClaudeCodeRouter

        return ClaudeCodeRouter(options)
    raise SpecError(f"unknown router {name!r}; one of {', '.join(ROUTER_NAMES)}")
