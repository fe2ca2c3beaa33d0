"""variants.lint on crafted files: each rule that drops a file, each warning, what is shown."""

from __future__ import annotations

import pytest

from variants.lint import LintResult, lint_file, lint_folder

ALIASES = frozenset({"sonnet", "opus", "haiku", "fable"})
GOOD = "---\nname: {name}\ndescription: Reviews code.\n{extra}---\nBody.\n"


def _lint(text: str, path: str = "a.md") -> LintResult:
    return lint_file(text.encode("utf-8"), path, model_aliases=ALIASES)


def _kinds(result: LintResult) -> list[str]:
    return [finding.kind for finding in result.warnings]


def test_a_plain_file_is_loaded_without_warnings() -> None:
    result = _lint(GOOD.format(name="reviewer", extra="model: sonnet\ntools: Read, Grep\n"))
    assert (result.loaded, result.name, result.description) == (True, "reviewer", "Reviews code.")
    assert result.warnings == () and result.reason is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xef\xbb\xbf" + GOOD.format(name="a", extra="").encode(), "UTF-8 BOM"),
        (b"---\ndescription: x\n---\n", "no 'name'"),
        (b"---\nname: a\n---\nbody\n", "no 'description'"),
        (b"---\nname: a\ndescription:\n  Wrapped by Prettier.\n---\n", "value on the next lines"),
        (b"just notes\n", "no frontmatter"),
        (b"---\nname: a\n", "never closed"),
        (b"", "empty"),
        (b"---\nname: \xff\n---\n", "not UTF-8"),
    ],
)
def test_files_claude_code_drops_say_why(data: bytes, reason: str) -> None:
    result = lint_file(data, "a.md", model_aliases=ALIASES)
    assert not result.loaded and result.description is None
    assert result.reason is not None and reason in result.reason


def test_a_block_description_is_not_the_next_line_layout() -> None:
    result = _lint("---\nname: a\ndescription: |\n  Line one.\n  Line two.\n---\n")
    assert result.loaded and result.description == "Line one.\nLine two.\n"


def test_generator_style_escapes_are_shown_as_line_breaks() -> None:
    text = (
        "---\nname: a\n"
        "description: Use this agent when: x.\\n\\n<example>\\nuser: hi\\n</example>\n---\n"
    )
    result = _lint(text)
    assert result.loaded and _kinds(result) == ["not-strict-yaml"]
    assert result.description == "Use this agent when: x.\n\n<example>\nuser: hi\n</example>"


def test_escapes_in_a_block_description_stay_as_written() -> None:
    result = _lint('---\nname: a\ndescription: |\n  Print "\\n" here.\n---\n')
    assert result.description == 'Print "\\n" here.\n'


def test_a_colon_in_the_name_is_loaded_with_a_warning() -> None:
    result = _lint(GOOD.format(name='"tools:reviewer"', extra=""))
    assert result.loaded and result.name == "tools:reviewer"
    assert _kinds(result) == ["name-colon"]


def test_names_claude_code_accepts_beyond_the_registry_rule() -> None:
    result = _lint(GOOD.format(name="Code Reviewer ü", extra=""))
    assert result.loaded and result.name == "Code Reviewer ü" and result.warnings == ()


def test_unknown_tools_are_named_and_patterns_mcp_and_star_are_known() -> None:
    extra = (
        "tools: Read, Bash(git log:*), Agent(a, b), mcp__ctx__docs, ReadFile\n"
        "disallowedTools: [Wrte]\n"
    )
    result = _lint(GOOD.format(name="a", extra=extra))
    assert result.loaded and _kinds(result) == ["unknown-tool", "unknown-tool"]
    assert "ReadFile" in result.warnings[0].message and "Bash" not in result.warnings[0].message
    assert "disallowedTools" in result.warnings[1].message and "Wrte" in result.warnings[1].message
    assert _lint(GOOD.format(name="a", extra="tools: '*'\n")).warnings == ()


@pytest.mark.parametrize(
    ("model", "warned"),
    [("sonnet", False), ("inherit", False), ("claude-sonnet-4-20250514", False),
     ("claude-opus-5-5[1m]", False), ("sonet", True), ("gpt-5", True)],
)  # fmt: skip
def test_model_aliases_come_from_the_table(model: str, warned: bool) -> None:
    result = _lint(GOOD.format(name="a", extra=f"model: {model}\n"))
    assert result.loaded and _kinds(result) == (["unknown-model"] if warned else [])


def test_an_alias_not_in_the_given_table_is_unknown() -> None:
    data = GOOD.format(name="a", extra="model: fable\n").encode()
    assert lint_file(data, "a.md", model_aliases={"sonnet"}).warnings[0].kind == "unknown-model"


def test_a_duplicate_name_in_one_folder_warns_on_both_files() -> None:
    results = lint_folder(
        [
            _lint(GOOD.format(name="a", extra=""), "x/one.md"),
            _lint(GOOD.format(name="a", extra=""), "x/sub/two.md"),
            _lint(GOOD.format(name="b", extra=""), "x/three.md"),
            _lint("---\nname: a\n---\n", "x/dropped.md"),
        ]
    )
    assert [_kinds(r) for r in results] == [["duplicate-name"], ["duplicate-name"], [], []]
    assert "x/sub/two.md" in results[0].warnings[0].message
    assert "x/one.md" in results[1].warnings[0].message
