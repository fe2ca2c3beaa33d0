"""Retrying provider calls: exponential backoff with jitter, or exactly what the server asked.

Providers make one attempt each (the SDK's own retries are off), so the retry count recorded on a
trial is the number of extra attempts made here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from experiments.providers.base import ProviderError

T = TypeVar("T")

# A server asking for longer than this is treated as asking for this long: a run should not stall
# for an hour on one cell because of a malformed header.
MAX_RETRY_AFTER_S = 120.0
# Jitter takes up to this fraction off a computed backoff so that concurrent callers spread out.
JITTER = 0.25


def backoff_delay(
    retry: int, *, base: float, cap: float, rng: Callable[[], float], retry_after: float | None
) -> float:
    """Seconds to wait before retry number ``retry`` (0-based)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
    return min(cap, base * 2**retry) * (1.0 - JITTER * rng())


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    *,
    max_attempts: int = 6,
    base: float = 0.5,
    cap: float = 30.0,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> tuple[T, int]:
    """Await ``fn()`` until it succeeds; return ``(result, retries used)``.

    A retryable ``ProviderError`` is retried up to ``max_attempts`` attempts in all, waiting
    ``error.retry_after`` when the server gave one, else ``min(cap, base * 2**n)`` less up to 25%
    jitter. Any other ``ProviderError`` (``FatalProviderError``) is raised at once. The error
    finally raised carries the number of retries made in ``error.retries``.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    retry = 0
    while True:
        try:
            return await fn(), retry
        except ProviderError as err:
            if not err.retryable or retry + 1 >= max_attempts:
                err.retries = retry
                raise
            delay = backoff_delay(retry, base=base, cap=cap, rng=rng, retry_after=err.retry_after)
            retry += 1
        await sleep(delay)
