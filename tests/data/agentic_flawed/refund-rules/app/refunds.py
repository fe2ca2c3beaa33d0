"""What a return pays back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from app.orders import Order, Refund


class RefundError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def refund(
    order: Order, items: dict[str, int], now: datetime, previous: Sequence[Refund] = ()
) -> Refund:
    # Hurried version: the window in whole days, the discount rounded on each refund.
    if order.delivered_at is None:
        raise RefundError("not_delivered")
    if (now - order.delivered_at).days > 30:
        raise RefundError("window_closed")
    if not items:
        raise RefundError("no_items")
    returned = Counter[str]()
    for earlier in previous:
        returned.update(earlier.items)
    amount = 0
    for sku, quantity in items.items():
        line = order.line(sku)
        if line is None:
            raise RefundError("unknown_item")
        if not isinstance(quantity, int) or quantity <= 0:
            raise RefundError("invalid_quantity")
        if returned[sku] + quantity > line.quantity:
            raise RefundError("exceeds_purchased")
        value = line.unit_price_cents * quantity
        amount += round(value - order.discount_cents * value / order.items_cents)
    returned.update(items)
    everything = all(returned[line.sku] == line.quantity for line in order.lines)
    shipping = order.shipping_cents if everything else 0
    return Refund(amount_cents=amount + shipping, items=dict(items), shipping_cents=shipping)
