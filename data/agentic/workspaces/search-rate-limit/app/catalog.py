"""The product catalog."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int


DEFAULT = (
    Product("mug-1", "Blue ceramic mug", 1200),
    Product("mug-2", "Travel mug", 1800),
    Product("tee-1", "Cotton tee", 2500),
)


def search(products: tuple[Product, ...], query: str, limit: int = 20) -> list[Product]:
    words = query.lower().split()
    return [p for p in products if all(w in p.name.lower() for w in words)][:limit]
