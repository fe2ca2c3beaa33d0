"""Altair charts of the Compare page, built from the frames of ``dashboard.data``.

Each function takes an already reduced frame (a handful of rows per variant, or one row per task
and variant), so a chart's specification stays small whatever the size of the experiment.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

HEATMAP_ROW_PX = 14
HEATMAP_MAX_PX = 1400


def quality_bars(variants: pd.DataFrame) -> alt.Chart:
    """Mean quality per variant with its 95% interval; the control in grey."""
    base = alt.Chart(variants).encode(
        y=alt.Y("variant:N", sort=None, title=None),
        color=alt.Color(
            "role:N",
            scale=alt.Scale(domain=["control", "variant"], range=["#8c8c8c", "#1f77b4"]),
            legend=None,
        ),
    )
    bars = base.mark_errorbar(thickness=2, ticks=True).encode(
        x=alt.X("low:Q", title="quality (mean, 95% CI)", scale=alt.Scale(zero=False)),
        x2="high:Q",
    )
    points = base.mark_point(filled=True, size=90).encode(
        x="quality:Q",
        tooltip=[
            "variant",
            "model",
            alt.Tooltip("quality:Q", format=".3f"),
            alt.Tooltip("low:Q", format=".3f"),
            alt.Tooltip("high:Q", format=".3f"),
        ],
    )
    return (bars + points).properties(height=alt.Step(36))


def quality_vs_cost(variants: pd.DataFrame) -> alt.Chart:
    """The trade-off: quality (with its interval) against mean cost per task, per variant."""
    base = alt.Chart(variants).encode(
        x=alt.X(
            "cost_per_task:Q", title="cost per task (USD, log scale)", scale=alt.Scale(type="log")
        ),
        color=alt.Color("variant:N", sort=None),
    )
    bars = base.mark_errorbar(thickness=1.5).encode(
        y=alt.Y("low:Q", title="quality", scale=alt.Scale(zero=False)), y2="high:Q"
    )
    points = base.mark_point(filled=True, size=120).encode(
        y="quality:Q",
        tooltip=[
            "variant",
            "model",
            alt.Tooltip("quality:Q", format=".3f"),
            alt.Tooltip("cost_per_task:Q", format="$.5f"),
        ],
    )
    labels = base.mark_text(align="left", dx=8, dy=-8).encode(y="quality:Q", text="variant:N")
    return (bars + points + labels).properties(height=320)


def latency_distributions(histogram: pd.DataFrame, order: list[str]) -> alt.Chart:
    """One latency histogram per variant, on shared bins, as the share of its trials."""
    return (
        alt.Chart(histogram)
        .mark_bar()
        .encode(
            x=alt.X("start:Q", bin="binned", title="latency (s)"),
            x2="end:Q",
            y=alt.Y("share:Q", title="share of trials", axis=alt.Axis(format="%")),
            color=alt.Color("variant:N", sort=order, legend=None),
            row=alt.Row("variant:N", sort=order, title=None),
            tooltip=[
                "variant",
                alt.Tooltip("start:Q", format=".2f"),
                alt.Tooltip("end:Q", format=".2f"),
                "trials:Q",
            ],
        )
        .properties(height=80)
    )


def task_heatmap(matrix: pd.DataFrame, order: list[str]) -> alt.Chart:
    """Mean quality of every task (rows) under every variant (columns)."""
    tasks = matrix["task_id"].nunique()
    return (
        alt.Chart(matrix)
        .mark_rect()
        .encode(
            x=alt.X("variant:N", sort=order, title=None, axis=alt.Axis(orient="top")),
            y=alt.Y("task_id:N", title=None, sort=None),
            color=alt.Color("quality:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1])),
            tooltip=["task_id", "variant", alt.Tooltip("quality:Q", format=".3f"), "graded:Q"],
        )
        .properties(height=min(HEATMAP_MAX_PX, max(160, HEATMAP_ROW_PX * tasks)))
    )
