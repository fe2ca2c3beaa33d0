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


DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(row: sqlite3.Row) -> str:
    """An opaque cursor: the sort key of the last order of the page."""
    raw = json.dumps([row["created_at"], row["id"]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, order_id = json.loads(raw)
    except (ValueError, TypeError):
        raise HttpError(400, "invalid_cursor", "cursor is not one this API issued") from None
    if (
        not isinstance(created_at, str)
        or not isinstance(order_id, int)
        or isinstance(order_id, bool)
    ):
        raise HttpError(400, "invalid_cursor", "cursor is not one this API issued")
    return created_at, order_id


def parse_limit(values: list[str] | None) -> int:
    if not values:
        return DEFAULT_LIMIT
    text = values[-1]
    if not re.fullmatch(r"[0-9]+", text) or not 1 <= int(text) <= MAX_LIMIT:
        raise HttpError(400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


def list_orders(conn: sqlite3.Connection, environ: Environ) -> tuple[int, object]:
    """One page of orders, newest first; ties on created_at are ordered by id, descending.

    The cursor is the (created_at, id) of the last order returned (keyset pagination), so
    orders created or deleted between two requests never shift the next page.
    """
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    limit = parse_limit(query.get("limit"))
    where, params = "", ()
    if "cursor" in query:
        created_at, order_id = decode_cursor(query["cursor"][-1])
        where = "WHERE created_at < ? OR (created_at = ? AND id < ?)"
        params = (created_at, created_at, order_id)
    rows = conn.execute(
        f"SELECT * FROM orders {where} ORDER BY created_at DESC, id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
    return 200, {"items": [db.order_dict(row) for row in page], "next_cursor": next_cursor}


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
