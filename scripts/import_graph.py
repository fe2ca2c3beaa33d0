"""The project's import graph, read with ``ast``, and the layering rules it must follow.

Usage: python3 scripts/import_graph.py

Prints every module of experiments/ with what it imports from the project, grouped by layer,
then any import cycle among those modules and every module that breaks a layering rule. The
layering test (tests/test_layers.py) asserts on the same functions.

Every import statement counts, wherever it is written: at module level, inside a function (a lazy
import is still a dependency) or under ``if TYPE_CHECKING:``. An import names the module it loads:
``from pkg import mod`` depends on ``pkg.mod`` when that is a module (else on ``pkg``), and
``import pkg.sub.mod`` depends on ``pkg.sub.mod`` alone, not on the ``__init__`` modules on the way.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project's packages, bottom layer first.
LAYERS = ("core", "variants", "registry", "experiments", "dashboard")

# Rule (a): the layers each package may import, besides itself.
ALLOWED_LAYERS: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "variants": frozenset({"core"}),
    "registry": frozenset({"core", "variants"}),
    "experiments": frozenset({"core", "variants", "registry"}),
    "dashboard": frozenset({"core", "variants", "registry", "experiments"}),
}
# The CLI root composes every command group, so it may import any layer.
COMPOSITION_ROOTS = frozenset({"registry.cli"})

# Rule (d): the layers inside experiments/, bottom first. A module imports only modules of its
# own layer or of a layer below; a name ending in "." covers a whole package.
EXPERIMENT_LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("definitions", (
        "experiments.stats.", "experiments.decision",
        "experiments.pricing", "experiments.retry", "experiments.report", "experiments.spec",
        "experiments.providers.base", "experiments.providers.api_capabilities",
        "experiments.roster",
    )),
    ("models and graders", (
        "experiments.providers.", "experiments.graders.", "experiments.tasks",
        "experiments.claude_code_runtime", "experiments.agentic_tasks",
    )),
    ("plan and analysis", (
        "experiments.plan", "experiments.analysis", "experiments.comparison_table",
        "experiments.run_state", "experiments.delegation_plan", "experiments.delegation_analysis",
        "experiments.sequential_rule", "experiments.agentic_plan",
        "experiments.agentic_analysis",
    )),
    ("trial kinds", (
        "experiments.kinds.", "experiments.routers.", "experiments.sessions.",
        "experiments.workspace",
    )),
    ("store", ("experiments.store.",)),
    ("running and reporting", (
        "experiments.scoring", "experiments.runner", "experiments.batch", "experiments.grading",
        "experiments.reporting", "experiments.winner", "experiments.sequential",
    )),
    ("interface", (
        "experiments.render", "experiments.commands", "experiments.delegation_commands",
        "experiments.demo",
    )),
)  # fmt: skip

# Rule (c): who may touch the database. Table modules define tables, so they import the ORM.
TABLE_MODULES = frozenset({"registry.models", "experiments.store.tables"})
ORM_PACKAGES = frozenset({"sqlmodel", "sqlalchemy"})
DATABASE_MODULES = frozenset({"registry.store", "registry.readers", "registry.database"})
DATABASE_PACKAGES = ("registry.migrations", "experiments.store")


@dataclass(frozen=True)
class Import:
    importer: str  # the module whose file holds the statement
    target: str  # the module it loads: a project module, or an outside one as written
    line: int
    where: str  # "module", "function" (a lazy import) or "TYPE_CHECKING"

    @property
    def layer(self) -> str | None:
        """The project package of the target; None for an outside module."""
        return layer_of(self.target)


def layer_of(module: str) -> str | None:
    top = module.partition(".")[0]
    return top if top in LAYERS else None


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the project's packages, by dotted name (``pkg`` for ``pkg/__init__.py``)."""
    modules: dict[str, Path] = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path, known: Collection[str]) -> list[Import]:
    """The imports written in ``path`` (the file of ``module``; ``known``: every project module),
    in the order they are written."""
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node, where in _import_nodes(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend(
                Import(module, _loaded(alias.name, known), node.lineno, where)
                for alias in node.names
            )
            continue
        base = _absolute(node, module, is_package)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            target = submodule if submodule in known else _loaded(base, known)
            found.append(Import(module, target, node.lineno, where))
    return list(dict.fromkeys(found))  # one per target of a statement: from m import a, b


def project_imports(root: Path = ROOT) -> list[Import]:
    modules = project_modules(root)
    return [
        found for name, path in modules.items() for found in imports_of(name, path, modules.keys())
    ]


def _import_nodes(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with where it sits; under TYPE_CHECKING wins over a function."""

    def walk(
        nodes: Iterable[ast.AST], where: str
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, where
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.body, "TYPE_CHECKING")
                yield from walk(node.orelse, where)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and where == "module":
                yield from walk(ast.iter_child_nodes(node), "function")
            else:
                yield from walk(ast.iter_child_nodes(node), where)

    return walk(tree.body, "module")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _loaded(name: str, known: Collection[str]) -> str:
    """A project module as the longest known prefix of ``name``; an outside one as written."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return name


# -- the rules ------------------------------------------------------------------------------------


def layer_violations(imports: Iterable[Import]) -> list[Import]:
    """Rule (a): imports of a layer the importer's package may not depend on."""
    return [
        found
        for found in imports
        if found.importer not in COMPOSITION_ROOTS
        and found.layer is not None
        and (importer_layer := layer_of(found.importer)) is not None
        and found.layer != importer_layer
        and found.layer not in ALLOWED_LAYERS[importer_layer]
    ]


@dataclass(frozen=True)
class Cycle:
    """A strongly connected set of modules and one import cycle through them."""

    members: tuple[str, ...]  # sorted
    path: tuple[str, ...]  # from the first member back to it

    def __str__(self) -> str:
        """The path, then the whole component when the path does not go through all of it."""
        cycle = _wrapped(list(self.path), "", "    ", sep=" ->")
        if len(self.members) == len(self.path) - 1:
            return cycle
        return cycle + "\n" + _wrapped(list(self.members), "strongly connected: ", "    ")


def cycles(imports: Iterable[Import], package: str = "experiments") -> list[Cycle]:
    """Rule (b): every strongly connected component of more than one module of ``package``."""
    graph: dict[str, set[str]] = {}
    for found in imports:
        if _inside(found.importer, package):
            edges = graph.setdefault(found.importer, set())
            if _inside(found.target, package) and found.target != found.importer:
                edges.add(found.target)
                graph.setdefault(found.target, set())
    return [
        Cycle(tuple(component), tuple(_cycle_through(component, graph)))
        for component in _components(graph)
        if len(component) > 1
    ]


def experiment_layer(module: str) -> int | None:
    """The index in ``EXPERIMENT_LAYERS`` of a module of experiments/ (None: not placed)."""
    for index, (_, members) in enumerate(EXPERIMENT_LAYERS):
        for member in members:
            if module == member or (member.endswith(".") and module.startswith(member)):
                return index
            if member.endswith(".") and module == member[:-1]:  # the package's __init__
                return index
    return None


def unplaced_modules(imports: Iterable[Import]) -> list[str]:
    """Modules of experiments/ that ``EXPERIMENT_LAYERS`` leaves out (the package root aside)."""
    modules = {found.importer for found in imports if _inside(found.importer, "experiments")}
    return sorted(m for m in modules - {"experiments"} if experiment_layer(m) is None)


def inner_layer_violations(imports: Iterable[Import]) -> list[Import]:
    """Rule (d): imports inside experiments/ from a lower layer to a higher one."""
    upward = []
    for found in imports:
        if not (_inside(found.importer, "experiments") and _inside(found.target, "experiments")):
            continue
        low, high = experiment_layer(found.importer), experiment_layer(found.target)
        if low is not None and high is not None and high > low:
            upward.append(found)
    return upward


def database_violations(imports: Iterable[Import]) -> list[Import]:
    """Rule (c): imports of the ORM or of a table module outside the modules that own storage."""
    return [
        found
        for found in imports
        if _touches_database(found.target) and not _owns_storage(found.importer)
    ]


def _touches_database(target: str) -> bool:
    return target in TABLE_MODULES or target.partition(".")[0] in ORM_PACKAGES


def _owns_storage(module: str) -> bool:
    return (
        module in DATABASE_MODULES
        or module in TABLE_MODULES
        or any(_inside(module, package) for package in DATABASE_PACKAGES)
    )


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle from the component's first module back to itself (breadth first)."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for succ in sorted(graph[node] & members):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if succ not in came_from:
                    came_from[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"{component} is not strongly connected")


# -- the report -----------------------------------------------------------------------------------


def render(imports: list[Import], package: str = "experiments") -> str:
    """The import graph of ``package`` within the project, its cycles and the rule violations."""
    lines = [
        f"{package}/: what each module imports from the project, by layer",
        "(function: a lazy import inside a function; TYPE_CHECKING: for type hints only)",
        "",
    ]
    by_module: dict[str, list[Import]] = {}
    for found in imports:
        if _inside(found.importer, package):
            by_module.setdefault(found.importer, [])
            if found.layer is not None and found.target != found.importer:
                by_module[found.importer].append(found)
    for module, outgoing in sorted(by_module.items()):
        lines.append(module)
        for layer in LAYERS:
            targets = _describe(f for f in outgoing if f.layer == layer)
            if targets:
                lines.append(_wrapped(targets, f"    {layer + ':':<13}", " " * 17))
        if not outgoing:
            lines.append("    (nothing from the project)")
    lines += ["", f"import cycles among {package}/ modules:"]
    lines += [textwrap.indent(str(c), "    ") for c in cycles(imports, package)] or ["    none"]
    lines += ["", f"layers of {package}/, bottom first (rule d: imports point down or sideways):"]
    for name, members in EXPERIMENT_LAYERS:
        lines.append(
            _wrapped([m.removeprefix("experiments.") for m in members], f"    {name}: ", " " * 8)
        )
    for title, violations in (
        ("(a) layer direction", layer_violations(imports)),
        ("(c) database access", database_violations(imports)),
        ("(d) layers inside experiments/", inner_layer_violations(imports)),
    ):
        lines += ["", f"modules that break {title}:"]
        lines += [
            _wrapped(_describe(found), f"    {module}: ", " " * 8)
            for module, found in _by_importer(violations).items()
        ] or ["    none"]
    return "\n".join(lines)


def _wrapped(items: list[str], first: str, rest: str, sep: str = ",") -> str:
    """``items`` after ``first``, wrapped at 100 columns between items (``rest`` starts the next
    lines), each but the last followed by ``sep``."""
    lines, fresh = [first], True
    for i, item in enumerate(items):
        piece = item + (sep if i + 1 < len(items) else "")
        if not fresh and len(lines[-1]) + 1 + len(piece) > 100:
            lines.append(rest)
            fresh = True
        lines[-1] += piece if fresh else " " + piece
        fresh = False
    return "\n".join(lines)


def _describe(imports: Iterable[Import]) -> list[str]:
    """Each target once, sorted; marked with where it is imported unless one is module level."""
    wheres: dict[str, set[str]] = {}
    for found in imports:
        wheres.setdefault(found.target, set()).add(found.where)
    return [
        target if "module" in where else f"{target} ({', '.join(sorted(where))})"
        for target, where in sorted(wheres.items())
    ]


def _by_importer(imports: Iterable[Import]) -> dict[str, list[Import]]:
    grouped: dict[str, list[Import]] = {}
    for found in imports:
        grouped.setdefault(found.importer, []).append(found)
    return dict(sorted(grouped.items()))


def main() -> None:
    print(render(project_imports()))


if __name__ == "__main__":
    main()
