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

The first element a process sends makes Streamlit check, once, whether it runs in a Python REPL
(to warn that a script is meant for ``streamlit run``): ``inspect.stack()``, which maps every
loaded module to its file, about 0.1 s with what is imported here, paid by the first page before
its title. This command is ``streamlit run``, so that check is marked done.

One small chart is built too: Altair's first Vega-Lite spec of a pandas frame imports narwhals'
pandas backend and reads the schema, which on Compare's first charts cost 0.1 to 0.3 s (more
once a large experiment's records fill the heap the collector walks) while the browser was still
drawing the statistics above them.
"""

from __future__ import annotations

import gc
import importlib

PRELOADED = (
    "pandas",
    "pyarrow",  # st.dataframe and st.table send frames as Arrow
    "pandas.io.formats.style",  # the Styler of Compare's statistics (st.table), and Jinja2
    "altair",
    "scipy.special",  # the statistics' t and normal distributions
    "dashboard.data",
    "dashboard.charts",
    "experiments.reporting",
    "experiments.sequential_rule",
)


def warm_charts() -> None:
    """One chart of a pandas frame to a Vega-Lite spec, as ``st.altair_chart`` makes it."""
    import altair as alt
    import pandas as pd

    alt.Chart(pd.DataFrame({"x": [0.0]})).mark_point().encode(x="x:Q").to_dict()


def main() -> None:
    for name in PRELOADED:
        importlib.import_module(name)
    warm_charts()
    import streamlit.delta_generator
    from streamlit.web.cli import main as streamlit_main

    streamlit.delta_generator._use_warning_has_been_displayed = True
    gc.freeze()

    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
