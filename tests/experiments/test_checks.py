"""The deterministic graders: each on a good and a bad answer, and every configuration error."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.errors import SpecError
from experiments.graders import (
    GraderConfig,
    GradeResult,
    base,
    build_grader,
    grade_all,
    grader_types,
    register_comparator_type,
    register_grader_type,
)
from experiments.graders.checks import code_blocks
from experiments.providers.base import TaskMaterial

TASK = TaskMaterial("t", prompt="Write a registration endpoint.", reference=("uses bcrypt",))


def grade(config: dict[str, Any], text: str, task: TaskMaterial = TASK) -> GradeResult:
    return asyncio.run(build_grader(config).grade(text, task))


# --- contains / not_contains -------------------------------------------------------------------


def test_contains_any_is_all_or_nothing_and_case_insensitive() -> None:
    good = grade({"type": "contains", "any": ["bcrypt", "argon2"]}, "We hash with Argon2id.")
    assert (good.score, good.passed) == (1.0, True)
    assert good.reason == "contains 'argon2'"
    assert good.grader == "contains"

    bad = grade({"type": "contains", "any": ["bcrypt", "argon2"]}, "We hash with sha256.")
    assert (bad.score, bad.passed) == (0.0, False)
    assert bad.reason == "none of 'bcrypt', 'argon2' appears"


def test_contains_all_scores_the_fraction_found() -> None:
    config = {"type": "contains", "all": ["201", "409", "422"], "name": "codes"}
    partial = grade(config, "Returns 201 on success and 409 when the email exists.")
    assert partial.grader == "codes"
    assert partial.score == pytest.approx(2 / 3)
    assert partial.passed is False
    assert partial.reason == "found '201', '409'; missing '422'"
    assert partial.details == {"found": ["201", "409"], "missing": ["422"]}

    full = grade(config, "201, 409 and 422.")
    assert (full.score, full.passed) == (1.0, True)
    assert grade(config, "nothing").reason == "missing '201', '409', '422'"


def test_contains_value_and_case_sensitive() -> None:
    config = {"type": "contains", "value": "GET", "case_sensitive": True}
    assert grade(config, "GET /users").passed is True
    lower = grade(config, "get the users")
    assert (lower.score, lower.passed) == (0.0, False)


def test_not_contains_any_fails_on_a_single_forbidden_string() -> None:
    config = {"type": "not_contains", "any": ["md5(", "sha1("]}
    clean = grade(config, "password_hash = bcrypt.hashpw(pw, bcrypt.gensalt())")
    assert (clean.score, clean.passed) == (1.0, True)
    assert clean.reason == "none of 'md5(', 'sha1(' appears"
    dirty = grade(config, "hash = MD5(password)")
    assert (dirty.score, dirty.passed) == (0.0, False)
    assert dirty.reason == "contains forbidden 'md5('"


def test_not_contains_all_scores_the_fraction_absent() -> None:
    config = {"type": "not_contains", "all": ["md5(", "sha1(", "crc32("]}
    result = grade(config, "md5(password)")
    assert result.score == pytest.approx(2 / 3)
    assert result.passed is False
    assert grade(config, "argon2").score == 1.0


# --- regex -------------------------------------------------------------------------------------


def test_regex_must_match() -> None:
    config = {"type": "regex", "pattern": r"\b409\b"}
    good = grade(config, "return res.status(409).json(...)")
    assert (good.score, good.passed) == (1.0, True)
    assert good.reason == r"/\b409\b/ matched '409'"
    bad = grade(config, "return res.status(4090)")
    assert (bad.score, bad.passed) == (0.0, False)
    assert bad.reason == r"no match for /\b409\b/ (required)"


def test_regex_flags_and_forbidden_match() -> None:
    assert grade({"type": "regex", "pattern": "create index"}, "CREATE INDEX x").passed is False
    assert grade({"type": "regex", "pattern": "create index", "flags": "i"}, "CREATE INDEX").passed

    forbidden = {"type": "regex", "pattern": r"price\s+float", "flags": "i", "must_match": False}
    bad = grade(forbidden, "price FLOAT NOT NULL")
    assert (bad.score, bad.passed) == (0.0, False)
    assert bad.reason.startswith("forbidden /price\\s+float/ matched 'price FLOAT'")
    good = grade(forbidden, "price NUMERIC(12, 2)")
    assert (good.score, good.passed) == (1.0, True)


# --- json_valid / json_schema ------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["openapi", "paths"],
    "properties": {"openapi": {"type": "string"}, "paths": {"type": "object"}},
}


def test_json_valid_accepts_the_whole_response_or_the_first_json_block() -> None:
    assert grade({"type": "json_valid"}, ' {"a": 1} ').reason == "the response is valid JSON"
    fenced = 'Here it is:\n```json\n{"a": [1, 2]}\n```\nDone.'
    assert grade({"type": "json_valid"}, fenced).reason == "the first ```json block is valid JSON"
    broken = grade({"type": "json_valid"}, '```json\n{"a": 1,}\n```')
    assert (broken.score, broken.passed) == (0.0, False)
    assert broken.reason.startswith("the first ```json block is not valid JSON")
    prose = grade({"type": "json_valid"}, "no json here")
    assert prose.reason == "the response is not JSON and has no ```json block"


def test_json_schema_good_and_bad() -> None:
    config = {"type": "json_schema", "schema": SCHEMA}
    good = grade(config, '```json\n{"openapi": "3.1.0", "paths": {}}\n```')
    assert (good.score, good.passed) == (1.0, True)
    assert good.reason == "the first ```json block matches the schema"
    bad = grade(config, '{"openapi": 3.1, "paths": {}}')
    assert (bad.score, bad.passed) == (0.0, False)
    assert bad.reason == (
        "the response does not match the schema at $.openapi: 3.1 is not of type 'string'"
    )
    assert grade(config, "prose").passed is False


# --- code_block --------------------------------------------------------------------------------


def test_code_block_any_and_by_language() -> None:
    text = "Intro\n```Python\nprint(1)\n```\n"
    assert grade({"type": "code_block"}, text).reason == "has 1 fenced code block(s)"
    assert grade({"type": "code_block", "language": "python"}, text).passed is True
    wrong = grade({"type": "code_block", "language": ["sql"]}, text)
    assert (wrong.score, wrong.passed) == (0.0, False)
    assert wrong.reason == "no sql code block; found only python"
    none = grade({"type": "code_block"}, "Just prose, `inline` code only.")
    assert (none.score, none.reason) == (0.0, "no fenced code block")


def test_code_blocks_parser_handles_tildes_longer_fences_and_truncation() -> None:
    text = "~~~sql\nSELECT 1;\n~~~\n````md\n```python\nx\n```\n````\n```ts title=a.ts\nlet a"
    blocks = code_blocks(text)
    assert [b.language for b in blocks] == ["sql", "md", "ts"]
    assert blocks[0].code == "SELECT 1;"
    assert blocks[1].code == "```python\nx\n```"  # a shorter fence inside does not close it
    assert blocks[2].code == "let a"  # unclosed: runs to the end


# --- length ------------------------------------------------------------------------------------


def test_length_within_and_outside_bounds() -> None:
    config = {"type": "length", "min_words": 4, "max_chars": 40}
    ok = grade(config, "one two three four five")
    assert (ok.score, ok.passed) == (1.0, True)
    assert ok.reason == "23 chars, within 0-40; 5 words, within 4-any"
    short = grade(config, "one two")
    assert (short.score, short.passed) == (0.5, False)
    assert "2 words, below the minimum of 4" in short.reason
    long = grade(config, "word " * 16)  # 80 chars
    assert long.score == pytest.approx(0.5)
    assert "80 chars, above the maximum of 40" in long.reason


# --- python ------------------------------------------------------------------------------------

GRADER_MODULE = """
def mentions_task(text, task):
    return task.id in text

def half(text, task):
    return 0.5, "half marks"

async def async_score(text, task):
    return 0.25

def too_big(text, task):
    return 2

def wrong_type(text, task):
    return "yes"

def boom(text, task):
    raise RuntimeError("grader bug")
"""


@pytest.fixture
def grader_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_graders.py"
    path.write_text(GRADER_MODULE)
    return path


def python_config(grader_file: Path, function: str) -> GraderConfig:
    return GraderConfig(
        "python", "py", 1.0, {"function": f"my_graders.py:{function}"}, grader_file.parent
    )


def test_python_grader_return_forms(grader_file: Path) -> None:
    def run(function: str, text: str = "about t") -> GradeResult:
        return asyncio.run(build_grader(python_config(grader_file, function)).grade(text, TASK))

    assert (run("mentions_task").score, run("mentions_task").passed) == (1.0, True)
    assert (run("mentions_task", "none").score, run("mentions_task", "none").passed) == (0.0, False)
    assert (run("half").score, run("half").passed, run("half").reason) == (0.5, None, "half marks")
    assert run("async_score").score == 0.25


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("too_big", "my_graders.py:too_big returned 2; expected a score in [0, 1]"),
        ("wrong_type", "my_graders.py:wrong_type returned 'yes'"),
        ("boom", "my_graders.py:boom raised RuntimeError: grader bug"),
    ],
)
def test_python_grader_failures_are_errors_not_zeros(
    grader_file: Path, function: str, message: str
) -> None:
    result = asyncio.run(build_grader(python_config(grader_file, function)).grade("x", TASK))
    assert result.score is None
    assert result.passed is None
    assert result.error is not None and result.error.startswith(message)


def test_python_grader_by_dotted_module(grader_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(grader_file.parent))
    monkeypatch.delitem(sys.modules, "my_graders", raising=False)
    result = grade({"type": "python", "function": "my_graders:half"}, "x")
    assert result.score == 0.5


# --- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "nope"}, "type: unknown grader type 'nope'; one of "),
        ({"name": "x"}, "type: required"),
        ({"type": "contains", "any": ["a"], "weight": -1}, "weight: must be a finite number >= 0"),
        ({"type": "contains", "any": ["a"], "weight": "high"}, "weight: must be a number >= 0"),
        ({"type": "contains", "any": ["a"], "name": "has space"}, "name: must be a word"),
        ({"type": "contains"}, "grader 'contains': any/all/value: give exactly one of"),
        ({"type": "contains", "any": ["a"], "all": ["b"]}, "any/all/value: give exactly one"),
        ({"type": "contains", "any": []}, "grader 'contains': any: must be a non-empty list"),
        ({"type": "contains", "any": ["a", 3]}, "any: must be a non-empty list"),
        ({"type": "contains", "value": ["a", "b"]}, "value: must be one string"),
        (
            {"type": "contains", "any": ["a"], "case_sensitive": "no"},
            "case_sensitive: must be true",
        ),
        ({"type": "contains", "any": ["a"], "cas_sensitive": True}, "cas_sensitive: unknown field"),
        ({"type": "regex"}, "grader 'regex': pattern: required"),
        ({"type": "regex", "pattern": "("}, "pattern: invalid regular expression '('"),
        ({"type": "regex", "pattern": "a", "flags": "q"}, "flags: must be letters among imsx"),
        ({"type": "json_schema"}, "schema: required"),
        (
            {"type": "json_schema", "schema": {"type": "nonsense"}},
            "schema: not a valid JSON Schema",
        ),
        ({"type": "json_valid", "strict": True}, "strict: unknown field"),
        ({"type": "code_block", "language": 3}, "language: must be a non-empty list"),
        ({"type": "length"}, "give at least one bound"),
        ({"type": "length", "min_words": 10, "max_words": 5}, "min_words: 10 is above max_words 5"),
        ({"type": "length", "min_chars": -1}, "min_chars: must be a whole number >= 0"),
        ({"type": "python"}, "function: required"),
        ({"type": "python", "function": "os.path"}, "function: must be 'module:function'"),
        ({"type": "python", "function": "no_such_mod_xyz:f"}, "cannot import 'no_such_mod_xyz'"),
        ({"type": "python", "function": "os:no_such_fn"}, "'os' has no function 'no_such_fn'"),
        ({"type": "python", "function": "missing_file.py:f"}, "function: no Python file at"),
    ],
)
def test_bad_configs_fail_at_build_time(config: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as err:
        build_grader(config)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_python_import_error_surfaces_at_build(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import not_a_real_module_xyz\n")
    config = GraderConfig("python", "py", 1.0, {"function": "broken.py:f"}, tmp_path)
    with pytest.raises(SpecError, match=r"cannot import 'broken\.py': ModuleNotFoundError"):
        build_grader(config)


# --- registry and grade_all --------------------------------------------------------------------


def test_register_grader_type_adds_a_type_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))  # keep the registry clean

    class Fixed:
        def __init__(self, config: GraderConfig) -> None:
            self.name, self.weight = config.name, config.weight

        async def grade(self, response_text: str, task: TaskMaterial) -> GradeResult:
            return GradeResult(self.name, 0.75, None, "fixed", cost_usd=0.01)

    register_grader_type("fixed_test_judge", Fixed)
    assert "fixed_test_judge" in grader_types()
    with pytest.raises(ValueError, match="already registered"):
        register_grader_type("fixed_test_judge", Fixed)
    results = asyncio.run(
        grade_all(
            [
                build_grader({"type": "fixed_test_judge", "weight": 2}),
                build_grader({"type": "regex", "pattern": "x"}),
            ],
            "x",
            TASK,
        )
    )
    assert [(r.grader, r.score) for r in results] == [("fixed_test_judge", 0.75), ("regex", 1.0)]


def test_comparator_types_share_the_namespace_and_build_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))  # keep the registry clean
    monkeypatch.setattr(base, "_COMPARATOR_FACTORIES", dict(base._COMPARATOR_FACTORIES))

    class AlwaysTie:
        def __init__(self, config: GraderConfig) -> None:
            self.name = config.name

        async def compare(self, task: TaskMaterial, pair: base.Pair) -> GradeResult:
            return GradeResult(self.name, 0.5, None, "tie")

    with pytest.raises(ValueError, match="already registered"):
        register_comparator_type("regex", AlwaysTie)
    register_comparator_type("tie_test_comparator", AlwaysTie)
    assert "tie_test_comparator" in grader_types()
    built = base.build_graders([{"type": "tie_test_comparator"}, {"type": "regex", "pattern": "x"}])
    assert [g.name for g in built.per_trial] == ["regex"]
    assert [c.name for c in built.comparators] == ["tie_test_comparator"]


SLOW_MODULE = """
import asyncio
import threading
import time

release = threading.Event()

def sleeps(text, task):
    release.wait(5)
    return 1.0

async def async_sleeps(text, task):
    await asyncio.sleep(5)
    return 1.0
"""


@pytest.mark.parametrize("function", ["sleeps", "async_sleeps"])
def test_a_python_grader_that_hangs_times_out_as_an_error_without_blocking(
    tmp_path: Path, function: str
) -> None:
    (tmp_path / "slow.py").write_text(SLOW_MODULE)
    config = GraderConfig(
        "python", "py", 1.0, {"function": f"slow.py:{function}", "timeout": 0.2}, tmp_path
    )
    grader = build_grader(config)

    async def meanwhile() -> tuple[object, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        result = await grader.grade("x", TASK)
        ticker.cancel()
        return result, ticks

    started = time.monotonic()
    result, ticks = asyncio.run(meanwhile())
    assert time.monotonic() - started < 2
    assert (
        result.score is None and result.error == f"slow.py:{function} did not return within 0.2 s"
    )
    assert ticks >= 5  # the event loop kept running while the grader slept


@pytest.mark.parametrize("timeout", [0, -1, ".nan", "'30'", True])
def test_python_grader_timeout_must_be_positive_seconds(tmp_path: Path, timeout: object) -> None:
    import yaml

    (tmp_path / "slow.py").write_text(SLOW_MODULE)
    value = yaml.safe_load(f"v: {timeout}")["v"]
    config = GraderConfig(
        "python", "py", 1.0, {"function": "slow.py:sleeps", "timeout": value}, tmp_path
    )
    with pytest.raises(SpecError, match="timeout: must be a positive number of seconds"):
        build_grader(config)
