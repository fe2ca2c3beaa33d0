"""Re-grading stored responses: new graders or a new judge model, no new variant calls.

A re-grading adds a grading run: one new grade row per (trial, grader), numbered one above the
experiment's newest run, and sets each trial's quality to the combination of the new grades.
Earlier grade rows are never changed or removed. The new rows and the new qualities are written
in one transaction at the end, so an experiment's qualities never mix two runs.

Which graders: the tasks' own graders (from the suite, as stored with the experiment) plus either
the experiment's spec-level graders as stored, or the ones given (``--graders FILE``). A pairwise
judge among them runs after the per-trial grading, on every (variant, control) pair.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from core.errors import SpecError
from experiments.graders.base import (
    Comparator,
    GraderConfig,
    GradeResult,
    build_grader,
    parse_grader_config,
)
from experiments.graders.combine import combine
from experiments.graders.environment import JudgeEnvironment, bind_graders, trial_graders
from experiments.graders.pairwise import TrialAnswer, pairs_of
from experiments.plan import Plan, check_stored_python
from experiments.store.grades import (
    GradedTrial,
    add_grading_run,
    add_pair_grades,
    answered_trials,
    graded_pairs,
)
from experiments.tasks import Task
from registry.database import Database
from variants.yamlio import load_strict_yaml, yaml_error_line

JUDGE_TYPES = ("rubric_judge", "pairwise")


@dataclass(frozen=True)
class RegradeSummary:
    experiment_id: int
    grading_run: int
    trials: int  # trials with a response, re-graded
    graded: int  # of those, with a quality (no weighted grader failed)
    grader_errors: int  # grade rows with an error
    judge_cost_usd: float  # of this grading run, pairwise included
    pairs: int  # pairwise comparisons made (0 without a pairwise judge)


def load_graders_file(path: str | Path) -> tuple[GraderConfig, ...]:
    """A YAML list of graders (or a mapping with a ``graders`` list); each is validated."""
    path = Path(path)
    try:
        raw = load_strict_yaml(path.read_bytes().decode("utf-8"))
    except OSError as err:
        raise SpecError(f"{path}: cannot read graders: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as err:
        raise SpecError(yaml_error_line(str(path), err)) from None
    if isinstance(raw, Mapping) and set(raw) == {"graders"}:
        raw = raw["graders"]
    if not isinstance(raw, list):
        raise SpecError(f"{path}: expected a list of graders (or a mapping with a 'graders' list)")
    configs = []
    for index, entry in enumerate(raw):
        try:
            config = parse_grader_config(entry, base_dir=path.parent)
            build_grader(config)
        except SpecError as err:
            raise SpecError(f"{path}: graders[{index}]: {err}") from None
        configs.append(config)
    return tuple(configs)


def with_judge_model(configs: Sequence[GraderConfig], model: str) -> tuple[GraderConfig, ...]:
    """Every judge grader switched to ``model``; checked like any grader configuration."""
    switched = []
    for config in configs:
        if config.type in JUDGE_TYPES:
            config = replace(config, params=MappingProxyType({**config.params, "model": model}))
            try:
                build_grader(config)
            except SpecError as err:
                raise SpecError(f"--judge-model: {err}") from None
        switched.append(config)
    return tuple(switched)


def _check_names(tasks: Sequence[Task], extra: Sequence[GraderConfig]) -> None:
    names = [c.name for c in extra]
    for name in names:
        if names.count(name) > 1:
            raise SpecError(f"graders: two graders named {name!r}; give one a 'name:'")
    for task in tasks:
        for config in task.graders:
            if config.name in names:
                raise SpecError(
                    f"graders: {config.name!r} is also a grader of task '{task.id}'; "
                    "give yours a different 'name:'"
                )


def regrade(
    db: Database,
    experiment_id: int,
    grader_configs: Sequence[GraderConfig | Mapping[str, Any]] | None = None,
    *,
    judge_model: str | None = None,
    concurrency: int | None = None,
    env: JudgeEnvironment | None = None,
    declared: Sequence[GraderConfig] = (),
) -> RegradeSummary:
    """Re-grade every stored response of an experiment; see the module docstring."""
    return asyncio.run(
        aregrade(
            db, experiment_id, grader_configs, judge_model=judge_model,
            concurrency=concurrency, env=env, declared=declared,
        )
    )  # fmt: skip


async def aregrade(
    db: Database,
    experiment_id: int,
    grader_configs: Sequence[GraderConfig | Mapping[str, Any]] | None = None,
    *,
    judge_model: str | None = None,
    concurrency: int | None = None,
    env: JudgeEnvironment | None = None,
    declared: Sequence[GraderConfig] = (),
) -> RegradeSummary:
    """``regrade`` inside a running event loop. ``env`` defaults to one on the experiment's
    provider and seed (and is closed here only when made here)."""
    from experiments.store.plans import load_plan

    plan = load_plan(db, experiment_id)
    if plan.document.agentic is not None:
        raise SpecError(
            f"experiment {experiment_id} is agentic: its checks ran in workspaces that are gone, "
            "and its quality needs them; re-grading is not supported, run it again"
        )
    if plan.document.delegation is not None:
        raise SpecError(
            f"experiment {experiment_id} is a delegation experiment: its quality is whether the "
            "main loop picked the expected agent, which no grader changes; nothing to re-grade"
        )
    if grader_configs is None:
        extra = plan.extra_graders
    else:
        extra = tuple(parse_grader_config(c) for c in grader_configs)
        for config in extra:
            build_grader(config)
            if config.on == "diff":
                raise SpecError(f"grader {config.name!r}: on: diff grades an agentic trial only")
        _check_names(plan.tasks, extra)
    # A python grader runs again only if the user's own files declare it: ``declared`` (the
    # spec and suite the user passes) and the graders given here.
    check_stored_python(
        experiment_id,
        (*(c for t in plan.tasks for c in t.graders), *extra),
        (*declared, *(extra if grader_configs is not None else ())),
        how="pass the spec that declares it with --spec SPEC",
    )
    tasks = {}
    for task in plan.tasks:
        configs = (*task.graders, *extra)
        if judge_model is not None:
            configs = with_judge_model(configs, judge_model)
        tasks[task.id] = replace(task, graders=configs)
    own_env = env is None
    env = env or JudgeEnvironment(
        plan.provider, seed=plan.seed, max_attempts=plan.settings.max_attempts
    )
    limit = asyncio.Semaphore(concurrency or plan.settings.concurrency)
    try:
        trials = answered_trials(db, experiment_id, tasks)
        graders = {i: trial_graders(t.graders, env) for i, t in tasks.items()}

        async def one(trial: TrialAnswer) -> tuple[TrialAnswer, tuple[GradeResult, ...]]:
            async with limit:
                from experiments.graders.base import grade_all

                task = tasks[trial.task_id]
                return trial, await grade_all(graders[trial.task_id], trial.answer, task.material())

        graded = await asyncio.gather(*(one(t) for t in trials))
        pair_grades = await _pairwise(extra, tasks, trials, plan.control, env, limit)
    finally:
        if own_env:
            await env.aclose()
    return _store(db, experiment_id, tasks, graded, pair_grades)


async def run_pairwise(
    db: Database, plan: Plan, env: JudgeEnvironment, *, grading_run: int = 1
) -> int:
    """The spec's comparators (the pairwise judge) over a finished run's answers, stored in
    ``grading_run``; the number of comparisons made. Quality is left alone: they are not part
    of it."""
    if not plan.comparators:
        return 0
    assert plan.experiment_id is not None, "pairwise judges compare stored trials"
    tasks = {t.id: replace(t, graders=(*t.graders, *plan.extra_graders)) for t in plan.tasks}
    trials = answered_trials(db, plan.experiment_id, tasks)
    limit = asyncio.Semaphore(plan.settings.concurrency)
    # A resumed run compares only the pairs not compared yet: the others are paid for.
    names = [c.name for c in plan.comparators]
    done = graded_pairs(db, plan.experiment_id, names, grading_run)
    pair_grades = await _pairwise(
        plan.extra_graders, tasks, trials, plan.control, env, limit, done=done
    )
    add_pair_grades(db, pair_grades, grading_run)
    return len(pair_grades)


async def _pairwise(
    extra: Sequence[GraderConfig],
    tasks: Mapping[str, Task],
    trials: Sequence[TrialAnswer],
    control: str,
    env: JudgeEnvironment,
    limit: asyncio.Semaphore,
    *,
    done: Collection[tuple[int, str]] = (),
) -> list[tuple[int, GradeResult]]:
    """(variant trial id, grade) for every pair and every pairwise judge configured, but those
    in ``done`` (variant trial id, judge name)."""
    judges = [c for task in tasks.values() for c in bind_graders(task.graders, env).comparators]
    unique = list({j.name: j for j in judges}.values())  # the same config sits on every task
    pairs = pairs_of(trials, control)

    async def one(judge: Comparator, pair: Any) -> tuple[int, GradeResult]:
        async with limit:
            return pair.trial_id, await judge.compare(tasks[pair.task_id].material(), pair)

    todo = [(j, p) for j in unique for p in pairs if (p.trial_id, j.name) not in done]
    return list(await asyncio.gather(*(one(j, p) for j, p in todo)))


def _store(
    db: Database,
    experiment_id: int,
    tasks: Mapping[str, Task],
    graded: Sequence[tuple[TrialAnswer, tuple[GradeResult, ...]]],
    pair_grades: Sequence[tuple[int, GradeResult]],
) -> RegradeSummary:
    rows = [
        GradedTrial(
            trial.trial_id,
            combine(results, tasks[trial.task_id].weights()) if results else None,
            results,
        )
        for trial, results in graded
    ]
    run = add_grading_run(db, experiment_id, rows, pair_grades)
    every = [r for _, results in graded for r in results] + [r for _, r in pair_grades]
    return RegradeSummary(
        experiment_id=experiment_id,
        grading_run=run,
        trials=len(graded),
        graded=sum(row.quality is not None for row in rows),
        grader_errors=sum(r.error is not None for r in every),
        judge_cost_usd=sum(r.cost_usd for r in every),
        pairs=len(pair_grades),
    )
