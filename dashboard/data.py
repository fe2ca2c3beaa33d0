"""What the dashboard shows, as plain functions over the registry database: no Streamlit here.

Every function takes an opened ``Database`` (or an already loaded report or frame) and returns a
DataFrame, a dict or a frozen dataclass, so that the pages stay thin and the figures are tested
without a browser. The Streamlit caching lives in ``dashboard.state``; ``freshness`` is the cheap
token it keys on, so a cached page is recomputed as soon as a run writes a trial or a grade.

Large experiments (100,000 trials) are reduced here, not in the browser: the heat map gets one
cell per task and variant, the latency chart a histogram per variant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from experiments.comparison_table import comparison_rows
from registry.readers import AgentLog

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from experiments.analysis import TrialRecord
    from experiments.report import Interval, Report, Verdict
    from experiments.winner import Shipped, Winner
    from registry.database import Database
    from variants.agentfile import AgentDefinition
    from variants.diff import DefinitionDiff

LATENCY_BINS = 40
ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
VERDICT_TITLES = {
    "winner": "{winner} wins",
    "no_difference": "No difference (equivalent within the effect of interest)",
    "inconclusive": "Inconclusive",
}


def md(text: object) -> str:
    """Text from a file or the database, safe inside markdown: shown as typed, never rendered.

    Streamlit renders markdown in almost every element (headings, captions, alerts, labels), so
    an answer's ``![x](http://host/)`` would make the viewer's browser fetch that address. Every
    ASCII punctuation mark is backslash-escaped, which CommonMark reads as the literal mark.
    """
    return ASCII_PUNCTUATION.sub(r"\\\1", str(text))


# -- agents ------------------------------------------------------------------------------------


def agents_frame(url: str) -> pd.DataFrame:
    """One row per agent: latest version, number of versions, model, labels."""
    from registry.readers import list_agents

    rows = [
        {
            "agent": a.name,
            "latest": a.latest,
            "versions": a.versions,
            "model": a.model,
            "labels": ", ".join(f"{label}@{n}" for label, n in sorted(a.labels.items())),
            "updated": a.updated_at,
        }
        for a in list_agents(url)
    ]
    columns = ["agent", "latest", "versions", "model", "labels", "updated"]
    return pd.DataFrame(rows, columns=columns)


def agent_history(url: str, name: str) -> AgentLog:
    from registry.readers import agent_log

    return agent_log(url, name)


def versions_frame(log: AgentLog) -> pd.DataFrame:
    rows = [
        {
            "version": v.number,
            "labels": ", ".join(v.labels),
            "model": v.model,
            "parent": f"@{v.parent}" if v.parent is not None else "",
            "message": v.message or "",
            "author": v.author or "",
            "created": v.created_at,
            "hash": v.content_hash[:12],
        }
        for v in log.versions
    ]
    columns = ["version", "labels", "model", "parent", "message", "author", "created", "hash"]
    return pd.DataFrame(rows, columns=columns)


def label_history_frame(log: AgentLog) -> pd.DataFrame:
    rows = [
        {
            "label": m.label,
            "from": f"@{m.from_number}" if m.from_number is not None else "(new)",
            "to": f"@{m.to_number}" if m.to_number is not None else "(deleted)",
            "who": m.actor or "",
            "why": m.reason or "",
            "when": m.created_at,
        }
        for m in log.label_moves
    ]
    return pd.DataFrame(rows, columns=["label", "from", "to", "who", "why", "when"])


@dataclass(frozen=True)
class VersionPair:
    """Two versions of one agent and what differs between them."""

    old: AgentDefinition
    new: AgentDefinition
    diff: DefinitionDiff


def version_pair(db: Database, name: str, old: int, new: int) -> VersionPair:
    from registry.store import Registry
    from variants.agentfile import AgentDefinition
    from variants.diff import diff_definitions
    from variants.refs import Ref

    registry = Registry(db)
    refs = Ref(name, number=old), Ref(name, number=new)
    a, b = (AgentDefinition.parse(registry.source(ref), origin=str(ref)) for ref in refs)
    return VersionPair(a, b, diff_definitions(a, b, old_label=str(refs[0]), new_label=str(refs[1])))


def fields_frame(pair: VersionPair) -> pd.DataFrame:
    """Every frontmatter field of either version side by side, changed ones first."""
    changed = {c.key for c in pair.diff.fields}
    if pair.diff.model is not None:
        changed.add("model")
    if pair.diff.description is not None:
        changed.add("description")
    keys = [*pair.new.fields, *(k for k in pair.old.fields if k not in pair.new.fields)]
    rows = [
        {
            "field": key,
            "changed": key in changed,
            "old": _cell(pair.old.fields.get(key)),
            "new": _cell(pair.new.fields.get(key)),
        }
        for key in keys
        if key != "description"  # shown apart: examples and text are their own axes
    ]
    frame = pd.DataFrame(rows, columns=["field", "changed", "old", "new"])
    return frame.sort_values("changed", ascending=False, kind="stable").reset_index(drop=True)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(value)


# -- experiments -------------------------------------------------------------------------------


def experiments_frame(db: Database, now: datetime | None = None) -> pd.DataFrame:
    """Every experiment, newest first: status, trials done of planned, errors, cost.

    A run killed (SIGKILL, a crash, a lost machine) leaves its experiment ``running``; the store
    shows it as ``interrupted`` (its process is gone, or its heartbeat stopped), which pages do
    not keep polling; ``registry run --resume`` continues it.
    """
    from experiments.store.reads import experiment_summaries

    columns = [
        "id",
        "name",
        "status",
        "provider",
        "simulated",
        "variants",
        "tasks",
        "epochs",
        "trials",
        "total",
        "progress",
        "errors",
        "cost_usd",
        "judge_cost_usd",
        "created_at",
        "note",
    ]
    rows = experiment_summaries(db, now=now)
    for row in rows:
        row["progress"] = row["trials"] / row["total"] if row["total"] else 0.0
    return pd.DataFrame(rows, columns=columns)


def experiment_choices(db: Database, now: datetime | None = None) -> pd.DataFrame:
    """Every experiment, newest first, for a page's picker: id, name, status, total (planned
    trials), as in ``experiments_frame``, without reading any trial."""
    from experiments.store.reads import experiment_choices as stored_choices

    return pd.DataFrame(stored_choices(db, now=now), columns=["id", "name", "status", "total"])


def freshness(db: Database, experiment_id: int) -> tuple[str, int, int, int]:
    """(status, trials, newest trial id, newest grade id): changes whenever a run writes."""
    from experiments.store.reads import freshness as stored_freshness

    return stored_freshness(db, experiment_id)


# -- compare -----------------------------------------------------------------------------------


def trial_records(db: Database, experiment_id: int) -> list[TrialRecord]:
    """Every trial's figures, read once for both the report and the charts (``trial_frame``)."""
    from experiments.store.reads import trial_records as stored_records

    return stored_records(db, experiment_id)


def report(db: Database, experiment_id: int, trials: Sequence[TrialRecord] | None = None) -> Report:
    """The experiment's report; ``trials``: its records if already read (``trial_records``)."""
    from experiments.reporting import build_report

    return build_report(db, experiment_id, trials=trials)


def verdict_title(verdict: Verdict) -> str:
    """The verdict in a few words: "tight wins", "No difference (equivalent...)", "Inconclusive"."""
    return VERDICT_TITLES[verdict.status].format(winner=verdict.winner)


def stats_table(report: Report) -> pd.DataFrame:
    """Per variant: quality and its interval, the difference with control, p-values, cost, speed."""
    rows = [
        {
            "variant": row.variant,
            "control": row.is_control,
            "model": row.model,
            "trials": row.trials,
            "errors": row.errors,
            "quality": row.quality,
            "quality 95% CI": _interval(row.quality_ci),
            "diff vs control": row.diff,
            "diff 95% CI": _interval(row.diff_ci),
            "p": row.p,
            "p (Holm)": row.p_adjusted,
            "cost/task $": row.cost_per_task,
            "cost ratio": row.cost_ratio,
            "latency p50 s": row.latency_p50,
            "latency p90 s": row.latency_p90,
        }
        for row in comparison_rows(report)
    ]
    return pd.DataFrame(rows)


STATS_FORMATS = {
    "quality": "{:.3f}",
    "diff vs control": "{:+.3f}",
    "p": "{:.4f}",
    "p (Holm)": "{:.4f}",
    "cost/task $": "{:.5f}",
    "cost ratio": "{:.2f}",
    "latency p50 s": "{:.2f}",
    "latency p90 s": "{:.2f}",
}


def stats_display(table: pd.DataFrame) -> Styler:
    """``stats_table`` as ``st.table`` shows it: its figures in ``STATS_FORMATS``, a missing one
    as ``-``, the control marked with a check, every cell escaped (a table cell is markdown).

    A static table, not ``st.dataframe``'s grid: it is a few rows, and the grid's code is a large
    chunk the browser loads on first use, which held the statistics of a link opened on a fresh
    server. The frame stays the data; only the shown text is formatted.
    """

    def shown(fmt: str) -> Callable[[object], str]:
        return lambda value: md(fmt.format(value))

    formats: dict[Any, str | Callable[[object], str] | None] = {
        column: shown(STATS_FORMATS.get(column, "{}")) for column in table.columns
    }
    formats["control"] = lambda value: "✓" if value else ""
    return table.style.format(formats, na_rep=md("-"))


def delegation_table(report: Report) -> pd.DataFrame:
    """Per variant of a delegation experiment: how its agent was routed (empty otherwise)."""
    rows = []
    for v in report.variants:
        d = v.delegation
        if d is None:
            continue
        rows.append(
            {
                "variant": v.label,
                "agent": d.agent,
                "decided": d.decided,
                "routed correctly": d.accuracy.rate,
                "routed 95% CI": _interval(d.accuracy.ci),
                "recall": d.recall.rate,
                "recall 95% CI": _interval(d.recall.ci),
                "false delegations": d.false_delegations,
                "false delegation rate": d.false_delegation_rate.rate,
                "misses went to": ", ".join(f"{a} {n}" for a, n in d.misses.items()),
            }
        )
    return pd.DataFrame(rows)


def agentic_table(report: Report) -> pd.DataFrame:
    """Per variant of an agentic experiment: what its sessions did (empty otherwise)."""
    rows = []
    for v in report.variants:
        a = v.agentic
        if a is None:
            continue
        rows.append(
            {
                "variant": v.label,
                "sessions": a.sessions,
                "turns": a.mean_turns,
                "tool calls": a.mean_tool_calls,
                "by tool": ", ".join(f"{tool} {mean:.1f}" for tool, mean in a.tool_calls.items()),
                "endings": ", ".join(f"{why} {n}" for why, n in a.ended.items()),
                "checks passed": a.checks_passed,
            }
        )
    return pd.DataFrame(rows)


# (variant, task_id, epoch, error, details) of each trial: ``store.reads.trial_details``.
DetailRow = tuple[str, str, int, str | None, dict[str, Any]]


def trial_details(db: Database, experiment_id: int) -> list[DetailRow]:
    from experiments.store.reads import trial_details as stored_details

    return stored_details(db, experiment_id)


def check_shares(
    rows: Sequence[DetailRow], tasks: Sequence[str], order: Sequence[str]
) -> pd.DataFrame:
    """Per task and check (in suite order), the share of each variant's sessions that passed it.

    Over the sessions that ran (a failed trial's checks are left out), as the report's
    ``checks passed``; a variant with no session of that task has no share (NaN).
    """
    runs: dict[tuple[str, str], dict[str, list[bool]]] = {}
    for variant, task_id, _, error, details in rows:
        if error is not None:
            continue
        for check in details.get("checks") or []:
            runs.setdefault((task_id, str(check["name"])), {}).setdefault(variant, []).append(
                bool(check.get("passed"))
            )
    position = {task: i for i, task in enumerate(tasks)}
    keys = sorted(runs, key=lambda key: position.get(key[0], len(position)))  # stable: check order
    return pd.DataFrame(
        [
            {
                "task": task,
                "check": check,
                **{
                    label: sum(runs[task, check][label]) / len(runs[task, check][label])
                    for label in order
                    if label in runs[task, check]
                },
            }
            for task, check in keys
        ],
        columns=["task", "check", *order],
    )


@dataclass(frozen=True)
class CheckRun:
    """One check of one session, as stored (``workspace.CheckResult.to_json``)."""

    name: str
    passed: bool
    exit_code: int | None
    timed_out: bool
    seconds: float | None
    output_tail: str
    reason: str


@dataclass(frozen=True)
class Session:
    """One agentic trial, as the drill-down shows it: how it ended, its checks, its diff."""

    variant: str
    error: str | None
    ended: str
    turns: int
    tool_calls: Mapping[str, int]
    denied: Mapping[str, int]
    checks: tuple[CheckRun, ...]
    diff: str
    diff_truncated: bool


def session(rows: Sequence[DetailRow], task_id: str, epoch: int, variant: str) -> Session | None:
    """The trial of ``variant`` on ``task_id`` at ``epoch`` (None when it has not run)."""
    found = next((r for r in rows if (r[0], r[1], r[2]) == (variant, task_id, epoch)), None)
    if found is None:
        return None
    details = found[4]
    return Session(
        variant=variant,
        error=found[3],
        ended=str(details.get("ended") or "-"),
        turns=int(details.get("turns") or 0),
        tool_calls=dict(details.get("tool_calls") or {}),
        denied=dict(details.get("denied") or {}),
        checks=tuple(
            CheckRun(
                name=str(c["name"]),
                passed=bool(c.get("passed")),
                exit_code=c.get("exit_code"),
                timed_out=bool(c.get("timed_out")),
                seconds=c.get("seconds"),
                output_tail=str(c.get("output_tail") or ""),
                reason=str(c.get("reason") or ""),
            )
            for c in details.get("checks") or []
        ),
        diff=str(details.get("diff") or ""),
        diff_truncated=bool(details.get("diff_truncated")),
    )


def checks_frame(found: Session) -> pd.DataFrame:
    """A session's checks in order: passed, exit code, time, why (the output tails apart)."""
    return pd.DataFrame(
        [
            {
                "check": c.name,
                "passed": c.passed,
                "exit code": c.exit_code,
                "timed out": c.timed_out,
                "seconds": c.seconds,
                "reason": c.reason,
            }
            for c in found.checks
        ],
        columns=["check", "passed", "exit code", "timed out", "seconds", "reason"],
    ).astype({"exit code": "Int64"})  # a file check has no exit code


def looks_frame(report: Report) -> pd.DataFrame:
    """A sequential run's looks: tasks, alpha spent and tested, verdict, cost (empty otherwise)."""
    if report.sequential is None:
        return pd.DataFrame()
    return pd.DataFrame(
        [
            {
                "look": look.look,
                "tasks": f"{look.tasks}/{look.total_tasks}",
                "spent alpha": look.spent_alpha,
                "nominal alpha": look.nominal_alpha,
                "verdict": look.status.replace("_", " "),
                "stopped here": look.stopped,
                "cost so far": look.cost_usd,
                "why": look.reason,
            }
            for look in report.sequential.looks
        ]
    )


def confusion_frame(report: Report, label: str) -> pd.DataFrame:
    """Expected agent (rows) against picked agent (columns), in trials, for one variant."""
    variant = next((v for v in report.variants if v.label == label), None)
    if variant is None or variant.delegation is None:
        return pd.DataFrame()
    frame = pd.DataFrame(variant.delegation.confusion).T.fillna(0).astype(int)
    frame.index.name = "expected"
    return frame.reset_index()


def changed_frame(report: Report) -> pd.DataFrame:
    """The requests whose routing changed between the control and a variant."""
    summary = report.delegation
    if summary is None:
        return pd.DataFrame()

    def picks(counts: Mapping[str, int]) -> str:
        return ", ".join(f"{agent} {n}" for agent, n in counts.items())

    return pd.DataFrame(
        [
            {
                "task": c.task_id,
                "variant": c.variant,
                "expected": c.expected,
                "control correct": c.control_correct,
                "variant correct": c.variant_correct,
                "control picked": picks(c.control_picks),
                "variant picked": picks(c.variant_picks),
            }
            for c in summary.changed
        ]
    )


def _interval(ci: Interval | None) -> str:
    if ci is None:
        return ""
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci[0] < 0 else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def variants_frame(report: Report) -> pd.DataFrame:
    """Per variant: quality, its interval and cost per task (error bars and the trade-off)."""
    rows = []
    for row in comparison_rows(report):
        low, high = row.quality_ci or (None, None)
        rows.append(
            {
                "variant": row.variant,
                "role": "control" if row.is_control else "variant",
                "model": row.model,
                "quality": row.quality,
                "low": low,
                "high": high,
                "cost_per_task": row.cost_per_task,
            }
        )
    return pd.DataFrame(
        rows, columns=["variant", "role", "model", "quality", "low", "high", "cost_per_task"]
    )


def trial_frame(trials: Sequence[TrialRecord]) -> pd.DataFrame:
    """The per-trial figures the charts need, one row per trial, from the report's records."""
    from experiments.analysis import TrialRecord

    frame = pd.DataFrame(trials, columns=list(TrialRecord._fields)).drop(columns="ttft_s")
    return frame.astype(
        {"quality": "float64", "cost_usd": "float64", "latency_s": "float64", "cached": "bool"}
    )


def task_matrix(trials: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Mean quality per (task, variant) over the graded epochs, with how many were graded."""
    graded = trials[trials["quality"].notna()]
    matrix = (
        graded.groupby(["task_id", "variant"], sort=False)["quality"]
        .agg(quality="mean", graded="count")
        .reset_index()
    )
    matrix["variant"] = pd.Categorical(matrix["variant"], categories=order, ordered=True)
    return matrix.sort_values(["task_id", "variant"]).reset_index(drop=True)


def latency_histogram(trials: pd.DataFrame, bins: int = LATENCY_BINS) -> pd.DataFrame:
    """Latency counts per variant on shared bins up to the 99th percentile (the tail in the last).

    Failed and cached trials are left out, as in the report's p50 and p90: a failure's time
    measures the failure, and a cache hit's measures no call to the model.
    """
    ok = trials[trials["latency_s"].notna() & trials["error"].isna() & ~trials["cached"]]
    columns = ["variant", "start", "end", "trials", "share"]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    top = float(np.quantile(ok["latency_s"], 0.99)) or 1.0
    edges = np.linspace(0.0, top, bins + 1)
    parts = []
    for variant, group in ok.groupby("variant", sort=False):
        counts, _ = np.histogram(np.minimum(group["latency_s"].to_numpy(), top), bins=edges)
        parts.append(
            pd.DataFrame(
                {
                    "variant": variant,
                    "start": edges[:-1],
                    "end": edges[1:],
                    "trials": counts,
                    "share": counts / counts.sum(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class TaskDetail:
    """One task of an experiment at one epoch: what was asked, every answer, every grade."""

    task_id: str
    prompt: str
    reference: list[str]
    rubric: str | None
    answers: pd.DataFrame  # variant, model, response, quality, cost_usd, latency_s, error
    grades: pd.DataFrame  # variant, grader, score, passed, reason, error


def task_ids(db: Database, experiment_id: int) -> list[str]:
    from experiments.store.reads import experiment_tasks

    return [t.task_id for t in experiment_tasks(db, experiment_id)]


def task_detail(db: Database, experiment_id: int, task_id: str, epoch: int) -> TaskDetail:
    """The answers of every variant to one task at one epoch, with the latest grades."""
    from experiments.store.reads import task_answers

    found = task_answers(db, experiment_id, task_id, epoch)
    answers = pd.DataFrame(
        [
            {
                "variant": a.variant,
                "model": a.model_id,
                "response": a.response_text or "",
                "quality": a.quality,
                "cost_usd": a.cost_usd,
                "latency_s": a.latency_s,
                "error": a.error,
            }
            for a in found.answers
        ],
        columns=["variant", "model", "response", "quality", "cost_usd", "latency_s", "error"],
    )
    grade_frame = pd.DataFrame(
        [
            {
                "variant": g.variant,
                "grader": g.grader,
                "score": g.score,
                "passed": g.passed,
                "reason": g.reason,
                "error": g.error,
            }
            for g in found.grades
        ],
        columns=["variant", "grader", "score", "passed", "reason", "error"],
    )
    return TaskDetail(
        found.task_id, found.prompt, list(found.reference), found.rubric, answers, grade_frame
    )


@dataclass(frozen=True)
class Pairwise:
    """The pairwise judge's results: per variant against the control, and position bias."""

    grading_run: int | None
    variants: pd.DataFrame  # variant, vs, pairs, wins, ties, losses, errors, rates
    position_bias: dict[str, Any] | None  # pairs, flipped, flip_rate, first_position_share


def pairwise(report: Report) -> Pairwise:
    """The pairwise judge's results, as the report has them (an empty frame when it has none)."""
    summary = report.pairwise
    if summary is None:
        return Pairwise(None, pd.DataFrame(), None)
    return Pairwise(
        summary.grading_run,
        pd.DataFrame([asdict(v) for v in summary.variants]),
        asdict(summary.position_bias),
    )


# -- export ------------------------------------------------------------------------------------


def winner(db: Database, experiment_id: int) -> Winner:
    """The exact version that won (raises ``NoWinner`` when the verdict names none)."""
    from experiments.winner import find_winner
    from registry.store import Registry

    return find_winner(Registry(db), experiment_id)


def export_folder(typed: str, root: Path) -> Path:
    """The folder typed on the Export page, resolved, if it is ``root`` or inside it.

    A relative folder is read from ``root``; ``~``, ``..`` and symbolic links are resolved before
    the check, so none of them leads out. Anything else is refused (``AgentRegistryError``).
    """
    from core.errors import AgentRegistryError

    base = root.expanduser().resolve()
    folder = (base / Path(typed.strip()).expanduser()).resolve()
    if not folder.is_relative_to(base):
        raise AgentRegistryError(
            f"refusing to write to {folder}: the dashboard writes only inside {base} "
            "(`registry dashboard --export-dir DIR` sets it)"
        )
    return folder


def export_winner(db: Database, won: Winner, folder: Path, label: str | None) -> Shipped:
    """Write the winner's markdown to ``folder/NAME.md`` (made if missing); move ``label`` to it."""
    from experiments.winner import ship_winner
    from registry.store import Registry

    # The trailing separator makes ``folder`` a folder even before it exists.
    return ship_winner(Registry(db), won, output=os.path.join(folder, ""), label=label)


def label_position(db: Database, name: str, label: str) -> int | None:
    """The version ``label`` points at now, or None when the agent has no such label."""
    from core.errors import NotFoundError
    from registry.store import Registry
    from variants.refs import Ref

    try:
        return Registry(db).resolve(Ref(name, label=label)).ref.number
    except NotFoundError:
        return None
