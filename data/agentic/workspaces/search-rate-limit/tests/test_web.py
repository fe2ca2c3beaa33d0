from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

from app.web import make_app


def get(app, path, query=""):
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(headers)

    body = json.loads(b"".join(app(environ, start_response)))
    return seen["status"], seen["headers"], body


def test_search():
    status, _, body = get(make_app(), "/search", "q=mug")
    assert status == 200 and [i["sku"] for i in body["items"]] == ["mug-1", "mug-2"]


def test_missing_query():
    status, _, body = get(make_app(), "/search", "q=")
    assert status == 400 and body["error"]["code"] == "missing_query"


def test_health():
    assert get(make_app(), "/health")[0] == 200
