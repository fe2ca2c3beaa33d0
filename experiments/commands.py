"""Experiment commands: run, experiments, report, grade."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.errors import AgentRegistryError
from registry.commands.common import db_url, echo, emit_json, json_option, open_database
from registry.database import database_exists

if TYPE_CHECKING:
    from experiments.graders.base import GraderConfig
    from experiments.kinds.agentic import AgenticTrial
    from experiments.kinds.base import TrialKind
    from experiments.kinds.delegation import DelegationTrial
    from experiments.plan import Plan
    from experiments.providers.base import Provider
    from experiments.run_state import RunState, RunSummary


# Without a terminal (CI logs, `| tee`) progress is whole lines: at most every this many seconds,
# and at every tenth of the run.
PLAIN_PROGRESS_EVERY_S = 10.0


def _progress_printer(
    label: str, enabled: bool
) -> tuple[AbstractContextManager[object], Callable[[RunState], None]]:
    """Progress on stderr: done/total, failures, cost so far, ETA. A rich bar on a terminal,
    whole lines at a modest rate elsewhere."""
    if not enabled:
        return nullcontext(), lambda state: None
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return nullcontext(), _plain_progress(label)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TextColumn("${task.fields[cost]:.4f}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    task_id = progress.add_task(label, total=None, failed=0, cost=0.0)

    def update(state: RunState) -> None:
        progress.update(
            task_id,
            total=state.total,
            completed=state.done,
            failed=state.failed,
            cost=state.spent_usd,
        )

    return progress, update


def _plain_progress(
    label: str, clock: Callable[[], float] = time.monotonic
) -> Callable[[RunState], None]:
    """Whole progress lines: the first, one per tenth of the run or PLAIN_PROGRESS_EVERY_S
    seconds (whichever comes first), and the last."""
    last: dict[str, float] = {}

    def update(state: RunState) -> None:
        now = clock()
        tenth = state.done * 10 // state.total if state.total else 10
        if last:
            same_tenth = state.done < state.total and tenth == last["tenth"]
            too_soon = now - last["at"] < PLAIN_PROGRESS_EVERY_S
            if state.done == last["done"] or (same_tenth and too_soon):
                return  # nothing new (the final state is reported twice), or not yet
        last.update(at=now, tenth=tenth, done=state.done)
        elapsed = now - state.started
        started_done = last.setdefault("first_done", state.done)
        rate = (state.done - started_done) / elapsed if elapsed > 0 else 0.0
        eta = _clock_time((state.total - state.done) / rate) if rate > 0 else "?"
        echo(
            f"{label}: {state.done}/{state.total} trials, {state.failed} failed, "
            f"${state.spent_usd:.4f}, {_clock_time(elapsed)} elapsed, ETA {eta}",
            err=True,
        )

    return update


def _clock_time(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@click.command(
    epilog="""\b
Examples:
  registry run experiments/wording.yaml
  registry run experiments/wording.yaml --dry-run
  registry run experiments/wording.yaml --resume 3 --max-cost 2.50
  registry run experiments/wording.yaml --sequential
"""
)
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option(
    "--resume", "resume_id", type=click.IntRange(1, 2**63 - 1), metavar="ID",
    help="Run only the missing cells.",
)  # fmt: skip
@click.option("--max-cost", type=float, metavar="USD", help="Stop before spending more than this.")
@click.option("--concurrency", type=click.IntRange(1, 1024), help="Requests in flight at once.")
@click.option("--dry-run", is_flag=True, help="Print the planned calls and estimated cost only.")
@click.option("--batch", is_flag=True, help="Send through the Message Batches API (half price).")
@click.option(
    "--resend-batch",
    is_flag=True,
    help="With --batch --resume: send a new batch even if an earlier request may have made one "
    "that cannot be found (it may be paid for twice).",
)
@click.option(
    "--cache/--no-cache",
    default=None,
    help="Reuse earlier answers to identical requests (default: the spec's `cache`, off).",
)
@click.option(
    "--sequential/--no-sequential",
    default=None,
    help="Run in batches of tasks and stop once the verdict is decided (default: the spec's "
    "`sequential`, off).",
)
@click.option(
    "--ungraded", is_flag=True, help="Run even though no grader measures any task's quality."
)
@click.option(
    "--keep-workspaces",
    is_flag=True,
    help="Agentic trials: keep each trial's folder for inspection (printed at the end).",
)
@click.option(
    "--unsandboxed",
    is_flag=True,
    help="Agentic trials with `sandbox: false`: run them although the agent's Bash can then read "
    "your API key and files and reach the network.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    spec_path: Path,
    resume_id: int | None,
    max_cost: float | None,
    concurrency: int | None,
    dry_run: bool,
    batch: bool,
    resend_batch: bool,
    cache: bool | None,
    sequential: bool | None,
    ungraded: bool,
    keep_workspaces: bool,
    unsandboxed: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run an experiment: the same tasks, with epochs, against every variant."""
    from experiments.kinds import trial_kind
    from experiments.kinds.base import estimate_arms
    from experiments.plan import build_plan
    from experiments.pricing import load_price_table
    from experiments.spec import is_budget, load_experiment_spec
    from experiments.store.plans import load_plan, store_plan
    from registry.store import Registry

    if max_cost is not None and not is_budget(max_cost):
        raise AgentRegistryError(
            f"--max-cost must be a positive number of dollars (not NaN or infinity), got {max_cost}"
        )
    spec = load_experiment_spec(spec_path)
    # Plain SQL: the ORM is imported only for what needs it (resume, a sequential look).
    db = open_database(ctx)
    if resume_id is not None:
        from experiments.plan import check_spec_of, check_stored_python, declared_graders

        plan = load_plan(db, resume_id)
        check_spec_of(plan, spec)
        check_stored_python(
            resume_id,
            (*plan.extra_graders, *(c for t in plan.tasks for c in t.graders)),
            declared_graders(spec),
            how=f"declare it, unchanged, in {spec_path} or its task suite",
        )
    else:
        plan, suite, warnings = build_plan(Registry(db), spec)
        for warning in warnings:
            echo(f"warning: {warning}", err=True)
    if resume_id is not None and sequential is not None:
        stored = plan.settings.sequential_batch_tasks is not None
        if sequential != stored:
            design = "sequentially" if stored else "as a fixed design"
            flag = "--sequential" if sequential else "--no-sequential"
            raise AgentRegistryError(
                f"experiment {resume_id} was run {design}, and its alpha holds only for that "
                f"design: resume it without {flag}"
            )
    plan = plan.overridden(
        concurrency=concurrency, max_cost_usd=max_cost, cache=cache, sequential=sequential
    )
    if resend_batch and not (batch and resume_id is not None):
        raise click.UsageError("--resend-batch is for resuming a batch run (--batch --resume ID)")
    if batch and plan.settings.sequential_batch_tasks is not None:
        raise click.UsageError(
            "--batch sends every cell at once, so a sequential run cannot stop early: "
            "drop one of them (--no-sequential)"
        )
    _check_grading(plan, spec_path, refuse=not dry_run and not ungraded)
    # Made before anything is stored or spent: a router that cannot run here says so now.
    kind = trial_kind(plan, load_price_table())
    agentic_trial, delegation_trial = _agentic(kind), _delegation(kind)
    for trial in (agentic_trial, delegation_trial):
        for warning in trial.warnings() if trial is not None else ():
            echo(f"warning: {warning}", err=True)
    if agentic_trial is not None and agentic_trial.unsandboxed and not unsandboxed and not dry_run:
        raise AgentRegistryError(
            "sandbox: false lets the agent's Bash read your API key and files and reach the "
            "network: pass --unsandboxed to run it anyway"
        )
    if batch:
        from experiments.batch import batch_kind

        batch_kind(plan, kind)  # a kind that is not one request is refused, a dry run too
    if keep_workspaces:
        if agentic_trial is None:
            raise click.UsageError("--keep-workspaces is for agentic trials (kind: agentic)")
        agentic_trial.keep_workspaces = True
    if dry_run:
        _warn_design(plan)
        estimates = estimate_arms(plan, kind, batch=batch)
        rows: list[dict[str, Any]] = [
            {"variant": e.label, "model": e.model_id, "calls": e.calls,
             "input_tokens": e.input_tokens, "output_tokens": e.output_tokens,
             "cost_usd": round(e.cost_usd, 6)}
            for e in estimates
        ]  # fmt: skip
        from experiments.scoring import judge_estimate

        judged = [judge_estimate(plan, task) for task in plan.tasks]
        trials_of_a_task = len(plan.arms) * plan.epochs
        judge_calls = sum(calls for calls, _ in judged) * trials_of_a_task
        judge_cost = sum(cost for _, cost in judged) * trials_of_a_task
        answers = sum(r["cost_usd"] for r in rows)
        total = answers + judge_cost
        if as_json:
            emit_json(
                {
                    "experiment": None,
                    "dry_run": True,
                    "calls": sum(r["calls"] for r in rows),
                    "judge_calls": judge_calls,
                    "estimated_cost_usd": round(total, 6),
                    "estimated_judge_cost_usd": round(judge_cost, 6),
                    "variants": rows,
                }
            )
            return
        delegation, agentic = plan.document.delegation, plan.document.agentic
        if delegation is not None:
            how = f"router {delegation.router} on {delegation.main_model_id}"
        elif agentic is not None:
            limits = agentic.settings
            how = (
                f"runtime {limits.runtime}, at most {limits.max_turns} turns and "
                f"{limits.time_limit_s:g} s a trial (calls: turns, a rough estimate)"
            )
        else:
            how = f"provider {plan.provider}"
        echo(
            f"{spec.name}: {len(plan.tasks)} tasks x {plan.epochs} epochs x "
            f"{len(plan.arms)} variants, {plan.kind} trials, {how}"
        )
        for r in rows:
            echo(
                f"  {r['variant']:<16} {r['model']:<22} {r['calls']:>6} calls  "
                f"~{r['input_tokens']:>9} in  ~{r['output_tokens']:>9} out  "
                f"~${r['cost_usd']:.4f}"
            )
        if judge_calls:
            echo(f"  {'judges':<16} {'':<22} {judge_calls:>6} calls  ~${judge_cost:.4f}")
            echo(
                f"estimated cost ~${total:.4f} (answers ~${answers:.4f}, judges "
                f"~${judge_cost:.4f}; no request sent)"
            )
        else:
            echo(f"estimated cost ~${total:.4f} (no request sent)")
        return
    provider = _provider(plan.provider)
    simulated = _simulated(kind, provider)
    if batch:
        batch_kind(plan, kind, provider)  # refused before anything is stored
    if resume_id is None:
        plan = store_plan(db, plan, spec.source_text, suite, simulated=simulated)
    label = f"experiment {plan.experiment_id} {plan.name}"
    if simulated:
        label += " (SIMULATED)"
    progress, update = _progress_printer(label, enabled=not quiet and not as_json)
    try:
        if batch:
            from experiments.batch import run_batch

            runner_coro = run_batch(
                db, plan, provider, on_progress=update, kind=kind, resend_batch=resend_batch
            )
        else:
            from experiments.runner import Runner

            runner_coro = Runner(db, plan, provider, on_progress=update, kind=kind).run()
        with progress, _terminated_like_ctrl_c():
            summary = asyncio.run(_closing(runner_coro, provider, kind))
    except KeyboardInterrupt as err:
        echo(
            f"registry: {'terminated' if isinstance(err, Terminated) else 'interrupted'}; "
            f"the trials done are saved. Resume with: "
            f"registry run {spec_path} --resume {plan.experiment_id}",
            err=True,
        )
        sys.exit(EXIT_TERMINATED if isinstance(err, Terminated) else EXIT_INTERRUPTED)
    finally:
        if agentic_trial is not None and agentic_trial.kept:
            echo(f"workspaces kept ({len(agentic_trial.kept)}):", err=True)
            for folder in agentic_trial.kept:
                echo(f"  {folder}", err=True)
    if as_json:
        emit_json(
            {
                "experiment": summary.experiment_id,
                "status": summary.status,
                "trials": summary.done,
                "total": summary.total,
                "failed": summary.failed,
                "cached": summary.cached,
                "cost_usd": round(summary.cost_usd, 6),
                "judge_cost_usd": round(summary.judge_cost_usd, 6),
                "elapsed_s": round(summary.elapsed_s, 3),
                "note": summary.note,
            }
        )
        _exit_unless_complete(ctx, summary)
        return
    echo(
        f"experiment {summary.experiment_id}: {summary.status}, {summary.done}/{summary.total} "
        f"trials, {summary.failed} failed, {summary.cached} cached, ${summary.cost_usd:.4f}"
        + (f" + judges ${summary.judge_cost_usd:.4f}" if summary.judge_cost_usd else "")
    )
    if summary.note:
        echo(f"  {summary.note}")
    if summary.done < summary.total and summary.status != "completed":  # not stopped by a look
        echo(f"  resume with: registry run {spec_path} --resume {summary.experiment_id}")
    echo(f"  report: registry report {summary.experiment_id}")
    _exit_unless_complete(ctx, summary)


def _exit_unless_complete(ctx: click.Context, summary: RunSummary) -> None:
    """Exit with the run's code when it is not 0 (``registry demo`` invokes ``run`` and goes on)."""
    from experiments.run_state import exit_code

    code = exit_code(summary)
    if code:
        ctx.exit(code)


def _warn_design(plan: Plan) -> None:
    """Warn when the planned design cannot detect the decision rule's effect of interest."""
    from experiments.stats.power import check_design

    rule = plan.document.decision
    comparisons = max(len(plan.arms) - 1, 1)
    check = check_design(
        len(plan.tasks),
        plan.epochs,
        effect=rule.effect_of_interest,
        alpha=rule.alpha / comparisons,
    )
    warning = check.warning()
    if warning:
        echo(f"warning: {warning}", err=True)


def _check_grading(plan: Plan, spec_path: Path, *, refuse: bool) -> None:
    """Say before anything is spent that trials would get no quality: a run with no grader at
    all is refused (``refuse``), a dry run and a partly graded suite only warn."""
    suite = plan.document.tasks_path or "the task suite"
    ungraded = plan.ungraded_tasks()
    if not ungraded:
        return
    if len(ungraded) < len(plan.tasks):
        ids = ", ".join(t.id for t in ungraded[:5]) + (", ..." if len(ungraded) > 5 else "")
        echo(
            f"warning: {len(ungraded)} of {len(plan.tasks)} tasks have no grader and get no "
            f"quality ({ids}); add graders to them in {suite}",
            err=True,
        )
        return
    if any(t.reference for t in plan.tasks):
        fix = (
            f"the tasks have reference points: add `graders: [{{type: rubric_judge}}]` "
            f"to {spec_path}"
        )
    else:
        fix = f"add `graders:` to {spec_path} or to the tasks in {suite}"
    message = f"nothing would be measured: no task has a grader; {fix}"
    if refuse:
        raise AgentRegistryError(f"{message} (or run anyway with --ungraded)")
    echo(f"warning: {message}", err=True)


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, ``kill``): stopped as Ctrl-C stops a run, its status saved."""


@contextmanager
def _terminated_like_ctrl_c() -> Iterator[None]:
    def terminate(signum: int, frame: object) -> None:
        # Once: a second SIGTERM (``timeout`` signals the process, then its group) must neither
        # break the saving of the run's status nor kill the process before it says so; the
        # process is ending anyway, and kill -9 still ends it at once.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except Terminated:
        raise  # SIGTERM stays ignored until the process exits
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        raise
    else:
        signal.signal(signal.SIGTERM, previous)


async def _closing(coro: Awaitable[RunSummary], provider: Provider, kind: TrialKind) -> RunSummary:
    try:
        return await coro
    finally:
        await provider.aclose()
        if (delegation := _delegation(kind)) is not None:
            await delegation.router.aclose()


def _agentic(kind: TrialKind) -> AgenticTrial | None:
    """The kind as an agentic trial, else None. A kind can only be one if its module is loaded
    (``trial_kind`` loads each built-in kind on demand), so this never imports it."""
    module = sys.modules.get("experiments.kinds.agentic")
    return kind if module is not None and isinstance(kind, module.AgenticTrial) else None


def _delegation(kind: TrialKind) -> DelegationTrial | None:
    """The kind as a delegation trial, else None; like ``_agentic``, never imports it."""
    module = sys.modules.get("experiments.kinds.delegation")
    return kind if module is not None and isinstance(kind, module.DelegationTrial) else None


def _simulated(kind: TrialKind, provider: Provider) -> bool:
    """Whether the trials' outcomes are drawn offline: the router's say for a delegation trial
    (the claude-code router runs the real CLI whatever the provider), the runtime's for an
    agentic one, else the provider's."""
    if (delegation := _delegation(kind)) is not None:
        return delegation.router.simulated
    if (agentic := _agentic(kind)) is not None:
        return agentic.runtime.simulated
    return provider.simulated


def _provider(name: str) -> Provider:
    from experiments.providers.registry import get_provider

    return get_provider(name)


@click.command("experiments", epilog="Example:\n  registry experiments --json")
@json_option
@click.pass_context
def list_experiments(ctx: click.Context, as_json: bool) -> None:
    """List experiments: status, trials done, errors, cost."""
    from experiments.store.reads import experiment_summaries

    rows = experiment_summaries(open_database(ctx)) if database_exists(db_url(ctx)) else []
    if as_json:
        emit_json(rows)
        return
    if not rows:
        echo("no experiments yet: registry run SPEC")
        return
    for r in rows:
        sim = "  SIMULATED" if r["simulated"] else ""
        echo(
            f"{r['id']:>4}  {r['name']:<24} {r['status']:<10} {r['trials']}/{r['total']} trials  "
            f"{r['errors']} errors  ${r['cost_usd']:.4f}  {r['created_at']:%Y-%m-%d %H:%M}{sim}"
        )


@click.command(
    epilog="""\b
Examples:
  registry report 3
  registry report 3 --markdown --dashboard-url http://127.0.0.1:8501 > comment.md
  registry report backend-wording --json
  registry report 3 --fail-on regression      # CI: exit 3 if a variant is significantly worse
"""
)
@click.argument("experiment")
@click.option("--markdown", is_flag=True, help="Markdown for a pull request comment.")
@click.option("--dashboard-url", metavar="URL", help="With --markdown: link the Compare page.")
@click.option(
    "--fail-on", type=click.Choice(["regression", "no-winner"]), multiple=True,
    help="Exit 3 if a variant is significantly worse than the control on quality (regression), "
    "4 unless the verdict is a winner (no-winner); the report is printed either way.",
)  # fmt: skip
@click.option(
    "--seed", type=click.IntRange(-(2**63), 2**63 - 1), default=None,
    help="Bootstrap seed (default: the spec's).",
)  # fmt: skip
@json_option
@click.pass_context
def report(
    ctx: click.Context,
    experiment: str,
    markdown: bool,
    dashboard_url: str | None,
    fail_on: tuple[str, ...],
    seed: int | None,
    as_json: bool,
) -> None:
    """The comparison: statistics per variant, differences vs control, and the verdict."""
    from experiments.render import gate_failure, render_markdown, render_table
    from experiments.reporting import build_report

    if dashboard_url is not None and not markdown:
        raise click.UsageError("--dashboard-url goes with --markdown")
    result = build_report(open_database(ctx, create=False), experiment, seed=seed)
    if as_json:
        emit_json(result.to_json())
    elif markdown:
        echo(render_markdown(result, dashboard_url=dashboard_url), nl=False)
    else:
        echo(render_table(result), nl=False)
    failure = gate_failure(result, fail_on)
    if failure is not None:
        echo(f"registry: fail-on {failure[1]}", err=True)
        ctx.exit(failure[0])


@click.command(
    epilog="""\b
Examples:
  registry grade 3
  registry grade 3 --judge-model opus
  registry grade backend-wording --graders judges.yaml --json
"""
)
@click.argument("experiment")
@click.option(
    "--graders", "graders_path", type=click.Path(path_type=Path), metavar="FILE.yaml",
    help="Graders to use instead of the spec's (a YAML list); the tasks' own graders stay.",
)  # fmt: skip
@click.option(
    "--spec", "spec_path", type=click.Path(path_type=Path), metavar="SPEC.yaml",
    help="The experiment's spec: its python graders (and its suite's) may run again.",
)  # fmt: skip
@click.option("--judge-model", metavar="MODEL", help="Model of every judge grader (alias or ID).")
@click.option("--concurrency", type=click.IntRange(1, 1024), help="Gradings in flight at once.")
@json_option
@click.pass_context
def grade(
    ctx: click.Context,
    experiment: str,
    graders_path: Path | None,
    spec_path: Path | None,
    judge_model: str | None,
    concurrency: int | None,
    as_json: bool,
) -> None:
    """Re-grade stored responses (no variant is called again); earlier grades are kept."""
    from experiments.grading import load_graders_file, regrade
    from experiments.store.reads import find_experiment_id, pairwise_summary

    db = open_database(ctx, create=False)
    experiment_id = find_experiment_id(db, experiment)
    configs = load_graders_file(graders_path) if graders_path is not None else None
    declared: tuple[GraderConfig, ...] = ()
    if spec_path is not None:
        from experiments.plan import check_spec_of, declared_graders
        from experiments.spec import load_experiment_spec
        from experiments.store.plans import load_plan

        spec = load_experiment_spec(spec_path)
        check_spec_of(load_plan(db, experiment_id), spec)
        declared = declared_graders(spec)
    summary = regrade(
        db, experiment_id, configs, judge_model=judge_model, concurrency=concurrency,
        declared=declared,
    )  # fmt: skip
    pairwise = pairwise_summary(db, experiment_id) if summary.pairs else None
    if as_json:
        emit_json({"experiment": summary.experiment_id, "grading_run": summary.grading_run,
                   "trials": summary.trials, "graded": summary.graded,
                   "grader_errors": summary.grader_errors,
                   "judge_cost_usd": round(summary.judge_cost_usd, 6), "pairs": summary.pairs,
                   "pairwise": pairwise})  # fmt: skip
        return
    echo(
        f"experiment {summary.experiment_id}: grading run {summary.grading_run}, "
        f"{summary.graded}/{summary.trials} trials with a quality, "
        f"{summary.grader_errors} grader errors, judge cost ${summary.judge_cost_usd:.4f}"
    )
    for row in (pairwise or {}).get("variants", []):
        echo(
            f"  pairwise {row['variant']} vs {row['vs']}: {row['wins']} wins, {row['ties']} ties, "
            f"{row['losses']} losses, {row['errors']} errors"
        )
    if pairwise and pairwise["position_bias"]["flip_rate"] is not None:
        echo(f"  position bias: verdict flipped with the order in "
                   f"{pairwise['position_bias']['flip_rate']:.0%} of pairs")  # fmt: skip
    echo(f"  report: registry report {summary.experiment_id}")
