"""Experiment specs: the YAML a user writes to compare variants on one task suite.

The smallest accepted spec is the contract in DESIGN.md (name, variants, control, tasks, epochs,
provider, seed, concurrency, max_cost_usd). Everything else is optional. Unknown keys are errors,
because a misspelt key (``epoch: 5``) would otherwise silently run the default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import SpecError
from core.files import MAX_SPEC_BYTES, read_regular_file
from experiments.decision import DecisionRule, parse_decision
from experiments.providers.base import PROVIDER_NAMES
from variants.refs import InvalidReference, parse_ref
from variants.yamlio import load_strict_yaml, yaml_error_line

# Rejected by the 2026-10-21 API even at their defaults (see shared notes, section 2.2).
REMOVED_SAMPLING = ("temperature", "top_p", "top_k")
# Request fields that the spec sets elsewhere or that would break the comparison.
RESERVED_REQUEST = ("model", "system", "messages", "max_tokens", "stream")
# A seed is stored as a signed 64-bit integer, in SQLite and PostgreSQL alike.
SEED_RANGE = (-(2**63), 2**63 - 1)
# An arm label names a variant inside one experiment (a key of `variants:`); unlike a registry
# label it may use capitals, and it is never resolved against the registry.
ARM_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
KNOWN_KEYS = (
    "name",
    "description",
    "variants",
    "control",
    "tasks",
    "epochs",
    "provider",
    "seed",
    "concurrency",
    "max_cost_usd",
    "max_tokens",
    "request",
    "graders",
    "decision",
    "cache",
    "max_attempts",
    "estimate_output_tokens",
    "kind",
    "roster",
    "router",
    "main_model",
    "router_timeout_s",
    "capture",
    "sequential",
    "runtime",
    "max_turns",
    "time_limit_s",
    "check_timeout_s",
    "sandbox",
)
# Tasks per look of a sequential run when the spec says only `sequential: true`: small enough
# to stop early on a clear answer, large enough that a look has a few tasks to test.
DEFAULT_BATCH_TASKS = 8
# What an experiment measures: `response` grades the body's answers, `delegation` whether the
# main loop picks the agent (the description and its examples act only there), `agentic` what
# the agent builds in a workspace, run by Claude Code (its tools and turns act only there).
KINDS = ("response", "delegation", "agentic")
# What decides a delegation trial (experiments/routers/).
ROUTER_NAMES = ("simulated", "messages", "claude-code")
DELEGATION_KEYS = ("roster", "router", "main_model", "router_timeout_s", "capture")
# What plays an agentic trial's session: the real Claude Code CLI, or the offline simulation.
RUNTIME_NAMES = ("simulated", "claude-code")
AGENTIC_KEYS = ("runtime", "max_turns", "time_limit_s", "check_timeout_s", "sandbox")


@dataclass(frozen=True)
class ArmSpec:
    """One entry of the spec's `variants:`: an arm label and the registry reference it runs."""

    label: str
    ref: str


@dataclass(frozen=True)
class RunSettings:
    """How the cells of an experiment are run. These defaults are the only ones: the spec, the
    stored plan and ``--resume`` of an experiment stored before a setting existed all read them."""

    concurrency: int = 8
    max_tokens: int = 4096
    request: Mapping[str, Any] = field(default_factory=dict)  # other Messages API fields
    cache: bool = False  # reuse answers of earlier experiments to identical requests
    max_attempts: int = 6
    estimate_output_tokens: int = 800  # for --dry-run and the budget before any answer is in
    # Tasks per look of a sequential run (experiments/sequential.py); None: a fixed design.
    sequential_batch_tasks: int | None = None


DEFAULT_SETTINGS = RunSettings()


@dataclass(frozen=True)
class DelegationSpec:
    """A delegation experiment's own settings, as the spec writes them."""

    roster: tuple[str, ...] = ()  # files (resolved against the spec's folder) or references
    router: str = "simulated"
    main_model: str | None = None  # the main loop's model; None: the models table's default
    timeout_s: float = 180.0  # one decision
    capture: str | None = None  # the messages router's capture file; None: the default


@dataclass(frozen=True)
class AgenticSpec:
    """An agentic experiment's own settings. The runtime is ``simulated`` unless the spec says
    ``claude-code``, as the provider and the router are: nothing is spent unless asked."""

    runtime: str = "simulated"
    max_turns: int = 30
    time_limit_s: float = 600.0  # one session's wall clock; the CLI is killed at the limit
    check_timeout_s: float = 120.0  # a `run` check without its own timeout_s
    sandbox: bool = True  # claude-code: Bash in Claude Code's sandbox (false: warned)

    def to_json(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "max_turns": self.max_turns,
            "time_limit_s": self.time_limit_s,
            "check_timeout_s": self.check_timeout_s,
            "sandbox": self.sandbox,
        }


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    variants: tuple[ArmSpec, ...]
    control: str
    tasks_path: Path
    epochs: int = 1
    provider: str = "simulated"
    seed: int = 0
    max_cost_usd: float | None = None
    settings: RunSettings = DEFAULT_SETTINGS
    graders: tuple[Mapping[str, Any], ...] = ()
    decision: DecisionRule = field(default_factory=DecisionRule)
    kind: str = "response"
    delegation: DelegationSpec | None = None  # set exactly when kind is delegation
    agentic: AgenticSpec | None = None  # set exactly when kind is agentic
    source_text: str = ""
    path: Path | None = None

    @property
    def labels(self) -> list[str]:
        return [v.label for v in self.variants]


def is_budget(value: object) -> bool:
    """Whether ``value`` is a usable budget: a positive, finite number (NaN or infinity would
    silently remove the cap)."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value > 0
    )


def load_experiment_spec(path: str | Path) -> ExperimentSpec:
    path = Path(path)
    try:
        text = read_regular_file(path, MAX_SPEC_BYTES).decode("utf-8")
    except OSError as err:
        raise SpecError(f"{path}: cannot read the experiment spec: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: cannot read the experiment spec: {err}") from None
    try:
        raw = load_strict_yaml(text)
    except yaml.YAMLError as err:
        raise SpecError(yaml_error_line(str(path), err)) from None
    return parse_experiment_spec(raw, base_dir=path.parent, where=str(path), text=text, path=path)


def parse_experiment_spec(
    raw: object,
    *,
    base_dir: Path,
    where: str = "<spec>",
    text: str = "",
    path: Path | None = None,
) -> ExperimentSpec:
    def fail(key: str, message: str) -> SpecError:
        return SpecError(f"{where}: {key}: {message}")

    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: an experiment spec must be a YAML mapping")
    for key in raw:
        if not isinstance(key, str):
            raise fail(str(key), "keys must be text, like the known keys")
    unknown = sorted(set(raw) - set(KNOWN_KEYS))
    if unknown:
        raise fail(unknown[0], f"unknown key; known keys are {', '.join(KNOWN_KEYS)}")
    for key in ("name", "variants", "control", "tasks"):
        if key not in raw:
            raise fail(key, "required")

    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "must be a non-empty string")

    variants = raw["variants"]
    if not isinstance(variants, Mapping) or len(variants) < 2:
        raise fail("variants", "must map at least two labels to registry references")
    parsed_variants = []
    for label, ref in variants.items():
        if not isinstance(label, str) or not ARM_LABEL_RE.match(label):
            raise fail("variants", f"invalid label {label!r}: letters, digits, . _ -")
        if not isinstance(ref, str):
            raise fail(f"variants.{label}", "must be a reference like NAME@3 or NAME@label")
        try:
            parse_ref(ref)
        except InvalidReference as err:
            raise fail(f"variants.{label}", str(err)) from None
        parsed_variants.append(ArmSpec(label, ref))

    control = raw["control"]
    if not isinstance(control, str) or control not in variants:
        raise fail("control", f"{control!r} is not one of the variants ({', '.join(variants)})")

    tasks = raw["tasks"]
    if not isinstance(tasks, str) or not tasks:
        raise fail("tasks", "must be the path of a task suite")
    tasks_path = Path(tasks).expanduser()
    if not tasks_path.is_absolute():
        tasks_path = base_dir / tasks_path

    def integer(key: str, default: int, low: int, high: int) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise fail(key, f"must be a whole number from {low} to {high}, got {value!r}")
        return value

    max_cost = raw.get("max_cost_usd")
    if max_cost is not None and not is_budget(max_cost):
        raise fail(
            "max_cost_usd",
            f"must be a positive number of dollars (not NaN or infinity), got {max_cost!r}",
        )

    kind = raw.get("kind", "response")
    if kind not in KINDS:
        raise fail("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    delegation = None
    if kind == "delegation":
        delegation = _delegation_spec(raw, base_dir, fail)
    else:
        given = [key for key in DELEGATION_KEYS if key in raw]
        if given:
            raise fail(given[0], "only a delegation experiment has it; add `kind: delegation`")
    agentic = None
    if kind == "agentic":
        agentic = _agentic_spec(raw, fail)
    else:
        given = [key for key in AGENTIC_KEYS if key in raw]
        if given:
            raise fail(given[0], "only an agentic experiment has it; add `kind: agentic`")

    real = (delegation and delegation.router != "simulated") or (
        agentic and agentic.runtime != "simulated"
    )
    default_provider = "anthropic" if real else "simulated"
    provider = raw.get("provider", default_provider)
    if delegation is not None and delegation.router == "simulated" and provider != "simulated":
        raise fail("provider", "the simulated router decides offline; remove `provider`")
    if delegation is not None and delegation.router != "simulated" and provider != "anthropic":
        raise fail("provider", f"router {delegation.router} calls the Anthropic API: anthropic")
    if agentic is not None and provider != default_provider:
        raise fail("provider", f"runtime {agentic.runtime} needs provider {default_provider}")
    if provider not in PROVIDER_NAMES:
        raise fail("provider", f"must be one of {', '.join(PROVIDER_NAMES)}, got {provider!r}")

    request = raw.get("request", {}) or {}
    if not isinstance(request, Mapping):
        raise fail("request", "must be a mapping of Messages API fields")
    for key in request:
        if key in REMOVED_SAMPLING:
            raise fail(
                f"request.{key}",
                "the current Messages API rejects temperature, top_p and top_k; "
                "vary thinking or output_config effort instead",
            )
        if key in RESERVED_REQUEST:
            raise fail(f"request.{key}", "set by the experiment itself; remove it here")

    graders = raw.get("graders", []) or []
    if not isinstance(graders, list) or not all(isinstance(g, Mapping) for g in graders):
        raise fail("graders", "must be a list of grader settings")

    if delegation is not None and graders:
        raise fail("graders", "a delegation trial is scored by the agent it picks, not graded")

    defaults = DEFAULT_SETTINGS
    cache = raw.get("cache", defaults.cache)
    if not isinstance(cache, bool):
        raise fail("cache", "must be true or false")

    sequential = _sequential_batch_tasks(raw.get("sequential"), fail)

    seed = raw.get("seed", 0)
    low, high = SEED_RANGE
    if isinstance(seed, bool) or not isinstance(seed, int) or not low <= seed <= high:
        raise fail("seed", f"must be a whole number from {low} to {high}, got {seed!r}")

    try:
        decision = parse_decision(raw.get("decision"))
    except SpecError as err:
        raise SpecError(f"{where}: {err}") from None

    return ExperimentSpec(
        name=name.strip(),
        variants=tuple(parsed_variants),
        control=control,
        tasks_path=tasks_path,
        epochs=integer("epochs", 1, 1, 1000),
        provider=provider,
        seed=seed,
        max_cost_usd=float(max_cost) if max_cost is not None else None,
        settings=RunSettings(
            concurrency=integer("concurrency", defaults.concurrency, 1, 1024),
            max_tokens=integer("max_tokens", defaults.max_tokens, 1, 200_000),
            request=dict(request),
            cache=cache,
            max_attempts=integer("max_attempts", defaults.max_attempts, 1, 50),
            estimate_output_tokens=integer(
                "estimate_output_tokens", defaults.estimate_output_tokens, 1, 200_000
            ),
            sequential_batch_tasks=sequential,
        ),
        graders=tuple(dict(g) for g in graders),
        decision=decision,
        kind=kind,
        delegation=delegation,
        agentic=agentic,
        source_text=text,
        path=path,
    )


def _sequential_batch_tasks(raw: object, fail: Any) -> int | None:
    """``sequential:`` as tasks per look: true (the default batch), false or absent (None), or
    ``{batch_tasks: N}``."""
    if raw is None or raw is False:
        return None
    if raw is True:
        return DEFAULT_BATCH_TASKS
    if not isinstance(raw, Mapping):
        raise fail("sequential", "must be true, false or a mapping like {batch_tasks: 8}")
    unknown = sorted(set(map(str, raw)) - {"batch_tasks"})
    if unknown:
        raise fail(f"sequential.{unknown[0]}", "unknown key; the known key is batch_tasks")
    batch = raw.get("batch_tasks", DEFAULT_BATCH_TASKS)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 100_000:
        raise fail(
            "sequential.batch_tasks", f"must be a whole number from 1 to 100000, got {batch!r}"
        )
    return batch


def _delegation_spec(raw: Mapping[str, Any], base_dir: Path, fail: Any) -> DelegationSpec:
    roster = raw.get("roster", [])
    if isinstance(roster, str):
        roster = [roster]
    if not isinstance(roster, list) or not all(isinstance(r, str) and r for r in roster):
        raise fail("roster", "must be a list of agent files, folders or registry references")
    entries = []
    for entry in roster:
        path = Path(entry).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        # A file or folder when it says so or exists; otherwise a registry reference.
        entries.append(str(path) if _looks_like_path(entry) or path.exists() else entry)
    router = raw.get("router", "simulated")
    if router not in ROUTER_NAMES:
        raise fail("router", f"must be one of {', '.join(ROUTER_NAMES)}, got {router!r}")
    main_model = raw.get("main_model")
    if main_model is not None and (not isinstance(main_model, str) or not main_model.strip()):
        raise fail("main_model", "must be a model alias or ID, like sonnet")
    timeout = raw.get("router_timeout_s", 180)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not (math.isfinite(timeout) and 1 <= timeout <= 3600)
    ):
        raise fail(
            "router_timeout_s", f"must be a number of seconds from 1 to 3600, got {timeout!r}"
        )
    capture = raw.get("capture")
    if capture is not None:
        if not isinstance(capture, str) or not capture:
            raise fail("capture", "must be the path of a Claude Code capture")
        path = Path(capture).expanduser()
        capture = str(path if path.is_absolute() else base_dir / path)
        if router != "messages":
            raise fail("capture", "only the messages router replays a capture")
    return DelegationSpec(tuple(entries), router, main_model, float(timeout), capture)


def _agentic_spec(raw: Mapping[str, Any], fail: Any) -> AgenticSpec:
    runtime = raw.get("runtime", AgenticSpec.runtime)
    if runtime not in RUNTIME_NAMES:
        raise fail("runtime", f"must be one of {', '.join(RUNTIME_NAMES)}, got {runtime!r}")
    turns = raw.get("max_turns", AgenticSpec.max_turns)
    if isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= 1000:
        raise fail("max_turns", f"must be a whole number from 1 to 1000, got {turns!r}")

    def seconds(key: str, default: float) -> float:
        value = raw.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and 1 <= value <= 86_400)
        ):
            raise fail(key, f"must be a number of seconds from 1 to 86400, got {value!r}")
        return float(value)

    sandbox = raw.get("sandbox", AgenticSpec.sandbox)
    if not isinstance(sandbox, bool):
        raise fail("sandbox", f"must be true or false, got {sandbox!r}")
    return AgenticSpec(
        runtime,
        turns,
        seconds("time_limit_s", AgenticSpec.time_limit_s),
        seconds("check_timeout_s", AgenticSpec.check_timeout_s),
        sandbox,
    )


def _looks_like_path(entry: str) -> bool:
    """A roster entry that says it is a file or folder (``.md``, a slash)."""
    return entry.endswith(".md") or "/" in entry or entry in (".", "..") or entry.startswith("~")
