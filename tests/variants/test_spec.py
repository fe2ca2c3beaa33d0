"""Variant and factorial specs: parsing, every error before any database, applying to a base."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.errors import AgentFileError, NotFoundError, SpecError
from tests.conftest import REPO, SEED
from tests.variants.test_derive import changed_lines
from variants.agentfile import AgentDefinition
from variants.refs import Ref
from variants.spec import combination_levels, load_variant_spec

SHIPPED = REPO / "data" / "variants"
SEED_BYTES = SEED.read_bytes()


@pytest.fixture(scope="module")
def seed() -> AgentDefinition:
    return AgentDefinition.parse(SEED_BYTES, origin=str(SEED))


def _write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _apply(path: Path, base: AgentDefinition) -> list[AgentDefinition]:
    return [v.apply(base, str(path)) for v in load_variant_spec(path).variants]


def test_a_spec_with_every_kind_of_change(tmp_path: Path, seed: AgentDefinition) -> None:
    (tmp_path / "extra.txt").write_text(
        '<example>\nContext: c\nuser: "Add a cron job"\nassistant: "ok"\n</example>\n'
    )
    path = _write(
        tmp_path,
        """\
        base: backend-logic-implementer@1
        label: everything
        message: all at once
        model: haiku
        fields: {set: {color: blue, effort: low}}
        wording:
          - {replace: "You are an expert", with: "You are a"}
          - {append: "Be brief.\\n", in: body}
          - {section: Output Format, text: Only code.}
        examples:
          drop: [2]
          add: [{file: extra.txt, at: 1}]
        """,
    )
    spec = load_variant_spec(path)
    assert (str(spec.base), spec.message, spec.origin) == (
        "backend-logic-implementer@1",
        "all at once",
        str(path),
    )
    (variant,) = spec.variants
    assert variant.label == "everything" and variant.levels is None
    assert variant.spec_text == path.read_text()
    assert [step.where for step in variant.steps] == [
        "fields.set.color",
        "fields.set.effort",
        "model",
        "wording[1]",
        "wording[2]",
        "wording[3]",
        "examples.drop",
        "examples.add[1]",
    ]
    result = variant.apply(seed, str(path))
    assert (result.model, result.fields["color"], result.fields["effort"]) == (
        "haiku",
        "blue",
        "low",
    )
    assert result.body.startswith("\nYou are a backend engineer") and result.body.endswith(
        "reliably.\nBe brief.\n"
    )
    assert "## Output Format\n\nOnly code.\n\n## Decision" in result.body
    assert [e.user for e in result.examples][:2] == ["Add a cron job", seed.examples[0].user]
    assert len(result.examples) == 3


def test_body_from_a_file_relative_to_the_spec(tmp_path: Path, seed: AgentDefinition) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "short.md").write_bytes(b"\r\nBe brief.\r\n")
    path = _write(tmp_path, "base: a@1\nlabel: short\nwording: [{body_from: prompts/short.md}]\n")
    (result,) = _apply(path, seed)
    assert result.render() == SEED_BYTES[: SEED_BYTES.index(b"\n---\n") + 5] + b"\r\nBe brief.\r\n"


def test_examples_inline_text_and_replace(tmp_path: Path, seed: AgentDefinition) -> None:
    path = _write(
        tmp_path,
        """\
        base: a
        label: new-examples
        examples:
          replace:
            - context: Refunds
              user: Add refunds
              assistant: Using the agent.
              commentary: Payments.
            - text: "<example>\\nuser: \\"Fix the N+1 query\\"\\nassistant: ok\\n</example>"
        """,
    )
    (result,) = _apply(path, seed)
    assert [e.user for e in result.examples] == ["Add refunds", "Fix the N+1 query"]
    assert result.examples[0].commentary == "Payments."
    assert changed_lines(SEED_BYTES, result.render())[0] == [SEED_BYTES.splitlines(True)[2]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: a\nlabel: x: y\n", "spec.yaml:2: invalid YAML: mapping values are not allowed"),
        ("base: a\nlabel: x\n\tmodel: haiku\n", "spec.yaml:3: invalid YAML: found character"),
        ("- just a list\n", "spec.yaml: a variant spec is a mapping"),
        (
            "base: a\nlabel: x\nmodle: haiku\n",
            "spec.yaml: unknown key 'modle' (valid keys: base, label, message, model, fields, "
            "wording, examples)",
        ),
        ("label: x\nmodel: haiku\n", "spec.yaml: 'base' is required"),
        ("base: a\nmodel: haiku\n", "spec.yaml: 'label' is required"),
        ("base: a\nlabel: x\n", "spec.yaml: the spec changes nothing"),
        ("base: a@0\nlabel: x\nmodel: haiku\n", "spec.yaml: base: invalid reference 'a@0'"),
        ("base: a\nlabel: Bad Label\nmodel: haiku\n", "spec.yaml: label: invalid label"),
        ("base: a\nlabel: x\nmodel: claude haiku\n", "spec.yaml: model: model must be an alias"),
        (
            "base: a\nlabel: x\nwording: [{replace: a, with: b, where: body}]\n",
            "spec.yaml: wording[1]: unknown key 'where' (valid keys: replace, with, in, "
            "occurrence)",
        ),
        (
            "base: a\nlabel: x\nwording: [{replace: a}]\n",
            "spec.yaml: wording[1]: 'with' is required",
        ),
        (
            "base: a\nlabel: x\nwording: [{append: a, in: title}]\n",
            "spec.yaml: wording[1]: 'in' must be one of body, description, not 'title'",
        ),
        (
            "base: a\nlabel: x\nwording: [{append: a, prepend: b}]\n",
            "spec.yaml: wording[1]: each step needs exactly one of replace, append, prepend, "
            "section, body_from",
        ),
        (
            "base: a\nlabel: x\nwording: [{replace: a, with: b, occurrence: 0}]\n",
            "spec.yaml: wording[1]: 'occurrence' must be a number from 1, not 0",
        ),
        (
            "base: a\nlabel: x\nwording: [{body_from: missing.md}]\n",
            "spec.yaml: wording[1]: cannot read ",
        ),
        (
            "base: a\nlabel: x\nexamples: {keep: [1], drop: [2]}\n",
            "spec.yaml: examples: use one of replace, keep, drop, reorder, not keep and drop",
        ),
        (
            "base: a\nlabel: x\nexamples: {shuffle: true}\n",
            "spec.yaml: examples: unknown key 'shuffle' (valid keys: replace, keep, drop, reorder, "
            "add)",
        ),
        (
            "base: a\nlabel: x\nexamples: {keep: first}\n",
            "spec.yaml: examples.keep: expected a list of positions (from 1)",
        ),
        (
            "base: a\nlabel: x\nexamples: {add: [{user: u}]}\n",
            "spec.yaml: examples.add[1]: give one of: text (an <example> block), file, or "
            "context + user + assistant",
        ),
        (
            "base: a\nlabel: x\nexamples: {add: [{context: c, user: u}]}\n",
            "spec.yaml: examples.add[1]: 'assistant' is required",
        ),
        (
            "base: a\nlabel: x\nexamples: {replace: [{text: no block, at: 1}]}\n",
            "spec.yaml: examples.replace[1]: unknown key 'at'",
        ),
        (
            "base: a\nlabel: x\nexamples: {add: [{text: no block}]}\n",
            "spec.yaml: examples.add[1]: 'text' must be one <example>...</example> block",
        ),
        (
            "base: a\nlabel: x\nfields: {set: [color]}\n",
            "spec.yaml: fields.set: expected a mapping of field -> value",
        ),
    ],
)
def test_spec_errors_need_no_database(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_variant_spec(path)
    assert str(err.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(err.value)


def test_an_example_file_without_blocks(tmp_path: Path) -> None:
    (tmp_path / "none.txt").write_text("nothing here\n")
    path = _write(tmp_path, "base: a\nlabel: x\nexamples: {add: [{file: none.txt}]}\n")
    with pytest.raises(SpecError, match=re.escape("none.txt: no <example>...</example> block")):
        load_variant_spec(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            "wording: [{replace: backend, with: x}]",
            "spec.yaml: wording[1]: 'backend' in the body is ambiguous: found 3 times; "
            "add 'occurrence: N' (1-3) to pick one",
        ),
        (
            "wording: [{replace: nowhere, with: x}]",
            "spec.yaml: wording[1]: 'nowhere' in the body not found",
        ),
        (
            "examples: {drop: [4]}",
            "spec.yaml: examples.drop: example position 4 is out of range: the definition has 3 "
            "example(s)",
        ),
        (
            "fields: {remove: [description]}",
            "spec.yaml: fields.remove.description: the result is no longer a valid agent "
            "definition: ",
        ),
    ],
)
def test_apply_errors_name_the_step(
    tmp_path: Path, seed: AgentDefinition, changes: str, message: str
) -> None:
    path = _write(tmp_path, f"base: a\nlabel: x\n{changes}\n")
    with pytest.raises((SpecError, AgentFileError)) as err:
        _apply(path, seed)
    assert str(err.value).startswith(f"{path.parent}/{message}")


FACTORIAL = """\
base: backend-logic-implementer@1
message: factorial
fields: {set: {effort: low}}
axes:
  model:
    sonnet: {model: sonnet}
    haiku: {model: haiku}
  examples:
    all:
    few: {examples: {keep: [1]}}
  wording:
    plain: {}
    brief: {wording: [{append: "Be brief.\\n"}]}
"""


def test_factorial_spec_gives_every_combination(tmp_path: Path, seed: AgentDefinition) -> None:
    path = _write(tmp_path, FACTORIAL)
    spec = load_variant_spec(path)
    labels = [v.label for v in spec.variants]
    assert labels == [
        f"{m}-{e}-{w}"
        for m in ("sonnet", "haiku")
        for e in ("all", "few")
        for w in ("plain", "brief")
    ]
    variant = spec.variants[-1]
    assert variant.levels == {"model": "haiku", "examples": "few", "wording": "brief"}
    assert [s.where for s in variant.steps] == [
        "fields.set.effort",
        "axes.model.haiku.model",
        "axes.examples.few.examples.keep",
        "axes.wording.brief.wording[1]",
    ]
    assert variant.spec_text.endswith(FACTORIAL)
    assert combination_levels(variant.spec_text) == variant.levels
    assert combination_levels(FACTORIAL) is None
    assert load_variant_spec(_write(tmp_path, variant.spec_text, "again.yaml")).variants[
        -1
    ].label == ("haiku-few-brief")
    results = {v.label: v.apply(seed, str(path)) for v in spec.variants}
    assert results["sonnet-all-plain"].render() == seed.with_field("effort", "low").render()
    few = results["haiku-few-brief"]
    assert (few.model, len(few.examples), few.body.endswith("Be brief.\n")) == ("haiku", 1, True)


@dataclass(frozen=True)
class _Stored:
    ref: Ref
    source: bytes


def _read_seed_as_version_4(ref: Ref) -> _Stored:
    """A base reader with one stored version, the seed as backend-logic-implementer@4."""
    if ref.name != "backend-logic-implementer":
        raise NotFoundError(f"no agent named {ref.name!r}")
    return _Stored(Ref(ref.name, number=4), SEED_BYTES)


def test_derive_reads_the_base_through_the_reader_it_is_given(
    tmp_path: Path, seed: AgentDefinition
) -> None:
    path = _write(
        tmp_path,
        FACTORIAL.replace(
            "base: backend-logic-implementer@1", "base: backend-logic-implementer@production"
        ),
    )
    spec = load_variant_spec(path)
    derived = spec.derive(_read_seed_as_version_4)
    assert [item.variant for item in derived] == list(spec.variants)
    assert {str(item.base) for item in derived} == {"backend-logic-implementer@4"}
    assert [item.definition.render() for item in derived] == [
        v.apply(seed, str(path)).render() for v in spec.variants
    ]


def test_derive_names_the_spec_when_the_base_is_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "base: ghost@1\nlabel: x\nmodel: haiku\n")
    with pytest.raises(
        NotFoundError, match=re.escape(f"{path}: base ghost@1: no agent named 'ghost'")
    ):
        load_variant_spec(path).derive(_read_seed_as_version_4)


def test_factorial_label_template(tmp_path: Path) -> None:
    path = _write(tmp_path, FACTORIAL + 'label: "v-{wording}-{model}-{examples}"\n')
    assert load_variant_spec(path).variants[1].label == "v-brief-sonnet-all"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'label: "{model}-{tone}"\n',
            "label: label template names unknown axis 'tone' (axes: model, examples, wording)",
        ),
        ('label: "{model}"\n', "label: template '{model}' gives label 'sonnet' to both"),
        ('label: "{model"\n', "label: invalid label template '{model'"),
        ('label: "{model}-{examples}-{wording}!"\n', "label: invalid label"),
    ],
)
def test_factorial_label_errors(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        load_variant_spec(_write(tmp_path, FACTORIAL + extra))
    assert str(err.value).startswith(f"{tmp_path}/spec.yaml: {message}")


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ("axes: []\n", "axes: expected a mapping of axis -> level -> changes"),
        ("axes: {model: {}}\n", "axes.model: expected a mapping of level name -> changes"),
        (
            "axes: {model: {haiku: {modle: haiku}}}\n",
            "axes.model.haiku: unknown key 'modle' (valid keys: model, fields, wording, examples)",
        ),
        ("axes: {model-x: {a: {}}}\n", "axes: axis name 'model-x' must be a word"),
        (
            "label: x\naxes: {a: {"
            + ", ".join(f"l{i}: {{}}" for i in range(9))
            + "}, b: {"
            + ", ".join(f"m{i}: {{}}" for i in range(8))
            + "}}\n",
            "axes: 72 combinations, more than the 64 allowed",
        ),
    ],
)
def test_factorial_axes_errors(tmp_path: Path, axes: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        load_variant_spec(_write(tmp_path, f"base: a\n{axes}"))
    assert str(err.value).startswith(f"{tmp_path}/spec.yaml: {message}")


# -- the specs shipped for the example agent ----------------------------------------------------


def test_shipped_specs_apply_to_the_example_agent(seed: AgentDefinition) -> None:
    specs = {path.name: load_variant_spec(path) for path in sorted(SHIPPED.glob("*.yaml"))}
    assert set(specs) >= {"haiku.yaml", "tight.yaml", "fewer-examples.yaml", "better-examples.yaml"}
    result = {v.label: v.apply(seed, name) for name, spec in specs.items() for v in spec.variants}
    assert all(str(spec.base) == "backend-logic-implementer@1" for spec in specs.values())
    assert changed_lines(SEED_BYTES, result["haiku"].render()) == (
        [b"model: sonnet\n"],
        [b"model: haiku\n"],
    )
    tight = result["tight"]
    assert tight.fields == seed.fields and len(tight.body) < len(seed.body)
    assert len(result["fewer-examples"].examples) == 2
    better = result["better-examples"]
    assert len(better.examples) == 4
    assert "do not delegate" in (better.examples[3].commentary or "")
    for label in ("fewer-examples", "better-examples"):
        removed, added = changed_lines(SEED_BYTES, result[label].render())
        assert removed == [SEED_BYTES.splitlines(True)[2]] and len(added) == 1
    factorial = specs["model-x-wording.yaml"]
    assert [v.label for v in factorial.variants] == [
        "sonnet-original",
        "sonnet-tight",
        "haiku-original",
        "haiku-tight",
    ]
    assert result["haiku-original"].render() == result["haiku"].render()
