"""Experiments: every run with its status, progress, errors and cost; a running one refreshes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import state

COLUMNS = {
    "id": st.column_config.NumberColumn("#", format="%d"),
    "progress": st.column_config.ProgressColumn("done", format="percent", min_value=0, max_value=1),
    "cost_usd": st.column_config.NumberColumn("cost $", format="%.4f"),
    "judge_cost_usd": st.column_config.NumberColumn("judge $", format="%.4f"),
    "simulated": st.column_config.CheckboxColumn("simulated"),
}
SHOWN = [
    "id",
    "name",
    "status",
    "provider",
    "simulated",
    "trials",
    "total",
    "progress",
    "errors",
    "cost_usd",
    "judge_cost_usd",
    "created_at",
    "note",
]


def show_table(frame: pd.DataFrame) -> None:
    st.dataframe(frame[SHOWN], hide_index=True, width="stretch", column_config=COLUMNS)


def page() -> None:
    st.title("Experiments")
    frame = state.experiments()
    if frame.empty:
        st.info("No experiments yet. Run one: `registry run SPEC`, or `registry demo`.")
        return
    running = bool((frame["status"] == "running").any())

    @st.fragment(run_every=state.REFRESH_S if running else None)
    def live() -> None:
        state.require_database()  # a timer rerun runs only this function
        latest = state.experiments()
        if running:
            st.caption(f"A run is in progress: this table rereads every {state.REFRESH_S:g} s.")
            if not (latest["status"] == "running").any():
                st.rerun()  # every run has ended: redraw once, without the timer
        show_table(latest)

    live()
    ids = [int(i) for i in frame["id"]]
    names = dict(zip(ids, frame["name"], strict=True))
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Open an experiment", ids, format_func=lambda i: f"#{i} {names[i]}", key="open_experiment"
    )
    state.warm(ids[0])  # the newest experiment is the one most likely opened next
    if right.button("Compare", type="primary"):
        st.session_state[state.EXPERIMENT_KEY] = chosen
        st.switch_page("views/compare_view.py", query_params={"experiment": str(chosen)})


page()
