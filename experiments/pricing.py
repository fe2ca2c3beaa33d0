"""Cost of a call in USD from a dated price table (``data/prices.yaml``); no price lives in code.

Call ``price_for`` for every model of an experiment before the first request, so that a model
without a price stops the run at the start rather than in the middle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from core.errors import SpecError
from experiments.providers.base import Usage
from registry.model_aliases import load_yaml_mapping, table_source

PRICES_ENV = "REGISTRY_PRICES"
PER_TOKENS = 1_000_000
RATE_FIELDS = ("input", "output", "cache_write", "cache_read")
# Dated snapshots (claude-haiku-4-5-20251001) cost the same as the undated ID.
_SNAPSHOT_SUFFIX = re.compile(r"-\d{8}$")


@dataclass(frozen=True)
class Rates:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True)
class ModelPrice:
    model_id: str
    base: Rates
    # (threshold, rates): above `threshold` prompt tokens the whole request uses `rates`.
    long_prompt: tuple[int, Rates] | None = None


@dataclass(frozen=True)
class PriceTable:
    effective: date
    batch_discount: float  # fraction taken off batch usage (0.5 = half price)
    models: MappingProxyType[str, ModelPrice]
    source: Path


def load_price_table(path: str | Path | None = None) -> PriceTable:
    """The price table: ``path``, else ``$REGISTRY_PRICES``, else the shipped ``prices.yaml``."""
    return _load_price_table(*table_source(path, PRICES_ENV, "prices.yaml", "price table"))


@lru_cache(maxsize=8)
def _load_price_table(path: Path, _mtime_ns: int) -> PriceTable:
    data = load_yaml_mapping(path, "price table")
    effective = data.get("effective")
    if not isinstance(effective, date):
        raise SpecError(f"price table {path}: 'effective' must be a date like 2026-11-26")
    discount = data.get("batch_discount", 0.0)
    if not _is_number(discount) or not 0 <= discount < 1:
        raise SpecError(f"price table {path}: 'batch_discount' must be a number in [0, 1)")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise SpecError(f"price table {path}: 'models' must map model IDs to rates")
    prices = {str(mid): _parse_model(path, str(mid), entry) for mid, entry in models.items()}
    return PriceTable(effective, float(discount), MappingProxyType(prices), path)


def _parse_model(path: Path, model_id: str, entry: Any) -> ModelPrice:
    where = f"price table {path}, model {model_id}"
    if not isinstance(entry, dict):
        raise SpecError(f"{where}: expected a mapping of {', '.join(RATE_FIELDS)}")
    long_prompt = None
    if "long_prompt" in entry:
        tier = entry["long_prompt"]
        above = tier.get("above_tokens") if isinstance(tier, dict) else None
        if not isinstance(above, int) or above <= 0:
            raise SpecError(f"{where}: long_prompt.above_tokens must be a positive integer")
        long_prompt = (above, _parse_rates(f"{where}, long_prompt", tier))
    return ModelPrice(model_id, _parse_rates(where, entry), long_prompt)


def _parse_rates(where: str, entry: dict[str, Any]) -> Rates:
    missing = [f for f in RATE_FIELDS if not _is_number(entry.get(f)) or entry[f] < 0]
    if missing:
        raise SpecError(f"{where}: needs non-negative numbers for {', '.join(missing)}")
    return Rates(*(float(entry[f]) for f in RATE_FIELDS))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def price_for(model_id: str, *, table: PriceTable | None = None) -> ModelPrice:
    """The price of ``model_id``; ``SpecError`` naming the table when it has none."""
    table = table or load_price_table()
    price = table.models.get(model_id) or table.models.get(_SNAPSHOT_SUFFIX.sub("", model_id))
    if price is None:
        raise SpecError(
            f"no price for model {model_id!r} in {table.source} (effective {table.effective}): "
            f"add it there or point {PRICES_ENV} at a table that has it"
        )
    return price


def cost_usd(
    model_id: str, usage: Usage, *, batch: bool = False, table: PriceTable | None = None
) -> float:
    """USD cost of one call's ``usage`` (the batch discount applied when ``batch``)."""
    table = table or load_price_table()
    price = price_for(model_id, table=table)
    rates = price.base
    prompt_tokens = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    if price.long_prompt is not None and prompt_tokens > price.long_prompt[0]:
        rates = price.long_prompt[1]
    micro_usd = (
        usage.input_tokens * rates.input
        + usage.output_tokens * rates.output
        + usage.cache_write_tokens * rates.cache_write
        + usage.cache_read_tokens * rates.cache_read
    )
    multiplier = 1.0 - table.batch_discount if batch else 1.0
    return micro_usd / PER_TOKENS * multiplier
