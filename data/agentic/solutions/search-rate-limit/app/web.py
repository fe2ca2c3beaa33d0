"""The WSGI application."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from app.catalog import DEFAULT, Product, search

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}


def respond(
    start_response: StartResponse,
    status: int,
    payload: object,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        f"{status} {REASONS[status]}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *(headers or []),
        ],
    )
    return [body]


class TokenBucket:
    """Per-client token buckets: `capacity` requests at once, refilled at `rate` per second.

    The refill is continuous (no fixed windows) and a refused request takes no token.
    """

    def __init__(self, rate: float, capacity: int, clock: Callable[[], float]) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, as of)
        self._lock = threading.Lock()

    def take(self, client: str) -> tuple[bool, int, int]:
        """(allowed, whole tokens left, whole seconds until a token when refused)."""
        with self._lock:
            now = self.clock()
            tokens, since = self._buckets.get(client, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + max(0.0, now - since) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            if allowed:
                return True, math.floor(tokens), 0
            # 1e-9: a float error must not turn an exact 1 s into 2 s.
            return False, 0, max(1, math.ceil((1.0 - tokens) / self.rate - 1e-9))


def client_id(environ: Environ) -> str:
    """The partner's API key, or the caller's IP for anonymous requests."""
    key = environ.get("HTTP_X_API_KEY")
    return f"key:{key}" if key else f"ip:{environ.get('REMOTE_ADDR', '')}"


def make_app(
    catalog: tuple[Product, ...] = DEFAULT,
    clock: Callable[[], float] = time.monotonic,
    *,
    rate: float = 1.0,
    capacity: int = 10,
) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    """The WSGI app. Every route but /health is rate limited per API key (or IP)."""
    limiter = TokenBucket(rate, capacity, clock)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/health":
            return respond(start_response, 200, {"status": "ok"})
        allowed, remaining, wait = limiter.take(client_id(environ))
        limits = [
            ("X-RateLimit-Limit", str(capacity)),
            ("X-RateLimit-Remaining", str(remaining)),
        ]
        if not allowed:
            return respond(
                start_response,
                429,
                {"error": {"code": "rate_limited", "message": f"retry in {wait} s"}},
                [*limits, ("Retry-After", str(wait))],
            )
        if path != "/search":
            return respond(
                start_response, 404, {"error": {"code": "not_found", "message": path}}, limits
            )
        query = parse_qs(environ.get("QUERY_STRING", "")).get("q", [""])[0]
        if not query.strip():
            return respond(
                start_response,
                400,
                {"error": {"code": "missing_query", "message": "q is required"}},
                limits,
            )
        found = search(catalog, query)
        return respond(
            start_response,
            200,
            {
                "items": [
                    {"sku": p.sku, "name": p.name, "price_cents": p.price_cents} for p in found
                ]
            },
            limits,
        )

    return app
