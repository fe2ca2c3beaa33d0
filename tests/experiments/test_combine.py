"""Combining grader results into one trial score: weights, informational graders, failures."""

from __future__ import annotations

import pytest

from experiments.graders import GradeResult, combine


def ok(name: str, score: float) -> GradeResult:
    return GradeResult(name, score, score == 1.0, "ok")


def failed(name: str) -> GradeResult:
    return GradeResult(name, None, None, "judge unavailable", error="timeout after 60 s")


def test_weighted_mean_of_the_scores() -> None:
    results = [ok("a", 1.0), ok("b", 0.0), ok("c", 0.5)]
    assert combine(results, {"a": 2, "b": 1, "c": 1}) == pytest.approx((2 + 0 + 0.5) / 4)
    assert combine(results, {"a": 1, "b": 1, "c": 1}) == pytest.approx(0.5)


def test_zero_weight_graders_are_informational() -> None:
    results = [ok("a", 0.8), ok("info", 0.0), failed("shadow-judge")]
    assert combine(results, {"a": 1, "info": 0, "shadow-judge": 0}) == pytest.approx(0.8)


def test_an_error_in_a_weighted_grader_means_no_score_never_zero() -> None:
    results = [ok("a", 1.0), failed("judge")]
    assert combine(results, {"a": 1, "judge": 0.5}) is None
    # A score of None without an error message is a failure too.
    assert combine([ok("a", 1.0), GradeResult("b", None, None, "?")], {"a": 1, "b": 1}) is None


def test_nothing_graded_gives_none() -> None:
    assert combine([], {}) is None
    assert combine([ok("a", 1.0)], {"a": 0}) is None


def test_missing_or_negative_weight_is_a_caller_bug() -> None:
    with pytest.raises(KeyError):
        combine([ok("a", 1.0)], {})
    with pytest.raises(ValueError, match="negative weight"):
        combine([ok("a", 1.0)], {"a": -1})
