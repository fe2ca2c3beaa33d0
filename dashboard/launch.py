"""``python -m dashboard.launch run APP ...``: Streamlit's own command line, after importing
what the pages need.

Streamlit runs a page's script only when a browser asks for it, so a server that has just started
would import pandas, Altair, Arrow, the statistics and the experiment store (over a second of CPU
here) while its first visitor waits; a link to Compare opened right after ``registry dashboard``
paid all of it. They are imported here, before the server listens, instead. Nothing that uses
Streamlit's caches is imported: those belong to the runtime, which does not exist yet.

It also puts ``dashboard.prefetch.Prefetch`` in front of Streamlit's middleware, so that a link to
Compare starts its experiment's analysis with the page's request, while the browser loads.

The objects those imports made live as long as the server, so they are frozen out of the garbage
collector: Streamlit runs a full collection after every script run, which otherwise walks them
all, holding the interpreter while the browser still fetches the page's components.
"""

from __future__ import annotations

import gc
import importlib

PRELOADED = (
    "pandas",
    "pyarrow",  # st.dataframe sends frames as Arrow
    "altair",
    "scipy.special",  # the statistics' t and normal distributions
    "dashboard.data",
    "dashboard.charts",
    "experiments.reporting",
    "experiments.sequential_rule",
)


def add_prefetch() -> None:
    """Add ``Prefetch`` to the middleware Streamlit's server is built with (its Starlette app
    takes ``create_streamlit_middleware()``); a Streamlit without it serves pages unchanged."""
    from starlette.middleware import Middleware
    from streamlit.web.server.starlette import starlette_app

    from dashboard.prefetch import Prefetch

    own = getattr(starlette_app, "create_streamlit_middleware", None)
    if own is not None:
        starlette_app.create_streamlit_middleware = lambda: [Middleware(Prefetch), *own()]


def main() -> None:
    for name in PRELOADED:
        importlib.import_module(name)
    add_prefetch()
    from streamlit.web.cli import main as streamlit_main

    gc.freeze()

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
