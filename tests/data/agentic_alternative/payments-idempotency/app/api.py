"""POST /charges (another engineer's take on idempotency: a state column, checked first)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.gateway import CardDeclined, Gateway, GatewayUnavailable

CURRENCIES = {"eur", "usd", "gbp"}


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]


def error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


class PaymentsApi:
    def __init__(
        self, gateway: Gateway, conn: sqlite3.Connection, clock: Callable[[], float] = time.time
    ) -> None:
        self.gateway = gateway
        self.conn = conn
        self.clock = clock
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS idem (merchant TEXT, k TEXT, digest TEXT, state TEXT,"
            " status INTEGER, body TEXT, at REAL, PRIMARY KEY (merchant, k))"
        )
        self.conn.commit()

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        if path != "/charges":
            return error(404, "not_found", f"no route {path}")
        if method != "POST":
            return error(405, "method_not_allowed", f"{method} {path}")
        merchant = _header(headers, "X-Merchant-Id")
        if not merchant:
            return error(401, "unauthenticated", "X-Merchant-Id is missing")
        try:
            request = json.loads(body)
        except ValueError:
            return error(400, "invalid_json", "the body is not valid JSON")
        problem = _validate(request)
        if problem:
            return error(400, "invalid_request", problem)
        key = _header(headers, "Idempotency-Key")
        if key is None:
            return self._charge(merchant, request)
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        now = self.clock()
        row = self.conn.execute(
            "SELECT digest, state, status, body FROM idem WHERE merchant = ? AND k = ? AND at > ?",
            (merchant, key, now - 86400),
        ).fetchone()
        if row is not None:
            if row["digest"] != digest:
                return error(409, "idempotency_conflict", "key used with another request")
            if row["state"] == "pending":
                return error(409, "idempotency_pending", "request in progress")
            return Response(row["status"], json.loads(row["body"]))
        self.conn.execute(
            "INSERT OR REPLACE INTO idem (merchant, k, digest, state, at) VALUES (?, ?, ?, ?, ?)",
            (merchant, key, digest, "pending", now),
        )
        self.conn.commit()
        response = self._charge(merchant, request)
        if response.status == 503:
            self.conn.execute("DELETE FROM idem WHERE merchant = ? AND k = ?", (merchant, key))
        else:
            self.conn.execute(
                "UPDATE idem SET state = 'done', status = ?, body = ? WHERE merchant = ? AND k = ?",
                (response.status, json.dumps(response.body), merchant, key),
            )
        self.conn.commit()
        return response

    def _charge(self, merchant: str, request: dict[str, Any]) -> Response:
        try:
            charge_id = self.gateway.charge(
                merchant, request["amount_cents"], request["currency"], request["source"]
            )
        except CardDeclined as declined:
            return error(402, "card_declined", declined.code)
        except GatewayUnavailable:
            return error(503, "gateway_unavailable", "the payment gateway is unavailable")
        cur = self.conn.execute(
            "INSERT INTO charges (merchant_id, gateway_charge_id, amount_cents, currency,"
            " created_at) VALUES (?, ?, ?, ?, ?)",
            (merchant, charge_id, request["amount_cents"], request["currency"], self.clock()),
        )
        self.conn.commit()
        return Response(
            201,
            {
                "id": cur.lastrowid,
                "charge_id": charge_id,
                "amount_cents": request["amount_cents"],
                "currency": request["currency"],
                "status": "succeeded",
            },
        )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _validate(request: object) -> str | None:
    if not isinstance(request, dict):
        return "the body must be a JSON object"
    amount = request.get("amount_cents")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return "amount_cents must be a positive integer"
    if request.get("currency") not in CURRENCIES:
        return f"currency must be one of {sorted(CURRENCIES)}"
    if not isinstance(request.get("source"), str) or not request["source"]:
        return "source must be a card token"
    return None
