"""Re-grading stored responses: new grading runs, earlier grades kept, quality recombined."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from core.errors import SpecError
from experiments.grading import regrade
from experiments.store.reads import pairwise_summary
from experiments.store.tables import Grade, Trial
from registry.database import Database
from tests.conftest import SEED, Cli

SUITE = """\
graders:
  - {type: code_block, weight: 0.5}
tasks:
  - id: register
    prompt: Write a POST /users registration endpoint.
    reference:
      - hashes the password with bcrypt or argon2
      - returns 409 Conflict on a duplicate email
      - validates the email format
    graders:
      - {name: slow-hash, type: contains, any: [bcrypt, argon2], weight: 2}
  - id: payments
    prompt: Make POST /payments safe to retry.
    reference:
      - requires an Idempotency-Key header
      - stores the response per key and replays it
    graders:
      - {name: idem, type: contains, any: [idempotency], weight: 1}
"""
JUDGE = {"type": "rubric_judge", "model": "haiku", "weight": 2}


@pytest.fixture
def experiment(sqlite_cli: Cli, tmp_path: Path) -> tuple[Cli, Database]:
    """A finished simulated experiment: 2 variants x 2 tasks x 2 epochs, checks only."""
    sqlite_cli.ok("publish", str(SEED))
    haiku = tmp_path / "haiku.md"
    text = SEED.read_text(encoding="utf-8")
    haiku.write_text(text.replace("model: sonnet", "model: haiku", 1), encoding="utf-8")
    sqlite_cli.ok("publish", str(haiku))
    (tmp_path / "suite.yaml").write_text(SUITE, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(
        "name: regrade\n"
        "variants: {control: backend-logic-implementer@1, fast: backend-logic-implementer@2}\n"
        "control: control\ntasks: suite.yaml\nepochs: 2\nprovider: simulated\nseed: 3\n",
        encoding="utf-8",
    )
    out = json.loads(sqlite_cli.ok("run", "spec.yaml", "--json").stdout)
    assert (out["experiment"], out["trials"], out["failed"]) == (1, 8, 0)
    return sqlite_cli, Database(sqlite_cli.db)


def grades(db: Database) -> list[Grade]:
    from sqlmodel import select

    with db.session() as session:
        return list(session.exec(select(Grade).order_by(Grade.id)).all())  # type: ignore[arg-type]


def qualities(db: Database) -> dict[int, float | None]:
    from sqlmodel import select

    with db.session() as session:
        return {t.id: t.quality for t in session.exec(select(Trial)).all()}  # type: ignore[misc]


def weighted(rows: list[Grade], weights: dict[str, float]) -> dict[int, float]:
    """The expected quality per trial: weighted mean of that run's scores."""
    parts: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for g in rows:
        assert g.score is not None
        parts[g.trial_id].append((weights[g.grader], g.score))
    return {t: sum(w * s for w, s in p) / sum(w for w, _ in p) for t, p in parts.items()}


WEIGHTS = {"code_block": 0.5, "slow-hash": 2.0, "idem": 1.0, "rubric_judge": 2.0}


def test_regrade_adds_a_run_keeps_earlier_grades_and_recombines(
    experiment: tuple[Cli, Database],
) -> None:
    _, db = experiment
    before = grades(db)
    first_quality = qualities(db)
    assert {g.grading_run for g in before} == {1} and len(before) == 8 * 2
    assert first_quality == pytest.approx(weighted(before, WEIGHTS))

    summary = regrade(db, 1, [JUDGE])

    after = grades(db)
    assert [(g.id, g.score, g.grading_run) for g in after[: len(before)]] == [
        (g.id, g.score, g.grading_run) for g in before
    ]
    new = [g for g in after if g.grading_run == 2]
    assert len(new) == 8 * 3  # the task's two checks and the judge, on every trial
    assert (summary.grading_run, summary.trials, summary.graded) == (2, 8, 8)
    assert summary.grader_errors == 0 and summary.pairs == 0
    judged = [g for g in new if g.grader == "rubric_judge"]
    assert all(g.details["simulated"] for g in judged)
    assert summary.judge_cost_usd == pytest.approx(sum(g.cost_usd for g in judged))
    assert summary.judge_cost_usd > 0
    now = qualities(db)
    assert now == pytest.approx(weighted(new, WEIGHTS))
    assert now != first_quality


def test_regrade_with_the_stored_graders_reproduces_deterministic_scores(
    experiment: tuple[Cli, Database],
) -> None:
    _, db = experiment
    first = qualities(db)
    summary = regrade(db, 1)
    assert summary.grading_run == 2
    assert qualities(db) == first
    assert len([g for g in grades(db) if g.grading_run == 2]) == 16


def test_weight_zero_judge_is_informational(experiment: tuple[Cli, Database]) -> None:
    _, db = experiment
    first = qualities(db)
    regrade(db, 1, [{**JUDGE, "weight": 0}])
    assert qualities(db) == pytest.approx(first)
    assert sum(g.grader == "rubric_judge" for g in grades(db)) == 8


def test_failed_weighted_judge_leaves_no_quality_never_zero(
    experiment: tuple[Cli, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, db = experiment
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    summary = regrade(db, 1, [{**JUDGE, "provider": "anthropic"}])
    assert summary.grader_errors == 8 and summary.graded == 0
    assert set(qualities(db).values()) == {None}
    failed = [g for g in grades(db) if g.grader == "rubric_judge"]
    assert all(g.score is None and "ANTHROPIC_API_KEY" in (g.error or "") for g in failed)


def test_judge_model_override(experiment: tuple[Cli, Database]) -> None:
    _, db = experiment
    regrade(db, 1, [JUDGE], judge_model="opus")
    judged = [g for g in grades(db) if g.grader == "rubric_judge"]
    assert {g.details["judge_model"] for g in judged} == {"claude-opus-5-5"}
    with pytest.raises(SpecError, match=r"--judge-model: .*model: unknown model alias"):
        regrade(db, 1, [JUDGE], judge_model="nonsense")


def test_pairwise_runs_on_every_pair_and_stays_out_of_quality(
    experiment: tuple[Cli, Database],
) -> None:
    _, db = experiment
    first = qualities(db)
    summary = regrade(db, 1, [{"type": "pairwise", "model": "haiku"}])
    assert summary.pairs == 4  # 2 tasks x 2 epochs, one variant against the control
    assert qualities(db) == pytest.approx(first)
    from sqlmodel import select

    with db.session() as session:
        variants = dict(session.exec(select(Trial.id, Trial.variant)).all())
    rows = [g for g in grades(db) if g.grader == "pairwise"]
    assert {variants[g.trial_id] for g in rows} == {"fast"}
    assert {variants[g.details["vs_trial_id"]] for g in rows} == {"control"}
    summary_dict = pairwise_summary(db, 1)
    [fast] = summary_dict["variants"]
    assert fast["wins"] + fast["ties"] + fast["losses"] == 4
    assert summary_dict["position_bias"]["pairs"] == 4


def test_bad_graders_are_refused_before_any_grading(experiment: tuple[Cli, Database]) -> None:
    _, db = experiment
    with pytest.raises(SpecError, match="'slow-hash' is also a grader of task 'register'"):
        regrade(db, 1, [{"type": "contains", "name": "slow-hash", "any": ["x"]}])
    with pytest.raises(SpecError, match="scale"):
        regrade(db, 1, [{**JUDGE, "scale": "1-5"}])
    assert {g.grading_run for g in grades(db)} == {1}


def test_grade_command(experiment: tuple[Cli, Database], tmp_path: Path) -> None:
    cli, _ = experiment
    (tmp_path / "judges.yaml").write_text(
        "- {type: rubric_judge, model: haiku, scale: pass_fail, epochs: 2, weight: 2}\n"
        "- {type: pairwise, model: haiku}\n",
        encoding="utf-8",
    )
    out: dict[str, Any] = json.loads(
        cli.ok("grade", "regrade", "--graders", "judges.yaml", "--json").stdout
    )
    assert (out["experiment"], out["grading_run"], out["trials"], out["pairs"]) == (1, 2, 8, 4)
    assert out["judge_cost_usd"] > 0
    assert out["pairwise"]["variants"][0]["variant"] == "fast"
    text = cli.ok("grade", "1").stdout
    assert text.startswith("experiment 1: grading run 3, 8/8 trials with a quality")
    missing = cli("grade", "1", "--graders", "missing.yaml")
    assert missing.exit_code == 1 and "cannot read graders" in missing.stderr
    unknown = cli("grade", "7")
    assert unknown.exit_code == 1 and "no experiment with id 7" in unknown.stderr


def test_runner_combines_a_judge_with_its_weight(sqlite_cli: Cli, tmp_path: Path) -> None:
    sqlite_cli.ok("publish", str(SEED))
    haiku = tmp_path / "haiku.md"
    haiku.write_text(
        SEED.read_text(encoding="utf-8").replace("model: sonnet", "model: haiku", 1),
        encoding="utf-8",
    )
    sqlite_cli.ok("publish", str(haiku))
    (tmp_path / "suite.yaml").write_text(SUITE, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(
        "name: judged\n"
        "variants: {control: backend-logic-implementer@1, fast: backend-logic-implementer@2}\n"
        "control: control\ntasks: suite.yaml\nepochs: 1\nprovider: simulated\n"
        "graders: [{type: rubric_judge, model: haiku, weight: 2}, {type: pairwise}]\n",
        encoding="utf-8",
    )
    sqlite_cli.ok("run", "spec.yaml", "--json")
    db = Database(sqlite_cli.db)
    rows = grades(db)
    assert {g.grader for g in rows} == {
        "code_block",
        "slow-hash",
        "idem",
        "rubric_judge",
        "pairwise",
    }
    # the pairwise judge ran after the trials, on the variant's trials only, outside quality
    pairwise = [g for g in rows if g.grader == "pairwise"]
    assert len(pairwise) == 2 and all(g.details["vs_trial_id"] for g in pairwise)
    per_trial = [g for g in rows if g.grader != "pairwise"]
    assert qualities(db) == pytest.approx(weighted(per_trial, WEIGHTS))
