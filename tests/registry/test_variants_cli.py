"""Variants through the CLI, on SQLite and PostgreSQL: publish a spec, derive, diff, lineage."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO, SEED, Cli
from variants.spec import combination_levels

NAME = "backend-logic-implementer"
SPECS = REPO / "data" / "variants"
SEED_BYTES = SEED.read_bytes()
HAIKU_BYTES = SEED_BYTES.replace(b"\nmodel: sonnet\n", b"\nmodel: haiku\n")


def _json(cli: Cli, *args: str) -> object:
    return json.loads(cli.ok(*args, "--json").stdout)


def _state(cli: Cli) -> tuple[object, object]:
    """Everything a failed command must leave as it was."""
    return _json(cli, "log", NAME), _json(cli, "list")


def test_publish_a_variant_spec(cli: Cli) -> None:
    cli.ok("publish", str(SEED))
    spec = SPECS / "haiku.yaml"
    rows = _json(cli, "publish", str(spec))
    assert rows == [
        {
            "ref": f"{NAME}@2",
            "status": "new",
            "path": str(spec),
            "label": "haiku",
            "base": f"{NAME}@1",
        }
    ]
    assert cli.ok("show", f"{NAME}@haiku").stdout_bytes == HAIKU_BYTES
    info = _json(cli, "show", f"{NAME}@2")
    assert (info["parent"], info["spec"], info["labels"]) == (
        f"{NAME}@1",
        spec.read_text(),
        ["haiku"],
    )

    log = _json(cli, "log", NAME)
    latest = log["versions"][0]
    assert (latest["number"], latest["parent"], latest["derived_by_spec"]) == (2, 1, True)
    assert (latest["origin"], latest["message"]) == (str(spec), "same prompt on haiku")
    assert log["versions"][1]["derived_by_spec"] is False
    (move,) = log["label_moves"]
    assert (move["label"], move["to_number"], move["reason"]) == ("haiku", 2, f"derived by {spec}")
    text = cli.ok("log", NAME).stdout
    assert f"    derived by spec from @1 (spec: {spec})\n" in text

    # Publishing it again is a no-op that still reports where the label points.
    again = _json(cli, "publish", str(spec), "-m", "again")
    assert again[0]["ref"] == f"{NAME}@2" and again[0]["status"] == "unchanged"
    assert _json(cli, "log", NAME) == log


def test_a_moved_label_is_put_back_by_publishing_again(cli: Cli) -> None:
    cli.ok("publish", str(SEED))
    spec = SPECS / "fewer-examples.yaml"
    cli.ok("publish", str(spec))
    cli.ok("label", f"{NAME}@1", "fewer-examples")
    row = _json(cli, "publish", str(spec))[0]
    assert (row["ref"], row["status"]) == (f"{NAME}@2", "unchanged")
    assert _json(cli, "show", f"{NAME}@fewer-examples")["number"] == 2


def test_derive_quick_form(cli: Cli, tmp_path: Path) -> None:
    cli.ok("publish", str(SEED))
    row = _json(cli, "derive", f"{NAME}@1", "--model", "haiku", "--label", "haiku")
    assert row == {
        "ref": f"{NAME}@2",
        "status": "new",
        "path": "registry derive",
        "label": "haiku",
        "base": f"{NAME}@1",
    }
    assert cli.ok("show", f"{NAME}@haiku").stdout_bytes == HAIKU_BYTES
    stored = _json(cli, "show", f"{NAME}@2")["spec"]
    assert stored == f"base: {NAME}@1\nlabel: haiku\nmodel: haiku\n"
    out = cli.ok("derive", f"{NAME}@1", "--model", "haiku", "--label", "haiku").stdout
    assert out == f"{NAME}@2  unchanged  from {NAME}@1  -> haiku\n"

    out = cli.ok(
        "derive", f"{NAME}@haiku", "--drop-example", "2", "--set", "effort=low", "--label", "lean"
    ).stdout
    assert out == f"{NAME}@3  new  from {NAME}@2  -> lean\n"
    lean = _json(cli, "show", f"{NAME}@lean")
    assert lean["parent"] == f"{NAME}@2"
    diff = _json(cli, "diff", f"{NAME}@haiku", "@lean")
    assert diff["summary"] == ["field effort: added", "examples: 1 removed (3 -> 2)"]

    body = tmp_path / "short.md"
    body.write_text("\nBe brief.\n")
    cli.ok("derive", f"{NAME}@1", "--body-from", "short.md", "--label", "short")
    assert cli.ok("show", f"{NAME}@short").stdout_bytes.endswith(b"\n---\n\nBe brief.\n")


def test_a_derived_model_neither_the_registry_nor_claude_code_knows_is_warned_of(
    cli: Cli,
) -> None:
    cli.ok("publish", str(SEED))
    known = cli.ok("derive", f"{NAME}@1", "--model", "haiku", "--label", "haiku")
    assert "warning" not in known.stderr
    typo = cli.ok("derive", f"{NAME}@1", "--model", "hiaku", "--label", "typo")
    assert typo.stdout == f"{NAME}@3  new  from {NAME}@1  -> typo\n"
    assert typo.stderr.startswith(f"warning: {NAME}@3: model 'hiaku' is not a known alias (")
    assert typo.stderr.count("\n") == 1


def test_an_edited_export_names_the_version_it_came_from_with_parent(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("publish", str(SEED))
    cli.ok("derive", f"{NAME}@1", "--model", "haiku", "--label", "haiku")  # @2, the latest
    cli.ok("export", f"{NAME}@1", "-o", str(tmp_path / "agents") + "/")
    edited = tmp_path / "agents" / f"{NAME}.md"
    edited.write_bytes(edited.read_bytes() + b"\nOne more rule.\n")
    other = tmp_path / "other.md"
    other.write_bytes(b"---\nname: other\ndescription: d\n---\nB\n")
    for args, why in (
        (("--parent", "@1", str(edited), str(other)), "--parent needs exactly one file"),
        (("--parent", "other@1", str(edited)), f"is a version of 'other', but {edited} defines"),
        (("--parent", "@9", str(edited)), f"{NAME} has no version 9"),
    ):
        assert why in cli.one_error_line("publish", *args)
    assert [v["number"] for v in _json(cli, "log", NAME)["versions"]] == [2, 1]  # nothing new
    cli.ok("publish", str(edited), "--parent", "@1")
    assert _json(cli, "show", f"{NAME}@3")["parent"] == f"{NAME}@1"
    edited.write_bytes(edited.read_bytes() + b"And another.\n")
    cli.ok("publish", str(edited))  # without --parent: the latest version
    assert _json(cli, "show", f"{NAME}@4")["parent"] == f"{NAME}@3"


def test_diff_text_and_json(cli: Cli) -> None:
    cli.ok("publish", str(SEED))
    cli.ok("publish", str(SPECS / "tight.yaml"), str(SPECS / "better-examples.yaml"))
    data = _json(cli, "diff", f"{NAME}@1", "@tight")
    assert data["old"] == f"{NAME}@1" and data["new"] == f"{NAME}@tight"
    assert data["summary"] == [
        "body: 3 section(s): (before the first heading) changed, ## Output Format changed, "
        "## Quality Assurance changed"
    ]
    text = cli.ok("diff", f"{NAME}@1", "@tight").stdout
    assert text.startswith(f"--- {NAME}@1\n+++ {NAME}@tight\nbody:\n")
    assert "\n  ## Output Format (changed)\n    @@ -38,11 +38,7 @@\n" in text
    examples = _json(cli, "diff", f"{NAME}@1", "@better-examples")["examples"]
    assert [r["position"] for r in examples["removed"]] == [2]
    assert [r["position"] for r in examples["added"]] == [3, 4]
    assert examples["order"] == [1, 3, None, None]
    same = cli.ok("diff", f"{NAME}@tight", f"{NAME}@tight").stdout
    assert same == f"no differences between {NAME}@tight and {NAME}@tight\n"


def test_factorial_spec_publishes_every_combination(cli: Cli) -> None:
    cli.ok("publish", str(SEED))
    spec = SPECS / "model-x-wording.yaml"
    rows = _json(cli, "publish", str(spec))
    assert [(r["ref"], r["status"], r["label"], r["levels"]) for r in rows] == [
        (f"{NAME}@1", "unchanged", "sonnet-original", {"model": "sonnet", "wording": "original"}),
        (f"{NAME}@2", "new", "sonnet-tight", {"model": "sonnet", "wording": "tight"}),
        (f"{NAME}@3", "new", "haiku-original", {"model": "haiku", "wording": "original"}),
        (f"{NAME}@4", "new", "haiku-tight", {"model": "haiku", "wording": "tight"}),
    ]
    assert cli.ok("show", f"{NAME}@haiku-original").stdout_bytes == HAIKU_BYTES
    stored = _json(cli, "show", f"{NAME}@haiku-tight")["spec"]
    assert combination_levels(stored) == {"model": "haiku", "wording": "tight"}
    assert stored.endswith(spec.read_text())
    moves = _json(cli, "log", NAME)["label_moves"]
    assert moves[0]["reason"] == f"derived by {spec} (model=haiku, wording=tight)"
    assert [r["status"] for r in _json(cli, "publish", str(spec))] == ["unchanged"] * 4


ERRORS = [
    ("base: ghost@1\nlabel: x\nmodel: haiku\n", "bad.yaml: base ghost@1: no agent named 'ghost'"),
    (
        f"base: {NAME}@9\nlabel: x\nmodel: haiku\n",
        f"bad.yaml: base {NAME}@9: {NAME} has no version 9",
    ),
    (
        f"base: {NAME}@1\nlabel: x\nwording: [{{replace: nowhere, with: x}}]\n",
        "bad.yaml: wording[1]: 'nowhere' in the body not found",
    ),
    (
        f"base: {NAME}@1\nlabel: x\nwording: [{{replace: backend, with: x}}]\n",
        "bad.yaml: wording[1]: 'backend' in the body is ambiguous: found 3 times; "
        "add 'occurrence: N' (1-3) to pick one",
    ),
    (
        f"base: {NAME}@1\nlabel: x\nexamples: {{keep: [1, 4]}}\n",
        "bad.yaml: examples.keep: example position 4 is out of range: the definition has 3 "
        "example(s)",
    ),
    (
        f"base: {NAME}@1\nlabel: x\nexample: {{keep: [1]}}\n",
        "bad.yaml: unknown key 'example' (valid keys: base, label, message, model, fields, "
        "wording, examples)",
    ),
    (
        f"base: {NAME}@1\nlabel: '{{size}}'\naxes: {{model: {{haiku: {{model: haiku}}}}}}\n",
        "bad.yaml: label: label template names unknown axis 'size' (axes: model)",
    ),
    (
        # a format spec would build a label of any width: refused before anything is formatted
        f"base: {NAME}@1\nlabel: '{{model:>999999999}}'\n"
        "axes: {model: {haiku: {model: haiku}}}\n",
        "bad.yaml: label: invalid label template '{model:>999999999}': write each axis as {axis}",
    ),
    (f"base: {NAME}@1\nlabel: x\nmodel: [haiku\n", "bad.yaml:4: invalid YAML: "),
    (
        f"base: {NAME}@1\nlabel: x\nfields: {{remove: [description]}}\n",
        "bad.yaml: fields.remove.description: the result is no longer a valid agent definition: "
        f"{NAME}@1: frontmatter has no 'description'",
    ),
    (
        # One bad combination: the good ones are not published either.
        f"base: {NAME}@1\naxes:\n  model: {{haiku: {{model: haiku}}, opus: {{model: opus}}}}\n"
        "  wording: {same: {}, bad: {wording: [{replace: nowhere, with: x}]}}\n",
        "bad.yaml: axes.wording.bad.wording[1]: 'nowhere' in the body not found",
    ),
]


def test_errors_are_one_line_and_publish_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.ok("publish", str(SEED))
    before = _state(cli)
    spec = tmp_path / "bad.yaml"
    for text, message in ERRORS:
        spec.write_text(text)
        result = cli("publish", "bad.yaml")
        assert result.exit_code == 1, text
        assert result.stderr.startswith(f"registry: error: {message}"), result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""
        assert _state(cli) == before, text
    # A spec that fails to load stops the agent files given with it too.
    spec.write_text(f"base: {NAME}@1\nlabel: x\nmodle: haiku\n")
    other = tmp_path / "other.md"
    other.write_bytes(b"---\nname: other\ndescription: Other work.\n---\nBody\n")
    assert cli("publish", str(other), "bad.yaml").exit_code == 1
    assert _state(cli) == before
    for args, message in [
        (("--model", "haiku"), "Missing option '--label'"),
        (("--label", "x"), "registry: error: derive needs a change: --model, --set"),
        (
            ("--set", "effort", "--label", "x"),
            "registry: error: registry derive: --set needs KEY=VALUE",
        ),
        (
            ("--drop-example", "4", "--label", "x"),
            "registry: error: registry derive: examples.drop: example position 4",
        ),
        (
            ("--set", "colour=red", "--label", "x"),
            "registry: error: registry derive: fields.set.colour: unknown field 'colour'",
        ),
        (
            ("--model", "haiku", "--label", "Bad!"),
            "registry: error: registry derive: label: invalid label",
        ),
    ]:
        result = cli("derive", f"{NAME}@1", *args)
        assert result.exit_code != 0 and message in result.stderr, result.stderr
        assert _state(cli) == before


def test_a_failing_spec_publishes_none_of_the_specs(sqlite_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SEED

    sqlite_cli.ok("publish", str(SEED))
    good = tmp_path / "good.yaml"
    good.write_text("base: backend-logic-implementer@1\nlabel: cheap\nmodel: haiku\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "base: backend-logic-implementer@1\nlabel: broken\n"
        "wording:\n  - replace: this text is nowhere in the agent\n    with: anything\n"
    )
    result = sqlite_cli("publish", str(good), str(bad))
    assert result.exit_code == 1 and "bad.yaml" in result.stderr
    log = sqlite_cli.ok("log", "backend-logic-implementer", "--json").stdout
    assert '"number": 2' not in log and "cheap" not in log
