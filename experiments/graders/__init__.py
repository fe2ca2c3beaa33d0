"""Graders score a response to a task; importing this package registers the built-in checks."""

from experiments.graders import checks as _checks  # noqa: F401  (registers the built-in types)
from experiments.graders.base import (
    Grader,
    GraderConfig,
    GradeResult,
    build_grader,
    grade_all,
    grader_types,
    parse_grader_config,
    register_grader_type,
)
from experiments.graders.combine import combine

__all__ = [
    "GradeResult",
    "Grader",
    "GraderConfig",
    "build_grader",
    "combine",
    "grade_all",
    "grader_types",
    "parse_grader_config",
    "register_grader_type",
]
