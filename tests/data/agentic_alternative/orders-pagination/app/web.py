"""The WSGI application: `make_app(conn)`."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from app import db

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

STATUS = {
    200: "200 OK",
    201: "201 Created",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
}


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def respond(start_response: StartResponse, status: int, payload: object) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        STATUS[status],
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def read_json(environ: Environ) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    try:
        data = json.loads(environ["wsgi.input"].read(length) or b"null")
    except ValueError:
        raise HttpError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise HttpError(400, "invalid_json", "the body must be a JSON object")
    return data


CURSOR = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\|(\d+)")


def list_orders(conn: sqlite3.Connection, environ: Environ) -> tuple[int, object]:
    """Another engineer's take: a row-value keyset, the cursor "created_at|id" in base64."""
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    raw_limit = query.get("limit", ["20"])[0]
    if not raw_limit.isdecimal() or not 1 <= int(raw_limit) <= 100:
        raise HttpError(400, "invalid_limit", "limit must be 1 to 100")
    limit = int(raw_limit)
    after: tuple[str, int] | None = None
    if "cursor" in query:
        try:
            text = base64.urlsafe_b64decode(query["cursor"][0].encode()).decode()
        except (ValueError, UnicodeDecodeError):
            text = ""
        match = CURSOR.fullmatch(text)
        if match is None:
            raise HttpError(400, "invalid_cursor", "unknown cursor")
        after = (match.group(1), int(match.group(2)))
    sql = "SELECT * FROM orders"
    params: tuple[object, ...] = ()
    if after is not None:
        sql += " WHERE (created_at, id) < (?, ?)"
        params = after
    rows = conn.execute(
        sql + " ORDER BY created_at DESC, id DESC LIMIT ?", (*params, limit + 1)
    ).fetchall()
    items = [db.order_dict(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        token = f"{last['created_at']}|{last['id']}".encode()
        next_cursor = base64.urlsafe_b64encode(token).decode()
    return 200, {"items": items, "next_cursor": next_cursor}


def get_order(conn: sqlite3.Connection, order_id: int) -> tuple[int, object]:
    row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        raise HttpError(404, "not_found", f"no order {order_id}")
    return 200, db.order_dict(row)


def create_order(conn: sqlite3.Connection, environ: Environ) -> tuple[int, object]:
    data = read_json(environ)
    customer = data.get("customer")
    total = data.get("total_cents")
    if not isinstance(customer, str) or not customer.strip():
        raise HttpError(400, "invalid_customer", "customer must be a non-empty string")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise HttpError(400, "invalid_total", "total_cents must be a non-negative integer")
    order_id = db.add_order(conn, customer.strip(), total)
    _, payload = get_order(conn, order_id)
    return 201, payload


def make_app(conn: sqlite3.Connection) -> Callable[[Environ, StartResponse], Iterable[bytes]]:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        try:
            if path == "/orders":
                if method == "GET":
                    status, payload = list_orders(conn, environ)
                elif method == "POST":
                    status, payload = create_order(conn, environ)
                else:
                    raise HttpError(405, "method_not_allowed", f"{method} {path}")
            elif match := re.fullmatch(r"/orders/(\d+)", path):
                if method != "GET":
                    raise HttpError(405, "method_not_allowed", f"{method} {path}")
                status, payload = get_order(conn, int(match.group(1)))
            else:
                raise HttpError(404, "not_found", f"no route {path}")
        except HttpError as error:
            status = error.status
            payload = {"error": {"code": error.code, "message": error.message}}
        return respond(start_response, status, payload)

    return app
