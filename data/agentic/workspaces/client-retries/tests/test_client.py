from __future__ import annotations

import json

import pytest

from app.client import ApiClient
from app.shipping import CarrierError, create_label, get_rates, track
from app.transport import Response


class Recorder:
    def __init__(self, *responses: Response) -> None:
        self.responses = list(responses)
        self.calls: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def __call__(self, method, url, headers, body):
        self.calls.append((method, url, headers, body))
        return self.responses.pop(0)


def client(transport) -> ApiClient:
    return ApiClient("https://carrier.test/v1/", transport, sleep=lambda s: None)


def test_rates():
    transport = Recorder(Response(200, {}, json.dumps({"rates": [{"id": "r1"}]}).encode()))
    assert get_rates(client(transport), "75011", 500) == [{"id": "r1"}]
    assert transport.calls[0][:2] == ("GET", "https://carrier.test/v1/rates?to=75011&weight=500")


def test_label_sends_an_idempotency_key():
    transport = Recorder(Response(201, {}, b'{"label": "L1"}'))
    assert create_label(client(transport), "o-9", "r1") == {"label": "L1"}
    method, _, headers, body = transport.calls[0]
    assert method == "POST" and headers["Idempotency-Key"] == "label-o-9"
    assert json.loads(body) == {"rate_id": "r1"}


def test_errors_surface():
    transport = Recorder(Response(404, {}, b"{}"))
    with pytest.raises(CarrierError) as raised:
        track(client(transport), "X1")
    assert raised.value.status == 404
