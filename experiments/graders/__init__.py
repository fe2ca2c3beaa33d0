"""Graders score a response to a task, comparators a pair of responses; importing this package
registers the checks. The rubric judge and the pairwise judge register when a configuration
first names them (``experiments.graders.base``)."""

from experiments.graders import checks as _checks  # noqa: F401  (registers the built-in types)
from experiments.graders.base import (
    Comparator,
    Grader,
    GraderConfig,
    GradeResult,
    build_grader,
    grade_all,
    grader_types,
    parse_grader_config,
    register_comparator_type,
    register_grader_type,
)
from experiments.graders.combine import combine

__all__ = [
    "Comparator",
    "GradeResult",
    "Grader",
    "GraderConfig",
    "build_grader",
    "combine",
    "grade_all",
    "grader_types",
    "parse_grader_config",
    "register_comparator_type",
    "register_grader_type",
]
