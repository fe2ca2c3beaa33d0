"""Where the data files that ship with the product are (agents, task suites, variant specs,
the model-alias and price tables)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_path(name: str) -> Path:
    """Path of a shipped data file: ``<repo>/data/NAME`` in a checkout, else the wheel's copy.

    The wheel force-includes data files under ``registry/_data/``. The checkout is recognised by the
    ``pyproject.toml`` next to ``data/``, so a stray ``site-packages/data`` folder is never used.
    """
    root = Path(__file__).resolve().parent.parent
    checkout = root / "data" / name
    if (root / "pyproject.toml").is_file() and checkout.exists():
        return checkout
    installed = Path(str(resources.files("registry").joinpath("_data", name)))
    if installed.exists():
        return installed
    raise FileNotFoundError(f"shipped data file {name!r} not found at {checkout} or {installed}")
