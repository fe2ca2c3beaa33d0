"""``registry dashboard``: serve the Streamlit dashboard on the registry's database."""

from __future__ import annotations

import os
from pathlib import Path

import click

from dashboard.server import DEFAULT_HOST, DEFAULT_PORT, check_port_free, streamlit_argv
from registry.commands.common import open_database


@click.command(
    epilog="""\b
Examples:
  registry dashboard
  registry dashboard --port 8600 --db postgresql://user@host/registry
  registry dashboard --host 0.0.0.0   # reachable from other machines: no login!
  registry dashboard --export-dir ~/project/.claude/agents
"""
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on.",
)
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to bind. The dashboard has no login: bind beyond loopback with care.",
)
@click.option("--db", metavar="URL", help="Database (overrides the global --db / REGISTRY_DB).")
@click.option(
    "--export-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".claude", "agents"),
    show_default=True,
    help="The only folder (with its subfolders) the Export page may write the winner to.",
)
@click.pass_context
def dashboard(ctx: click.Context, port: int, host: str, db: str | None, export_dir: Path) -> None:
    """Open the dashboard: verdicts, statistics, charts, versions and export."""
    from registry.database import redact

    if db is not None:
        ctx.obj = {**(ctx.obj or {}), "db": db}
    database = open_database(ctx)  # fail here, in one line, if it cannot be opened
    url = database.url
    database.dispose()
    check_port_free(host, port)
    click.echo(f"dashboard: http://{host}:{port}  (database {redact(url)}; Ctrl+C stops it)")
    argv = streamlit_argv(host, port)
    # Become Streamlit: no parent left behind to forward signals, and Ctrl+C stops it cleanly.
    env = {**os.environ, "REGISTRY_DB": url, "REGISTRY_EXPORT_DIR": str(export_dir.resolve())}
    os.execve(argv[0], argv, env)
