"""What a return pays back."""

from __future__ import annotations

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
    """The refund for returning `items` ({sku: quantity}) of `order` at `now`."""
    amount = 0
    for sku, quantity in items.items():
        line = order.line(sku)
        if line is None:
            raise RefundError("unknown_item", f"{sku} is not in order {order.id}")
        amount += line.unit_price_cents * quantity
    return Refund(amount_cents=amount, items=dict(items))
