"""The ``registry`` command line: the root group, lazy subcommands, and the error boundary.

Subcommands are imported only when invoked, so ``registry list`` never pays for the experiment
engine (anthropic, scipy, pandas) or the dashboard (streamlit).

This is the composition root, the one registry module that may import any layer: it maps every
command group, and defines ``export``, which writes a catalog version or an experiment's winner.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from typing import Any, NoReturn

import click

from core.errors import AgentRegistryError
from core.terminal import visible

# command name -> "module:attribute"; one module per command group.
COMMANDS: dict[str, str] = {
    "publish": "registry.commands.catalog:publish",
    "list": "registry.commands.catalog:list_agents",
    "log": "registry.commands.catalog:log",
    "show": "registry.commands.catalog:show",
    "diff": "registry.commands.catalog:diff",
    "label": "registry.commands.catalog:label",
    "export": "registry.cli:export",
    "derive": "registry.commands.derive:derive",
    "lint": "registry.commands.lint:lint",
    "run": "experiments.commands:run",
    "experiments": "experiments.commands:list_experiments",
    "report": "experiments.commands:report",
    "grade": "experiments.commands:grade",
    "capture-claude-code": "experiments.delegation_commands:capture_claude_code",
    "demo": "experiments.demo:demo",
    "dashboard": "dashboard.command:dashboard",
}


# A reader that went away (``registry log NAME | head -1``) ends the command quietly, with the
# status a Unix tool killed by SIGPIPE reports.
EXIT_BROKEN_PIPE = 128 + 13


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that flushing what is still buffered cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout: nothing to flush into
        pass


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # ``registry --help`` writes while the context is made, before ``invoke``.
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:
            _quiet_stdout()
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None

    def invoke(self, ctx: click.Context) -> Any:
        # The error boundary: an error is one line on stderr, never a traceback.
        try:
            return super().invoke(ctx)
        except AgentRegistryError as err:
            click.echo(f"registry: error: {visible(str(err))}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("registry: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            _quiet_stdout()
            ctx.exit(EXIT_BROKEN_PIPE)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # usage errors, --help, ctx.exit(): click reports them itself
        except Exception as err:
            from registry.database import database_failure

            failure = database_failure(err)
            if failure is not None:  # locked, full, read-only, damaged: not a bug
                click.echo(f"registry: error: {visible(str(failure))}", err=True)
                ctx.exit(failure.exit_code)
            # A bug. The user still gets one line; REGISTRY_DEBUG=1 shows the traceback.
            if os.environ.get("REGISTRY_DEBUG", "") not in ("", "0"):
                raise
            message = visible(" ".join(str(err).split()))
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


@click.command(
    epilog="""\b
Examples:
  registry export backend-logic-implementer@production -o .claude/agents/
  registry export --winner 3 -o .claude/agents/ --label production
"""
)
@click.argument("ref", required=False)
@click.option(
    "-o", "--output", metavar="PATH", help="File, or folder (existing or ending in /) for NAME.md."
)
@click.option("--winner", "experiment", metavar="EXP", help="Export the winner of experiment EXP.")
@click.option("--label", help="With --winner: also move this label to the winner.")
@click.pass_context
def export(
    ctx: click.Context,
    ref: str | None,
    output: str | None,
    experiment: str | None,
    label: str | None,
) -> None:
    """Write a version's markdown (byte-exact) to stdout, a file or a folder."""
    if experiment is not None:
        if ref is not None:
            raise AgentRegistryError("give either REF or --winner EXP, not both")
        _export_winner(ctx, experiment, output=output, label=label)
        return
    if ref is None:
        raise AgentRegistryError("export needs REF or --winner EXP")
    if label is not None:
        raise AgentRegistryError("--label goes with --winner; to move a label use registry label")
    from registry.commands.catalog import export_version

    export_version(ctx, ref, output)


def _export_winner(
    ctx: click.Context, experiment: str, *, output: str | None, label: str | None
) -> None:
    from experiments.winner import find_winner, ship_winner
    from registry.commands.common import emit_bytes, open_registry

    registry = open_registry(ctx, create=False)
    winner = find_winner(registry, experiment)
    shipped = ship_winner(registry, winner, output=output, label=label)
    if shipped.path is None:
        emit_bytes(winner.source)
    else:
        click.echo(
            visible(f"wrote {shipped.path} ({winner.ref}, variant {winner.label})"), err=True
        )
    if shipped.move is not None:
        move = shipped.move
        src = f"@{move.from_number}" if move.from_number is not None else "(new)"
        click.echo(visible(f"{move.name} {move.label}: {src} -> @{move.to_number}"), err=True)


def main() -> None:
    try:
        try:
            cli(prog_name="registry")
        finally:
            sys.stdout.flush()  # output still buffered meets a closed pipe here, not at shutdown
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    except SystemExit as done:  # click ends every command so, with its exit status
        exit_now(done.code)


def exit_now(code: str | int | None) -> NoReturn:
    """End the process with ``code`` as ``sys.exit`` would, minus the interpreter's teardown.

    Freeing every module and object at exit takes about 0.4 s once the anthropic SDK is loaded
    (1,500 pydantic models), which each ``registry run`` would wait for after its work is done.
    Nothing needs that teardown here: a command's databases are closed when its context closes
    (``call_on_close``) and its files by their ``with``; exit handlers still run and the output is
    flushed. A thread other than daemons still running gets the ordinary exit, which waits for it.
    """
    this = threading.current_thread()
    if any(t is not this and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    if not isinstance(code, str):
        status = code or 0
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone, or a stream closed
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
