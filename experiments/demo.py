"""``registry demo``: the whole loop offline, on the bundled agent, in a fresh SQLite file.

It runs the same commands a user would type (publish, derive by spec, run, report, export), so
what it prints is what those commands print.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from registry.shipped import data_path

AGENT = "backend-logic-implementer"
VARIANT_SPECS = ("checklist.yaml", "haiku.yaml", "tight.yaml", "better-examples.yaml")
SPEC = """\
# The demo experiment: the bundled agent against three variants derived from it.
name: demo-backend
variants:
  control: {agent}@1
  checklist: {agent}@checklist
  haiku: {agent}@haiku
control: control
tasks: {tasks}
epochs: {epochs}
provider: simulated
seed: {seed}
concurrency: 16
max_cost_usd: 20.0
graders:                        # added to the suite's own checks
  - {{type: rubric_judge, model: haiku, scale: "1-10", weight: 2}}
  - {{type: pairwise, model: sonnet}}   # each variant against control, in both orders
decision:
  alpha: 0.05
  # A winner may cost at most 20% more per task and have at most a 50% higher p90 latency,
  # each shown by a one-sided 95% bound.
  guardrails: {{cost: 0.20, latency_p90: 0.50}}
  effect_of_interest: 0.05
"""


DELEGATION_SPEC = """\
# The demo's delegation experiment: do sharper examples make Claude Code pick the agent for the
# requests meant for it, and only those? The roster competes with it, as a team's agents would.
name: demo-delegation
kind: delegation
variants:
  control: {agent}@1
  better-examples: {agent}@better-examples
control: control
tasks: {tasks}
roster: [{roster}]
router: simulated
epochs: {epochs}
seed: {seed}
concurrency: 16
"""

AGENTIC_SPEC = """\
# The demo's agentic experiment: each trial runs the variant as the agent in a copy of a small
# project, and the task's hidden tests grade what it built. The simulated runtime plays each
# session offline; `runtime: claude-code` runs the real Claude Code.
name: demo-agentic
kind: agentic
variants:
  control: {agent}@1
  checklist: {agent}@checklist
control: control
tasks: {tasks}
runtime: simulated
seed: {seed}
concurrency: 4
"""


def _run(ctx: click.Context, spec: Path) -> None:
    """``registry run SPEC``, as typed, with progress."""
    from experiments.commands import run

    ctx.invoke(
        run,
        spec_path=spec,
        resume_id=None,
        max_cost=None,
        concurrency=None,
        dry_run=False,
        batch=False,
        cache=False,
        sequential=None,
        quiet=False,
        as_json=False,
    )


def _step(text: str) -> None:
    click.echo()
    click.secho(f"== {text}", bold=True)


@click.command(
    epilog="""\b
Example:
  registry demo && registry --db agent-registry-demo/registry.db dashboard
"""
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=Path("agent-registry-demo"),
    show_default=True,
    help="Where the demo's database, spec and exported winner go.",
)
@click.option("--epochs", type=click.IntRange(1, 20), default=3, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.pass_context
def demo(ctx: click.Context, folder: Path, epochs: int, seed: int) -> None:
    """Publish the bundled agent, derive variants, run, grade, report, export the winner."""
    from core.errors import AgentRegistryError
    from experiments.commands import report
    from registry.cli import export
    from registry.commands.catalog import diff, publish

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "registry.db"
    for stale in (db, db.with_name("registry.db-wal"), db.with_name("registry.db-shm")):
        stale.unlink(missing_ok=True)
    ctx.obj = {"db": str(db)}
    click.echo(f"agent-registry demo: a fresh registry in {db}, the simulated provider, no API key")

    _step("1. Publish the bundled agent and label it production")
    ctx.invoke(
        publish,
        paths=(str(data_path(f"agents/{AGENT}.md")),),
        message="bundled example",
        label="production",
        name=None,
        as_json=False,
    )

    _step(
        "2. Derive variants from version 1: a practice checklist, a cheaper model, tighter "
        "words, sharper examples"
    )
    ctx.invoke(
        publish,
        paths=tuple(str(data_path(f"variants/{s}")) for s in VARIANT_SPECS),
        message=None,
        label=None,
        name=None,
        as_json=False,
    )
    _step(f"3. What the checklist variant changed: registry diff {AGENT}@1 @checklist")
    ctx.invoke(diff, old=f"{AGENT}@1", new="@checklist", as_json=False)

    spec = folder / "demo.yaml"
    spec.write_text(
        SPEC.format(agent=AGENT, tasks=data_path("tasks/backend.yaml"), epochs=epochs, seed=seed)
    )
    _step(f"4. Run {spec}: every variant on every task, {epochs} epochs, graded as it goes")
    _run(ctx, spec)

    _step("5. The report and the verdict (registry report demo-backend)")
    ctx.invoke(report, experiment="demo-backend", markdown=False, seed=None, as_json=False)

    _step("6. Export the winner")
    out = folder / "agents"
    try:
        ctx.invoke(
            export, ref=None, output=str(out) + "/", experiment="demo-backend", label="candidate"
        )
        click.echo(f"the winner is in {out}/, labelled candidate; copy it to .claude/agents/")
    except AgentRegistryError as err:
        click.echo(str(err))
    delegation = folder / "delegation.yaml"
    delegation.write_text(
        DELEGATION_SPEC.format(
            agent=AGENT,
            tasks=data_path("delegation/suite.yaml"),
            roster=data_path("delegation/agents"),
            epochs=epochs,
            seed=seed,
        )
    )
    _step(
        f"7. Does Claude pick the agent? {delegation}: the description and its examples act "
        "only on the main loop's choice of agent, so @better-examples is measured there"
    )
    _run(ctx, delegation)
    _step("8. The delegation report (registry report demo-delegation)")
    ctx.invoke(report, experiment="demo-delegation", markdown=False, seed=None, as_json=False)
    agentic = folder / "agentic.yaml"
    agentic.write_text(
        AGENTIC_SPEC.format(agent=AGENT, tasks=data_path("agentic/suite.yaml"), seed=seed)
    )
    _step(
        f"9. What does the agent build? {agentic}: each trial works in a copy of a small "
        "project, and hidden tests run after the session grade it"
    )
    _run(ctx, agentic)
    _step("10. The agentic report (registry report demo-agentic)")
    ctx.invoke(report, experiment="demo-agentic", markdown=False, seed=None, as_json=False)
    click.echo()
    click.secho("Open the dashboard on these results:", bold=True)
    click.echo(f"  registry --db {db} dashboard")
    if shutil.which("registry") is None:
        click.echo("  (registry is in .venv/bin/ when installed as the README shows)")
