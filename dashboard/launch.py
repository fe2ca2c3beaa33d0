"""``python -m dashboard.launch run APP ...``: Streamlit's own command line, after importing
what the pages need.

Streamlit runs a page's script only when a browser asks for it, so a server that has just started
would import pandas, Altair, Arrow, the statistics and the experiment store (over a second of CPU
here) while its first visitor waits; a link to Compare opened right after ``registry dashboard``
paid all of it. They are imported here, before the server listens, instead. Nothing that uses
Streamlit's caches is imported: those belong to the runtime, which does not exist yet.

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


def main() -> None:
    for name in PRELOADED:
        importlib.import_module(name)
    from streamlit.web.cli import main as streamlit_main

    gc.freeze()

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
