"""Compare: the verdict first, then the statistics and the charts that explain it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from dashboard import charts, data, state
from experiments.sequential_rule import summary_sentence

if TYPE_CHECKING:
    from experiments.report import Report

PAIRWISE_AUTO_TRIALS = 20_000  # above this, the pairwise section loads on request
NO_QUALITY = (
    "No quality score yet: no trial has been graded (a suite without graders, or every call "
    "failed). Add graders and re-grade: `registry grade EXP --graders FILE`."
)
VERDICT_BOX = {"winner": st.success, "no_difference": st.info, "inconclusive": st.warning}


def show_verdict(report: Report) -> None:
    verdict = report.verdict
    title, text = data.md(data.verdict_title(verdict)), data.md(verdict.text)
    VERDICT_BOX[verdict.status](f"**Verdict: {title}.** {text}")


def show_statistics(report: Report) -> None:
    st.subheader("Statistics")
    exp = report.experiment
    st.caption(
        f"{exp.tasks} tasks x {exp.epochs} epochs; differences are paired over tasks "
        f"against {data.md(report.control)}, 95% intervals, p-values Holm-adjusted across variants."
    )
    # A static table: shown with the verdict, without waiting for the grid's code (data.py).
    table = data.stats_table(report)
    st.table(data.stats_display(table), hide_index=True)
    # The static table cannot be sorted or saved: the figures, unrounded, as a file.
    st.download_button(
        "Download the statistics (CSV)",
        data=table.to_csv(index=False),
        file_name=f"experiment-{exp.id}-statistics.csv",
        mime="text/csv",
        on_click="ignore",
        key="download_statistics",
    )


def show_delegation(report: Report) -> None:
    """A delegation experiment's routing: per variant, the confusion, the requests that changed."""
    summary = report.delegation
    if summary is None:
        return
    st.subheader("Delegation")
    versions = ", ".join(summary.router_versions) or summary.router
    roster = ", ".join(summary.roster) or "no other agent"
    st.caption(
        f"Which agent Claude Code's main loop picked: decided by {data.md(versions)} on "
        f"{data.md(summary.main_model)}, competing with {data.md(roster)} and the built-in "
        "agents. Quality is the share routed as the suite expects; 95% Wilson intervals over tasks."
    )
    st.dataframe(
        data.delegation_table(report),
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(format="%.3f")
            for name in ("routed correctly", "recall", "false delegation rate")
        },
    )
    labels = [v.label for v in report.variants if v.delegation is not None]
    label = st.selectbox("Confusion of variant", labels, key="confusion_variant")
    if label is not None:
        st.dataframe(data.confusion_frame(report, label), hide_index=True, width="stretch")
    changed = data.changed_frame(report)
    st.markdown(f"**Requests that changed outcome** ({len(changed)})")
    if changed.empty:
        st.caption("No request was routed differently from the control.")
    else:
        st.dataframe(changed, hide_index=True, width="stretch")


def show_agentic(report: Report, url: str, experiment_id: int, token: state.Token) -> None:
    """An agentic experiment's sessions: per variant, each check per task, then one session."""
    summary = report.agentic
    if summary is None:
        return
    st.subheader("Agentic sessions")
    versions = ", ".join(summary.runtime_versions) or summary.runtime
    st.caption(
        f"Each trial is a session of the variant, as the agent, in a fresh copy of the task's "
        f"workspace, run by {data.md(versions)} (at most {summary.max_turns} turns and "
        f"{summary.time_limit_s:g} s), then the task's checks. Turns and tool calls are means "
        "per session; failed trials are left out."
    )
    st.dataframe(
        data.agentic_table(report),
        hide_index=True,
        width="stretch",
        column_config={
            "turns": st.column_config.NumberColumn(format="%.1f"),
            "tool calls": st.column_config.NumberColumn(format="%.1f"),
            "checks passed": st.column_config.NumberColumn(format="percent"),
        },
    )
    order = [v.label for v in report.variants]
    tasks = data.task_ids(state.current_db(), experiment_id)
    rows = state.trial_details(url, experiment_id, token)
    st.markdown("**Checks passed per task** (share of each variant's sessions)")
    st.dataframe(
        data.check_shares(rows, tasks, order),
        hide_index=True,
        width="stretch",
        column_config={label: st.column_config.NumberColumn(format="percent") for label in order},
    )
    show_session(rows, tasks, order, report.experiment.epochs)


def show_session(
    rows: list[data.DetailRow], tasks: list[str], order: list[str], epochs: int
) -> None:
    """One agentic trial: how it ended, each check with its exit code and output, its diff."""
    st.markdown("**One session**")
    if not tasks:
        return
    left, middle, right = st.columns([3, 1, 1])
    task_id = left.selectbox("Task", tasks, key="agentic_task")
    epoch = middle.selectbox("Epoch", list(range(1, epochs + 1)), key="agentic_epoch")
    variant = right.selectbox("Variant", order, key="agentic_variant")
    found = data.session(rows, task_id, epoch, variant)
    if found is None:
        st.info("No trial of this variant on this task at this epoch yet.")
        return
    if found.error:
        st.error(data.md(found.error))
    tools = ", ".join(f"{tool} {n}" for tool, n in found.tool_calls.items()) or "none"
    denied = ", ".join(f"{tool} {n}" for tool, n in found.denied.items()) or "none"
    st.caption(
        data.md(
            f"ended {found.ended} · {found.turns} turns · tool calls: {tools} · denied: {denied}"
        )
    )
    st.dataframe(
        data.checks_frame(found),
        hide_index=True,
        width="stretch",
        column_config={"seconds": st.column_config.NumberColumn(format="%.2f")},
    )
    for check in found.checks:
        st.caption(data.md(f"{check.name}: exit code {check.exit_code}, output tail"))
        st.code(check.output_tail or "(no output)", language=None, wrap_lines=True)
    st.caption("Diff of the workspace" + (" (cut: too long)" if found.diff_truncated else ""))
    st.code(found.diff or "(no change)", language="diff", wrap_lines=True)


def show_sequential(report: Report) -> None:
    """A sequential run's looks, why it stopped, and what it saved against the fixed design."""
    if report.sequential is None:
        return
    st.subheader("Sequential looks")
    st.caption(
        f"{data.md(summary_sentence(report.sequential))}. The verdict above applies the last "
        f"look's nominal alpha; {data.md(report.sequential.method)}."
    )
    st.dataframe(
        data.looks_frame(report),
        hide_index=True,
        width="stretch",
        column_config={
            "spent alpha": st.column_config.NumberColumn(format="%.5f"),
            "nominal alpha": st.column_config.NumberColumn(format="%.5f"),
            "cost so far": st.column_config.NumberColumn(format="$%.4f"),
        },
    )


def show_charts(report: Report, url: str, experiment_id: int, token: state.Token) -> None:
    order = [v.label for v in report.variants]
    variants = data.variants_frame(report)
    left, right = st.columns(2)
    graded = variants["quality"].notna().any()
    with left:
        st.subheader("Quality per variant")
        if graded:
            st.altair_chart(charts.quality_bars(variants), width="stretch")
        else:
            st.caption(NO_QUALITY)
    with right:
        st.subheader("Quality against cost")
        if graded:
            st.altair_chart(charts.quality_vs_cost(variants), width="stretch")
        else:
            st.caption(NO_QUALITY)
    trials = state.trials(url, experiment_id, token)
    left, right = st.columns(2)
    with left:
        st.subheader("Latency")
        st.altair_chart(
            charts.latency_distributions(data.latency_histogram(trials), order), width="stretch"
        )
    with right:
        st.subheader("Quality per task")
        matrix = data.task_matrix(trials, order)
        if matrix.empty:
            st.caption(NO_QUALITY)
        else:
            st.altair_chart(charts.task_heatmap(matrix, order), width="stretch")


def show_task(url: str, experiment_id: int, epochs: int, token: state.Token) -> None:
    st.subheader("One task, side by side")
    tasks = data.task_ids(state.current_db(), experiment_id)
    if not tasks:
        return
    left, right = st.columns([3, 1])
    task_id = left.selectbox("Task", tasks, key="drill_task")
    epoch = right.selectbox("Epoch", list(range(1, epochs + 1)), key="drill_epoch")
    detail = state.task_detail(url, experiment_id, task_id, epoch, token)
    with st.expander("The task", expanded=False):
        st.code(detail.prompt, language=None, wrap_lines=True)
        if detail.reference:
            st.markdown(
                "**A good answer covers:**\n"
                + "\n".join(f"- {data.md(r)}" for r in detail.reference)
            )
        if detail.rubric:
            st.markdown(f"**Rubric:** {data.md(detail.rubric)}")
    if detail.answers.empty:
        st.info("No trial of this task at this epoch yet.")
        return
    # Records, not itertuples: pandas types a tuple's fields as any scalar at all (bytes too).
    answers = detail.answers.to_dict("records")
    for column, answer in zip(st.columns(len(answers)), answers, strict=True):
        with column:
            st.markdown(f"**{data.md(answer['variant'])}** · {data.md(answer['model'])}")
            quality = "-" if pd.isna(answer["quality"]) else f"{answer['quality']:.3f}"
            st.caption(
                f"quality {quality} · ${answer['cost_usd']:.5f} · {answer['latency_s'] or 0:.2f} s"
            )
            error = answer["error"]
            if isinstance(error, str) and error:  # pandas gives NaN for a missing one
                st.error(data.md(error))
            with st.container(height=360, border=True):
                st.code(answer["response"], language=None, wrap_lines=True)
            grades = detail.grades[detail.grades["variant"] == answer["variant"]]
            st.dataframe(
                grades.drop(columns="variant"),
                hide_index=True,
                width="stretch",
                column_config={"score": st.column_config.NumberColumn(format="%.2f")},
            )


def show_pairwise(report: Report, trials: int) -> None:
    st.subheader("Pairwise judge")
    # On a very large experiment the section is shown on request.
    if not st.toggle(
        "Show the pairwise judge's results",
        value=trials <= PAIRWISE_AUTO_TRIALS,
        key="show_pairwise",
    ):
        return
    result = data.pairwise(report)  # the report's figures: the grades are read once
    if result.variants.empty:
        st.caption(
            "No pairwise judgements for this experiment: re-grade with a pairwise judge, "
            "`registry grade EXP --graders FILE`."
        )
        return
    st.caption(
        f"Grading run {result.grading_run}: each variant's answer against the control's for the "
        "same task and epoch, judged in both orders."
    )
    st.dataframe(
        result.variants,
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(format="percent")
            for name in ("win_rate", "preference", "flip_rate")
        },
    )
    bias = result.position_bias or {}
    left, right = st.columns(2)
    left.metric(
        "Verdict flipped with the order",
        _percent(bias.get("flip_rate")),
        help="Share of pairs whose verdict changed when the answers swapped places.",
    )
    right.metric(
        "Decided verdicts for the first answer",
        _percent(bias.get("first_position_share")),
        help="50% means no position bias.",
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def page() -> None:
    st.title("Compare")
    experiments = state.experiment_choices()
    experiment_id = state.pick_experiment(experiments)
    if experiment_id is None:
        st.info("No experiments yet. Run one: `registry run SPEC`, or `registry demo`.")
        return
    url = state.db_url()
    row = experiments[experiments["id"] == experiment_id].iloc[0]
    running = row["status"] == "running"
    total = int(row["total"])

    @st.fragment(run_every=state.REFRESH_S if running else None)
    def body() -> None:
        state.require_database()  # a timer rerun runs only this function
        token = state.token(experiment_id)
        if running and token[0] != "running":
            st.rerun()  # the run ended: redraw once without the refresh timer
        report = state.report(url, experiment_id, token)
        exp = report.experiment
        st.caption(
            f"Experiment #{exp.id} **{data.md(exp.name)}** · provider {data.md(exp.provider)} · "
            f"status {data.md(exp.status)} · {token[1]}/{total} trials"
        )
        state.simulated_banner(exp.simulated)
        if running:
            st.progress(min(1.0, token[1] / max(1, total)), "running")
        show_verdict(report)
        show_statistics(report)
        show_delegation(report)
        show_agentic(report, url, experiment_id, token)
        show_sequential(report)
        show_charts(report, url, experiment_id, token)
        show_task(url, experiment_id, exp.epochs, token)
        show_pairwise(report, token[1])

    body()


page()
