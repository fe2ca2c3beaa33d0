"""Streamlit glue shared by the pages: the database, cached reads, the selected experiment.

Caching rule: a cached read is keyed on the database URL, the experiment and its ``freshness``
token (status, trial count, newest trial and grade ids). Computing the token is one indexed
query per rerun, so a page shows new trials as soon as a run writes them, and an unchanged
experiment (the common case: a finished one) is analysed once per server process. The ttl only
bounds how long an entry nobody asks for stays in memory.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import data

if TYPE_CHECKING:
    from experiments.analysis import TrialRecord
    from experiments.report import Report
    from experiments.winner import Winner
    from registry.database import Database

DB_ENV = "REGISTRY_DB"
EXPORT_DIR_ENV = "REGISTRY_EXPORT_DIR"  # the only folder (and its subfolders) Export writes to
CACHE_TTL_S = 600
REFRESH_S = 2.0  # how often a page showing a running experiment rereads it
EXPERIMENT_KEY = "experiment_id"  # session state: the experiment the pages show
Token = tuple[Any, ...]


def db_url() -> str:
    """The database the ``registry dashboard`` command passed (``$REGISTRY_DB``), resolved."""
    from registry.database import database_url

    return database_url(os.environ.get(DB_ENV))


def export_root() -> Path:
    """The folder ``registry dashboard --export-dir`` passed (default ``./.claude/agents``)."""
    return Path(os.environ.get(EXPORT_DIR_ENV) or Path(".claude", "agents")).resolve()


@st.cache_resource(show_spinner=False)
def database(url: str) -> Database:
    """One opened (and migrated) database per URL for the whole server: it holds the pool."""
    from registry.database import Database

    return Database(url)


def current_db() -> Database:
    return database(db_url())


def require_database() -> None:
    """Stop the page with one clear message when its SQLite file went away under the server.

    Reading on would fail with a traceback, or worse open a new empty database at that path.
    """
    from registry.database import database_exists, sqlite_path

    url = db_url()
    if not database_exists(url):
        st.error(
            f"The database file {sqlite_path(url)} is gone (deleted or moved) since the dashboard "
            "started. Put it back, or restart `registry dashboard` on another database."
        )
        st.stop()


@st.cache_resource(ttl=CACHE_TTL_S, max_entries=4, show_spinner=False)
def _records(url: str, experiment_id: int, token: Token) -> list[TrialRecord]:
    """The trial records, read once for the report and the charts (shared: never modified)."""
    return data.trial_records(database(url), experiment_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def report(url: str, experiment_id: int, token: Token) -> Report:
    return data.report(database(url), experiment_id, _records(url, experiment_id, token))


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def trials(url: str, experiment_id: int, token: Token) -> pd.DataFrame:
    return data.trial_frame(_records(url, experiment_id, token))


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def trial_details(url: str, experiment_id: int, token: Token) -> list[data.DetailRow]:
    return data.trial_details(database(url), experiment_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def task_detail(
    url: str, experiment_id: int, task_id: str, epoch: int, token: Token
) -> data.TaskDetail:
    return data.task_detail(database(url), experiment_id, task_id, epoch)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=16, show_spinner=False)
def winner(url: str, experiment_id: int, token: Token) -> Winner:
    """The winner (``NoWinner`` when none: exceptions are not cached, it is asked again)."""
    return data.winner(database(url), experiment_id)


def warm(experiment_id: int) -> None:
    """Analyse an experiment in the background (once per freshness token and server), so that
    opening Compare finds its report, and the statistics' imports, ready: on 100,000 trials
    that is most of the first view's time."""
    _warm_once(db_url(), experiment_id, token(experiment_id))


@st.cache_resource(show_spinner=False, max_entries=16)
def _warm_once(url: str, experiment_id: int, token: Token) -> threading.Thread:
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    def work() -> None:
        # Best effort: if anything fails here (the database went away, the experiment was
        # deleted), the page computes what it needs itself and reports any error there.
        with contextlib.suppress(Exception):
            report(url, experiment_id, token)
            trials(url, experiment_id, token)

    thread = threading.Thread(target=work, name=f"warm-{experiment_id}", daemon=True)
    add_script_run_ctx(thread, get_script_run_ctx())
    thread.start()
    return thread


def token(experiment_id: int) -> Token:
    return data.freshness(current_db(), experiment_id)


def pick_experiment(experiments: pd.DataFrame) -> int | None:
    """A sidebar selector of experiments, newest first, shared by the pages.

    The choice lives in session state (it survives page switches) and in the URL's
    ``?experiment=`` (a link opens the same view); a URL naming an experiment wins.
    """
    if experiments.empty:
        return None
    ids = [int(i) for i in experiments["id"]]
    names = dict(zip(ids, experiments["name"], strict=True))
    wanted = st.query_params.get("experiment")
    if wanted is not None and wanted.isdigit() and int(wanted) in ids:
        st.session_state[EXPERIMENT_KEY] = int(wanted)
    chosen = st.session_state.get(EXPERIMENT_KEY)
    if chosen not in ids:
        chosen = ids[0]
    picked = st.sidebar.selectbox(
        "Experiment", ids, index=ids.index(chosen), format_func=lambda i: f"#{i} {names[i]}"
    )
    st.session_state[EXPERIMENT_KEY] = picked
    st.query_params["experiment"] = str(picked)
    return picked


def experiments() -> pd.DataFrame:
    """The experiment list with its trials counted and costed (the Experiments page's table), read
    on every rerun: a few grouped queries, which scan every trial."""
    return data.experiments_frame(current_db())


def experiment_choices() -> pd.DataFrame:
    """The experiments a page picks from (id, name, status, total), read on every rerun: their
    trials are not read, so it stays cheap however many there are."""
    return data.experiment_choices(current_db())


def simulated_banner(simulated: bool) -> None:
    if simulated:
        st.warning(
            "**SIMULATED**: these responses came from the offline simulator, not from a model. "
            "The figures show how the pipeline works, not how the variants perform."
        )
