"""The ``registry`` command line: the root group, lazy subcommands, and the error boundary.

Subcommands are imported only when invoked, so ``registry list`` never pays for the experiment
engine (anthropic, scipy, pandas) or the dashboard (streamlit).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from core.errors import AgentRegistryError

# command name -> "module:attribute"; one module per command group.
COMMANDS: dict[str, str] = {
    "publish": "registry.commands.catalog:publish",
    "list": "registry.commands.catalog:list_agents",
    "log": "registry.commands.catalog:log",
    "show": "registry.commands.catalog:show",
    "diff": "registry.commands.catalog:diff",
    "label": "registry.commands.catalog:label",
    "export": "registry.commands.catalog:export",
    "derive": "registry.commands.derive:derive",
    "run": "experiments.commands:run",
    "experiments": "experiments.commands:list_experiments",
    "report": "experiments.commands:report",
    "grade": "experiments.commands:grade",
    "demo": "experiments.demo:demo",
    "dashboard": "dashboard.command:dashboard",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context) -> Any:
        # The error boundary: an error is one line on stderr, never a traceback.
        try:
            return super().invoke(ctx)
        except AgentRegistryError as err:
            click.echo(f"registry: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("registry: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # usage errors, --help, ctx.exit(): click reports them itself
        except Exception as err:
            # A bug. The user still gets one line; REGISTRY_DEBUG=1 shows the traceback.
            if os.environ.get("REGISTRY_DEBUG", "") not in ("", "0"):
                raise
            message = " ".join(str(err).split())
            click.echo(
                f"registry: error: unexpected {type(err).__name__}: {message} "
                "(set REGISTRY_DEBUG=1 for the traceback)",
                err=True,
            )
            ctx.exit(1)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  registry publish .claude/agents/
  registry log backend-logic-implementer
  registry diff backend-logic-implementer@1 @3
  registry run experiments/wording.yaml && registry report 1
""",
)
@click.option(
    "--db",
    envvar="REGISTRY_DB",
    metavar="URL",
    help="SQLite path or postgresql:// URL [env REGISTRY_DB; default data/registry.db].",
)
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Version Claude Code agents, A/B test their variants, ship the winner."""
    ctx.obj = {"db": db}


def main() -> None:
    cli(prog_name="registry")


if __name__ == "__main__":
    main()
