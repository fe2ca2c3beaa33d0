from __future__ import annotations

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from app import db
from app.web import make_app


class Client:
    def __init__(self, app: Any) -> None:
        self.app = app

    def request(
        self, method: str, path: str, query: str = "", body: object = None
    ) -> tuple[int, dict[str, str], Any]:
        raw = b"" if body is None else json.dumps(body).encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": io.BytesIO(raw),
        }
        setup_testing_defaults(environ)
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            seen["status"] = int(status.split()[0])
            seen["headers"] = dict(headers)

        data = b"".join(self.app(environ, start_response))
        return seen["status"], seen["headers"], json.loads(data)

    def get(self, path: str, query: str = "") -> tuple[int, dict[str, str], Any]:
        return self.request("GET", path, query)


@pytest.fixture
def conn():
    connection = db.connect()
    yield connection
    connection.close()


@pytest.fixture
def client(conn):
    return Client(make_app(conn))
