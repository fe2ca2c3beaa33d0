"""The carrier API client."""

from __future__ import annotations

import json
import random as _random
import time
from collections.abc import Callable

from app.transport import Response, Transport

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Methods a server must treat as idempotent (RFC 9110); POST only with an Idempotency-Key.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class ApiClient:
    def __init__(
        self,
        base_url: str,
        transport: Transport,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.2,
        max_delay: float = 5.0,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.random = random

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        """Send the request, retrying transient failures when it is safe to repeat.

        Retried: ConnectionError and TimeoutError, and the statuses 429, 502, 503 and 504, for
        GET, HEAD, PUT, DELETE and OPTIONS, and for POST with an Idempotency-Key header. At most
        `max_attempts` attempts; then the last response is returned (or the last transport
        error raised). Before retry n (1, 2, ...) the client sleeps `random() * min(max_delay,
        base_delay * 2 ** (n - 1))` (full jitter), or the response's Retry-After (seconds)
        when it has one; a Retry-After longer than `max_retry_after` is not waited for.
        """
        url = self.base_url + path
        sent = dict(headers or {})
        retryable = self._retryable(method, sent)
        attempts = max(1, self.max_attempts) if retryable else 1
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = self.transport(method, url, dict(sent), body)
            except (ConnectionError, TimeoutError):
                if last:
                    raise
                self.sleep(self._backoff(attempt))
                continue
            if response.status not in RETRY_STATUSES or last:
                return response
            retry_after = _retry_after(response)
            if retry_after is None:
                self.sleep(self._backoff(attempt))
            elif retry_after > self.max_retry_after:
                return response
            else:
                self.sleep(retry_after)
        raise AssertionError("unreachable")

    def _retryable(self, method: str, headers: dict[str, str]) -> bool:
        method = method.upper()
        if method in IDEMPOTENT_METHODS:
            return True
        return method == "POST" and any(k.lower() == "idempotency-key" for k in headers)

    def _backoff(self, retry: int) -> float:
        return self.random() * min(self.max_delay, self.base_delay * 2 ** (retry - 1))

    def get_json(self, path: str) -> object:
        response = self.request("GET", path, headers={"Accept": "application/json"})
        return json.loads(response.body)

    def post_json(
        self, path: str, payload: object, headers: dict[str, str] | None = None
    ) -> Response:
        return self.request(
            "POST",
            path,
            headers={"Content-Type": "application/json", **(headers or {})},
            body=json.dumps(payload).encode(),
        )


def _retry_after(response: Response) -> float | None:
    """Retry-After in delta-seconds, or None when absent or unreadable."""
    value = response.header("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
