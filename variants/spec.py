"""Variant specs and factorial specs: YAML that derives new versions of an agent from a base.

A variant spec names a base reference, a label and the changes::

    base: backend-logic-implementer@1
    label: tight
    message: tighter wording            # optional
    model: haiku                        # an alias or a model ID
    fields: {set: {color: blue}, remove: [memory]}
    wording:                            # applied in order
      - {replace: "old text", with: "new text", in: body, occurrence: 2}
      - {append: "text", in: description}
      - {prepend: "text", in: body}
      - {section: "Output Format", text: "new text under the heading"}
      - {body_from: new-body.md}       # relative to the spec file
    examples:                           # one of replace, keep, drop, reorder; add goes with any
      keep: [1, 3]
      add: [{context: ..., user: ..., assistant: ..., commentary: ...}, {file: more.md, at: 1}]

A factorial spec has ``axes`` (axis -> level -> changes); every combination of one level per axis
is its own variant, labelled from the ``label`` template (default: the level names joined by
``-``). Changes apply in this order: fields, model, wording, examples; in a factorial spec the
top-level changes first, then each axis in the order written.

Three stages keep a bad spec from writing anything: ``load_variant_spec`` checks all that needs no
database (YAML, keys, types, reference and label syntax, the files the spec names);
``VariantSpec.derive`` reads the base (through the ``ReadBase`` its caller gives) and applies
every variant; only then does the registry publish them.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import yaml

from core.errors import AgentFileError, NotFoundError, SpecError
from core.files import MAX_SPEC_BYTES, read_regular_file
from variants import derive
from variants.agentfile import MAX_FILE_BYTES, AgentDefinition
from variants.examples import Example, split_examples
from variants.refs import InvalidReference, Ref, check_label, parse_ref
from variants.yamlio import load_strict_yaml, yaml_error_line

SPEC_KEYS = ("base", "label", "message", "model", "fields", "wording", "examples")
FACTORIAL_KEYS = ("base", "label", "message", "axes", "model", "fields", "wording", "examples")
CHANGE_KEYS = ("model", "fields", "wording", "examples")
FIELDS_KEYS = ("set", "remove")
EXAMPLES_KEYS = ("replace", "keep", "drop", "reorder", "add")
EXAMPLE_KEYS = ("context", "user", "assistant", "commentary", "text", "file")
WORDING_KEYS: dict[str, tuple[str, ...]] = {
    "replace": ("replace", "with", "in", "occurrence"),
    "append": ("append", "in"),
    "prepend": ("prepend", "in"),
    "section": ("section", "text", "occurrence"),
    "body_from": ("body_from",),
}
MAX_COMBINATIONS = 64
COMBINATION_HEADER = "# factorial combination: "
_AXIS_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Edit = Callable[[AgentDefinition], AgentDefinition]


@dataclass(frozen=True)
class Step:
    where: str  # where in the spec the edit is written, for error messages
    edit: Edit


@dataclass(frozen=True)
class Variant:
    label: str
    steps: tuple[Step, ...]
    spec_text: str  # what the registry stores as the version's spec
    levels: dict[str, str] | None = None  # axis -> level, for a factorial combination

    def apply(self, base: AgentDefinition, origin: str) -> AgentDefinition:
        definition = base
        for step in self.steps:
            try:
                definition = step.edit(definition)
            except SpecError as err:
                raise SpecError(f"{origin}: {step.where}: {err}") from None
            except AgentFileError as err:
                raise AgentFileError(
                    f"{origin}: {step.where}: the result is no longer a valid agent "
                    f"definition: {err}"
                ) from None
        return definition


@dataclass(frozen=True)
class Derived:
    variant: Variant
    base: Ref  # the exact base version, NAME@N
    definition: AgentDefinition


class BaseVersion(Protocol):
    """A stored version as derive reads it: its exact reference (``NAME@N``) and its bytes."""

    @property
    def ref(self) -> Ref: ...

    @property
    def source(self) -> bytes: ...


# Resolves a spec's base reference (a label, a number or the latest) to the version it names
# today; raises NotFoundError when there is none (the registry store's ``resolve`` is one).
ReadBase = Callable[[Ref], BaseVersion]


@dataclass(frozen=True)
class VariantSpec:
    origin: str  # the spec file as given, or the command that built the spec
    base: Ref
    message: str | None
    variants: tuple[Variant, ...]

    def derive(self, read_base: ReadBase) -> list[Derived]:
        """Every variant applied to the base that ``read_base`` gives; writes nothing."""
        try:
            base = read_base(self.base)
        except NotFoundError as err:
            raise NotFoundError(f"{self.origin}: base {self.base}: {err}") from None
        definition = AgentDefinition.parse(
            base.source, origin=str(base.ref), name_override=base.ref.name
        )
        return [Derived(v, base.ref, v.apply(definition, self.origin)) for v in self.variants]


def load_variant_spec(path: str | Path) -> VariantSpec:
    path = Path(path)
    try:
        text = read_regular_file(path, MAX_SPEC_BYTES).decode("utf-8")
    except OSError as err:
        raise SpecError(f"{path}: cannot read: {err.strerror}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    return parse_variant_spec(text, origin=str(path), root=path.parent)


def parse_variant_spec(text: str, *, origin: str, root: Path) -> VariantSpec:
    """Parse and check a spec; ``root`` is where the files it names are looked up."""
    try:
        data = load_strict_yaml(text)
    except yaml.YAMLError as err:
        raise SpecError(yaml_error_line(origin, err)) from None
    return _Reader(origin, root).spec(data, text)


def combination_levels(spec_text: str | None) -> dict[str, str] | None:
    """The axis levels recorded in a stored factorial combination's spec, else None."""
    first = (spec_text or "").partition("\n")[0]
    if not first.startswith(COMBINATION_HEADER):
        return None
    levels = json.loads(first.removeprefix(COMBINATION_HEADER))
    return {str(k): str(v) for k, v in levels.items()}


class _Reader:
    """Turns the parsed YAML into steps; every error names the spec and the place in it."""

    def __init__(self, origin: str, root: Path):
        self.origin = origin
        self.root = root

    def fail(self, where: str, message: str) -> SpecError:
        return SpecError(
            f"{self.origin}: {where}: {message}" if where else f"{self.origin}: {message}"
        )

    def keys(self, data: object, valid: tuple[str, ...], where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, f"expected a mapping with keys {', '.join(valid)}")
        for key in data:
            if key not in valid:
                raise self.fail(where, f"unknown key {key!r} (valid keys: {', '.join(valid)})")
        return data

    def text(self, data: dict[str, Any], key: str, where: str, *, required: bool = True) -> Any:
        if key not in data or data[key] is None:
            if required:
                raise self.fail(where, f"{key!r} is required")
            return None
        value = data[key]
        if not isinstance(value, str):
            raise self.fail(where, f"{key!r} must be text, not {type(value).__name__}")
        return value

    # -- the spec ------------------------------------------------------------------------------

    def spec(self, data: object, text: str) -> VariantSpec:
        if not isinstance(data, dict):
            raise self.fail("", "a variant spec is a mapping with base, label and the changes")
        factorial = "axes" in data
        self.keys(data, FACTORIAL_KEYS if factorial else SPEC_KEYS, "")
        base_text = self.text(data, "base", "")
        try:
            base = parse_ref(base_text)
        except InvalidReference as err:
            raise self.fail("base", str(err)) from None
        message = self.text(data, "message", "", required=False)
        common = self.changes(data, "")
        if factorial:
            variants = self.combinations(data, common, text)
        else:
            label = self.label(self.text(data, "label", ""), "label")
            if not common:
                raise self.fail(
                    "", "the spec changes nothing (give model, fields, wording or examples)"
                )
            variants = (Variant(label, tuple(common), text),)
        return VariantSpec(self.origin, base, message, variants)

    def label(self, label: str, where: str) -> str:
        try:
            return check_label(label)
        except InvalidReference as err:
            raise self.fail(where, str(err)) from None

    def combinations(
        self, data: dict[str, Any], common: list[Step], text: str
    ) -> tuple[Variant, ...]:
        axes = data["axes"]
        if not isinstance(axes, dict) or not axes:
            raise self.fail("axes", "expected a mapping of axis -> level -> changes")
        levels_by_axis: dict[str, list[tuple[str, list[Step]]]] = {}
        for axis, levels in axes.items():
            if not isinstance(axis, str) or not _AXIS_RE.fullmatch(axis):
                raise self.fail("axes", f"axis name {axis!r} must be a word (letters, digits, _)")
            if not isinstance(levels, dict) or not levels:
                raise self.fail(f"axes.{axis}", "expected a mapping of level name -> changes")
            levels_by_axis[axis] = [
                (
                    str(level),
                    self.changes(
                        self.keys(changes or {}, CHANGE_KEYS, f"axes.{axis}.{level}"),
                        f"axes.{axis}.{level}.",
                    ),
                )
                for level, changes in levels.items()
            ]
        template = self.text(data, "label", "", required=False) or "-".join(
            "{" + axis + "}" for axis in axes
        )
        self.check_template(template, list(axes))
        count = math.prod(len(levels) for levels in levels_by_axis.values())
        if count > MAX_COMBINATIONS:
            raise self.fail(
                "axes", f"{count} combinations, more than the {MAX_COMBINATIONS} allowed"
            )
        variants: list[Variant] = []
        seen: dict[str, dict[str, str]] = {}
        for combination in itertools.product(*levels_by_axis.values()):
            levels = {axis: level for axis, (level, _) in zip(axes, combination, strict=True)}
            label = self.label(template.format(**levels), "label")
            if label in seen:
                raise self.fail(
                    "label",
                    f"template {template!r} gives label {label!r} to both {seen[label]} and "
                    f"{levels}; name every axis in it",
                )
            seen[label] = levels
            steps = [*common, *(step for _, level_steps in combination for step in level_steps)]
            header = COMBINATION_HEADER + json.dumps(levels) + "\n"
            variants.append(Variant(label, tuple(steps), header + text, levels))
        return tuple(variants)

    def check_template(self, template: str, axes: list[str]) -> None:
        try:
            fields = [
                (name, spec, conversion)
                for _, name, spec, conversion in string.Formatter().parse(template)
                if name is not None
            ]
        except ValueError as err:
            raise self.fail("label", f"invalid label template {template!r}: {err}") from None
        for name, spec, conversion in fields:
            # A format spec could ask for a string of any width ({model:>999999999}).
            if spec or conversion:
                raise self.fail(
                    "label",
                    f"invalid label template {template!r}: write each axis as {{axis}}, "
                    "without a format or conversion",
                )
            if name not in axes:
                raise self.fail(
                    "label",
                    f"label template names unknown axis {name!r} (axes: {', '.join(axes)})",
                )

    # -- changes -------------------------------------------------------------------------------

    def changes(self, data: dict[str, Any], prefix: str) -> list[Step]:
        steps: list[Step] = []
        if data.get("fields") is not None:
            steps += self.fields(data["fields"], f"{prefix}fields")
        if data.get("model") is not None:
            try:
                model = derive.check_model(data["model"])
            except SpecError as err:
                raise self.fail(f"{prefix}model", str(err)) from None
            steps.append(Step(f"{prefix}model", partial(derive.set_model, model=model)))
        if data.get("wording") is not None:
            steps += self.wording(data["wording"], f"{prefix}wording")
        if data.get("examples") is not None:
            steps += self.examples(data["examples"], f"{prefix}examples")
        return steps

    def fields(self, data: object, where: str) -> list[Step]:
        data = self.keys(data, FIELDS_KEYS, where)
        steps: list[Step] = []
        to_set = data.get("set") or {}
        if not isinstance(to_set, dict):
            raise self.fail(f"{where}.set", "expected a mapping of field -> value")
        for key, value in to_set.items():
            steps.append(
                Step(f"{where}.set.{key}", partial(derive.set_field, key=str(key), value=value))
            )
        to_remove = data.get("remove") or []
        if not isinstance(to_remove, list) or not all(isinstance(k, str) for k in to_remove):
            raise self.fail(f"{where}.remove", "expected a list of field names")
        for key in to_remove:
            steps.append(Step(f"{where}.remove.{key}", partial(derive.remove_field, key=key)))
        return steps

    def wording(self, data: object, where: str) -> list[Step]:
        if not isinstance(data, list):
            raise self.fail(where, "expected a list of steps")
        return [self.wording_step(item, f"{where}[{i}]") for i, item in enumerate(data, 1)]

    def wording_step(self, item: object, where: str) -> Step:
        actions = [key for key in WORDING_KEYS if isinstance(item, dict) and key in item]
        if len(actions) != 1:
            raise self.fail(where, f"each step needs exactly one of {', '.join(WORDING_KEYS)}")
        action = actions[0]
        item = self.keys(item, WORDING_KEYS[action], where)
        if action == "body_from":
            body = self.read(self.text(item, "body_from", where), where)
            return Step(where, partial(derive.replace_body, body=body))
        occurrence = self.occurrence(item, where)
        if action == "section":
            heading, text = self.text(item, "section", where), self.text(item, "text", where)
            edit = partial(
                derive.replace_section, heading=heading, text=text, occurrence=occurrence
            )
            return Step(where, edit)
        target = self.text(item, "in", where, required=False) or "body"
        if target not in derive.TARGETS:
            raise self.fail(
                where, f"'in' must be one of {', '.join(derive.TARGETS)}, not {target!r}"
            )
        if action == "replace":
            find, replacement = self.text(item, "replace", where), self.text(item, "with", where)
            return Step(
                where,
                partial(
                    derive.replace_text,
                    find=find,
                    replacement=replacement,
                    target=target,
                    occurrence=occurrence,
                ),
            )
        function = derive.append_text if action == "append" else derive.prepend_text
        return Step(where, partial(function, text=self.text(item, action, where), target=target))

    def occurrence(self, item: dict[str, Any], where: str) -> int | None:
        value = item.get("occurrence")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise self.fail(where, f"'occurrence' must be a number from 1, not {value!r}")
        return value

    def examples(self, data: object, where: str) -> list[Step]:
        data = self.keys(data, EXAMPLES_KEYS, where)
        selections = [key for key in ("replace", "keep", "drop", "reorder") if key in data]
        if len(selections) > 1:
            raise self.fail(
                where, f"use one of replace, keep, drop, reorder, not {' and '.join(selections)}"
            )
        steps: list[Step] = []
        if "replace" in data:
            entries = self.example_list(data["replace"], f"{where}.replace", allow_at=False)
            new = [example for examples, _ in entries for example in examples]
            steps.append(Step(f"{where}.replace", partial(derive.replace_examples, new=new)))
        for key, function in (
            ("keep", derive.keep_examples),
            ("drop", derive.drop_examples),
            ("reorder", derive.reorder_examples),
        ):
            if key in data:
                positions = data[key]
                if not isinstance(positions, list) or not all(
                    isinstance(p, int) and not isinstance(p, bool) for p in positions
                ):
                    raise self.fail(f"{where}.{key}", "expected a list of positions (from 1)")
                steps.append(Step(f"{where}.{key}", partial(function, positions=positions)))
        if "add" in data:
            for i, (examples, at) in enumerate(
                self.example_list(data["add"], f"{where}.add", allow_at=True), 1
            ):
                steps.append(
                    Step(f"{where}.add[{i}]", partial(derive.add_examples, new=examples, at=at))
                )
        return steps

    def example_list(
        self, data: object, where: str, *, allow_at: bool
    ) -> list[tuple[list[Example], int | None]]:
        """Each entry as (its examples, its 'at' position); a file may hold several examples."""
        if not isinstance(data, list) or not data:
            raise self.fail(where, "expected a list of examples")
        return [
            self.example_entry(item, f"{where}[{i}]", allow_at) for i, item in enumerate(data, 1)
        ]

    def example_entry(
        self, item: object, where: str, allow_at: bool
    ) -> tuple[list[Example], int | None]:
        valid = (*EXAMPLE_KEYS, "at") if allow_at else EXAMPLE_KEYS
        item = self.keys(item, valid, where)
        at = item.get("at")
        if at is not None and (isinstance(at, bool) or not isinstance(at, int) or at < 1):
            raise self.fail(where, f"'at' must be a position from 1, not {at!r}")
        forms = [key for key in ("text", "file", "context") if key in item]
        if len(forms) != 1:
            raise self.fail(
                where, "give one of: text (an <example> block), file, or context + user + assistant"
            )
        if forms[0] == "context":
            parts = {key: self.text(item, key, where) for key in ("context", "user", "assistant")}
            commentary = self.text(item, "commentary", where, required=False)
            return [Example.build(**parts, commentary=commentary)], at
        extra = [key for key in ("user", "assistant", "commentary") if key in item]
        if extra:
            raise self.fail(where, f"{', '.join(extra)} goes with context, not with {forms[0]}")
        if forms[0] == "text":
            block = self.text(item, "text", where).strip()
            examples = split_examples(block)[1]
            if len(examples) != 1 or examples[0].text != block:
                raise self.fail(where, "'text' must be one <example>...</example> block")
            return examples, at
        file = self.text(item, "file", where)
        examples = split_examples(self.read(file, where))[1]
        if not examples:
            raise self.fail(where, f"{file}: no <example>...</example> block in this file")
        return examples, at

    def read(self, name: str, where: str) -> str:
        path = self.root / name
        try:
            return read_regular_file(path, MAX_FILE_BYTES).decode("utf-8")
        except OSError as err:
            raise self.fail(where, f"cannot read {path}: {err.strerror}") from None
        except UnicodeDecodeError:
            raise self.fail(where, f"{path} is not UTF-8 text") from None
        except ValueError:  # a NUL byte in the name (after UnicodeDecodeError, a ValueError too)
            raise self.fail(where, f"cannot read {name!r}: the name has a NUL byte") from None
