"""What a return pays back.

Rules:
- only a delivered order can be refunded, up to 30 days (to the second) after delivery;
- quantities are positive integers, never more than bought minus what earlier refunds took;
- each unit gives back what was paid for it: the order-level discount is shared over the
  items in proportion to their price. Shares are whole cents computed on the cumulative value
  returned (value - floor(discount * value / items)), so however the order is returned, in
  one go or unit by unit, the refunds add up to exactly what was paid, and each differs from
  the exact proportional share by less than a cent;
- shipping is paid back with the refund that returns the last units of the order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from app.orders import Order, Refund

REFUND_WINDOW = timedelta(days=30)


class RefundError(Exception):
    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def refund(
    order: Order, items: dict[str, int], now: datetime, previous: Sequence[Refund] = ()
) -> Refund:
    """The refund for returning `items` ({sku: quantity}) of `order` at `now`."""
    if order.delivered_at is None:
        raise RefundError("not_delivered", f"order {order.id} has not been delivered")
    if now - order.delivered_at > REFUND_WINDOW:
        raise RefundError("window_closed", "refunds close 30 days after delivery")
    if not items:
        raise RefundError("no_items", "nothing to refund")
    returned = Counter[str]()
    for earlier in previous:
        returned.update(earlier.items)
    value_before = _value(order, returned)
    for sku, quantity in items.items():
        line = order.line(sku)
        if line is None:
            raise RefundError("unknown_item", f"{sku} is not in order {order.id}")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise RefundError("invalid_quantity", f"quantity of {sku} must be a positive integer")
        if returned[sku] + quantity > line.quantity:
            raise RefundError(
                "exceeds_purchased",
                f"{line.quantity} {sku} bought, {returned[sku]} already refunded",
            )
    returned.update(items)
    value_after = _value(order, returned)
    amount = _paid_for(order, value_after) - _paid_for(order, value_before)
    everything = all(returned[line.sku] == line.quantity for line in order.lines)
    shipping = order.shipping_cents if everything else 0
    return Refund(amount_cents=amount + shipping, items=dict(items), shipping_cents=shipping)


def _value(order: Order, quantities: Counter[str]) -> int:
    return sum(line.unit_price_cents * quantities[line.sku] for line in order.lines)


def _paid_for(order: Order, value: int) -> int:
    """What the customer paid for items worth `value` of the order's items, in whole cents."""
    if order.items_cents == 0:
        return 0
    return value - (order.discount_cents * value) // order.items_cents
