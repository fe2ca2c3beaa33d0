"""Model aliases (sonnet, opus, haiku, fable, inherit) resolved to API model IDs.

Aliases float with Claude Code releases, so the mapping is data (``data/models.yaml``, dated with
``as_of``) and every resolution says which table it came from. An experiment stores the alias as
written and the resolved ID.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from core.errors import SpecError
from core.files import MAX_SPEC_BYTES, read_regular_file
from registry.shipped import data_path
from variants.yamlio import load_strict_yaml, yaml_error_line

MODELS_ENV = "REGISTRY_MODELS"
INHERIT = "inherit"
# Full API model IDs all start with this; anything else must be an alias in the table.
MODEL_ID_PREFIX = "claude-"


def load_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file, on one line."""
    try:
        data = load_strict_yaml(read_regular_file(path, MAX_SPEC_BYTES).decode("utf-8"))
    except OSError as err:
        raise SpecError(f"cannot read {what} {path}: {err.strerror}") from err
    except UnicodeDecodeError:
        raise SpecError(f"{what} {path} is not UTF-8 text (a YAML mapping is expected)") from None
    except yaml.YAMLError as err:
        raise SpecError(f"{what} is not valid YAML: {yaml_error_line(str(path), err)}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{what} {path} must be a YAML mapping")
    return data


def table_source(path: str | Path | None, env_var: str, name: str, what: str) -> tuple[Path, int]:
    """Which data table to read (``path``, else ``$env_var``, else the shipped ``name``) and its
    modification time, the cache key that lets an edited table be read again."""
    chosen = path or os.environ.get(env_var) or data_path(name)
    resolved = Path(chosen).expanduser().resolve()
    try:
        return resolved, resolved.stat().st_mtime_ns
    except OSError as err:
        raise SpecError(f"cannot read {what} {resolved}: {err.strerror}") from err


@dataclass(frozen=True)
class ModelTable:
    as_of: date
    aliases: MappingProxyType[str, str]  # lower-case alias -> model ID
    inherit_default: str  # alias or model ID used for `inherit`
    source: Path


@dataclass(frozen=True)
class ResolvedModel:
    alias: str  # as written ("inherit" when none was given)
    model_id: str
    table_as_of: date


def load_model_table(path: str | Path | None = None) -> ModelTable:
    """The alias table: ``path``, else ``$REGISTRY_MODELS``, else the shipped ``models.yaml``."""
    return _load_model_table(*table_source(path, MODELS_ENV, "models.yaml", "model table"))


@lru_cache(maxsize=8)
def _load_model_table(path: Path, _mtime_ns: int) -> ModelTable:
    # Cached per (path, modification time): resolution happens once per trial.
    data = load_yaml_mapping(path, "model table")
    as_of = data.get("as_of")
    if not isinstance(as_of, date):
        raise SpecError(f"model table {path}: 'as_of' must be a date like 2026-11-26")
    aliases = data.get("aliases")
    if not isinstance(aliases, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in aliases.items()
    ):
        raise SpecError(f"model table {path}: 'aliases' must map alias names to model IDs")
    inherit_default = data.get("inherit_default")
    if not isinstance(inherit_default, str) or not inherit_default:
        raise SpecError(f"model table {path}: 'inherit_default' must name an alias or model ID")
    lowered = {k.strip().lower(): v.strip() for k, v in aliases.items()}
    return ModelTable(as_of, MappingProxyType(lowered), inherit_default.strip(), path)


def resolve_model(alias_or_id: str | None, *, table: ModelTable | None = None) -> ResolvedModel:
    """Resolve an alias, ``inherit`` (or None) or a full model ID to a model ID.

    Full IDs (``claude-...``) pass through unchanged; an unknown alias raises ``SpecError``.
    """
    table = table or load_model_table()
    written = (alias_or_id or INHERIT).strip()
    target = table.inherit_default if written.lower() == INHERIT else written
    model_id = _lookup(target, table)
    if model_id is None:
        known = ", ".join([*sorted(table.aliases), INHERIT])
        raise SpecError(
            f"unknown model alias {written!r}: use one of {known} or a full model ID "
            f"like claude-sonnet-5-5 (aliases come from {table.source})"
        )
    return ResolvedModel(alias=written, model_id=model_id, table_as_of=table.as_of)


def _lookup(alias_or_id: str, table: ModelTable) -> str | None:
    if alias_or_id.startswith(MODEL_ID_PREFIX):
        return alias_or_id
    return table.aliases.get(alias_or_id.lower())
