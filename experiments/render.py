"""The report as text: a fixed-width table for the terminal and markdown for a pull request.

Both read only the ``Report`` that ``experiments.analysis.analyse`` builds (the table's rows
come from ``experiments.comparison_table``), and both say SIMULATED first when the answers came
from the offline simulator.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from experiments.comparison_table import comparison_rows
from experiments.report import Interval, Report, SequentialSummary, Share
from experiments.sequential_rule import summary_sentence


def _cell(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def _interval(ci: Interval | None, fmt: str = ".3f") -> str:
    return "" if ci is None else f" [{format(ci[0], fmt)}, {format(ci[1], fmt)}]"


_UNPAIRED = "†"  # marks a figure that differs on the variant's own tasks


def _rows(report: Report) -> list[list[str]]:
    return [
        [
            row.variant,
            _cell(row.quality)
            + _interval(row.quality_ci)
            + (_UNPAIRED if row.quality_unpaired is not None else ""),
            _cell(row.diff, "+.3f") + _interval(row.diff_ci, "+.3f"),
            _cell(row.p, ".3g"),
            _cell(row.p_adjusted, ".3g"),
            "-" if row.cost_per_task is None else f"${row.cost_per_task:.4g}",
            _cell(row.latency_p50, ".2f"),
            _cell(row.latency_p90, ".2f"),
            f"{row.failed}/{row.trials}",
        ]
        for row in comparison_rows(report)
    ]


def _notes(report: Report) -> list[str]:
    """The unpaired figures the table marks, and the missing-data sensitivity verdict."""
    rows = comparison_rows(report)
    paired = max((row.paired_tasks for row in rows), default=0)
    lines = [
        f"{_UNPAIRED} quality on the {paired} tasks graded in every variant; on its own "
        f"{row.unpaired_tasks} tasks (unpaired) {row.variant} has {_cell(row.quality_unpaired)}"
        + _interval(row.quality_unpaired_ci)
        for row in rows
        if row.quality_unpaired is not None
    ]
    sensitivity = report.missing.sensitivity
    if sensitivity is not None:
        missing = sum(v.errors + v.ungraded for v in report.missing.by_variant.values())
        lines.append(
            f"sensitivity: with the {missing} failed or ungraded trials scored 0, the verdict "
            f"would be {_verdict_head(sensitivity.status, sensitivity.winner)}"
        )
    return lines


_HEADERS = [
    "variant",
    "quality [95% CI]",
    "diff vs control [95% CI]",
    "p",
    "p adj",
    "cost/task",
    "p50 s",
    "p90 s",
    "failed",
]
_SIMULATED = "SIMULATED: responses came from the offline simulator, not from a model."


def _title(report: Report) -> str:
    e = report.experiment
    how = f"provider {e.provider}"
    if report.delegation is not None:
        how = f"delegation, router {report.delegation.router}"
    return (
        f"experiment {e.name} (#{e.id}), {how}, "
        f"{e.tasks} tasks x {e.epochs} epochs, control {report.control}"
    )


def _verdict_head(status: str, winner: str | None) -> str:
    shown = status.replace("_", " ").upper()
    return f"{shown}: {winner}" if winner else shown


def _verdict_line(report: Report) -> str:
    v = report.verdict
    return f"{_verdict_head(v.status, v.winner)}. {v.text}"


def render_table(report: Report) -> str:
    """Fixed-width plain-text table for the terminal, then the verdict line."""
    rows = [_HEADERS, *_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADERS))]
    lines = []
    if report.experiment.simulated:
        lines.append(_SIMULATED)
    lines.append(_title(report))
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += _notes(report)
    lines += _pairwise_lines(report)
    lines += _delegation_lines(report, markdown=False)
    lines += _agentic_lines(report, markdown=False)
    lines += _sequential_lines(report, markdown=False)
    lines.append("")
    lines.append("verdict: " + _verdict_line(report))
    return "\n".join(lines) + "\n"


def render_markdown(report: Report, *, dashboard_url: str | None = None) -> str:
    """GitHub markdown (for a pull-request comment): the verdict first, then the table.

    ``dashboard_url`` (the dashboard's address) adds a link to this experiment's Compare page.
    """
    lines = []
    if report.experiment.simulated:
        lines += [f"> **{_SIMULATED.split(':')[0]}**:{_SIMULATED.split(':', 1)[1]}", ""]
    lines += [f"**Verdict: {_verdict_line(report)}**", "", _title(report), ""]
    lines.append("| " + " | ".join(_HEADERS) + " |")
    lines.append("|" + "|".join("---" for _ in _HEADERS) + "|")
    for row in _rows(report):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    notes = [f"- {note}" for note in _notes(report)]
    lines += ["", *notes] if notes else []
    lines += _pairwise_lines(report)
    lines += _delegation_lines(report, markdown=True)
    lines += _agentic_lines(report, markdown=True)
    lines += _sequential_lines(report, markdown=True)
    if dashboard_url is not None:
        lines += ["", f"[Compare in the dashboard]({compare_url(dashboard_url, report)})"]
    return "\n".join(lines) + "\n"


def compare_url(dashboard_url: str, report: Report) -> str:
    """The dashboard's Compare page for this experiment (``/compare?experiment=ID``)."""
    return f"{dashboard_url.rstrip('/')}/compare?experiment={report.experiment.id}"


# registry report --fail-on: the condition -> the exit code when it holds (README, "CI gate").
FAIL_ON_EXIT_CODES = {"regression": 3, "no-winner": 4}


def gate_failure(report: Report, fail_on: Collection[str]) -> tuple[int, str] | None:
    """The first ``--fail-on`` condition that holds, as (exit code, one line), or None."""
    worse = report.regressions()
    if "regression" in fail_on and worse:
        named = ", ".join(
            f"{c.variant} ({c.quality.diff:+.3g}, p adj {c.quality.p_adjusted:.3g})" for c in worse
        )
        line = f"regression: significantly worse than {report.control} on quality: {named}"
        return FAIL_ON_EXIT_CODES["regression"], line
    if "no-winner" in fail_on and report.verdict.status != "winner":
        line = f"no-winner: the verdict is {report.verdict.status.replace('_', ' ')}"
        return FAIL_ON_EXIT_CODES["no-winner"], line
    return None


def _pairwise_lines(report: Report) -> list[str]:
    """The pairwise judge's results, when the experiment has them (see graders.pairwise)."""
    pairwise = report.pairwise
    if not pairwise:
        return []
    lines = ["", "pairwise judge (both orders; not part of quality):"]
    for row in pairwise.variants:
        lines.append(
            f"  {row.variant} vs {row.vs}: {row.wins} wins, {row.ties} ties, {row.losses} losses"
        )
    flip_rate = pairwise.position_bias.flip_rate
    if flip_rate is not None:
        lines.append(f"  position bias: the verdict flipped with the order in {flip_rate:.0%}")
    return lines


# Requests whose routing changed, shown by the text renderings (the JSON has all of them).
CHANGED_SHOWN = 10


def _share(share: Share) -> str:
    return _cell(share.rate) + _interval(share.ci)


def _picks(picks: Mapping[str, int]) -> str:
    return ", ".join(f"{agent} {n}" for agent, n in picks.items()) or "-"


def _delegation_lines(report: Report, *, markdown: bool) -> list[str]:
    """Routing figures, the confusion of each variant and the requests that changed."""
    summary = report.delegation
    if summary is None:
        return []
    versions = ", ".join(summary.router_versions) or summary.router
    roster = ", ".join(summary.roster) or "no other agent"
    headers = ["variant", "agent", "routed correctly", "recall", "false delegations", "misses"]
    rows = []
    for v in report.variants:
        d = v.delegation
        if d is None:
            continue
        rows.append(
            [
                v.label,
                d.agent,
                _share(d.accuracy),
                _share(d.recall),
                f"{d.false_delegations} ({_share(d.false_delegation_rate)})",
                _picks(d.misses),
            ]
        )
    confusion = [
        (v.label, expected, picks)
        for v in report.variants
        if v.delegation is not None
        for expected, picks in v.delegation.confusion.items()
    ]
    changed = [
        f"{c.task_id} (expected {c.expected}): {report.control} {c.control_correct:.0%} "
        f"correct ({_picks(c.control_picks)}) -> {c.variant} {c.variant_correct:.0%} "
        f"({_picks(c.variant_picks)})"
        for c in summary.changed[:CHANGED_SHOWN]
    ]
    more = len(summary.changed) - len(changed)
    intro = (
        f"delegation: decided by {versions}, main loop on {summary.main_model}; "
        f"competing with {roster} and the built-in agents (95% Wilson intervals over tasks)"
    )
    if markdown:
        lines = ["", intro, "", "| " + " | ".join(headers) + " |"]
        lines.append("|" + "|".join("---" for _ in headers) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        lines += ["", "| variant | expected | picked |", "|---|---|---|"]
        lines += [f"| {label} | {exp} | {_picks(picks)} |" for label, exp, picks in confusion]
        if changed:
            lines += ["", "Requests that changed:", ""]
            lines += [f"- {line}" for line in changed]
    else:
        table = [headers, *rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
        lines = ["", intro]
        lines += [
            "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip()
            for r in table
        ]
        lines.append("confusion (expected: picked trials):")
        lines += [f"  {label}  {exp}: {_picks(picks)}" for label, exp, picks in confusion]
        if changed:
            lines.append("requests that changed:")
            lines += [f"  {line}" for line in changed]
    if more > 0:
        lines.append(f"{'' if markdown else '  '}... and {more} more (--json has all)")
    return lines


_AGENTIC_HEADERS = (
    "variant", "sessions", "turns", "tool calls", "by tool", "denied", "ended", "checks",
)  # fmt: skip


def _agentic_lines(report: Report, *, markdown: bool) -> list[str]:
    """What each variant's sessions did: means per session, tool calls and denials by tool,
    endings."""
    summary = report.agentic
    if summary is None:
        return []
    rows = []
    for v in report.variants:
        a = v.agentic
        if a is None:
            continue
        by_tool = ", ".join(f"{tool} {mean:.1f}" for tool, mean in a.tool_calls.items())
        denied = ", ".join(f"{tool} {mean:.1f}" for tool, mean in a.denied.items())
        rows.append(
            [
                v.label,
                str(a.sessions),
                f"{a.mean_turns:.1f}",
                f"{a.mean_tool_calls:.1f}",
                by_tool or "-",
                denied or "-",
                ", ".join(f"{why} {n}" for why, n in a.ended.items()),
                f"{a.checks_passed:.0%}" if a.checks_passed is not None else "-",
            ]
        )
    versions = ", ".join(summary.runtime_versions) or summary.runtime
    intro = (
        f"agentic sessions: run by {versions}, at most {summary.max_turns} turns and "
        f"{summary.time_limit_s:g} s each (turns, tool calls and denied: mean per session)"
    )
    if markdown:
        lines = ["", intro, "", "| " + " | ".join(_AGENTIC_HEADERS) + " |"]
        lines.append("|" + "|".join("---" for _ in _AGENTIC_HEADERS) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return lines
    table = [list(_AGENTIC_HEADERS), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(_AGENTIC_HEADERS))]
    return ["", intro] + [
        "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table
    ]


_SEQUENTIAL_HEADERS = ("look", "tasks", "spent alpha", "nominal alpha", "verdict", "cost")


def _sequential_rows(summary: SequentialSummary) -> list[list[str]]:
    """One row per look, as the renderings and the dashboard show it."""
    return [
        [
            f"{look.look}{' (stopped)' if look.stopped else ''}",
            f"{look.tasks}/{look.total_tasks}",
            f"{look.spent_alpha:.4g}",
            f"{look.nominal_alpha:.4g}",
            look.status.replace("_", " "),
            f"${look.cost_usd:.4f}",
        ]
        for look in summary.looks
    ]


def _sequential_lines(report: Report, *, markdown: bool) -> list[str]:
    """The looks of a sequential run, why it stopped and what it saved."""
    summary = report.sequential
    if summary is None:
        return []
    rows = _sequential_rows(summary)
    lines = ["", summary_sentence(summary)]
    if markdown:
        lines += ["", "| " + " | ".join(_SEQUENTIAL_HEADERS) + " |"]
        lines.append("|" + "|".join("---" for _ in _SEQUENTIAL_HEADERS) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return lines
    table = [list(_SEQUENTIAL_HEADERS), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(_SEQUENTIAL_HEADERS))]
    lines += [
        "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table
    ]
    return lines
