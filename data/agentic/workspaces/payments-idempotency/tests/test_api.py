from __future__ import annotations

import json

import pytest

from app import db
from app.api import PaymentsApi
from app.gateway import FakeGateway

MERCHANT = {"X-Merchant-Id": "m_1"}


@pytest.fixture
def gateway():
    return FakeGateway()


@pytest.fixture
def api(gateway):
    return PaymentsApi(gateway, db.connect(), clock=lambda: 1_700_000_000.0)


def post(api, body, headers=MERCHANT):
    return api.handle("POST", "/charges", headers, json.dumps(body).encode())


def test_a_charge(api, gateway):
    response = post(api, {"amount_cents": 1999, "currency": "eur", "source": "tok_visa"})
    assert response.status == 201
    assert response.body["charge_id"] == "ch_000001" and response.body["status"] == "succeeded"
    assert gateway.charges == [("m_1", 1999, "eur", "tok_visa")]


def test_declined(api, gateway):
    response = post(api, {"amount_cents": 500, "currency": "eur", "source": "tok_declined"})
    assert response.status == 402 and response.body["error"]["code"] == "card_declined"


def test_gateway_down(api, gateway):
    gateway.fail_next = 1
    response = post(api, {"amount_cents": 500, "currency": "eur", "source": "tok_visa"})
    assert response.status == 503 and gateway.charges == []


@pytest.mark.parametrize(
    "body",
    [
        {"amount_cents": 0, "currency": "eur", "source": "tok_visa"},
        {"amount_cents": True, "currency": "eur", "source": "tok_visa"},
        {"amount_cents": 100, "currency": "btc", "source": "tok_visa"},
        [1, 2],
    ],
)
def test_invalid(api, body):
    assert post(api, body).status == 400


def test_no_merchant(api):
    assert post(api, {}, headers={}).status == 401
