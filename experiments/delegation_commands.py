"""Delegation commands: `capture-claude-code`, the request the `messages` router replays."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from registry.commands.common import echo, emit_json, json_option


@click.command(
    "capture-claude-code",
    epilog="""\b
Examples:
  registry capture-claude-code
  registry capture-claude-code --out ~/.config/agent-registry/capture.json --json
""",
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), default=None, metavar="FILE.json",
    help="Where to keep the capture (default: data/claude-code-capture.json).",
)  # fmt: skip
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(1, 3600), default=120.0, show_default=True,
    help="Seconds to wait for Claude Code's request.",
)  # fmt: skip
@click.option(
    "--model", "model", default="sonnet", show_default=True, metavar="MODEL",
    help="The main loop's model to capture with (alias or ID): Claude Code's request names it, "
    "and its layout depends on it; use the `main_model` of your experiments.",
)  # fmt: skip
@json_option
def capture_claude_code(out: Path | None, timeout_s: float, model: str, as_json: bool) -> None:
    """Run the installed Claude Code once, offline, against a local endpoint, and keep the
    request its main loop sends (system prompt, tools, agent listing) for `router: messages`.

    Nothing leaves the machine: the request goes to 127.0.0.1 and is answered there. Needs the
    claude-code extra (pip install 'agent-registry[claude-code]').
    """
    from experiments.routers.capture import DEFAULT_CAPTURE
    from experiments.routers.capture import capture_claude_code as capture
    from registry.model_aliases import resolve_model

    path = out if out is not None else DEFAULT_CAPTURE
    model_id = resolve_model(model).model_id
    made = asyncio.run(capture(path, timeout_s=timeout_s, model=model_id))
    builtins = [agent.name for agent in made.builtins()]
    if as_json:
        emit_json(
            {
                "path": str(path),
                "capture": made.capture_id,
                "claude_code_version": made.cc_version,
                "model": model_id,
                "captured_at": made.captured_at,
                "builtin_agents": builtins,
            }
        )
        return
    echo(
        f"captured Claude Code {made.cc_version}'s main-loop request on {model_id} as "
        f"{made.capture_id} in {path}; built-in agents: {', '.join(builtins) or 'none'}"
    )
    echo("  use it with `router: messages` (and `capture: PATH` when not the default)")
