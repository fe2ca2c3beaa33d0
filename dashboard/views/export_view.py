"""Export: download the winner's markdown, or write it to a folder and move a label to it.

Writing and moving a label change shared state, so they take two clicks: the first shows exactly
what will happen (file, label from -> to), the second does it.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.errors import AgentRegistryError
from dashboard import data, state
from experiments.winner import NoWinner, Winner

PENDING_KEY = "export_pending"  # session state: (folder, label) awaiting confirmation
DONE_KEY = "export_done"  # session state: what the last confirmed export did


def confirm_and_write(won: Winner, folder: Path, label: str) -> None:
    db = state.current_db()
    target = folder / f"{won.ref.name}.md"
    now = data.label_position(db, won.ref.name, label) if label else None
    plan = [f"write **{data.md(target)}** ({len(won.source):,} bytes, exactly {data.md(won.ref)})"]
    if target.exists():
        plan[0] += ", replacing the file there"
    if label:
        where = f"@{now}" if now is not None else "(new)"
        plan.append(f"move label **{data.md(label)}**: {where} → @{won.ref.number}")
    st.warning("Please confirm:\n" + "\n".join(f"- {line}" for line in plan))
    yes, no = st.columns(2)
    if yes.button("Confirm", type="primary", key="export_confirm"):
        del st.session_state[PENDING_KEY]
        try:
            done = data.export_winner(db, won, folder, label or None)
        except (AgentRegistryError, OSError) as err:
            st.error(f"Nothing exported: {data.md(err)}")
            return
        message = f"Wrote {data.md(done.path)}."
        if done.move is not None:
            message += f" Label {data.md(done.move.label)} now points at @{done.move.to_number}."
        st.session_state[DONE_KEY] = message
        st.rerun()
    if no.button("Cancel", key="export_cancel"):
        del st.session_state[PENDING_KEY]
        st.rerun()


def page() -> None:
    st.title("Export the winner")
    experiment_id = state.pick_experiment(state.experiment_choices())
    if experiment_id is None:
        st.info("No experiments yet. Run one: `registry run SPEC`, or `registry demo`.")
        return
    try:
        won = state.winner(state.db_url(), experiment_id, state.token(experiment_id))
    except NoWinner as err:
        st.info(data.md(err))
        return
    st.success(f"**{data.md(won.label)}** won: {data.md(won.verdict.text)}")
    st.markdown(f"It is **{data.md(won.ref)}**, the exact version the experiment ran.")
    st.download_button(
        f"Download {data.md(won.ref.name)}.md",
        data=won.source,
        file_name=f"{won.ref.name}.md",
        mime="text/markdown",
        key="download",
    )
    st.subheader("Write it and move a label")
    if DONE_KEY in st.session_state:
        st.success(st.session_state.pop(DONE_KEY))
    with st.form("export"):
        root = state.export_root()
        folder = st.text_input(
            "Folder", value=str(root), key="export_folder", help=f"{root} or a folder inside it."
        )
        label = st.text_input("Label to move (empty: none)", value="production", key="export_label")
        if st.form_submit_button("Export"):
            st.session_state.pop(PENDING_KEY, None)
            try:
                st.session_state[PENDING_KEY] = (data.export_folder(folder, root), label.strip())
            except AgentRegistryError as err:
                st.error(data.md(err))
    if PENDING_KEY in st.session_state:
        confirm_and_write(won, *st.session_state[PENDING_KEY])


page()
