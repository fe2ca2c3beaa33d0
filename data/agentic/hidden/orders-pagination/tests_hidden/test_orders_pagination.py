"""Hidden checks for cursor pagination of GET /orders."""

from __future__ import annotations

import base64
import io
import json
from typing import Any
from urllib.parse import urlencode
from wsgiref.util import setup_testing_defaults

import pytest

from app import db
from app.web import make_app


def get(app: Any, path: str, **params: object) -> tuple[int, dict[str, str], Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": urlencode({k: v for k, v in params.items() if v is not None}),
        "wsgi.input": io.BytesIO(b""),
    }
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"] = int(status.split()[0])
        seen["headers"] = dict(headers)

    raw = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], json.loads(raw)


@pytest.fixture
def conn():
    connection = db.connect()
    yield connection
    connection.close()


@pytest.fixture
def app(conn):
    return make_app(conn)


def seed_with_ties(conn, count: int) -> None:
    # Five orders share each timestamp: an order by created_at alone is not a total order.
    for i in range(count):
        db.add_order(conn, f"c{i}", 100 + i, f"2024-05-{1 + i // 5:02d}T09:00:00Z")


def expected_ids(conn) -> list[int]:
    rows = conn.execute("SELECT id FROM orders ORDER BY created_at DESC, id DESC").fetchall()
    return [row[0] for row in rows]


def walk(app: Any, limit: int) -> list[list[dict[str, Any]]]:
    pages = []
    cursor = None
    for _ in range(100):
        status, _, body = get(app, "/orders", limit=limit, cursor=cursor)
        assert status == 200, body
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert isinstance(cursor, str) and cursor
    raise AssertionError("pagination never ended")


def test_pages_cover_every_order_once_in_a_total_order(app, conn):
    seed_with_ties(conn, 23)
    pages = walk(app, 4)
    ids = [item["id"] for page in pages for item in page]
    assert ids == expected_ids(conn)
    assert [len(page) for page in pages] == [4, 4, 4, 4, 4, 3]


def test_the_last_full_page_has_no_next_cursor(app, conn):
    seed_with_ties(conn, 10)
    pages = walk(app, 5)
    assert [len(page) for page in pages] == [5, 5]


def test_items_keep_the_order_fields(app, conn):
    db.add_order(conn, "ada", 1250, "2024-05-01T09:00:00Z")
    status, headers, body = get(app, "/orders", limit=1)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    item = body["items"][0]
    assert {k: item[k] for k in ("customer", "total_cents", "created_at")} == {
        "customer": "ada",
        "total_cents": 1250,
        "created_at": "2024-05-01T09:00:00Z",
    }
    assert body["next_cursor"] is None


def test_an_empty_table_is_one_empty_page(app):
    status, _, body = get(app, "/orders")
    assert status == 200 and body["items"] == [] and body["next_cursor"] is None


def test_default_limit_is_20(app, conn):
    seed_with_ties(conn, 45)
    status, _, body = get(app, "/orders")
    assert status == 200 and len(body["items"]) == 20 and body["next_cursor"]


def test_limit_100_is_allowed(app, conn):
    seed_with_ties(conn, 120)
    status, _, body = get(app, "/orders", limit=100)
    assert status == 200 and len(body["items"]) == 100


def test_new_orders_between_pages_do_not_shift_the_next_page(app, conn):
    seed_with_ties(conn, 12)
    before = expected_ids(conn)
    status, _, first = get(app, "/orders", limit=5)
    assert status == 200
    # Newer orders arrive while the client reads page one (also one that ties the newest).
    db.add_order(conn, "late", 1, "2024-06-01T09:00:00Z")
    db.add_order(conn, "late", 1, "2024-05-03T09:00:00Z")
    status, _, second = get(app, "/orders", limit=5, cursor=first["next_cursor"])
    assert status == 200
    assert [i["id"] for i in first["items"] + second["items"]] == before[:10]


def test_orders_deleted_between_pages_do_not_skip_any(app, conn):
    seed_with_ties(conn, 12)
    before = expected_ids(conn)
    _, _, first = get(app, "/orders", limit=5)
    conn.execute("DELETE FROM orders WHERE id = ?", (first["items"][0]["id"],))
    conn.commit()
    _, _, second = get(app, "/orders", limit=5, cursor=first["next_cursor"])
    assert [i["id"] for i in second["items"]] == before[5:10]


@pytest.mark.parametrize("limit", ["0", "-1", "101", "abc", "2.5", "1e2"])
def test_a_bad_limit_is_400_with_a_json_error(app, conn, limit):
    seed_with_ties(conn, 3)
    status, headers, body = get(app, "/orders", limit=limit)
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert "error" in body


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%%%",
        base64.urlsafe_b64encode(b"garbage").decode(),
        base64.urlsafe_b64encode(b'{"x": 1}').decode(),
        base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
        "eyJ",
    ],
)
def test_a_cursor_we_did_not_issue_is_400(app, conn, cursor):
    seed_with_ties(conn, 3)
    status, headers, body = get(app, "/orders", limit=2, cursor=cursor)
    assert status == 400, body
    assert headers["Content-Type"].startswith("application/json")
    assert "error" in body


def test_an_empty_cursor_is_400_or_the_first_page(app, conn):
    seed_with_ties(conn, 3)
    status, _, body = get(app, "/orders", limit=2, cursor="")
    assert status == 400 or [i["id"] for i in body["items"]] == expected_ids(conn)[:2]
