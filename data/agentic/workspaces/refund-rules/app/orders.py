"""Orders and refunds (money in integer cents)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Line:
    sku: str
    unit_price_cents: int
    quantity: int


@dataclass(frozen=True)
class Order:
    id: str
    lines: tuple[Line, ...]
    discount_cents: int = 0  # an order-level coupon, taken off the items (never shipping)
    shipping_cents: int = 0
    delivered_at: datetime | None = None

    @property
    def items_cents(self) -> int:
        return sum(line.unit_price_cents * line.quantity for line in self.lines)

    @property
    def paid_cents(self) -> int:
        return self.items_cents - self.discount_cents + self.shipping_cents

    def line(self, sku: str) -> Line | None:
        return next((line for line in self.lines if line.sku == sku), None)


@dataclass(frozen=True)
class Refund:
    amount_cents: int  # everything paid back, shipping included
    items: dict[str, int] = field(default_factory=dict)
    shipping_cents: int = 0
