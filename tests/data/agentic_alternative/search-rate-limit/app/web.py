"""The WSGI application (rate limited with GCRA)."""

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
    """Another engineer's take: GCRA, the token bucket as a theoretical arrival time."""

    def __init__(self, rate: float, capacity: int, clock: Callable[[], float]) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (capacity - 1) * self.interval
        self.capacity = capacity
        self.clock = clock
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> tuple[bool, int, int]:
        with self._lock:
            now = self.clock()
            tat = max(self._tat.get(client, now), now)
            if tat - now > self.tolerance:
                return False, 0, max(1, math.ceil(tat - self.tolerance - now))
            self._tat[client] = tat + self.interval
            left = (now + self.capacity * self.interval - self._tat[client]) / self.interval
            return True, max(0, math.floor(left + 1e-9)), 0


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
