"""What a return pays back (another engineer's take: the discount allocated per unit)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction

from app.orders import Order, Refund


class RefundError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def unit_discounts(order: Order) -> dict[str, list[int]]:
    """The discount of every unit, largest remainder: whole cents that add up to the coupon."""
    units = [
        (line.sku, line.unit_price_cents) for line in order.lines for _ in range(line.quantity)
    ]
    exact = [Fraction(order.discount_cents * price, order.items_cents or 1) for _, price in units]
    shares = [int(share) for share in exact]
    left = order.discount_cents - sum(shares)
    by_remainder = sorted(range(len(units)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    per_sku: dict[str, list[int]] = {}
    for (sku, _), share in zip(units, shares, strict=True):
        per_sku.setdefault(sku, []).append(share)
    return per_sku


def refund(
    order: Order, items: dict[str, int], now: datetime, previous: Sequence[Refund] = ()
) -> Refund:
    if order.delivered_at is None:
        raise RefundError("not_delivered")
    if now > order.delivered_at + timedelta(days=30):
        raise RefundError("window_closed")
    if not items:
        raise RefundError("no_items")
    done: Counter[str] = Counter()
    for earlier in previous:
        for sku, quantity in earlier.items.items():
            done[sku] += quantity
    discounts = unit_discounts(order)
    amount = 0
    for sku, quantity in items.items():
        line = order.line(sku)
        if line is None:
            raise RefundError("unknown_item")
        if type(quantity) is not int or quantity < 1:
            raise RefundError("invalid_quantity")
        if done[sku] + quantity > line.quantity:
            raise RefundError("exceeds_purchased")
        taken = discounts[sku][done[sku] : done[sku] + quantity]
        amount += line.unit_price_cents * quantity - sum(taken)
        done[sku] += quantity
    last = all(done[line.sku] == line.quantity for line in order.lines)
    shipping = order.shipping_cents if last else 0
    return Refund(amount_cents=amount + shipping, items=dict(items), shipping_cents=shipping)
