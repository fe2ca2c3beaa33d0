"""What every grader is, and the registry that turns a grader's configuration into a grader.

A grader's configuration is validated completely when the task suite (or experiment spec) loads:
a factory registered with ``register_grader_type`` must check every parameter, resolve anything it
needs (a regex, a schema, an imported function) and raise ``SpecError`` naming the field, so that
a run never fails half-way on a typo. Factories do no network I/O.

A grader that cannot grade returns ``score=None`` with ``error`` set: a failure is never a zero.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from core.errors import SpecError
from experiments.providers.base import TaskMaterial

# Keys every grader configuration may have; the rest are the grader type's own parameters.
COMMON_KEYS = ("type", "name", "weight")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._#:-]*")


@dataclass(frozen=True)
class GradeResult:
    grader: str  # the config's `name`, or "<type>" ("<type>#2", ... when a type repeats)
    score: float | None  # in [0, 1]; None when the grader failed (never a silent zero)
    passed: bool | None  # None when the grader has no notion of pass/fail
    reason: str  # a sentence: what matched, or what was missing
    error: str | None = None
    cost_usd: float = 0.0  # judges record their own cost here
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GraderConfig:
    """One validated grader entry of a task suite or experiment spec."""

    type: str
    name: str
    weight: float
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # Folder of the file the config came from: relative paths in parameters resolve against it.
    base_dir: Path | None = None


class Grader(Protocol):
    # Read-only: graders are frozen dataclasses, which a settable protocol member would refuse.
    @property
    def name(self) -> str: ...

    @property
    def weight(self) -> float: ...

    async def grade(self, response_text: str, task: TaskMaterial) -> GradeResult: ...


GraderFactory = Callable[[GraderConfig], Grader]
_FACTORIES: dict[str, GraderFactory] = {}


def register_grader_type(type_name: str, factory: GraderFactory, *, replace: bool = False) -> None:
    """Make ``type: type_name`` usable in grader configurations."""
    if type_name in _FACTORIES and not replace:
        raise ValueError(f"grader type {type_name!r} is already registered")
    _FACTORIES[type_name] = factory


def grader_types() -> tuple[str, ...]:
    return tuple(sorted(_FACTORIES))


def parse_grader_config(raw: object, *, base_dir: Path | None = None) -> GraderConfig:
    """Check the common keys of one grader entry; the type's own parameters are checked on build.

    Errors read ``<field>: <problem>``; callers prefix where the entry sits.
    """
    if isinstance(raw, GraderConfig):
        return raw
    if not isinstance(raw, Mapping):
        raise SpecError(f"must be a mapping with a 'type', got {type(raw).__name__}")
    type_name = raw.get("type")
    if not isinstance(type_name, str) or not type_name:
        raise SpecError(f"type: required; one of {', '.join(grader_types())}")
    if type_name not in _FACTORIES:
        raise SpecError(
            f"type: unknown grader type {type_name!r}; one of {', '.join(grader_types())}"
        )
    name = raw.get("name", type_name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError(f"name: must be a word of letters, digits, '.', '_', '-', got {name!r}")
    weight = raw.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise SpecError(f"weight: must be a number >= 0, got {weight!r}")
    if not math.isfinite(weight) or weight < 0:
        raise SpecError(f"weight: must be a finite number >= 0, got {weight!r}")
    params = {k: v for k, v in raw.items() if k not in COMMON_KEYS}
    return GraderConfig(type_name, name, float(weight), MappingProxyType(params), base_dir)


def build_grader(config: Mapping[str, Any] | GraderConfig) -> Grader:
    """The grader for one configuration; ``SpecError`` names the grader and the field."""
    parsed = parse_grader_config(config)
    try:
        return _FACTORIES[parsed.type](parsed)
    except SpecError as err:
        raise SpecError(f"grader {parsed.name!r}: {err}") from err


async def grade_all(
    graders: Sequence[Grader], response_text: str, task: TaskMaterial
) -> tuple[GradeResult, ...]:
    """Run a task's graders concurrently (judges wait on the network), results in grader order."""
    return tuple(await asyncio.gather(*(g.grade(response_text, task) for g in graders)))


# Parameter readers shared by grader factories: each names the field in its error.


def check_keys(params: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        expected = ", ".join((*COMMON_KEYS, *allowed))
        raise SpecError(f"{unknown[0]}: unknown field; expected one of {expected}")


def str_param(params: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = params.get(key, default)
    if value is not None and (not isinstance(value, str) or not value):
        raise SpecError(f"{key}: must be a non-empty string, got {value!r}")
    return value


def str_list_param(params: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    """A non-empty list of non-empty strings; a single string counts as a list of one."""
    value = params.get(key)
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(s, str) and s for s in items):
        raise SpecError(f"{key}: must be a non-empty list of non-empty strings, got {value!r}")
    return tuple(items)


def bool_param(params: Mapping[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise SpecError(f"{key}: must be true or false, got {value!r}")
    return value


def int_param(params: Mapping[str, Any], key: str, minimum: int = 0) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"{key}: must be a whole number >= {minimum}, got {value!r}")
    return value
