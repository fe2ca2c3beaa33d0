"""The WSGI application."""

from __future__ import annotations

import json
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


def make_app(
    catalog: tuple[Product, ...] = DEFAULT, clock: Callable[[], float] = time.monotonic
) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/health":
            return respond(start_response, 200, {"status": "ok"})
        if path != "/search":
            return respond(start_response, 404, {"error": {"code": "not_found", "message": path}})
        query = parse_qs(environ.get("QUERY_STRING", "")).get("q", [""])[0]
        if not query.strip():
            return respond(
                start_response,
                400,
                {"error": {"code": "missing_query", "message": "q is required"}},
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
        )

    return app
