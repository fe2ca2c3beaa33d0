"""The carrier calls the shop makes."""

from __future__ import annotations

import json

from app.client import ApiClient


class CarrierError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"carrier answered {status}")
        self.status = status
        self.body = body


def get_rates(client: ApiClient, postcode: str, weight_g: int) -> list[dict[str, object]]:
    response = client.request("GET", f"/rates?to={postcode}&weight={weight_g}")
    if response.status != 200:
        raise CarrierError(response.status, response.body)
    return json.loads(response.body)["rates"]


def create_label(client: ApiClient, order_id: str, rate_id: str) -> dict[str, object]:
    # The carrier deduplicates on Idempotency-Key: one label per order, however often we ask.
    response = client.post_json(
        "/labels", {"rate_id": rate_id}, headers={"Idempotency-Key": f"label-{order_id}"}
    )
    if response.status != 201:
        raise CarrierError(response.status, response.body)
    return json.loads(response.body)


def track(client: ApiClient, tracking_number: str) -> str:
    response = client.request("GET", f"/tracking/{tracking_number}")
    if response.status != 200:
        raise CarrierError(response.status, response.body)
    return json.loads(response.body)["status"]
