"""The carrier API client."""

from __future__ import annotations

import json
import random as _random
import time
from collections.abc import Callable

from app.transport import Response, Transport


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
        return self.transport(method, self.base_url + path, dict(headers or {}), body)

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
