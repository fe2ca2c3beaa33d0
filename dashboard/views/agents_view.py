"""Agents: versions, labels and label history; any two versions side by side, axis by axis."""

from __future__ import annotations

import streamlit as st

from dashboard import data, state
from variants.diff import DefinitionDiff, ExamplesDiff


@st.cache_data(ttl=state.CACHE_TTL_S, max_entries=256, show_spinner=False)
def _pair(url: str, name: str, old: int, new: int) -> data.VersionPair:
    # Versions are immutable: the pair of (name, old, new) never needs refreshing.
    return data.version_pair(state.database(url), name, old, new)


def show_examples(pair: data.VersionPair, examples: ExamplesDiff) -> None:
    st.markdown(f"**Examples** ({examples.old_count} → {examples.new_count})")
    if not examples.changed:
        st.caption("Unchanged.")
    removed = {ref.position for ref in examples.removed}
    edited_old = {e.old_position for e in examples.edited}
    left, right = st.columns(2)
    with left:
        for i, example in enumerate(pair.old.examples, start=1):
            mark = " · removed" if i in removed else " · edited" if i in edited_old else ""
            with st.expander(f"#{i}{mark}: " + data.md((example.user or "")[:80])):
                st.code(example.text, language=None, wrap_lines=True)
    with right:
        for j, (example, old) in enumerate(zip(pair.new.examples, examples.order, strict=True), 1):
            mark = " · added" if old is None else f" · was #{old}" if old != j else ""
            with st.expander(f"#{j}{mark}: " + data.md((example.user or "")[:80])):
                st.code(example.text, language=None, wrap_lines=True)
    for edit in examples.edited:
        st.code("\n".join(edit.diff), language="diff")


def show_body(pair: data.VersionPair, diff: DefinitionDiff) -> None:
    st.markdown("**Body** (the system prompt)")
    if not diff.body:
        st.caption("Unchanged.")
    for section in diff.body:
        st.markdown(f"*{data.md(section.title)}* ({section.status})")
        st.code("\n".join(section.hunks), language="diff")
    with st.expander("Both bodies in full"):
        left, right = st.columns(2)
        left.code(pair.old.body, language="markdown", wrap_lines=True)
        right.code(pair.new.body, language="markdown", wrap_lines=True)


def show_diff(url: str, name: str, numbers: list[int]) -> None:
    st.subheader("Compare two versions")
    left, right = st.columns(2)
    old = left.selectbox("Old", numbers, index=min(1, len(numbers) - 1), key="diff_old")
    new = right.selectbox("New", numbers, index=0, key="diff_new")
    pair = _pair(url, name, int(old), int(new))
    diff = pair.diff
    if diff.identical:
        st.info(f"{data.md(diff.old_label)} and {data.md(diff.new_label)} are identical.")
        return
    st.markdown("\n".join(f"- {data.md(line)}" for line in diff.summary))
    left, right = st.columns(2)
    left.metric(f"Model in @{old}", pair.old.model or "(unset)")
    right.metric(
        f"Model in @{new}",
        pair.new.model or "(unset)",
        delta="changed" if diff.model else None,
        delta_color="off",
    )
    st.markdown("**Fields**")
    st.dataframe(data.fields_frame(pair), hide_index=True, width="stretch")
    if diff.description is not None:
        st.markdown("**Description** (the text around the examples)")
        left, right = st.columns(2)
        left.code(diff.description.old or "", language=None, wrap_lines=True)
        right.code(diff.description.new or "", language=None, wrap_lines=True)
    show_examples(pair, diff.examples)
    show_body(pair, diff)


def page() -> None:
    st.title("Agents")
    url = state.db_url()
    state.current_db()  # opens (and migrates) the database before the raw readers use it
    agents = data.agents_frame(url)
    if agents.empty:
        st.info("No agents yet. Publish some: `registry publish .claude/agents/`.")
        return
    st.dataframe(agents, hide_index=True, width="stretch")
    name = st.sidebar.selectbox("Agent", list(agents["agent"]), key="agent")
    log = data.agent_history(url, name)
    st.header(data.md(name))
    versions, moves = st.tabs(["Versions", "Label history"])
    with versions:
        st.dataframe(data.versions_frame(log), hide_index=True, width="stretch")
    with moves:
        history = data.label_history_frame(log)
        if history.empty:
            st.caption("No label has been set on this agent.")
        else:
            st.dataframe(history, hide_index=True, width="stretch")
    numbers = [v.number for v in log.versions]
    if len(numbers) < 2:
        st.caption("One version only: publish another to compare.")
        return
    show_diff(url, name, numbers)


page()
