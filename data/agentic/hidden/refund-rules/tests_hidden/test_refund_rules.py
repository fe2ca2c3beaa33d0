"""Hidden checks for the refund rules: window, quantities, discount sharing, shipping."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from app.orders import Line, Order, Refund
from app.refunds import RefundError, refund

DELIVERED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SOON = DELIVERED + timedelta(days=2)


def make(**kwargs) -> Order:
    defaults = {
        "id": "o-1",
        "lines": (Line("mug", 1200, 2), Line("tee", 2500, 1)),
        "delivered_at": DELIVERED,
    }
    return Order(**{**defaults, **kwargs})


def code_of(order, items, now=SOON, previous=()):
    with pytest.raises(RefundError) as raised:
        refund(order, items, now, previous)
    return raised.value.code


def return_units(order: Order, units: list[str]) -> list[Refund]:
    """Return the order one unit at a time, in the given order."""
    done: list[Refund] = []
    for sku in units:
        done.append(refund(order, {sku: 1}, SOON, tuple(done)))
    return done


def units_of(order: Order) -> list[str]:
    return [line.sku for line in order.lines for _ in range(line.quantity)]


def test_an_order_not_delivered_cannot_be_refunded():
    assert code_of(make(delivered_at=None), {"mug": 1}) == "not_delivered"


def test_the_window_is_thirty_days_to_the_second():
    assert refund(make(), {"mug": 1}, DELIVERED + timedelta(days=30)).amount_cents == 1200
    assert code_of(make(), {"mug": 1}, DELIVERED + timedelta(days=30, seconds=1)) == "window_closed"
    assert code_of(make(), {"mug": 1}, DELIVERED + timedelta(days=30, hours=23)) == "window_closed"


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "1"])
def test_quantities_are_positive_integers(quantity):
    assert code_of(make(), {"mug": quantity}) == "invalid_quantity"


def test_an_empty_return():
    assert code_of(make(), {}) == "no_items"


def test_unknown_item():
    assert code_of(make(), {"hat": 1}) == "unknown_item"


def test_cannot_return_more_than_bought():
    assert code_of(make(), {"mug": 3}) == "exceeds_purchased"


def test_cannot_return_what_was_already_refunded():
    first = refund(make(), {"mug": 1}, SOON)
    assert code_of(make(), {"mug": 2}, previous=(first,)) == "exceeds_purchased"
    second = refund(make(), {"mug": 1}, SOON, (first,))
    assert code_of(make(), {"mug": 1}, previous=(first, second)) == "exceeds_purchased"


def test_without_discount_a_unit_refunds_its_price():
    result = refund(make(), {"tee": 1}, SOON)
    assert result.amount_cents == 2500 and result.shipping_cents == 0


def test_a_whole_order_at_once_refunds_what_was_paid():
    order = make(discount_cents=900, shipping_cents=499)
    result = refund(order, {"mug": 2, "tee": 1}, SOON)
    assert result.amount_cents == order.paid_cents == 4900 - 900 + 499
    assert result.shipping_cents == 499


def test_three_equal_units_do_not_give_back_a_cent_too_much():
    # 100 off three units of 10.00: 33.33 each; rounding each refund gives back 2901.
    order = make(lines=(Line("cup", 1000, 3),), discount_cents=100)
    refunds = return_units(order, ["cup", "cup", "cup"])
    assert sum(r.amount_cents for r in refunds) == 2900
    assert all(abs(r.amount_cents - (1000 - 100 / 3)) < 1 for r in refunds)


def test_the_discount_is_shared_in_proportion_to_price():
    order = make(discount_cents=980)  # 20% of 4900
    assert refund(order, {"tee": 1}, SOON).amount_cents == 2000
    assert refund(order, {"mug": 1}, SOON).amount_cents == 960


def test_shipping_comes_back_only_with_the_last_units():
    order = make(discount_cents=500, shipping_cents=450)
    first = refund(order, {"mug": 2}, SOON)
    assert first.shipping_cents == 0
    last = refund(order, {"tee": 1}, SOON, (first,))
    assert last.shipping_cents == 450
    assert first.amount_cents + last.amount_cents == order.paid_cents


@pytest.mark.parametrize("seed", range(6))
def test_any_split_adds_up_to_exactly_what_was_paid(seed):
    rng = random.Random(seed)
    lines = tuple(
        Line(f"sku{i}", rng.randrange(99, 5000), rng.randrange(1, 4))
        for i in range(rng.randrange(2, 5))
    )
    items = sum(line.unit_price_cents * line.quantity for line in lines)
    order = make(
        lines=lines,
        discount_cents=rng.randrange(1, items // 3),
        shipping_cents=rng.randrange(0, 900),
    )
    units = units_of(order)
    rng.shuffle(units)
    refunds = return_units(order, units)
    assert sum(r.amount_cents for r in refunds) == order.paid_cents
    assert [r.shipping_cents for r in refunds] == [0] * (len(units) - 1) + [order.shipping_cents]
    share = 1 - order.discount_cents / items
    for sku, r in zip(units, refunds, strict=True):
        price = order.line(sku).unit_price_cents
        assert abs((r.amount_cents - r.shipping_cents) - price * share) < 1
        assert r.items == {sku: 1}


def test_every_order_of_returning_gives_the_same_total():
    order = make(
        lines=(Line("a", 333, 2), Line("b", 1001, 1), Line("c", 99, 1)),
        discount_cents=257,
        shipping_cents=300,
    )
    totals = {
        sum(r.amount_cents for r in return_units(order, list(perm)))
        for perm in set(itertools.permutations(units_of(order)))
    }
    assert totals == {order.paid_cents}
