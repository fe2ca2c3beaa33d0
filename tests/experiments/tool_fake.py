"""Judge tests over the loopback fake (``tests.fake_anthropic``, which serves tool-use replies,
streamed or not, and JSON answers to a structured-outputs format): a judge environment whose
providers talk to it, and the judge requests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from experiments.graders.environment import JudgeEnvironment
from experiments.providers.anthropic import AnthropicProvider
from experiments.providers.base import Capabilities, Provider
from experiments.providers.registry import get_provider
from tests.fake_anthropic import DEFAULT_KEY, FakeAnthropic


def fake_env(
    fake: FakeAnthropic, *, default_provider: str = "anthropic", seed: int = 0
) -> JudgeEnvironment:
    """A judge environment whose anthropic provider talks to ``fake``; retries do not wait."""

    async def no_sleep(_: float) -> None:
        return None

    def provider(name: str) -> Provider:
        if name == "anthropic":
            return get_provider(name, api_key=DEFAULT_KEY, base_url=fake.base_url)
        return get_provider(name)

    return JudgeEnvironment(
        default_provider, seed=seed, max_attempts=3, sleep=no_sleep, provider_factory=provider
    )


def judge_bodies(fake: FakeAnthropic) -> list[dict[str, Any]]:
    """The bodies of the judge requests (those that ask for a tool call or a JSON format) the
    fake received."""
    return [
        r.body
        for r in fake.requests
        if r.path == "/v1/messages" and ("tools" in r.body or "output_config" in r.body)
    ]


class AskedAs(AnthropicProvider):
    """The real provider, claiming other capabilities: how a judge asks follows from these."""

    def __init__(self, **claims: bool) -> None:
        self.claims = claims

    def connect(self, fake: FakeAnthropic) -> AskedAs:
        super().__init__(api_key=DEFAULT_KEY, base_url=fake.base_url)
        return self

    def capabilities(self, model: str) -> Capabilities:
        return replace(super().capabilities(model), **self.claims)
