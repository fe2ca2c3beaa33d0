"""Strict YAML for every file a user writes (variant specs, experiment specs, task suites).

PyYAML's ``safe_load`` silently keeps the last of two equal keys, so a second ``epochs:`` or
``graders:`` in a long file would quietly override the first. Here a duplicate key is an error
with the line of the second one, like any other YAML error.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
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


def load_strict_yaml(source: str | bytes) -> Any:
    """Parse one YAML document safely; raises ``yaml.YAMLError`` (with a mark where known)."""
    return yaml.load(source, Loader=_StrictLoader)


def yaml_error_line(origin: str, err: yaml.YAMLError) -> str:
    """``ORIGIN:LINE: invalid YAML: PROBLEM`` on one line (no line when the error has no mark)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        problem = err.problem or err.context or str(err)
    else:
        where, problem = origin, str(err)
    return f"{where}: invalid YAML: {' '.join(str(problem).split())}"
