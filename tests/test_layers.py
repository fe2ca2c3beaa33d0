"""The layering, read from the source with ``ast`` (``python3 scripts/import_graph.py`` prints it).

(a) A package imports only the layers below it: core nothing, variants core, registry core and
variants (except the CLI root, registry/cli.py, which composes every command group), experiments
anything but dashboard. (b) The modules of experiments/ import each other without a cycle.
(c) Only the storage modules import sqlmodel/sqlalchemy or the table modules. (d) Inside
experiments/, imports point down the layers of ``EXPERIMENT_LAYERS`` (or sideways), never up.
Every import counts: module level, inside a function, or under TYPE_CHECKING.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scripts.import_graph import (
    LAYERS,
    Import,
    cycles,
    database_violations,
    inner_layer_violations,
    layer_of,
    layer_violations,
    project_imports,
    project_modules,
    unplaced_modules,
)


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    assert {layer_of(module) for module in project_modules()} == set(LAYERS)  # all were read
    return project_imports()


def _lines(violations: list[Import]) -> str:
    return "\n".join(
        f"  {found.importer} (line {found.line}, {found.where}) imports {found.target}"
        for found in violations
    )


@pytest.mark.parametrize("layer", LAYERS)
def test_a_package_imports_only_lower_layers(imports: list[Import], layer: str) -> None:
    violations = [found for found in layer_violations(imports) if layer_of(found.importer) == layer]
    assert not violations, f"{layer}/ imports a layer above it:\n{_lines(violations)}"


def test_experiments_modules_import_each_other_without_a_cycle(imports: list[Import]) -> None:
    found = cycles(imports, "experiments")
    report = "\n".join(textwrap.indent(str(cycle), "  ") for cycle in found)
    assert not found, f"import cycles in experiments/:\n{report}"


def test_only_the_storage_modules_touch_the_database(imports: list[Import]) -> None:
    violations = database_violations(imports)
    assert not violations, f"the ORM or a table module imported elsewhere:\n{_lines(violations)}"


def test_experiments_modules_import_only_their_layer_or_lower(imports: list[Import]) -> None:
    assert not unplaced_modules(imports), "place every module of experiments/ in a layer"
    violations = inner_layer_violations(imports)
    planted = Import("experiments.report", "experiments.runner", 1, "function")
    assert inner_layer_violations([planted]) == [planted]  # the rule can fail
    assert not violations, f"an import up the layers of experiments/:\n{_lines(violations)}"


# -- the graph itself, on a small project ---------------------------------------------------------


def _project(root: Path, files: dict[str, str]) -> list[Import]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return project_imports(root)


def test_every_kind_of_import_is_a_dependency(tmp_path: Path) -> None:
    found = _project(
        tmp_path,
        {
            "core/__init__.py": "",
            "variants/__init__.py": "",
            "variants/low.py": """\
                from typing import TYPE_CHECKING

                from core import errors
                from . import sibling

                if TYPE_CHECKING:
                    from registry.store import Registry

                def later() -> None:
                    import experiments.stats.quality
                    from sqlmodel import select
                """,
            "variants/sibling.py": "",
            "core/errors.py": "",
            "registry/store.py": "",
            "experiments/stats/quality.py": "",
        },
    )
    assert [(f.importer, f.target, f.where) for f in found if f.importer == "variants.low"] == [
        ("variants.low", "typing", "module"),
        ("variants.low", "core.errors", "module"),
        ("variants.low", "variants.sibling", "module"),
        ("variants.low", "registry.store", "TYPE_CHECKING"),
        ("variants.low", "experiments.stats.quality", "function"),
        ("variants.low", "sqlmodel", "function"),
    ]
    assert [f.target for f in layer_violations(found)] == [
        "registry.store",
        "experiments.stats.quality",
    ]
    assert [f.target for f in database_violations(found)] == ["sqlmodel"]


def test_a_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    found = _project(
        tmp_path,
        {
            "experiments/__init__.py": "",
            "experiments/a.py": "from experiments import b\n",
            "experiments/b.py": "def f() -> None:\n    import experiments.c\n",
            "experiments/c.py": "from experiments.a import thing\n",
            "experiments/d.py": "from experiments import a\n",
        },
    )
    (cycle,) = cycles(found, "experiments")
    assert cycle.members == ("experiments.a", "experiments.b", "experiments.c")
    assert str(cycle) == "experiments.a -> experiments.b -> experiments.c -> experiments.a"


def test_a_package_is_not_a_dependency_of_its_modules_imports(tmp_path: Path) -> None:
    """``import pkg.sub.mod`` depends on that module alone: no cycle through ``pkg/__init__``."""
    found = _project(
        tmp_path,
        {
            "experiments/__init__.py": "",
            "experiments/stats/__init__.py": "from experiments.stats.quality import compare\n",
            "experiments/stats/quality.py": "import experiments.stats.paired\n",
            "experiments/stats/paired.py": "",
        },
    )
    assert {(f.importer, f.target) for f in found} == {
        ("experiments.stats", "experiments.stats.quality"),
        ("experiments.stats.quality", "experiments.stats.paired"),
    }
    assert cycles(found, "experiments") == []
