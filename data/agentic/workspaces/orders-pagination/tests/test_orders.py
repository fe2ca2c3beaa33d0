from __future__ import annotations

from app import db


def test_create_then_get(client):
    status, _, created = client.request(
        "POST", "/orders", body={"customer": "ada", "total_cents": 1250}
    )
    assert status == 201
    assert created["customer"] == "ada" and created["total_cents"] == 1250
    status, _, fetched = client.get(f"/orders/{created['id']}")
    assert status == 200 and fetched == created


def test_list_is_newest_first(client, conn):
    db.add_order(conn, "a", 100, "2024-05-01T10:00:00Z")
    db.add_order(conn, "b", 200, "2024-05-03T10:00:00Z")
    db.add_order(conn, "c", 300, "2024-05-02T10:00:00Z")
    status, headers, body = client.get("/orders")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert [item["customer"] for item in body["items"]] == ["b", "c", "a"]


def test_invalid_total_is_400(client):
    status, _, body = client.request("POST", "/orders", body={"customer": "x", "total_cents": -1})
    assert status == 400
    assert body["error"]["code"] == "invalid_total"


def test_unknown_order_is_404(client):
    status, _, body = client.get("/orders/999")
    assert status == 404 and body["error"]["code"] == "not_found"
