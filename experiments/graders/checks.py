"""Deterministic graders: cheap, reproducible checks on the response text.

Scoring rules shared by the string checks: an ``any`` list (or a single ``value``) scores 1 or 0;
an ``all`` list scores the fraction satisfied and passes only when every item is. ``not_contains``
requires absence: with ``any`` it scores 1 only when none of the strings appears, with ``all`` it
scores the fraction of the strings that are absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import SpecError
from experiments.graders.base import (
    GraderConfig,
    GradeResult,
    bool_param,
    check_keys,
    int_param,
    register_grader_type,
    str_list_param,
    str_param,
)
from experiments.providers.base import TaskMaterial


def _quoted(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{s}'" for s in items)


def _excerpt(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class _Check:
    """A synchronous check exposed through the async ``Grader`` interface."""

    name: str
    weight: float

    async def grade(self, response_text: str, task: TaskMaterial) -> GradeResult:
        return self.check(response_text)

    def check(self, text: str) -> GradeResult:
        raise NotImplementedError

    def _result(
        self, score: float, passed: bool | None, reason: str, **details: Any
    ) -> GradeResult:
        return GradeResult(self.name, score, passed, reason, details=details)


# --- contains / not_contains ---------------------------------------------------------------


@dataclass(frozen=True)
class Contains(_Check):
    name: str
    weight: float
    needles: tuple[str, ...]
    require_all: bool  # `all` list: graded fraction; `any` list or `value`: 1 or 0
    case_sensitive: bool
    absent: bool  # True for not_contains

    def check(self, text: str) -> GradeResult:
        fold: Callable[[str], str] = (lambda s: s) if self.case_sensitive else str.casefold
        hay = fold(text)
        found = [n for n in self.needles if fold(n) in hay]
        missing = [n for n in self.needles if n not in found]
        details = {"found": found, "missing": missing}
        if self.absent:
            if not found:
                return self._result(
                    1.0, True, f"none of {_quoted(self.needles)} appears", **details
                )
            score = len(missing) / len(self.needles) if self.require_all else 0.0
            return self._result(score, False, f"contains forbidden {_quoted(found)}", **details)
        if self.require_all:
            score = len(found) / len(self.needles)
            if not missing:
                return self._result(1.0, True, f"contains all of {_quoted(found)}", **details)
            lead = f"found {_quoted(found)}; " if found else ""
            return self._result(score, False, f"{lead}missing {_quoted(missing)}", **details)
        if found:
            return self._result(1.0, True, f"contains {_quoted(found)}", **details)
        return self._result(0.0, False, f"none of {_quoted(self.needles)} appears", **details)


def _build_contains(config: GraderConfig, *, absent: bool) -> Contains:
    params = config.params
    check_keys(params, ("any", "all", "value", "case_sensitive"))
    given = [k for k in ("any", "all", "value") if k in params]
    if len(given) != 1:
        raise SpecError("any/all/value: give exactly one of 'any', 'all' or 'value'")
    key = given[0]
    needles = str_list_param(params, key) or ()
    if key == "value" and len(needles) != 1:
        raise SpecError("value: must be one string; use 'any' or 'all' for a list")
    return Contains(
        config.name,
        config.weight,
        needles,
        require_all=key == "all",
        case_sensitive=bool_param(params, "case_sensitive", False),
        absent=absent,
    )


# --- regex -------------------------------------------------------------------------------------

_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@dataclass(frozen=True)
class Regex(_Check):
    name: str
    weight: float
    pattern: re.Pattern[str]
    must_match: bool

    def check(self, text: str) -> GradeResult:
        match = self.pattern.search(text)
        shown = f"/{self.pattern.pattern}/"
        if match is None:
            ok = not self.must_match
            reason = f"no match for {shown}" + ("" if ok else " (required)")
            return self._result(float(ok), ok, reason, match=None)
        found = _excerpt(match.group(0))
        if self.must_match:
            return self._result(1.0, True, f"{shown} matched '{found}'", match=match.group(0))
        return self._result(
            0.0, False, f"forbidden {shown} matched '{found}'", match=match.group(0)
        )


def _build_regex(config: GraderConfig) -> Regex:
    params = config.params
    check_keys(params, ("pattern", "flags", "must_match"))
    pattern = str_param(params, "pattern")
    if pattern is None:
        raise SpecError("pattern: required")
    flag_letters = params.get("flags", "")
    if not isinstance(flag_letters, str) or set(flag_letters) - set(_FLAGS):
        raise SpecError(f"flags: must be letters among {''.join(_FLAGS)}, got {flag_letters!r}")
    flags = 0
    for letter in flag_letters:
        flags |= _FLAGS[letter]
    try:
        compiled = re.compile(pattern, flags)
    except re.error as err:
        raise SpecError(f"pattern: invalid regular expression {pattern!r}: {err}") from err
    return Regex(config.name, config.weight, compiled, bool_param(params, "must_match", True))


# --- fenced code blocks, json_valid, json_schema, code_block -----------------------------------

_OPEN_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$")
_CLOSE_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")


@dataclass(frozen=True)
class CodeBlock:
    language: str  # first word of the info string, lower-cased; "" when there is none
    code: str


def code_blocks(text: str) -> tuple[CodeBlock, ...]:
    """Fenced blocks (``` or ~~~) in Markdown order.

    An unclosed fence runs to the end of the text, as in CommonMark: a response cut at
    max_tokens still shows the code it had started.
    """
    blocks: list[CodeBlock] = []
    fence: str | None = None
    language = ""
    body: list[str] = []
    for line in text.splitlines():
        if fence is None:
            opened = _OPEN_FENCE.match(line)
            if opened:
                fence, language, body = opened.group(1), opened.group(2).lower(), []
            continue
        closed = _CLOSE_FENCE.match(line)
        if closed and closed.group(1)[0] == fence[0] and len(closed.group(1)) >= len(fence):
            blocks.append(CodeBlock(language, "\n".join(body)))
            fence = None
        else:
            body.append(line)
    if fence is not None:
        blocks.append(CodeBlock(language, "\n".join(body)))
    return tuple(blocks)


@dataclass(frozen=True)
class _ParsedJson:
    value: Any
    source: str  # "the response" or "the first ```json block"


def _parse_json(text: str) -> _ParsedJson | str:
    """The response as JSON, else its first ```json block; a reason string when neither parses."""
    try:
        return _ParsedJson(json.loads(text), "the response")
    except ValueError:
        pass
    block = next((b for b in code_blocks(text) if b.language == "json"), None)
    if block is None:
        return "the response is not JSON and has no ```json block"
    try:
        return _ParsedJson(json.loads(block.code), "the first ```json block")
    except ValueError as err:
        return f"the first ```json block is not valid JSON: {err}"


@dataclass(frozen=True)
class JsonValid(_Check):
    name: str
    weight: float

    def check(self, text: str) -> GradeResult:
        parsed = _parse_json(text)
        if isinstance(parsed, str):
            return self._result(0.0, False, parsed)
        return self._result(1.0, True, f"{parsed.source} is valid JSON")


def _build_json_valid(config: GraderConfig) -> JsonValid:
    check_keys(config.params, ())
    return JsonValid(config.name, config.weight)


@dataclass(frozen=True)
class JsonSchema(_Check):
    name: str
    weight: float
    validator: Any  # a jsonschema validator instance for the configured schema

    def check(self, text: str) -> GradeResult:
        import jsonschema

        parsed = _parse_json(text)
        if isinstance(parsed, str):
            return self._result(0.0, False, parsed)
        error = jsonschema.exceptions.best_match(self.validator.iter_errors(parsed.value))
        if error is None:
            return self._result(1.0, True, f"{parsed.source} matches the schema")
        where = error.json_path
        return self._result(
            0.0, False, f"{parsed.source} does not match the schema at {where}: {error.message}"
        )


def _build_json_schema(config: GraderConfig) -> JsonSchema:
    import jsonschema

    check_keys(config.params, ("schema",))
    schema = config.params.get("schema")
    if not isinstance(schema, Mapping):
        raise SpecError("schema: required, an inline JSON Schema mapping")
    schema = json.loads(json.dumps(schema))  # plain dicts, and proof it is JSON-serialisable
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.exceptions.SchemaError as err:
        raise SpecError(f"schema: not a valid JSON Schema: {err.message}") from err
    return JsonSchema(config.name, config.weight, validator_class(schema))


@dataclass(frozen=True)
class HasCodeBlock(_Check):
    name: str
    weight: float
    languages: tuple[str, ...]  # lower-cased; empty means any fenced block counts

    def check(self, text: str) -> GradeResult:
        blocks = code_blocks(text)
        found = sorted({b.language or "(none)" for b in blocks})
        if self.languages:
            matching = [b for b in blocks if b.language in self.languages]
            if matching:
                return self._result(
                    1.0, True, f"has a {matching[0].language} code block", languages=found
                )
            seen = f"; found only {', '.join(found)}" if blocks else ""
            wanted = " or ".join(self.languages)
            return self._result(0.0, False, f"no {wanted} code block{seen}", languages=found)
        if blocks:
            return self._result(
                1.0, True, f"has {len(blocks)} fenced code block(s)", languages=found
            )
        return self._result(0.0, False, "no fenced code block", languages=found)


def _build_code_block(config: GraderConfig) -> HasCodeBlock:
    check_keys(config.params, ("language",))
    languages = str_list_param(config.params, "language") or ()
    return HasCodeBlock(config.name, config.weight, tuple(s.lower() for s in languages))


# --- length ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Length(_Check):
    """Within bounds scores 1; outside, the ratio to the nearest bound (short of 1)."""

    name: str
    weight: float
    bounds: tuple[tuple[str, int | None, int | None], ...]  # (unit, min, max)

    def check(self, text: str) -> GradeResult:
        score, notes = 1.0, []
        for unit, low, high in self.bounds:
            size = len(text) if unit == "chars" else len(text.split())
            if low is not None and size < low:
                score = min(score, size / low)
                notes.append(f"{size} {unit}, below the minimum of {low}")
            elif high is not None and size > high:
                score = min(score, high / size)
                notes.append(f"{size} {unit}, above the maximum of {high}")
            else:
                span = f"{low if low is not None else 0}-{high if high is not None else 'any'}"
                notes.append(f"{size} {unit}, within {span}")
        return self._result(score, score == 1.0, "; ".join(notes))


def _build_length(config: GraderConfig) -> Length:
    params = config.params
    check_keys(params, ("min_chars", "max_chars", "min_words", "max_words"))
    bounds = []
    for unit in ("chars", "words"):
        low, high = int_param(params, f"min_{unit}"), int_param(params, f"max_{unit}")
        if low is not None and high is not None and low > high:
            raise SpecError(f"min_{unit}: {low} is above max_{unit} {high}")
        if low is not None or high is not None:
            bounds.append((unit, low, high))
    if not bounds:
        raise SpecError("min_chars/max_chars/min_words/max_words: give at least one bound")
    return Length(config.name, config.weight, tuple(bounds))


# --- python ------------------------------------------------------------------------------------

DEFAULT_PYTHON_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PythonCheck:
    """A user function ``f(response_text, task)`` returning a float, a bool or (score, reason);
    ``task`` is the ``TaskMaterial`` (``task.id``, ``prompt``, ``reference``, ``rubric``).

    The function may be async. A plain function runs on a thread of its own, so that it never
    blocks the run (storing, other cells); ``timeout`` seconds bound either kind. Its exceptions,
    a timeout and out-of-range scores become an error result.
    """

    name: str
    weight: float
    function: Callable[..., Any]
    target: str  # the configured "module:function", for messages
    timeout: float = DEFAULT_PYTHON_TIMEOUT_S

    async def grade(self, response_text: str, task: TaskMaterial) -> GradeResult:
        try:
            async with asyncio.timeout(self.timeout):
                if inspect.iscoroutinefunction(self.function):
                    value = await self.function(response_text, task)
                else:
                    value = await _on_own_thread(self.function, response_text, task)
                if inspect.isawaitable(value):
                    value = await value
        except TimeoutError:
            return self._failed(f"{self.target} did not return within {self.timeout:g} s")
        except Exception as err:  # user code: any failure is this grader's error, not a zero
            return self._failed(f"{self.target} raised {type(err).__name__}: {err}")
        reason = None
        if isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[1], str):
            value, reason = value
        if isinstance(value, bool):
            return GradeResult(self.name, float(value), value, reason or f"returned {value}")
        if isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1:
            return GradeResult(self.name, float(value), None, reason or f"returned {value:.3g}")
        return self._failed(
            f"{self.target} returned {value!r}; expected a score in [0, 1], a bool "
            "or (score, reason)"
        )

    def _failed(self, message: str) -> GradeResult:
        return GradeResult(self.name, None, None, "the grading function failed", error=message)


async def _on_own_thread(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` on a daemon thread: one that never returns is abandoned on timeout
    and cannot hold up the end of the run (the default executor would wait for it)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():  # timed out meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, error = function(*args), None
        except Exception as err:
            value, error = None, err
        with contextlib.suppress(RuntimeError):  # the loop closed while the function ran
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name=f"grader {function.__name__}", daemon=True).start()
    return await future


def _load_function(target: str, base_dir: Path | None) -> Callable[..., Any]:
    """Import ``module:function``; the module may be a dotted name or a .py file path."""
    module_ref, _, attr = target.rpartition(":")
    if not module_ref or not attr:
        raise SpecError(
            f"function: must be 'module:function' or 'path/file.py:function', got {target!r}"
        )
    try:
        if module_ref.endswith(".py"):
            path = Path(module_ref)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            path = path.resolve()
            # One module per file, named by its path, so two suites' graders.py never collide.
            module_name = "_registry_grader_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
            module = sys.modules.get(module_name)
            if module is None:
                spec = importlib.util.spec_from_file_location(module_name, path)
                if spec is None or spec.loader is None or not path.is_file():
                    raise SpecError(f"function: no Python file at {path}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[module_name] = module
        else:
            module = importlib.import_module(module_ref)
    except SpecError:
        raise
    except Exception as err:  # importing runs user code: report whatever it raised
        raise SpecError(
            f"function: cannot import {module_ref!r}: {type(err).__name__}: {err}"
        ) from err
    function = getattr(module, attr, None)
    if not callable(function):
        raise SpecError(f"function: {module_ref!r} has no function {attr!r}")
    return function


def python_location(config: GraderConfig) -> str:
    """Where a python grader's function lives, without importing anything: the resolved file
    and function of ``path.py:function``, or ``module:function`` as written."""
    target = str(config.params.get("function", ""))
    module_ref, _, attr = target.rpartition(":")
    if module_ref.endswith(".py"):
        path = Path(module_ref)
        if not path.is_absolute() and config.base_dir is not None:
            path = config.base_dir / path
        return f"{path.resolve()}:{attr}"
    return target


def python_source(config: GraderConfig) -> str:
    """The pin of a python grader's code, ``<location>@sha256:<hex>`` of its file as it is now
    (a dotted module is found without being run); for ``GraderConfig.source``."""
    location = python_location(config)
    module_ref = location.rpartition(":")[0]
    if module_ref.endswith(".py"):
        origin: str | None = module_ref
    else:
        try:
            found = importlib.util.find_spec(module_ref)
        except (ImportError, ValueError):
            found = None
        origin = found.origin if found is not None else None
    try:
        digest = hashlib.sha256(Path(origin).read_bytes()).hexdigest() if origin else "unknown"
    except OSError:
        digest = "unknown"
    return f"{location}@sha256:{digest}"


def _build_python(config: GraderConfig) -> PythonCheck:
    check_keys(config.params, ("function", "timeout"))
    target = str_param(config.params, "function")
    if target is None:
        raise SpecError("function: required, as 'module:function'")
    timeout = config.params.get("timeout", DEFAULT_PYTHON_TIMEOUT_S)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise SpecError(f"timeout: must be a positive number of seconds, got {timeout!r}")
    function = _load_function(target, config.base_dir)
    return PythonCheck(config.name, config.weight, function, target, float(timeout))


register_grader_type("contains", lambda c: _build_contains(c, absent=False))
register_grader_type("not_contains", lambda c: _build_contains(c, absent=True))
register_grader_type("regex", _build_regex)
register_grader_type("json_valid", _build_json_valid)
register_grader_type("json_schema", _build_json_schema)
register_grader_type("code_block", _build_code_block)
register_grader_type("length", _build_length)
register_grader_type("python", _build_python)
