"""Start analysing the experiment a link to Compare names as soon as the browser asks for the page.

A browser opening ``/compare?experiment=N`` spends about a second loading Streamlit's JavaScript
before the page's script runs, and on a large experiment the report takes most of a second more.
``Prefetch`` sees the page's HTTP request and starts ``state.warm`` for that experiment in a
thread, so the report is computed while the browser loads; the script then finds it in the cache
(or waits for it under the cache's lock), exactly as after the Experiments page's warm-up.

``dashboard.launch`` adds it to Streamlit's own middleware. This module imports nothing of the
dashboard's state until a request comes: Streamlit's caches belong to the running server.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

COMPARE_PATH = "compare"  # the Compare page's url_path (dashboard/app.py)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def linked_experiment(scope: Scope) -> int | None:
    """The experiment of a ``GET .../compare?experiment=N`` page request, else None."""
    if scope["type"] != "http" or scope.get("method") != "GET":
        return None
    if not str(scope.get("path", "")).rstrip("/").endswith(f"/{COMPARE_PATH}"):
        return None
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    wanted = (query.get("experiment") or [""])[0]
    return int(wanted) if wanted.isdigit() and len(wanted) < 19 else None


class Prefetch:
    """ASGI middleware: a Compare link's request starts its experiment's analysis, then passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        experiment_id = linked_experiment(scope)
        if experiment_id is not None:
            threading.Thread(
                target=_warm, args=(experiment_id,), name="prefetch", daemon=True
            ).start()
        await self.app(scope, receive, send)


def _warm(experiment_id: int) -> None:
    # Best effort, as state.warm: an unknown experiment or a missing database is the page's to say.
    from dashboard import state

    with contextlib.suppress(Exception):
        state.warm(experiment_id)
