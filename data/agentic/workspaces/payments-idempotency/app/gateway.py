"""The payment gateway: its interface, its errors and a fake for tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class CardDeclined(Exception):
    """The card was refused: final, retrying will not help."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class GatewayUnavailable(Exception):
    """The gateway could not be reached or timed out: nothing was charged, retry later."""


class Gateway(Protocol):
    def charge(self, merchant_id: str, amount_cents: int, currency: str, source: str) -> str:
        """Charge the card; the gateway's charge id."""
        ...


@dataclass
class FakeGateway:
    """Charges `tok_*` sources; `tok_declined` is declined; `fail_next` makes calls unavailable."""

    charges: list[tuple[str, int, str, str]] = field(default_factory=list)
    fail_next: int = 0

    def charge(self, merchant_id: str, amount_cents: int, currency: str, source: str) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise GatewayUnavailable("gateway timeout")
        if source == "tok_declined":
            raise CardDeclined("insufficient_funds")
        self.charges.append((merchant_id, amount_cents, currency, source))
        return f"ch_{len(self.charges):06d}"
