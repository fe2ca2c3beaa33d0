"""What graders and comparators are, and the registry that builds them from configurations.

A ``Grader`` grades one trial's answer as soon as it exists. A ``Comparator`` compares a
variant's answer with the control's for the same task and epoch, so it runs once all trials
exist. Both are configured the same way (``type``, ``name``, ``weight``, parameters) in one list;
the registry knows which is which (``register_grader_type`` / ``register_comparator_type``).
Both see only ``TaskMaterial`` and answer text: never the variant, its reference or its model.

A configuration is validated completely when the task suite (or experiment spec) loads: a
registered factory must check every parameter, resolve anything it needs (a regex, a schema,
an imported function) and raise ``SpecError`` naming the field, so that a run never fails
half-way on a typo. Factories do no network I/O.

A grader that cannot grade returns ``score=None`` with ``error`` set: a failure is never a zero.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from core.errors import SpecError
from experiments.providers.base import TaskMaterial

T = TypeVar("T")

# Keys every grader configuration may have; the rest are the grader type's own parameters.
COMMON_KEYS = ("type", "name", "weight", "on")
# What a grader reads: the final answer, or (an agentic trial) ``git diff`` of its workspace.
GRADED_TEXTS = ("answer", "diff")
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
    # A python grader's code, pinned when the plan is made: "<location>@sha256:<hex>".
    source: str | None = None
    on: str = "answer"  # one of GRADED_TEXTS


class Grader(Protocol):
    # Read-only: graders are frozen dataclasses, which a settable protocol member would refuse.
    @property
    def name(self) -> str: ...

    @property
    def weight(self) -> float: ...

    async def grade(self, response_text: str, task: TaskMaterial) -> GradeResult: ...


class PricedGrader(abc.ABC):
    """A grader that calls a model (a judge) derives from this, to say what grading one answer
    should cost before any (the dry run and the budget's first estimates). Nominal, so that a
    grader registered with an ``estimate`` of its own meaning is not taken for one."""

    @abc.abstractmethod
    def estimate(self, task: TaskMaterial, answer_tokens: int) -> tuple[int, float]:
        """Calls and dollars for grading an answer of about ``answer_tokens`` to ``task``."""


@dataclass(frozen=True)
class Pair:
    """A variant's trial and the control's trial for the same task and epoch."""

    task_id: str
    epoch: int
    variant: str
    trial_id: int
    answer: str
    control_trial_id: int
    control_answer: str


class Comparator(Protocol):
    """Compares a pair of answers; the result belongs on the variant's trial and is never part
    of its quality (the control's trials have no such grade)."""

    @property
    def name(self) -> str: ...

    async def compare(self, task: TaskMaterial, pair: Pair) -> GradeResult: ...


GraderFactory = Callable[[GraderConfig], Grader]
ComparatorFactory = Callable[[GraderConfig], Comparator]
# One namespace of type names over both: a configuration's `type` says which it is.
_FACTORIES: dict[str, GraderFactory] = {}
_COMPARATOR_FACTORIES: dict[str, ComparatorFactory] = {}
# Built-in types whose modules load only when a configuration names them: a run without judges
# never imports the judges' code.
_LAZY_TYPES = {
    "rubric_judge": "experiments.graders.judge",
    "pairwise": "experiments.graders.pairwise",
}


def _loaded(type_name: str) -> str:
    """``type_name``, its module imported (and so its type registered) if it is a lazy one."""
    if type_name not in _FACTORIES and type_name not in _COMPARATOR_FACTORIES:
        module = _LAZY_TYPES.get(type_name)
        if module is not None:
            importlib.import_module(module)
    return type_name


def register_grader_type(type_name: str, factory: GraderFactory, *, replace: bool = False) -> None:
    """Make ``type: type_name`` usable in grader configurations, as a per-trial grader."""
    _make_room(type_name, replace)
    _FACTORIES[type_name] = factory


def register_comparator_type(
    type_name: str, factory: ComparatorFactory, *, replace: bool = False
) -> None:
    """Make ``type: type_name`` usable in grader configurations, as a comparator."""
    _make_room(type_name, replace)
    _COMPARATOR_FACTORIES[type_name] = factory


def _make_room(type_name: str, replace: bool) -> None:
    """Free ``type_name`` for a new factory of either kind; taken and not ``replace``: error. A
    built-in lazy type is loaded first, so that it is replaced, never registered over later."""
    if _loaded(type_name) in _FACTORIES or type_name in _COMPARATOR_FACTORIES:
        if not replace:
            raise ValueError(f"grader type {type_name!r} is already registered")
        _FACTORIES.pop(type_name, None)
        _COMPARATOR_FACTORIES.pop(type_name, None)


def is_comparator(config: GraderConfig) -> bool:
    """Whether the configuration is a comparator (never part of quality) rather than a grader."""
    return _loaded(config.type) in _COMPARATOR_FACTORIES


def grader_types() -> tuple[str, ...]:
    return tuple(sorted({*_FACTORIES, *_COMPARATOR_FACTORIES, *_LAZY_TYPES}))


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
    if _loaded(type_name) not in grader_types():
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
    on = raw.get("on", "answer")
    if on not in GRADED_TEXTS:
        raise SpecError(f"on: must be one of {', '.join(GRADED_TEXTS)}, got {on!r}")
    if on != "answer" and type_name in _COMPARATOR_FACTORIES:
        raise SpecError("on: a comparator compares final answers; remove `on`")
    params = {k: v for k, v in raw.items() if k not in COMMON_KEYS}
    return GraderConfig(type_name, name, float(weight), MappingProxyType(params), base_dir, on=on)


def build_grader(config: Mapping[str, Any] | GraderConfig) -> Grader | Comparator:
    """The grader or comparator of one configuration (building it is how a configuration is
    validated); ``SpecError`` names the grader and the field."""
    parsed = parse_grader_config(config)
    if _loaded(parsed.type) in _COMPARATOR_FACTORIES:
        return _built(parsed, _COMPARATOR_FACTORIES[parsed.type])
    return _built(parsed, _FACTORIES[parsed.type])


@dataclass(frozen=True)
class Graders:
    """Configurations built and split by kind, each kind in configuration order."""

    per_trial: tuple[Grader, ...]  # grade each trial as soon as it exists
    comparators: tuple[Comparator, ...]  # compare pairs of trials once all trials exist


def build_graders(configs: Iterable[Mapping[str, Any] | GraderConfig]) -> Graders:
    per_trial: list[Grader] = []
    comparators: list[Comparator] = []
    for config in map(parse_grader_config, configs):
        if _loaded(config.type) in _COMPARATOR_FACTORIES:
            comparators.append(_built(config, _COMPARATOR_FACTORIES[config.type]))
        else:
            per_trial.append(_built(config, _FACTORIES[config.type]))
    return Graders(tuple(per_trial), tuple(comparators))


def _built(config: GraderConfig, factory: Callable[[GraderConfig], T]) -> T:
    try:
        return factory(config)
    except SpecError as err:
        raise SpecError(f"grader {config.name!r}: {err}") from err


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
