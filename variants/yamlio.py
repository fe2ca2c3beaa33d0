"""Strict YAML for every file a user writes (variant specs, experiment specs, task suites).

PyYAML's ``safe_load`` silently keeps the last of two equal keys, so a second ``epochs:`` or
``graders:`` in a long file would quietly override the first. Here a duplicate key is an error
with the line of the second one, like any other YAML error.

Aliases are bounded too: a few hundred bytes of anchors nested a few deep stand for billions of
values ("billion laughs"), which anything walking the result (storing, JSON, hashing) would
expand. ``check_aliases`` measures the expansion on the node graph, in time linear in its size.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

# How many values aliases may add to a document once expanded (a plain document adds none).
MAX_ALIAS_EXPANSION = 10_000


class AliasExpansionError(ValueError):
    """Aliases that expand beyond ``MAX_ALIAS_EXPANSION`` values, or refer to themselves."""

    def __init__(self, message: str, mark: yaml.Mark | None):
        super().__init__(message)
        self.mark = mark


def check_aliases(root: yaml.Node | None) -> None:
    """Raise ``AliasExpansionError`` when expanding the aliases under ``root`` would be too much."""
    if root is None:
        return
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise AliasExpansionError("an alias refers to itself", node.start_mark)
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        sizes[key] = total
        if total - len(sizes) > MAX_ALIAS_EXPANSION:
            raise AliasExpansionError(
                f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} values", node.start_mark
            )
        return total

    size(root)


_Loader = yaml.SafeLoader | yaml.CSafeLoader


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects duplicate mapping keys."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    loader.flatten_mapping(node)
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Hashable):  # an unhashable key is refused by construct_mapping below
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_FastLoader: type[_Loader] | None = None
if yaml.__with_libyaml__:
    # libyaml's parser reads a file about six times faster (a suite of a few hundred tasks: 0.1 s
    # saved on every run). It reports some errors at other lines or in other words, so only a
    # document it accepts is taken from it: on any error the pure-Python loader reads the file
    # again and decides, so users see exactly the errors they always did.
    class _FastStrictLoader(yaml.CSafeLoader):
        """``yaml.CSafeLoader`` that rejects duplicate mapping keys."""

    _FastStrictLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
    )
    _FastLoader = _FastStrictLoader


def load_strict_yaml(source: str | bytes) -> Any:
    """Parse one YAML document safely; raises ``yaml.YAMLError`` (with a mark where known)."""
    # libyaml takes a tab as a separator where the pure-Python loader refuses it (`a:\t1`): a
    # document with a tab is left to the loader that has always decided it.
    has_tab = b"\t" in source if isinstance(source, bytes) else "\t" in source
    if _FastLoader is not None and not has_tab:
        try:
            return _load(_FastLoader, source)
        except (yaml.YAMLError, UnicodeError):  # UnicodeError: a lone surrogate in a str
            pass  # the pure-Python loader says what is wrong, where, in its own words
    return _load(_StrictLoader, source)


def _load(loader_class: type[_Loader], source: str | bytes) -> Any:
    loader = loader_class(source)
    try:
        node = loader.get_single_node()
        try:
            check_aliases(node)
        except AliasExpansionError as err:
            raise yaml.composer.ComposerError(None, None, str(err), err.mark) from None
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def yaml_error_line(origin: str, err: yaml.YAMLError) -> str:
    """``ORIGIN:LINE: invalid YAML: PROBLEM`` on one line (no line when the error has no mark)."""
    where = origin
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
    return f"{where}: invalid YAML: {yaml_problem(err)}"


def yaml_problem(err: yaml.YAMLError) -> str:
    """What is wrong, on one line, without where."""
    problem = (err.problem or err.context) if isinstance(err, yaml.MarkedYAMLError) else None
    return " ".join(str(problem or err).split())
