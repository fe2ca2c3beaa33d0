"""What every run of the real Claude Code CLI shares: finding the binary, its version, the
session's environment (an allow-list, a fresh ``HOME`` and ``TMPDIR``, applied by ``launcher``),
the bookkeeping of the SDK's messages (``SessionLog``), and making sure nothing of a session
outlives it.

The ``claude-code`` router, its capture and the agentic trials' ``claude-code`` runtime all start
the CLI through these. The key is only ever on the pipe ``launcher`` hands the CLI: never in its
environment (so never in Bash's), a file, a detail or an error (``scrub`` takes it out of every
line kept).

Processes are found through ``/proc`` (Linux): the CLI is not started in a session of its own
(the SDK starts it), so its descendants are read before it is killed, and anything still
running in a trial's folder afterwards is ended too.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import SpecError
from experiments.providers.base import FatalProviderError, Usage, scrub
from experiments.roster import RosterAgent

CLI_ENV = "REGISTRY_CLAUDE_CLI"
VERSION_TIMEOUT_S = 30.0
START_ATTEMPTS = 5  # starting the CLI while its launcher is busy (see connect)
KILL_WAIT_S = 2.0  # for killed processes to be gone before their folder is removed
# The environment every Claude Code run of this project gets, whatever else it inherits.
QUIET_ENV = {
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}
# Claude Code passes its whole environment to Bash, the key included. Its own remedy,
# CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1, replaces the sandbox settings with its own (2.1.332: Bash
# could then write anywhere in /tmp), so ``launcher`` hands the key over on a pipe instead
# (KEY_FD_ENV): it is never in the CLI's environment, so never in Bash's.
KEY_FD_ENV = "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR"
PASSED_THROUGH = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY")
# What a session inherits of this process's environment (and every ``LC_*``); nothing else.
INHERITED = frozenset({"PATH", "LANG", "LANGUAGE", "TERM", "TZ"})
# What the SDK sets for the CLI (kept by ``launcher``).
SDK_ENV = (
    "CLAUDE_CODE_ENTRYPOINT", "CLAUDE_AGENT_SDK_VERSION", "CLAUDE_CODE_SDK_READS_SESSION_STATE",
    "PWD",
)  # fmt: skip
# Statuses no retry can cure: the run stops (FatalProviderError), as the providers do. In an
# agentic session a 400 is most likely that trial's own (its conversation grew too long): it
# fails the trial (SESSION_FATAL_STATUSES).
FATAL_STATUSES = frozenset({400, 401, 403, 404})
SESSION_FATAL_STATUSES = frozenset({401, 403, 404})
AUTH_STATUSES = frozenset({401, 403})


def require_sdk(who: str) -> None:
    """``SpecError`` naming the extra when ``claude_agent_sdk`` cannot be imported; ``who``
    says what needs it (``router claude-code``)."""
    try:
        import claude_agent_sdk  # noqa: F401
    except ImportError:
        raise SpecError(
            f"{who} needs the claude-code extra: pip install 'agent-registry[claude-code]'"
        ) from None


def missing_key(who: str) -> str:
    return f"{who} needs ANTHROPIC_API_KEY in the environment"


def bundled_cli() -> Path | None:
    """The CLI ``claude_agent_sdk`` ships (None: the package or its binary is missing)."""
    try:
        spec = importlib.util.find_spec("claude_agent_sdk")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "_bundled" / "claude"
    return path if path.is_file() else None


def find_cli(cli: str | None = None) -> str:
    """The claude binary to run: ``cli``, else ``REGISTRY_CLAUDE_CLI``, else the bundled one."""
    chosen = cli or os.environ.get(CLI_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            found = shutil.which(chosen)
            if found is None:
                raise SpecError(f"no claude binary at {chosen} ({CLI_ENV})")
            path = Path(found)
        return str(path)
    bundled = bundled_cli()
    if bundled is None:
        raise SpecError(f"claude_agent_sdk has no bundled claude binary; set {CLI_ENV}")
    return str(bundled)


def cli_version(cli: str, *, timeout_s: float = VERSION_TIMEOUT_S) -> str:
    """``claude --version`` as ``2.1.332``; ``SpecError`` when it fails or hangs."""
    try:
        done = subprocess.run(
            [cli, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, **QUIET_ENV},
        )
    except subprocess.TimeoutExpired:
        raise SpecError(f"{cli} --version did not answer within {timeout_s:g} s") from None
    except OSError as err:
        raise SpecError(f"cannot run {cli}: {err.strerror or err}") from None
    match = re.search(r"\d+\.\d+\.\d+\S*", done.stdout)
    if done.returncode != 0 or match is None:
        line = first_line(done.stderr) or first_line(done.stdout) or f"exit {done.returncode}"
        raise SpecError(f"{cli} --version failed: {line}")
    return match.group(0)


def session_env(
    home: Path, tmp: Path, *, path_first: Path | None = None, **extra: str
) -> dict[str, str]:
    """The whole environment of a Claude Code run, from an allow-list (``launcher`` drops
    everything else the SDK passes on): ``PATH`` (``path_first`` before it), the locale and
    terminal, a fresh ``HOME`` (and config folder), ``tmp`` for every temporary file, the quiet
    switches, the key kept from Bash, and the base URL and key from this environment. Never a
    ``GIT_*``, ``SSH_*`` or cloud credential of this process; ``extra`` adds the caller's."""
    env = {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith("LC_")}
    path = os.environ.get("PATH", os.defpath)
    env["PATH"] = path if path_first is None else os.pathsep.join((str(path_first), path))
    env.update(
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        TMPDIR=str(tmp),
        CLAUDE_CODE_TMPDIR=str(tmp),
        **QUIET_ENV,
    )
    for name in PASSED_THROUGH:
        value = os.environ.get(name)
        if value:
            env[name] = value
    env.update(extra)
    return env


def launcher(folder: Path, cli: str, env: Mapping[str, str]) -> str:
    """A script in ``folder`` that runs ``cli`` with only the variables of ``env`` (and those
    the SDK sets itself), the SDK starting the CLI with this process's whole environment merged
    in, and ``ANTHROPIC_API_KEY`` moved onto a pipe (``KEY_FD_ENV``). The script holds names and
    paths only, never a value of ``env``."""
    keep = sorted({*env, *SDK_ENV} - {"ANTHROPIC_API_KEY"})
    program = folder / "claude.py"
    program.write_text(
        "import os, sys\n"
        f"env = {{k: v for k, v in os.environ.items() if k in {keep!r}}}\n"
        "key = os.environ.get('ANTHROPIC_API_KEY')\n"
        "if key:\n"
        "    read, write = os.pipe()\n"
        "    os.write(write, key.encode())\n"
        "    os.close(write)\n"
        "    os.set_inheritable(read, True)\n"
        f"    env[{KEY_FD_ENV!r}] = str(read)\n"
        f"os.execve({cli!r}, [{cli!r}, *sys.argv[1:]], env)\n"
    )
    # Through sh, not a shebang naming the interpreter: that breaks on a space or past 127 bytes.
    script = folder / "claude"
    python, path = shlex.quote(sys.executable), shlex.quote(str(program))
    script.write_text(f'#!/bin/sh\nexec {python} -IS {path} "$@"\n')
    script.chmod(0o700)
    return str(script)


async def connect(client: Any) -> None:
    """``client.connect()``, tried again while the CLI cannot be started because the launcher
    just written is "busy" (ETXTBSY): a process forked elsewhere in this program at that moment
    holds the file open until it execs, which takes a few milliseconds."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            await client.connect()
            return
        except Exception as err:
            busy = isinstance(err.__cause__, OSError) and err.__cause__.errno == errno.ETXTBSY
            if not busy or attempt == START_ATTEMPTS:
                raise
        await asyncio.sleep(0.05 * attempt)


def first_line(text: str | None) -> str:
    """The first non-blank line of ``text``, stripped ("" when there is none)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def write_agents(folder: Path, agents: Sequence[RosterAgent]) -> None:
    """``.claude/agents/<name>.md`` for each project agent, byte for byte as the question has it."""
    target = folder / ".claude" / "agents"
    target.mkdir(parents=True, exist_ok=True)
    for agent in agents:
        if agent.builtin:
            continue
        if not agent.name or "/" in agent.name or agent.name in (".", ".."):
            raise SpecError(f"agent name {agent.name!r} is not a plain file name")
        # newline="" keeps the markdown's own line endings.
        with (target / f"{agent.name}.md").open("w", encoding="utf-8", newline="") as out:
            out.write(agent.markdown)


STDERR_LINES = 200  # of a CLI run's stderr, kept to explain a failure


class CliDiagnostics:
    """What a CLI run says when it goes wrong, key scrubbed: its stderr (the first
    ``STDERR_LINES`` lines, ``on_stderr`` is the SDK's callback) and the error lines made of it."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = tuple(secrets)
        self.stderr: list[str] = []

    def on_stderr(self, line: str) -> None:
        if len(self.stderr) < STDERR_LINES:
            self.stderr.append(scrub(line, *self.secrets))

    def first_stderr(self) -> str:
        return next((line for line in self.stderr if line.strip()), "")

    def failed(self, err: Exception) -> str:
        """The line of an SDK error: the CLI's first stderr line, else the error's own."""
        line = self.first_stderr() or first_line(scrub(str(err), *self.secrets))
        return f"claude-code failed: {line or type(err).__name__}"

    def no_result(self) -> str:
        return f"claude-code ended without a result: {self.first_stderr() or 'no output'}"

    def result_error(self, result: Any) -> tuple[str, int | None]:
        """The line of an error result and its API status (None: not an API error)."""
        text = first_line(scrub(str(result.result or ""), *self.secrets))
        errors = getattr(result, "errors", None) or []
        text = text or first_line(scrub(" ".join(map(str, errors)), *self.secrets))
        status = getattr(result, "api_error_status", None)
        return f"claude-code: {text or result.subtype}", status if isinstance(status, int) else None


def auth_failure(data: Mapping[str, Any]) -> tuple[int, str] | None:
    """An ``api_retry`` event's authentication failure (status, what), if it is one: Claude Code
    would retry it for minutes, and no retry can cure it."""
    status = data.get("error_status")
    if isinstance(status, int) and status in AUTH_STATUSES:
        return status, str(data.get("error") or "authentication")
    return None


def refused_key(status: int, what: str) -> FatalProviderError:
    return FatalProviderError(
        f"claude-code: the API refused the key ({status} {what}); check ANTHROPIC_API_KEY",
        status=status,
    )


def usage_of(raw: Mapping[str, Any] | None) -> Usage:
    """The ``usage`` of a Claude Code result as a ``Usage``."""
    raw = raw or {}

    def count(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) else 0

    return Usage(
        input_tokens=count("input_tokens"),
        output_tokens=count("output_tokens"),
        cache_write_tokens=count("cache_creation_input_tokens"),
        cache_read_tokens=count("cache_read_input_tokens"),
    )


class SessionLog:
    """What one Claude Code session reported through the SDK's messages (``note`` each one): the
    router and the agentic runtime both read a session through this.

    ``message_ids`` are the main loop's API rounds (its assistant messages, by id): the one
    count of turns. Usage is each assistant message's (subagents' too), once per message id,
    for a session that ends without a result (a time limit, a crash): an assistant message
    carries its stream's start (output tokens not yet counted), so the output tokens are the
    ``message_delta`` stream events' (``include_partial_messages``) when there are any."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.diagnostics = CliDiagnostics(secrets)  # every line kept is scrubbed of these
        self.message_ids: list[str] = []
        self.retries = 0  # api_retry events: requests that failed and were sent again
        self.last_retry: str | None = None  # why the last one failed, key scrubbed
        self.fatal: tuple[int, str] | None = None  # an authentication failure
        self.model: str | None = None
        self.session_id: str | None = None
        self.result: Any = None  # the ResultMessage
        self._usage: dict[str, Usage] = {}
        self._output: dict[str, int] = {}  # output tokens by message id, from stream events
        self._streaming: dict[str | None, str] = {}  # the message being streamed, by parent

    def note(self, message: Any) -> bool:
        """Record one message; True when the session is over (its result, a refused key)."""
        from claude_agent_sdk import AssistantMessage, ResultMessage, StreamEvent, SystemMessage

        if isinstance(message, StreamEvent):
            self._stream(message.parent_tool_use_id, message.event)
        elif isinstance(message, SystemMessage):
            if message.subtype == "init":
                self.session_id = message.data.get("session_id") or self.session_id
            elif message.subtype == "api_retry":
                self.retries += 1
                why = first_line(
                    scrub(str(message.data.get("error") or ""), *self.diagnostics.secrets)
                )
                self.last_retry = why or self.last_retry
                self.fatal = auth_failure(message.data)
                return self.fatal is not None
        elif isinstance(message, AssistantMessage):
            if message.error is not None:
                return False  # Claude Code's own word on a failed request, not an API round
            msg_id = message.message_id or message.uuid or f"anon-{len(self._usage)}"
            self._usage[msg_id] = usage_of(message.usage)  # a message's blocks repeat it
            if message.parent_tool_use_id is None:
                self.model = self.model or message.model
                if msg_id not in self.message_ids:
                    self.message_ids.append(msg_id)
        elif isinstance(message, ResultMessage):
            self.result = message
            self.session_id = message.session_id or self.session_id
            return True
        return False

    def _stream(self, parent: str | None, event: Mapping[str, Any]) -> None:
        if event.get("type") == "message_start":
            msg_id = (event.get("message") or {}).get("id")
            if isinstance(msg_id, str):
                self._streaming[parent] = msg_id
        elif event.get("type") == "message_delta" and parent in self._streaming:
            tokens = (event.get("usage") or {}).get("output_tokens")
            if isinstance(tokens, int):
                self._output[self._streaming[parent]] = tokens

    @property
    def turns(self) -> int:
        return len(self.message_ids)

    @property
    def requests(self) -> int:
        return len(self.message_ids) + self.retries

    def usage(self) -> Usage:
        """The result's usage, else the sum over the assistant messages seen."""
        if self.result is not None:
            return usage_of(self.result.usage)
        return sum_usage(self.request_usages())

    def request_usages(self) -> tuple[Usage, ...]:
        """Each request's usage, to price a session without a result request by request."""
        if self.result is not None:
            return ()
        return tuple(
            replace(u, output_tokens=max(u.output_tokens, self._output.get(msg_id, 0)))
            for msg_id, u in self._usage.items()
        )

    def cost_usd(self) -> float | None:
        """The result's cost (None: no result, price ``usage`` instead)."""
        cost = getattr(self.result, "total_cost_usd", None)
        return float(cost) if isinstance(cost, int | float) else None


def sum_usage(usages: Iterable[Usage]) -> Usage:
    total = Usage()
    for u in usages:
        total = Usage(
            input_tokens=total.input_tokens + u.input_tokens,
            output_tokens=total.output_tokens + u.output_tokens,
            cache_write_tokens=total.cache_write_tokens + u.cache_write_tokens,
            cache_read_tokens=total.cache_read_tokens + u.cache_read_tokens,
        )
    return total


def cli_pid(client: Any) -> int | None:
    """The process id of the CLI an SDK client started (None: not started, or gone)."""
    process = getattr(getattr(client, "_transport", None), "_process", None)
    pid = getattr(process, "pid", None)
    return pid if isinstance(pid, int) else None


def kill_client(client: Any) -> None:
    """SIGKILL the CLI of ``client`` at once. The SDK keeps the process on its transport; its
    own close would wait up to 10 s for the process to leave by itself."""
    process = getattr(getattr(client, "_transport", None), "_process", None)
    if process is not None and getattr(process, "returncode", 0) is None:
        with contextlib.suppress(ProcessLookupError, OSError):
            process.kill()


def descendants(pid: int) -> list[int]:
    """The live descendants of ``pid`` (children first), read from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in _proc_pids():
        parent = _parent(entry)
        if parent is not None:
            children.setdefault(parent, []).append(entry)
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def processes_in(folder: Path) -> list[int]:
    """Processes (other than this one) whose working folder is ``folder`` or inside it."""
    root = str(folder.resolve())
    found = []
    for pid in _proc_pids():
        if pid == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            found.append(pid)
    return found


def kill_all(pids: Sequence[int], *, wait_s: float = KILL_WAIT_S) -> int:
    """SIGKILL each of ``pids`` and wait (at most ``wait_s``) until they are gone, so that the
    trial's folder is never removed under a process still running; how many were killed."""
    killed = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    deadline = time.monotonic() + wait_s
    while any(_parent(pid) is not None for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(killed)


def _proc_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _parent(pid: int) -> int | None:
    """The parent of a live (not zombie) process; None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[1])
