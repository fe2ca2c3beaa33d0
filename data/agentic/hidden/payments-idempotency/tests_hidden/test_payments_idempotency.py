"""Hidden checks for Idempotency-Key on POST /charges."""

from __future__ import annotations

import json

import pytest

from app import db
from app.api import PaymentsApi
from app.gateway import FakeGateway

BODY = {"amount_cents": 1999, "currency": "eur", "source": "tok_visa"}
DAY = 24 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingGateway(FakeGateway):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def charge(self, merchant_id: str, amount_cents: int, currency: str, source: str) -> str:
        self.calls += 1
        return super().charge(merchant_id, amount_cents, currency, source)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def gateway():
    return CountingGateway()


@pytest.fixture
def conn():
    connection = db.connect()
    yield connection
    connection.close()


@pytest.fixture
def api(gateway, conn, clock):
    return PaymentsApi(gateway, conn, clock=clock)


def post(api, body=BODY, key="key-1", merchant="m_1", raw=None, header="Idempotency-Key"):
    headers = {"X-Merchant-Id": merchant}
    if key is not None:
        headers[header] = key
    return api.handle("POST", "/charges", headers, raw or json.dumps(body).encode())


def charge_rows(conn) -> int:
    return conn.execute("SELECT count(*) FROM charges").fetchone()[0]


def test_a_retry_replays_the_response_without_charging_again(api, gateway, conn):
    first = post(api)
    second = post(api)
    assert first.status == 201
    assert (second.status, second.body) == (first.status, first.body)
    assert gateway.calls == 1 and len(gateway.charges) == 1 and charge_rows(conn) == 1


def test_the_same_json_written_differently_is_the_same_request(api, gateway):
    first = post(api, raw=b'{"amount_cents": 1999, "currency": "eur", "source": "tok_visa"}')
    second = post(api, raw=b'{ "source":"tok_visa","currency":"eur",  "amount_cents":1999 }')
    assert second.status == 201 and second.body == first.body
    assert gateway.calls == 1


def test_the_header_name_is_case_insensitive(api, gateway):
    post(api, header="idempotency-key")
    post(api, header="IDEMPOTENCY-KEY")
    assert gateway.calls == 1


def test_a_key_reused_with_another_request_is_409(api, gateway, conn):
    assert post(api).status == 201
    other = post(api, body={**BODY, "amount_cents": 2999})
    assert other.status == 409
    assert "error" in other.body
    assert gateway.calls == 1 and charge_rows(conn) == 1
    # The original request is still replayed after the conflict.
    assert post(api).status == 201 and gateway.calls == 1


def test_keys_belong_to_one_merchant(api, gateway):
    one = post(api, merchant="m_1")
    two = post(api, merchant="m_2")
    assert one.status == two.status == 201
    assert one.body["charge_id"] != two.body["charge_id"]
    assert [c[0] for c in gateway.charges] == ["m_1", "m_2"]


def test_a_declined_card_is_final_and_replayed(api, gateway):
    body = {**BODY, "source": "tok_declined"}
    first = post(api, body=body)
    second = post(api, body=body)
    assert first.status == second.status == 402
    assert second.body == first.body
    assert gateway.calls == 1


def test_after_gateway_unavailable_the_same_key_can_charge(api, gateway, conn):
    gateway.fail_next = 1
    assert post(api).status == 503
    retry = post(api)
    assert retry.status == 201
    assert len(gateway.charges) == 1 and charge_rows(conn) == 1
    assert post(api).body == retry.body and len(gateway.charges) == 1


def test_a_retry_while_the_first_is_in_flight_does_not_charge(conn, clock):
    seen = []

    class ReentrantGateway(CountingGateway):
        def charge(self, merchant_id, amount_cents, currency, source):
            # The client times out and retries while the gateway is still charging.
            if not seen:
                seen.append(post(api))
            return super().charge(merchant_id, amount_cents, currency, source)

    gateway = ReentrantGateway()
    api = PaymentsApi(gateway, conn, clock=clock)
    first = post(api)
    assert first.status == 201
    assert seen[0].status == 409
    assert len(gateway.charges) == 1 and charge_rows(conn) == 1
    assert post(api).body == first.body


def test_keys_survive_a_restart(gateway, conn, clock):
    first = post(PaymentsApi(gateway, conn, clock=clock))
    again = post(PaymentsApi(gateway, conn, clock=clock))
    assert again.body == first.body and gateway.calls == 1


def test_keys_expire_after_24_hours(api, gateway, clock):
    first = post(api)
    clock.now += DAY - 60
    assert post(api).body == first.body and gateway.calls == 1
    clock.now += 120
    later = post(api)
    assert later.status == 201 and later.body["charge_id"] != first.body["charge_id"]
    assert gateway.calls == 2


def test_without_a_key_every_request_charges(api, gateway):
    post(api, key=None)
    post(api, key=None)
    assert gateway.calls == 2


def test_an_invalid_request_with_a_key_is_still_400(api, gateway):
    assert post(api, body={**BODY, "amount_cents": -5}).status == 400
    assert gateway.calls == 0
    assert post(api).status == 201
