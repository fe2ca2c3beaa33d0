"""The dashboard's data functions, without Streamlit, against experiments the tests create."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlmodel import select

from dashboard import data
from experiments.report import Look
from experiments.reporting import build_report
from experiments.store.looks import add_look
from experiments.store.tables import Grade, Trial
from experiments.winner import NoWinner
from registry.store import Registry
from tests.dashboard.conftest import Experiment
from variants.refs import InvalidReference


def test_stats_table_carries_the_reports_figures(experiment: Experiment) -> None:
    report = build_report(experiment.db, experiment.id)
    table = data.stats_table(report).set_index("variant")
    assert list(table.index) == ["control", "cheap"]
    assert table.loc["control", "control"] and not table.loc["cheap", "control"]
    [comparison] = report.comparisons
    cheap = table.loc["cheap"]
    assert cheap["diff vs control"] == comparison.quality.diff
    assert cheap["p (Holm)"] == comparison.quality.p_adjusted
    low, high = comparison.quality.ci
    assert cheap["diff 95% CI"] == f"[{low:+.3f}, {high:+.3f}]"
    assert table.loc["control", "trials"] == 56  # 28 tasks x 2 epochs
    assert data.verdict_title(report.verdict) in (
        "Inconclusive",
        "No difference (equivalent within the effect of interest)",
    )


def test_looks_frame_shows_each_look_of_a_sequential_run(experiment: Experiment) -> None:
    assert data.looks_frame(build_report(experiment.db, experiment.id)).empty
    for number, tasks in ((1, 8), (2, 16)):
        look = Look(number, tasks, 28, tasks / 28, 0.001 * number, 0.002 * number,
                    "inconclusive", f"look {number}", False, 0.1 * number)  # fmt: skip
        add_look(experiment.db, experiment.id, look)
    report = build_report(experiment.db, experiment.id)
    frame = data.looks_frame(report)
    assert list(frame["look"]) == [1, 2] and list(frame["tasks"]) == ["8/28", "16/28"]
    assert list(frame["why"]) == ["look 1", "look 2"]
    assert report.decision.alpha == 0.004  # the verdict is the last look's


def test_trial_frame_matrix_and_histogram_agree_with_the_stored_trials(
    shared: Experiment,
) -> None:
    trials = data.trial_frame(data.trial_records(shared.db, shared.id))
    assert len(trials) == 2 * 28 * 2
    with shared.db.session() as session:
        stored = session.exec(
            select(Trial.quality).where(
                Trial.task_id == "register-endpoint", Trial.variant == "cheap"
            )
        ).all()
    matrix = data.task_matrix(trials, ["control", "cheap"])
    assert len(matrix) == 28 * 2
    cell = matrix[(matrix["task_id"] == "register-endpoint") & (matrix["variant"] == "cheap")]
    assert cell["quality"].item() == pytest.approx(sum(stored) / len(stored))
    assert cell["graded"].item() == 2

    histogram = data.latency_histogram(trials, bins=10)
    per_variant = histogram.groupby("variant")["trials"].sum()
    assert per_variant.to_dict() == {"control": 56, "cheap": 56}
    assert histogram.groupby("variant")["share"].sum().to_list() == pytest.approx([1.0, 1.0])
    assert (histogram["start"] < histogram["end"]).all()


def test_latency_histogram_leaves_failed_trials_out() -> None:
    import pandas as pd

    trials = pd.DataFrame(
        {"variant": ["a", "a", "a"], "latency_s": [1.0, 2.0, 30.0],
         "error": [None, None, "overloaded"], "cached": [False, False, False]}
    )  # fmt: skip
    histogram = data.latency_histogram(trials, bins=4)
    assert histogram["trials"].sum() == 2
    assert histogram["end"].max() == pytest.approx(2.0, rel=0.02)  # 99th pct of ok trials


def test_latency_histogram_counts_the_trials_the_reports_latency_counts(
    experiment: Experiment,
) -> None:
    # Cache hits answer without calling the model: the report's p50 and p90 leave them out,
    # and so must the chart drawn next to them.
    with experiment.db.session() as session:
        for trial in session.exec(select(Trial).where(Trial.epoch == 1)).all():
            trial.cached = True
            session.add(trial)
        session.commit()
    trials = data.trial_frame(data.trial_records(experiment.db, experiment.id))
    assert trials["cached"].dtype == bool and trials["cached"].sum() == 2 * 28
    histogram = data.latency_histogram(trials, bins=10)
    counted = histogram.groupby("variant")["trials"].sum().to_dict()
    report = build_report(experiment.db, experiment.id)
    assert counted == {v.label: v.latency.n_trials for v in report.variants}
    assert counted == {"control": 28, "cheap": 28}


def test_freshness_changes_when_a_run_writes(experiment: Experiment) -> None:
    before = data.freshness(experiment.db, experiment.id)
    assert before[:2] == ("completed", 112)
    with experiment.db.session() as session:
        trial = session.exec(select(Trial)).first()
        session.add(Grade(trial_id=trial.id, grading_run=2, grader="extra", score=1.0))
        session.commit()
    after = data.freshness(experiment.db, experiment.id)
    assert after[:3] == before[:3] and after[3] > before[3]


def test_task_detail_shows_every_variant_and_the_latest_grades(experiment: Experiment) -> None:
    detail = data.task_detail(experiment.db, experiment.id, "register-endpoint", 2)
    assert list(detail.answers["variant"]) == ["control", "cheap"]
    assert "registration endpoint" in detail.prompt
    assert all(detail.answers["response"].str.len() > 0)
    with experiment.db.session() as session:
        ids = session.exec(
            select(Trial.id).where(Trial.task_id == "register-endpoint", Trial.epoch == 2)
        ).all()
        stored = session.exec(select(Grade).where(Grade.trial_id.in_(ids))).all()
        session.add(Grade(trial_id=ids[0], grading_run=2, grader="slow-hash", score=0.5,
                          reason="second opinion"))  # fmt: skip
        session.commit()
    assert len(detail.grades) == len(stored)
    again = data.task_detail(experiment.db, experiment.id, "register-endpoint", 2)
    regraded = again.grades[again.grades["grader"] == "slow-hash"]
    assert len(regraded) == 2  # one per variant: the newer run replaced one, added none
    assert "second opinion" in set(regraded["reason"])


def test_version_pair_shows_the_model_change(shared: Experiment) -> None:
    pair = data.version_pair(shared.db, "backend-logic-implementer", 1, 2)
    assert pair.diff.model is not None and (pair.diff.model.old, pair.diff.model.new) == (
        "sonnet",
        "haiku",
    )
    fields = data.fields_frame(pair)
    assert fields.iloc[0].to_dict() == {
        "field": "model", "changed": True, "old": "sonnet", "new": "haiku"
    }  # fmt: skip
    assert not fields[fields["field"] == "name"]["changed"].item()


def test_agent_frames(shared: Experiment) -> None:
    agents = data.agents_frame(shared.url)
    assert agents.to_dict("records")[0] | {"updated": None} == {
        "agent": "backend-logic-implementer", "latest": 2, "versions": 2, "model": "haiku",
        "labels": "cheap@2", "updated": None,
    }  # fmt: skip
    log = data.agent_history(shared.url, "backend-logic-implementer")
    assert data.versions_frame(log)["version"].to_list() == [2, 1]
    moves = data.label_history_frame(log)
    assert moves[["label", "from", "to"]].values.tolist() == [["cheap", "(new)", "@2"]]


def test_experiments_frame_reports_progress(shared: Experiment) -> None:
    frame = data.experiments_frame(shared.db)
    row = frame.iloc[0]
    assert (row["trials"], row["total"], row["progress"], row["errors"]) == (112, 112, 1.0, 0)
    assert row["simulated"] and row["cost_usd"] > 0


def test_experiment_choices_agree_with_the_experiments_frame(shared: Experiment) -> None:
    choices = data.experiment_choices(shared.db)
    frame = data.experiments_frame(shared.db)
    assert list(choices.columns) == ["id", "name", "status", "total"]
    pd.testing.assert_frame_equal(choices, frame[list(choices.columns)])


def test_stats_display_formats_the_figures_and_escapes_the_text(experiment: Experiment) -> None:
    table = data.stats_table(build_report(experiment.db, experiment.id))
    table.loc[1, "model"] = "*bold* [x](http://host/)"
    shown = data.stats_display(table)
    pd.testing.assert_frame_equal(shown.data, table)  # the figures stay the data
    cells = shown.to_string(delimiter="\t").splitlines()
    header, control, cheap = (line.split("\t")[1:] for line in cells)
    assert header == list(table.columns)
    by_name = dict(zip(header, cheap, strict=True))
    figures = table.iloc[1]
    assert by_name["quality"] == data.md(f"{figures['quality']:.3f}")
    assert by_name["diff vs control"] == data.md(f"{figures['diff vs control']:+.3f}")
    assert by_name["p (Holm)"] == data.md(f"{figures['p (Holm)']:.4f}")
    assert by_name["cost/task $"] == data.md(f"{figures['cost/task $']:.5f}")
    assert by_name["latency p90 s"] == data.md(f"{figures['latency p90 s']:.2f}")
    assert by_name["model"] == data.md("*bold* [x](http://host/)")
    assert by_name["control"] == ""
    of_control = dict(zip(header, control, strict=True))
    assert of_control["control"] == "✓"
    # The control has no difference, p-value or cost ratio of its own.
    assert of_control["diff vs control"] == of_control["p"] == of_control["cost ratio"] == "\\-"


def test_pairwise_is_empty_without_pairwise_grades(shared: Experiment) -> None:
    result = data.pairwise(build_report(shared.db, shared.id))
    assert result is not None and result.variants.empty and result.position_bias is None


def test_pairwise_shows_the_report_s_judgements_as_the_store_summarises_them(
    shared: Experiment,
) -> None:
    from experiments.graders.pairwise import PairwiseRow, summarise
    from experiments.reporting import _pairwise

    details = {"outcome": "win", "flipped": True,
               "order_results": [{"winner": "A"}, {"winner": "B"}]}  # fmt: skip
    rows = [PairwiseRow("cheap", 3, None, details), PairwiseRow("cheap", 3, "overloaded", {})]
    summary = summarise(rows, "control")
    report = replace(build_report(shared.db, shared.id), pairwise=_pairwise(summary))
    result = data.pairwise(report)
    assert result.grading_run == 3
    pd.testing.assert_frame_equal(result.variants, pd.DataFrame(summary["variants"]))
    assert result.position_bias == summary["position_bias"]


def test_no_winner_is_refused(shared: Experiment) -> None:
    with pytest.raises(NoWinner):
        data.winner(shared.db, shared.id)


def test_export_writes_the_exact_version_and_moves_the_label(decided: Experiment, tmp_path) -> None:  # type: ignore[no-untyped-def]
    won = data.winner(decided.db, decided.id)
    registry = Registry(decided.db)
    assert won.label == "tight"
    assert won.source == registry.source(won.ref)
    done = data.export_winner(decided.db, won, tmp_path / "agents", "production")
    assert done.path == tmp_path / "agents" / "backend-logic-implementer.md"
    assert done.path.read_bytes() == won.source
    assert done.move is not None and done.move.to_number == won.ref.number
    assert data.label_position(decided.db, won.ref.name, "production") == won.ref.number


def test_export_checks_the_label_before_writing(decided: Experiment, tmp_path) -> None:  # type: ignore[no-untyped-def]
    won = data.winner(decided.db, decided.id)
    with pytest.raises(InvalidReference):
        data.export_winner(decided.db, won, tmp_path / "out", "Not A Label")
    assert not (tmp_path / "out").exists()


def test_a_running_experiment_whose_process_is_gone_is_shown_as_interrupted(
    experiment: Experiment,
) -> None:
    from experiments.run_state import STALE_AFTER, owner_id
    from experiments.store.tables import Experiment as ExperimentRow
    from registry.models import utcnow
    from tests.experiments.test_run_guards import dead_owner

    def stored(owner: str | None, heartbeat: datetime | None) -> list[str]:
        with experiment.db.session() as session:
            row = session.get(ExperimentRow, experiment.id)
            assert row is not None
            row.status, row.owner, row.heartbeat_at = "running", owner, heartbeat
            session.add(row)
            session.commit()
        statuses = data.experiments_frame(experiment.db)["status"].to_list()
        assert data.experiment_choices(experiment.db)["status"].to_list() == statuses
        return statuses

    now = utcnow()
    assert stored(owner_id(), now) == ["running"]  # this very process: alive
    assert stored(dead_owner(), now) == ["interrupted"]  # kill -9: its pid is gone at once
    # On another host only silence tells: a heartbeat older than STALE_AFTER.
    assert stored("elsewhere:1", now) == ["running"]
    assert stored("elsewhere:1", now - STALE_AFTER - timedelta(seconds=1)) == ["interrupted"]
    # Stored before heartbeats existed: the start time counts (this one has just started).
    assert stored(None, None) == ["running"]
