from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.orders import Line, Order
from app.refunds import RefundError, refund

DELIVERED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def order(**kwargs) -> Order:
    defaults = {
        "id": "o-1",
        "lines": (Line("mug", 1200, 2), Line("tee", 2500, 1)),
        "delivered_at": DELIVERED,
    }
    return Order(**{**defaults, **kwargs})


def test_one_item_without_discount():
    result = refund(order(), {"mug": 1}, DELIVERED + timedelta(days=3))
    assert result.amount_cents == 1200 and result.items == {"mug": 1}


def test_unknown_item():
    with pytest.raises(RefundError) as raised:
        refund(order(), {"hat": 1}, DELIVERED + timedelta(days=3))
    assert raised.value.code == "unknown_item"


def test_paid_total():
    assert order(discount_cents=900, shipping_cents=499).paid_cents == 4900 - 900 + 499
