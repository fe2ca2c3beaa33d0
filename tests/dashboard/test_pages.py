"""Every dashboard page through Streamlit's AppTest, on experiments the tests create."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import col, delete, select
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import AlertBase

from dashboard import data
from experiments.reporting import build_report
from experiments.store.tables import Experiment as ExperimentRow
from experiments.store.tables import ExperimentTask, Grade, Trial
from registry.database import Database, sqlite_path
from registry.models import Agent
from tests.conftest import SEED, Cli
from tests.dashboard.conftest import PAGES, Experiment

OpenPage = Callable[..., AppTest]


def boxes(at: AppTest) -> list[str]:
    """Every alert box's text (success, info, warning, error), in page order."""
    return [node.value for node in at.main if isinstance(node, AlertBase)]


def rendered(at: AppTest) -> str:
    """Everything Streamlit renders as markdown: text, captions, alerts, headings, expanders."""
    headings = [h.value for h in [*at.title, *at.header, *at.subheader]]
    return "\n".join([texts(at), *headings, *(e.label for e in at.expander)])


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + boxes(at))


def test_experiments_page_lists_the_run_and_opens_it_in_compare(
    shared: Experiment, open_page: OpenPage
) -> None:
    at = open_page("experiments")
    [row] = at.dataframe[0].value.to_dict("records")
    assert (row["id"], row["status"], row["trials"], row["total"]) == (shared.id, "completed",
                                                                      112, 112)  # fmt: skip
    assert row["simulated"] and row["errors"] == 0 and row["cost_usd"] > 0
    assert "in progress" not in texts(at)
    at.button[0].click().run()
    assert at.title[0].value == "Compare"
    assert any(text.startswith("**Verdict:") for text in boxes(at))


def test_compare_page_shows_the_verdict_first_then_statistics_and_charts(
    shared: Experiment, open_page: OpenPage
) -> None:
    at = open_page("compare", shared.id)
    report = build_report(shared.db, shared.id)
    verdict = report.verdict
    # Before the statistics: the SIMULATED label, then the verdict in words.
    main = boxes(at)
    assert main[0].startswith("**SIMULATED**")
    title, text = data.md(data.verdict_title(verdict)), data.md(verdict.text)
    assert main[1] == f"**Verdict: {title}.** {text}"
    # The statistics are a static table (st.table): the report's figures, shown formatted.
    [stats] = at.table
    expected = data.stats_table(report)
    pd.testing.assert_frame_equal(stats.value, expected, check_dtype=False)
    shown = dataframe_util.convert_arrow_bytes_to_pandas_df(
        stats.proto.arrow_data.styler.display_values
    )
    assert list(shown.columns) == list(expected.columns)
    for (_, row), (_, figures) in zip(shown.iterrows(), expected.iterrows(), strict=True):
        for column, fmt in data.STATS_FORMATS.items():
            value = figures[column]
            assert row[column] == data.md("-" if pd.isna(value) else fmt.format(value))
        assert row["variant"] == data.md(figures["variant"])
        assert row["control"] == ("✓" if figures["control"] else "")
    assert not any("quality 95% CI" in frame.value.columns for frame in at.dataframe)
    charts = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert len(charts) == 4  # quality with error bars, quality vs cost, latency, heat map
    assert any(layer["mark"]["type"] == "errorbar" for layer in charts[0]["layer"])
    assert "row" in charts[2]["encoding"] or "facet" in json.dumps(charts[2])
    assert charts[3]["mark"]["type"] == "rect"
    # Pairwise: installed, no judgements in this experiment.
    assert "No pairwise judgements" in texts(at)


def test_compare_offers_the_statistics_as_a_csv_with_every_figure_unrounded(
    shared: Experiment, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    saved: dict[str, bytes | str] = {}
    keep = MemoryMediaFileStorage.load_and_get_id

    def record(self: MemoryMediaFileStorage, path_or_data: bytes | str, mimetype: str,
               kind: object, filename: str | None = None) -> str:  # fmt: skip
        saved[filename or ""] = path_or_data
        return keep(self, path_or_data, mimetype, kind, filename)  # type: ignore[arg-type]

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    at = open_page("compare", shared.id)
    [download] = [b for b in at.get("download_button") if b.proto.id.endswith("statistics")]
    assert download.proto.label == "Download the statistics (CSV)"
    assert download.proto.ignore_rerun  # saving the file does not rerun the page
    name = f"experiment-{shared.id}-statistics.csv"
    content = saved[name]
    text = content.decode() if isinstance(content, bytes) else content
    expected = data.stats_table(build_report(shared.db, shared.id))
    assert text == expected.to_csv(index=False)
    table = pd.read_csv(io.StringIO(text))
    assert list(table.columns) == list(expected.columns)
    # Full precision, not the table's three decimals.
    assert table["quality"].tolist() == expected["quality"].tolist()
    assert table["quality"].round(3).tolist() != table["quality"].tolist()


def test_compare_drill_down_shows_each_answer_and_every_grade(
    shared: Experiment, open_page: OpenPage
) -> None:
    at = open_page("compare", shared.id)
    at.selectbox(key="drill_task").select("rbac-team-scopes")
    at.selectbox(key="drill_epoch").select(2)
    at.run()
    assert not at.exception
    with shared.db.session() as session:
        trials = session.exec(
            select(Trial).where(Trial.task_id == "rbac-team-scopes", Trial.epoch == 2)
        ).all()
        graders = {
            t.variant: len(session.exec(select(Grade).where(Grade.trial_id == t.id)).all())
            for t in trials
        }
    shown = [c.value for c in at.code]
    for trial in trials:
        assert trial.response_text in shown
    grade_tables = [df.value for df in at.dataframe if "grader" in df.value.columns]
    assert [len(t) for t in grade_tables] == [graders["control"], graders["cheap"]]
    assert all(grade_tables[0]["reason"].str.len() > 0)


def test_compare_follows_a_run_as_it_writes(experiment: Experiment, open_page: OpenPage) -> None:
    at = open_page("compare", experiment.id)
    assert "112/112 trials" in texts(at)
    with experiment.db.session() as session:
        ids = session.exec(select(Trial.id).where(Trial.task_id == "register-endpoint")).all()
        session.exec(delete(Grade).where(Grade.trial_id.in_(ids)))  # type: ignore[call-overload]
        session.exec(delete(Trial).where(Trial.id.in_(ids)))  # type: ignore[call-overload]
        row = session.get(ExperimentRow, experiment.id)
        row.status = "running"
        session.add(row)
        session.commit()
    at.run()
    assert not at.exception
    assert "status running · 108/112 trials" in texts(at)
    assert at.get("progress")


def test_experiments_page_says_when_it_refreshes(
    experiment: Experiment, open_page: OpenPage
) -> None:
    with experiment.db.session() as session:
        row = session.get(ExperimentRow, experiment.id)
        row.status = "running"
        session.add(row)
        session.commit()
    at = open_page("experiments")
    assert "A run is in progress" in texts(at)
    assert at.dataframe[0].value["status"].to_list() == ["running"]


def test_agents_page_versions_labels_and_a_side_by_side_diff(
    shared: Experiment, open_page: OpenPage
) -> None:
    at = open_page("agents")
    assert at.dataframe[0].value["agent"].to_list() == ["backend-logic-implementer"]
    versions = at.dataframe[1].value
    assert versions["version"].to_list() == [2, 1]
    assert versions["labels"].to_list() == ["cheap", ""]
    history = at.dataframe[2].value
    assert history[["label", "from", "to"]].values.tolist() == [["cheap", "(new)", "@2"]]
    assert (at.selectbox(key="diff_old").value, at.selectbox(key="diff_new").value) == (1, 2)
    assert "- " + data.md("model: sonnet -> haiku") in texts(at)
    assert [m.value for m in at.metric] == ["sonnet", "haiku"]
    fields = at.dataframe[3].value
    assert fields.iloc[0].to_dict() == {"field": "model", "changed": True, "old": "sonnet",
                                        "new": "haiku"}  # fmt: skip
    at.selectbox(key="diff_old").select(2).run()
    assert "are identical" in texts(at)


def test_export_page_without_a_winner_writes_nothing(
    shared: Experiment, open_page: OpenPage
) -> None:
    at = open_page("export", shared.id)
    assert any(data.md("has no winner, nothing written") in text for text in boxes(at))
    assert not at.get("download_button") and not at.text_input


def test_export_page_downloads_or_writes_the_winner_after_confirmation(
    decided: Experiment, open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_EXPORT_DIR", str(tmp_path))
    won = data.winner(decided.db, decided.id)
    at = open_page("export", decided.id)
    assert any(text.startswith("**tight** won") for text in boxes(at))
    [download] = at.get("download_button")
    assert download.proto.label == f"Download {data.md('backend-logic-implementer')}.md"
    target = tmp_path / "out" / "backend-logic-implementer.md"
    at.text_input(key="export_folder").input(str(tmp_path / "out"))
    at.text_input(key="export_label").input("production")
    at.form_submit_button[0].click().run()
    [confirm] = [text for text in boxes(at) if text.startswith("Please confirm")]
    assert data.md(target) in confirm and f"(new) → @{won.ref.number}" in confirm
    assert not target.exists()  # nothing happens before the second click

    at.button(key="export_cancel").click().run()
    assert not target.exists() and not any("Please confirm" in t for t in boxes(at))

    at.form_submit_button[0].click().run()
    at.button(key="export_confirm").click().run()
    assert not at.exception
    assert target.read_bytes() == won.source
    assert data.label_position(decided.db, won.ref.name, "production") == won.ref.number
    assert any(text.startswith(f"Wrote {data.md(target)}.") for text in boxes(at))


def test_a_database_deleted_under_the_dashboard_is_one_clear_message(
    experiment: Experiment, open_page: OpenPage
) -> None:
    path = sqlite_path(experiment.url)
    if path is None:
        pytest.skip("a server database cannot be deleted as a file")
    for page in PAGES:
        at = open_page(page, experiment.id)
        experiment.db.dispose()
        moved = path.rename(path.with_name("moved.db"))
        at.run()
        assert not at.exception
        [message] = [b for b in boxes(at) if "is gone" in b]
        assert message.startswith(f"The database file {path} is gone (deleted or moved)")
        assert not path.exists()  # no empty database made in its place
        moved.rename(path)


def test_compare_without_any_quality_score_says_so_instead_of_empty_charts(
    experiment: Experiment, open_page: OpenPage
) -> None:
    # A suite without graders, and a task whose calls all failed.
    with experiment.db.session() as session:
        for trial in session.exec(select(Trial)).all():
            trial.quality = None
            if trial.task_id == "rbac-team-scopes":
                trial.error, trial.response_text, trial.latency_s = "overloaded", None, None
            session.add(trial)
        session.exec(delete(Grade))
        session.commit()
    at = open_page("compare", experiment.id)
    at.selectbox(key="drill_task").select("rbac-team-scopes").run()
    assert not at.exception
    no_quality = [c.value for c in at.caption if c.value.startswith("No quality score yet")]
    assert len(no_quality) == 3  # the quality bars, quality against cost, the heat map
    [latency] = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert "row" in latency["encoding"]
    assert boxes(at).count("overloaded") == 2  # each variant's failed call, said as text


STEAL = "![x](http://127.0.0.1:9/steal)"


def test_markdown_from_the_database_is_shown_as_text_never_rendered(
    experiment: Experiment, open_page: OpenPage, tmp_path: Path
) -> None:
    with experiment.db.session() as session:
        row = session.get(ExperimentRow, experiment.id)
        row.name = f"name {STEAL}"
        session.add(row)
        task = session.exec(
            select(ExperimentTask).where(ExperimentTask.task_id == "rbac-team-scopes")
        ).one()
        task.prompt, task.rubric, task.reference = f"# {STEAL}", STEAL, [STEAL]
        session.add(task)
        for trial in session.exec(select(Trial).where(Trial.task_id == "rbac-team-scopes")):
            trial.response_text = f"# Heading\n\n{STEAL}"
            trial.error = f"failed: {STEAL}" if trial.variant == "cheap" else None
            session.add(trial)
        session.commit()
    at = open_page("compare", experiment.id)
    at.selectbox(key="drill_task").select("rbac-team-scopes").run()
    assert not at.exception
    shown = rendered(at)
    assert "](" not in shown and "http" not in shown.replace("http\\:", "")
    assert f"**{data.md(f'name {STEAL}')}**" in shown
    assert data.md(f"failed: {STEAL}") in boxes(at)
    assert "nan" not in boxes(at)  # the control's answer has no error: no box for it
    codes = [c.value for c in at.code]
    assert f"# {STEAL}" in codes and codes.count(f"# Heading\n\n{STEAL}") == 2

    # An agent's heading (a body section) on the Agents page.
    agent = tmp_path / "steal" / "backend-logic-implementer.md"
    agent.parent.mkdir()
    agent.write_bytes(SEED.read_bytes() + f"\n## {STEAL}\n\nMore.\n".encode())
    experiment.cli.ok("publish", str(agent))
    at = open_page("agents")
    assert not at.exception
    shown = rendered(at)
    assert data.md(STEAL) in shown and "](" not in shown


def test_a_crafted_agent_name_never_writes_outside_the_folder(
    decided: Experiment, open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_EXPORT_DIR", str(tmp_path))
    with decided.db.session() as session:
        agent = session.exec(select(Agent).where(Agent.name == "backend-logic-implementer")).one()
        agent.name = "../../../evil"
        session.add(agent)
        session.commit()
    out = tmp_path / "a" / "b" / "c" / "out"
    result = decided.cli("export", "--winner", str(decided.id), "-o", f"{out}/")
    assert result.exit_code == 1
    assert result.stderr == (
        "registry: error: refusing to export agent '../../../evil': "
        "its name is not a plain file name (it contains a path separator)\n"
    )
    at = open_page("export", decided.id)
    at.text_input(key="export_folder").input(str(out))
    at.form_submit_button[0].click().run()
    at.button(key="export_confirm").click().run()
    assert not at.exception
    assert any("is not a plain file name" in text for text in boxes(at))
    assert not list(tmp_path.rglob("*.md"))  # nothing written, in the folder or above it


def test_export_page_writes_only_inside_the_export_folder(
    decided: Experiment, open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    at = open_page("export", decided.id)
    default = tmp_path.resolve() / ".claude" / "agents"
    assert at.text_input(key="export_folder").value == str(default)

    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    monkeypatch.setenv("REGISTRY_EXPORT_DIR", str(root))
    at = open_page("export", decided.id)
    for outside in ["/etc", str(tmp_path), "..", "sub/../..", "link", "~"]:
        at.text_input(key="export_folder").input(outside)
        at.form_submit_button[0].click().run()
        assert not at.exception
        [refused] = [text for text in boxes(at) if "refusing to write" in text]
        assert data.md(f"the dashboard writes only inside {root.resolve()}") in refused
        assert not any(b.key == "export_confirm" for b in at.button)  # nothing to confirm
    at.text_input(key="export_folder").input("sub")
    at.form_submit_button[0].click().run()
    at.button(key="export_confirm").click().run()
    assert (root / "sub" / "backend-logic-implementer.md").is_file()
    assert [p.name for p in tmp_path.rglob("*.md")] == ["backend-logic-implementer.md"]


def test_an_experiment_left_running_by_a_killed_run_is_not_polled(
    experiment: Experiment, open_page: OpenPage
) -> None:
    from tests.experiments.test_run_guards import dead_owner

    with experiment.db.session() as session:
        row = session.get(ExperimentRow, experiment.id)
        row.status, row.owner = "running", dead_owner()  # as kill -9 leaves it
        session.add(row)
        session.commit()
    at = open_page("experiments")
    assert at.dataframe[0].value["status"].to_list() == ["interrupted"]
    assert "A run is in progress" not in texts(at)
    at = open_page("compare", experiment.id)
    assert not at.get("progress")


def test_compare_shows_a_delegation_experiment_s_routing(
    sqlite_cli: Cli, tmp_path: Path, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.experiments.test_delegation_cli import _publish, _spec

    _publish(sqlite_cli, tmp_path)
    variants = {"control": "backend-logic-implementer@1",
                "helpful": "backend-logic-implementer@helpful"}  # fmt: skip
    spec = _spec(tmp_path, variants, "routing")
    exp = int(json.loads(sqlite_cli.ok("run", str(spec), "--json").stdout)["experiment"])
    monkeypatch.setenv("REGISTRY_DB", sqlite_cli.db)
    at = open_page("compare", exp)
    assert "Delegation" in [h.value for h in at.subheader]
    db = Database(sqlite_cli.db)
    try:
        report = build_report(db, exp)
    finally:
        db.dispose()
    frames = [frame.value for frame in at.dataframe]
    routing = next(f for f in frames if "recall" in f.columns)
    pd.testing.assert_frame_equal(routing, data.delegation_table(report), check_dtype=False)
    assert list(routing["variant"]) == ["control", "helpful"]
    changed = next(f for f in frames if "variant correct" in f.columns)
    assert report.delegation is not None
    assert set(changed["task"]) == {c.task_id for c in report.delegation.changed}
    confusion = next(f for f in frames if "expected" in f.columns and "task" not in f.columns)
    assert "backend-logic-implementer" in set(confusion["expected"])
    at.selectbox(key="confusion_variant").select("helpful").run()
    assert not at.exception


def test_compare_shows_the_looks_of_a_sequential_run_and_what_it_saved(
    experiment: Experiment, open_page: OpenPage
) -> None:
    from experiments.report import Look
    from experiments.store.looks import add_look

    look = Look(1, 14, 28, 0.5, 0.0015, 0.003, "no_difference", "no gain", True, 0.5)
    add_look(experiment.db, experiment.id, look)
    at = open_page("compare", experiment.id)
    assert not at.exception
    assert "Sequential looks" in rendered(at)
    assert data.md("stopped at look 1: the verdict is no_difference") in texts(at)
    assert data.md("saved, 50%") in texts(at)  # half the suite's estimated cost saved
    looks = next(frame.value for frame in at.dataframe if "nominal alpha" in frame.value)
    assert looks.to_dict("records")[0]["why"] == "no gain"


def _stored_checks(db: Database, experiment_id: int) -> dict[tuple[str, str, str], list[bool]]:
    """(task, check, variant) -> passed, from the check grades (not the details the page reads)."""
    with db.session() as session:
        found = session.exec(
            select(Trial.task_id, Grade.grader, Trial.variant, Grade.passed, Grade.details)
            .join(Grade, col(Grade.trial_id) == col(Trial.id))
            .where(Trial.experiment_id == experiment_id, col(Trial.error).is_(None))
        ).all()
    checks: dict[tuple[str, str, str], list[bool]] = {}
    for task, check, variant, passed, details in found:
        if details.get("check"):  # a check's grade, not a grader's
            checks.setdefault((task, check, variant), []).append(bool(passed))
    return checks


def test_compare_shows_an_agentic_experiment_s_sessions(
    agentic: Experiment, open_page: OpenPage
) -> None:
    at = open_page("compare", agentic.id)
    headings = [h.value for h in at.subheader]
    assert "Agentic sessions" in headings and "Delegation" not in headings
    assert "run by simulated 1 (at most 30 turns and 600 s)" in texts(at)
    report = build_report(agentic.db, agentic.id)
    frames = [frame.value for frame in at.dataframe]
    sessions = next(f for f in frames if "endings" in f.columns)
    pd.testing.assert_frame_equal(sessions, data.agentic_table(report), check_dtype=False)
    assert list(sessions["variant"]) == ["control", "cheap"]
    assert list(sessions["sessions"]) == [4, 4] and set(sessions["endings"]) == {"finished 4"}

    # Per task, each check's share passed per variant: the stored check grades say the same.
    shares = next(f for f in frames if "check" in f.columns and "task" in f.columns)
    assert list(shares[["task", "check"]].itertuples(index=False, name=None)) == [
        ("orders-pagination", "hidden-tests"),
        ("orders-pagination", "existing-tests-still-pass"),
        ("orders-pagination", "returns-next-cursor"),
        ("teams-n-plus-one", "hidden-tests"),
        ("teams-n-plus-one", "existing-tests-still-pass"),
    ]
    stored = _stored_checks(agentic.db, agentic.id)
    for row in shares.to_dict("records"):
        for variant in ("control", "cheap"):
            passed = stored[row["task"], row["check"], variant]
            assert row[variant] == pytest.approx(sum(passed) / len(passed))

    # One session: its checks with exit codes and output tails, and its diff, as code.
    at.selectbox(key="agentic_task").select("orders-pagination")
    at.selectbox(key="agentic_epoch").select(2)
    at.selectbox(key="agentic_variant").select("cheap").run()
    assert not at.exception
    with agentic.db.session() as session:
        trial = session.exec(
            select(Trial).where(
                Trial.experiment_id == agentic.id, Trial.task_id == "orders-pagination",
                Trial.epoch == 2, Trial.variant == "cheap",
            )
        ).one()  # fmt: skip
    assert trial.details is not None
    details = trial.details
    checks = next(f.value for f in at.dataframe if "exit code" in f.value.columns)
    assert checks["check"].to_list() == [c["name"] for c in details["checks"]]
    assert checks["exit code"].to_list()[:2] == [c["exit_code"] for c in details["checks"][:2]]
    assert pd.isna(checks["exit code"].iloc[2])  # a file check runs no command
    codes = [c.value for c in at.code]  # st.code drops trailing newlines
    for check in details["checks"]:
        assert (check["output_tail"].rstrip() or "(no output)") in codes
    assert (details["diff"].rstrip() or "(no change)") in codes
    assert f"ended {details['ended']} · {details['turns']} turns" in texts(at).replace("\\", "")


def test_an_agentic_session_s_diff_and_output_are_shown_as_text_never_rendered(
    agentic: Experiment, open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sqlite_path(agentic.url)
    assert path is not None
    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    monkeypatch.setenv("REGISTRY_DB", str(copy))
    diff = f"+# {STEAL}\n+<img src=http://127.0.0.1:9/steal.png>\n"
    db = Database(str(copy))
    try:
        with db.session() as session:
            for trial in session.exec(select(Trial).where(Trial.task_id == "teams-n-plus-one")):
                details = dict(trial.details or {})
                details["diff"] = diff
                details["checks"] = [
                    {**c, "name": f"{c['name']} {STEAL}", "output_tail": f"# {STEAL}"}
                    for c in details["checks"]
                ]
                trial.details = details
                session.add(trial)
            session.commit()
    finally:
        db.dispose()
    at = open_page("compare", agentic.id)
    at.selectbox(key="agentic_task").select("teams-n-plus-one").run()
    assert not at.exception
    codes = [c.value for c in at.code]
    assert diff.rstrip() in codes and f"# {STEAL}" in codes
    shown = rendered(at)
    assert "](" not in shown and "<img" not in shown
    assert data.md(f"hidden-tests {STEAL}: exit code") in shown  # the check's name, as typed
    shares = next(f.value for f in at.dataframe if "check" in f.value.columns)
    assert f"hidden-tests {STEAL}" in set(shares["check"])  # a table cell is text
