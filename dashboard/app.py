"""The Streamlit entry point: ``registry dashboard`` runs this file with ``$REGISTRY_DB`` set."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import state

VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_title="agent-registry", layout="wide")
state.require_database()
navigation = st.navigation(
    [
        st.Page(VIEWS / "experiments_view.py", title="Experiments", default=True),
        st.Page(VIEWS / "compare_view.py", title="Compare", url_path="compare"),
        st.Page(VIEWS / "agents_view.py", title="Agents", url_path="agents"),
        st.Page(VIEWS / "export_view.py", title="Export", url_path="export"),
    ]
)
navigation.run()
