"""The shipped data tables: prices (experiments.pricing), model aliases (registry.model_aliases)."""

from datetime import date
from pathlib import Path

import pytest

from core.errors import SpecError
from experiments.pricing import cost_usd, load_price_table, price_for
from experiments.providers.base import Usage
from registry import shipped
from registry.model_aliases import load_model_table, resolve_model
from registry.shipped import data_path
from tests.conftest import Cli

# (input, 5m cache write, cache read, output) from platform-facts.md section 2.1.
NOTES_PRICES = {
    "claude-fable-5-2": (8, 10, 0.20, 40),
    "claude-fable-5-1": (10, 12.50, 0.25, 50),
    "claude-mythos-5-1": (10, 12.50, 0.25, 50),
    "claude-opus-5-5": (4, 5, 0.20, 20),
    "claude-opus-5": (5, 6.25, 0.50, 25),
    "claude-opus-4-8": (5, 6.25, 0.50, 25),
    "claude-opus-4-7": (5, 6.25, 0.50, 25),
    "claude-opus-4-6": (5, 6.25, 0.50, 25),
    "claude-opus-4-5": (5, 6.25, 0.50, 25),
    "claude-sonnet-5-5": (2, 2.50, 0.10, 10),
    "claude-sonnet-5": (2, 2.50, 0.20, 10),
    "claude-sonnet-4-6": (3, 3.75, 0.30, 15),
    "claude-sonnet-4-5": (3, 3.75, 0.30, 15),
    "claude-haiku-5-5": (0.10, 0.125, 0.01, 0.50),
    "claude-haiku-4-5": (1, 1.25, 0.10, 5),
}


def test_shipped_price_table_matches_the_notes():
    table = load_price_table()
    assert table.effective == date(2026, 11, 26)
    assert table.batch_discount == 0.5
    assert set(table.models) == set(NOTES_PRICES)
    for model_id, (inp, write, read, out) in NOTES_PRICES.items():
        rates = price_for(model_id, table=table).base
        assert (rates.input, rates.cache_write, rates.cache_read, rates.output) == (
            inp,
            write,
            read,
            out,
        ), model_id


def test_cost_of_every_usage_field():
    usage = Usage(
        input_tokens=1000, output_tokens=500, cache_write_tokens=200, cache_read_tokens=3000
    )
    # Sonnet 5.5: 1000*2 + 500*10 + 200*2.5 + 3000*0.10 = 7800 micro-dollars.
    assert cost_usd("claude-sonnet-5-5", usage) == pytest.approx(0.0078)
    assert cost_usd("claude-sonnet-5-5", usage, batch=True) == pytest.approx(0.0039)
    assert cost_usd("claude-opus-5-5", Usage(output_tokens=1_000_000)) == pytest.approx(20.0)


def test_haiku_long_prompt_tier_prices_the_whole_request_higher():
    at_limit = Usage(
        input_tokens=60_000, cache_read_tokens=30_000, cache_write_tokens=10_000, output_tokens=1000
    )
    # 100,000 prompt tokens: still the base tier.
    base = 60_000 * 0.10 + 30_000 * 0.01 + 10_000 * 0.125 + 1000 * 0.50
    assert cost_usd("claude-haiku-5-5", at_limit) == pytest.approx(base / 1e6)
    over = Usage(
        input_tokens=60_001, cache_read_tokens=30_000, cache_write_tokens=10_000, output_tokens=1000
    )
    long = 60_001 * 0.50 + 30_000 * 0.05 + 10_000 * 0.625 + 1000 * 2.50
    assert cost_usd("claude-haiku-5-5", over) == pytest.approx(long / 1e6)


def test_dated_snapshot_is_priced_as_its_model():
    usage = Usage(input_tokens=1_000_000)
    assert cost_usd("claude-haiku-4-5-20251001", usage) == cost_usd("claude-haiku-4-5", usage)


def test_unknown_model_is_a_spec_error_naming_it_and_the_table():
    with pytest.raises(SpecError, match=r"claude-nonexistent-9.*prices\.yaml"):
        price_for("claude-nonexistent-9")
    with pytest.raises(SpecError, match="claude-nonexistent-9"):
        cost_usd("claude-nonexistent-9", Usage(input_tokens=1))


PRICES_YAML = """
effective: 2027-01-01
batch_discount: 0.25
models:
  claude-test-1: {input: 1, output: 2, cache_write: 3, cache_read: 4}
"""


def test_price_table_override_by_env_and_by_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    custom = tmp_path / "prices.yaml"
    custom.write_text(PRICES_YAML)
    monkeypatch.setenv("REGISTRY_PRICES", str(custom))
    table = load_price_table()
    assert table.effective == date(2027, 1, 1)
    usage = Usage(input_tokens=1, output_tokens=1, cache_write_tokens=1, cache_read_tokens=1)
    assert cost_usd("claude-test-1", usage) == pytest.approx(10 / 1e6)
    assert cost_usd("claude-test-1", usage, batch=True) == pytest.approx(7.5 / 1e6)
    with pytest.raises(SpecError):
        price_for("claude-sonnet-5-5")
    assert "claude-sonnet-5-5" in load_price_table(data_path("prices.yaml")).models


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("- a list", "must be a YAML mapping"),
        ("effective: soon\nmodels: {}", "'effective' must be a date"),
        ("effective: 2027-01-01\nbatch_discount: 1.5\nmodels: {x: {}}", "batch_discount"),
        ("effective: 2027-01-01\nmodels: {}", "'models' must map"),
        ("effective: 2027-01-01\nmodels: {m: {input: 1, output: 2}}", "cache_write, cache_read"),
        (
            "effective: 2027-01-01\nmodels: {m: {input: 1, output: 1, cache_write: 1, "
            "cache_read: 1, long_prompt: {input: 1}}}",
            "above_tokens",
        ),
        ("effective: [", "not valid YAML"),
    ],
)
def test_invalid_price_tables_say_what_is_wrong(tmp_path: Path, text: str, complaint: str):
    bad = tmp_path / "prices.yaml"
    bad.write_text(text)
    with pytest.raises(SpecError, match=complaint):
        load_price_table(bad)


def test_a_binary_or_special_price_table_is_one_clear_error(tmp_path: Path):
    binary = tmp_path / "prices.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(SpecError, match=r"^price table .*prices.bin is not UTF-8 text"):
        load_price_table(binary)
    with pytest.raises(SpecError, match="cannot read price table /dev/zero: not a regular file"):
        load_price_table("/dev/zero")


def test_missing_price_table_is_a_spec_error(tmp_path: Path):
    with pytest.raises(SpecError, match="cannot read price table"):
        load_price_table(tmp_path / "nope.yaml")


# --- model aliases -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "model_id"),
    [
        ("sonnet", "claude-sonnet-5-5"),
        ("opus", "claude-opus-5-5"),
        ("haiku", "claude-haiku-5-5"),
        ("fable", "claude-fable-5-2"),
        ("Sonnet", "claude-sonnet-5-5"),
        ("claude-opus-4-7", "claude-opus-4-7"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"),
    ],
)
def test_aliases_and_full_ids_resolve(written: str, model_id: str):
    resolved = resolve_model(written)
    assert (resolved.alias, resolved.model_id) == (written, model_id)
    assert resolved.table_as_of == date(2026, 11, 26)


@pytest.mark.parametrize("written", [None, "inherit"])
def test_inherit_uses_the_tables_default(written: str | None):
    resolved = resolve_model(written)
    assert (resolved.alias, resolved.model_id) == ("inherit", "claude-sonnet-5-5")


def test_unknown_alias_is_a_spec_error_naming_it():
    with pytest.raises(SpecError, match=r"unknown model alias 'opusplan'.*fable, haiku"):
        resolve_model("opusplan")


def test_every_alias_has_a_price():
    table = load_model_table()
    for alias in [*table.aliases, "inherit"]:
        price_for(resolve_model(alias, table=table).model_id)


MODELS_YAML = """
as_of: 2027-02-01
aliases: {sonnet: claude-sonnet-6, mini: claude-haiku-5-5}
inherit_default: mini
"""


def test_model_table_override_by_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    custom = tmp_path / "models.yaml"
    custom.write_text(MODELS_YAML)
    monkeypatch.setenv("REGISTRY_MODELS", str(custom))
    assert resolve_model("sonnet").model_id == "claude-sonnet-6"
    assert resolve_model("inherit").model_id == "claude-haiku-5-5"
    assert resolve_model("mini").table_as_of == date(2027, 2, 1)
    with pytest.raises(SpecError, match="'opus'"):
        resolve_model("opus")
    explicit = load_model_table(data_path("models.yaml"))
    assert resolve_model("opus", table=explicit).model_id == "claude-opus-5-5"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("as_of: 2027-01-01\ninherit_default: x", "'aliases' must map"),
        ("aliases: {a: claude-x}\ninherit_default: a", "'as_of' must be a date"),
        ("as_of: 2027-01-01\naliases: {a: claude-x}", "'inherit_default'"),
    ],
)
def test_invalid_model_tables_say_what_is_wrong(tmp_path: Path, text: str, complaint: str):
    bad = tmp_path / "models.yaml"
    bad.write_text(text)
    with pytest.raises(SpecError, match=complaint):
        load_model_table(bad)


def test_data_path_prefers_the_checkout():
    path = data_path("models.yaml")
    assert path == Path(shipped.__file__).resolve().parent.parent / "data" / "models.yaml"


def test_data_path_falls_back_to_the_installed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Outside a checkout (no pyproject.toml next to data/) the wheel's registry/_data is used.
    installed = tmp_path / "registry"
    (installed / "_data").mkdir(parents=True)
    (installed / "_data" / "models.yaml").write_text(MODELS_YAML)
    monkeypatch.setattr(shipped, "__file__", str(tmp_path / "registry" / "shipped.py"))
    monkeypatch.setattr(shipped.resources, "files", lambda package: installed)
    assert data_path("models.yaml") == installed / "_data" / "models.yaml"
    with pytest.raises(FileNotFoundError, match=r"prices\.yaml"):
        data_path("prices.yaml")


@pytest.mark.parametrize("table", ["binary", "/dev/zero"])
def test_a_binary_or_special_price_table_stops_a_run_in_one_line(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    from tests.experiments.test_runner import _setup

    spec = _setup(sqlite_cli, tmp_path)
    if table == "binary":
        table = str(tmp_path / "prices.bin")
        Path(table).write_bytes(bytes(range(256)))
    monkeypatch.setenv("REGISTRY_PRICES", table)
    line = sqlite_cli.one_error_line("run", str(spec), "--dry-run")
    assert f"{table}" in line and ("not UTF-8 text" in line or "not a regular file" in line)
