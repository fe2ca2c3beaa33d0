"""A capture of Claude Code's main-loop request, replayed by the ``messages`` router.

``capture_claude_code`` runs the real CLI once (``claude -p CAPTURE_PROMPT --output-format json``)
from an empty folder with a fresh ``HOME`` against a loopback endpoint, and keeps the first
``POST /v1/messages`` body exactly as Claude Code sent it. ``Capture.request_body`` turns that
body into the request Claude Code would send for another roster, prompt and model.

What the real CLI (2.1.332) sends, where it differs from the shared note:

- The agent listing is sorted by name as JavaScript's ``localeCompare`` sorts (case-insensitive;
  ``_`` before ``-`` before digits before letters), project agents and built-ins together: it is
  not "project agents first". ``request_body`` sorts the same way (``listing_order``), and a
  project agent named like a built-in replaces it, as in Claude Code.
- Five built-ins are listed: ``claude`` (a catch-all), ``Explore``, ``general-purpose``,
  ``Plan``, ``statusline-setup``. The listing ends with a sentence after the entries ("When you
  launch multiple agents ..."); only the header and entries are replaced, the rest of the block
  is kept.
- Where the listing is depends on the model. For ``claude-haiku-4-5`` it is a
  ``<system-reminder>`` block of the first user message, among other reminders (environment,
  deferred tools, skills, date); for ``claude-opus-5-5`` (the CLI's default) it is inside one text
  block of a ``system``-role message that follows the user message, without the reminder tags.
  ``request_body`` therefore finds the listing in whichever text block holds it, and the prompt
  as the one text block equal to ``CAPTURE_PROMPT``. Other text names the capture's model (the
  "You are powered by ..." reminder, the commit attribution): replay a capture taken with the
  model you ask about (``capture_claude_code(model=...)``).
- The identity line of ``system`` is "You are a Claude agent, built on Anthropic's Claude Agent
  SDK." and the billing header names ``cc_entrypoint=sdk-cli`` for ``claude -p``.
- The CLI authenticates with ``x-api-key``, and retries even a 401.
- The same CLI driven through the SDK (the ``claude-code`` router) sends almost the same body:
  besides paths, ids and ``cc_entrypoint=sdk-py``, ``thinking.display`` is ``updates`` (not
  ``omitted``) and the Bash tool's description gives another background timeout.

Invariants: a saved capture is one JSON file (``format`` marks it) written atomically; a file
that is not a capture is never overwritten; ``capture_id`` depends only on the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import SpecError
from experiments.claude_code_runtime import (
    QUIET_ENV,
    bundled_cli,
    cli_version,
    find_cli,
    first_line,
    require_sdk,
)
from experiments.roster import LISTING_HEADER, RosterAgent, agent_listing

CAPTURE_PROMPT = "AGENT-REGISTRY-CAPTURE-PROMPT: reply with the single word ok."
DEFAULT_CAPTURE = Path("data") / "claude-code-capture.json"
FORMAT = "agent-registry/claude-code-capture"
DUMMY_KEY = "sk-ant-capture-dummy-key"
_ENTRY_START = re.compile(r"- ([^\s:][^:\n]*): ")
_ENTRY_END = re.compile(r" \(Tools: ([^()\n]*)\)$")


def _missing(path: Path) -> SpecError:
    return SpecError(f"no Claude Code capture at {path}; run `registry capture-claude-code`")


def _not_a_capture(path: Path, why: str) -> SpecError:
    return SpecError(
        f"{path} is not a Claude Code capture ({why}); make one with "
        f"`registry capture-claude-code --out {path}`"
    )


# -- the listing as Claude Code orders it ----------------------------------------------------

# ICU's root collation of ASCII punctuation and symbols, which all sort before digits and
# letters (what JavaScript's localeCompare uses). Agent names are normally lowercase words and
# hyphens; this covers what else a name may reasonably hold.
_PUNCTUATION = "\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"


def _collation_key(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    primary: list[int] = []
    tertiary: list[int] = []
    for char in name:
        if char in _PUNCTUATION:
            primary.append(_PUNCTUATION.index(char))
        elif char.isdigit() and char.isascii():
            primary.append(100 + ord(char))
        else:
            primary.append(1000 + ord(char.casefold()[0]))
        tertiary.append(1 if char.isupper() else 0)  # lowercase first on a tie
    return tuple(primary), tuple(tertiary)


def listing_order(
    agents: Sequence[RosterAgent], builtins: Sequence[RosterAgent]
) -> list[RosterAgent]:
    """Project agents and built-ins as Claude Code lists them: one list sorted by name, a
    project agent replacing a built-in of the same name."""
    names = {agent.name for agent in agents}
    merged = [*agents, *(b for b in builtins if b.name not in names)]
    return sorted(merged, key=lambda agent: _collation_key(agent.name))


@dataclass(frozen=True)
class _Listing:
    where: tuple[int, int]  # (message index, content block index)
    start: int  # offset of the header in the block's text
    end: int  # offset just past the last entry
    entries: tuple[tuple[str, str, str], ...]  # name, description, tools text


def _parse_listing(text: str, start: int) -> tuple[int, list[tuple[str, str, str]]]:
    """The entries after the header at ``start``, and where the last one ends."""
    offset = start + len(LISTING_HEADER)
    entries: list[tuple[str, str, str]] = []
    end = offset
    current: tuple[str, str] | None = None
    position = offset
    while position < len(text) and text[position] == "\n":
        line_end = text.find("\n", position + 1)
        line_end = len(text) if line_end < 0 else line_end
        line = text[position + 1 : line_end]
        if current is None:
            match = _ENTRY_START.match(line)
            if match is None:
                break
            current = (match.group(1), line[match.end() :])
        else:
            current = (current[0], current[1] + "\n" + line)
        tools = _ENTRY_END.search(current[1])
        if tools is not None:
            entries.append((current[0], current[1][: tools.start()], tools.group(1)))
            current = None
            end = line_end
        position = line_end
    return end, entries


def _find_listing(body: Mapping[str, Any]) -> _Listing | None:
    for m, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for c, block in enumerate(content):
            text = block.get("text") if isinstance(block, Mapping) else None
            if not isinstance(text, str) or LISTING_HEADER not in text:
                continue
            start = text.index(LISTING_HEADER)
            end, entries = _parse_listing(text, start)
            return _Listing((m, c), start, end, tuple(entries))
    return None


def _find_prompt(body: Mapping[str, Any]) -> list[tuple[int, int]]:
    found = []
    for m, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            for c, block in enumerate(content):
                if isinstance(block, Mapping) and block.get("text") == CAPTURE_PROMPT:
                    found.append((m, c))
    return found


def _tools(text: str) -> tuple[str, ...] | None:
    # "All tools" is what RosterAgent renders for None; any other text round-trips through
    # ", ".join (including "All tools except A, B").
    return None if text == "All tools" else tuple(text.split(", "))


def _validate(body: Any, where: Path | str) -> None:
    if not isinstance(body, Mapping) or not isinstance(body.get("messages"), list):
        raise SpecError(f"the Claude Code capture at {where} has no request body")
    listing = _find_listing(body)
    if listing is None or not listing.entries:
        raise SpecError(f"the Claude Code capture at {where} holds no agent listing")
    if len(_find_prompt(body)) != 1:
        raise SpecError(f"the Claude Code capture at {where} does not hold the capture prompt")


@dataclass(frozen=True)
class Capture:
    """The main loop's first request body, as one Claude Code version sent it."""

    cc_version: str  # ``claude --version``: 2.1.332
    captured_at: str  # ISO 8601, UTC
    body: Mapping[str, Any]  # the JSON body exactly as sent (stream, metadata and all)
    path: Path | None = None

    @property
    def capture_id(self) -> str:
        blob = json.dumps(self.body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def model(self) -> str | None:
        """The model the capture was taken with (its layout and reminders are that model's)."""
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "cc_version": self.cc_version,
            "captured_at": self.captured_at,
            "capture_id": self.capture_id,
            "body": self.body,
        }

    def save(self, path: Path) -> Capture:
        """Write the capture (atomically); ``SpecError`` when ``path`` holds something else."""
        path = Path(path)
        if path.exists() and not _is_capture_file(path):
            raise SpecError(f"{path} exists and is not a Claude Code capture; not overwritten")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.to_json(), out, ensure_ascii=False, indent=1)
                out.write("\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return Capture(self.cc_version, self.captured_at, self.body, path)

    @classmethod
    def load(cls, path: Path) -> Capture:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _missing(path) from None
        except (OSError, UnicodeDecodeError) as err:
            raise _not_a_capture(path, f"cannot read it: {err}") from None
        try:
            raw = json.loads(text)
        except ValueError as err:
            raise _not_a_capture(path, f"not JSON: {err}") from None
        if not isinstance(raw, Mapping) or raw.get("format") != FORMAT:
            raise _not_a_capture(path, "no capture format marker")
        version, at, body = raw.get("cc_version"), raw.get("captured_at"), raw.get("body")
        if not isinstance(version, str) or not isinstance(at, str) or not isinstance(body, dict):
            raise _not_a_capture(path, "its version, date or request is missing")
        _validate(body, path)
        return cls(version, at, body, path)

    def builtins(self) -> tuple[RosterAgent, ...]:
        """The built-in agents of the captured listing (it was taken with no project agent)."""
        listing = _find_listing(self.body)
        if listing is None:
            return ()
        return tuple(
            RosterAgent(name, description, _tools(tools), "built-in", builtin=True)
            for name, description, tools in listing.entries
        )

    def request_body(
        self, prompt: str, agents: Sequence[RosterAgent], model_id: str
    ) -> dict[str, Any]:
        """The body Claude Code would send for ``prompt`` with the project ``agents``: the
        listing's entries replaced (sorted as Claude Code sorts them), the prompt block's text
        replaced, the model replaced, ``stream`` and ``metadata`` (a user id) removed."""
        body: dict[str, Any] = copy.deepcopy(dict(self.body))
        listing = _find_listing(body)
        prompts = _find_prompt(body)
        if listing is None or len(prompts) != 1:
            raise SpecError(f"the Claude Code capture {self.capture_id} holds no listing/prompt")
        m, c = listing.where
        block = body["messages"][m]["content"][c]
        text = block["text"]
        entries = agent_listing(listing_order(agents, self.builtins()))
        entries = entries.removeprefix("<system-reminder>\n").removesuffix("\n</system-reminder>")
        block["text"] = text[: listing.start] + entries + text[listing.end :]
        pm, pc = prompts[0]
        body["messages"][pm]["content"][pc]["text"] = prompt
        body["model"] = model_id
        body.pop("stream", None)
        body.pop("metadata", None)
        return body


def _is_capture_file(path: Path) -> bool:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(raw, Mapping) and raw.get("format") == FORMAT


def stale_capture_warning(capture: Capture) -> str | None:
    """One line when the installed SDK bundles another Claude Code than the capture's."""
    cli = bundled_cli()
    if cli is None:
        return None
    version_file = cli.with_name("claude.version")
    try:
        installed = version_file.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        try:
            installed = cli_version(str(cli))
        except SpecError:
            return None
    if installed == capture.cc_version:
        return None
    return (
        f"the Claude Code capture is of {capture.cc_version} but claude-agent-sdk bundles "
        f"{installed}; re-run `registry capture-claude-code`"
    )


# -- taking a capture ------------------------------------------------------------------------


async def capture_claude_code(
    path: Path,
    *,
    cli: str | None = None,
    timeout_s: float = 120,
    model: str | None = None,
) -> Capture:
    """Run Claude Code once against a loopback endpoint and save its first request body.

    ``cli``: a claude binary (else ``REGISTRY_CLAUDE_CLI``, else the SDK's bundled one).
    ``model``: passed as ``--model`` (None: the CLI's default model).
    """
    if cli is None and not os.environ.get("REGISTRY_CLAUDE_CLI"):
        require_sdk("registry capture-claude-code")
    binary = find_cli(cli)
    version = cli_version(binary)
    endpoint = _Endpoint()
    await endpoint.start()
    tmp = Path(tempfile.mkdtemp(prefix="registry-capture-"))
    try:
        work, home = tmp / "work", tmp / "home"
        work.mkdir()
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            **QUIET_ENV,
            "ANTHROPIC_BASE_URL": endpoint.base_url,
            "ANTHROPIC_API_KEY": DUMMY_KEY,
        }
        argv = [binary, "-p", CAPTURE_PROMPT, "--output-format", "json"]
        if model:
            argv += ["--model", model]
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=work,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
        except TimeoutError:
            raise SpecError(f"{binary} made no capture within {timeout_s:g} s") from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
    finally:
        await endpoint.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if process.returncode != 0:
        line = first_line(stderr.decode(errors="replace")) or first_line(
            _result_text(stdout.decode(errors="replace"))
        )
        raise SpecError(f"{binary} -p failed (exit {process.returncode}): {line or 'no output'}")
    if endpoint.body is None:
        raise SpecError(f"{binary} -p made no request to the capture endpoint")
    _validate(endpoint.body, "the endpoint")
    at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Capture(version, at, endpoint.body).save(path)


def _result_text(stdout: str) -> str:
    try:
        raw = json.loads(stdout)
    except ValueError:
        return stdout
    return str(raw.get("result") or "") if isinstance(raw, Mapping) else stdout


class _Endpoint:
    """A loopback Messages API that keeps the first body and answers every request "ok"."""

    def __init__(self) -> None:
        self.body: dict[str, Any] | None = None
        self.requests: list[tuple[str, str]] = []  # method, path: what Claude Code called
        self.base_url = ""
        self._runner: Any = None

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        self.requests.append((request.method, request.path))
        if request.method != "POST" or request.path != "/v1/messages":
            error = {"type": "not_found_error", "message": f"no route {request.path}"}
            return web.json_response({"type": "error", "error": error}, status=404)
        body = await request.json()
        if self.body is None:
            self.body = body
        model = body.get("model", "claude")
        message = {
            "id": "msg_capture",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": len(json.dumps(body)) // 4, "output_tokens": 1},
        }
        if not body.get("stream"):
            message["content"] = [{"type": "text", "text": "ok"}]
            message["stop_reason"] = "end_turn"
            return web.json_response(message)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        events = [
            ("message_start", {"type": "message_start", "message": message}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": _TEXT},
            ),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": _OK},
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 1},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        for event, data in events:
            await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        await response.write_eof()
        return response


_TEXT = {"type": "text", "text": ""}
_OK = {"type": "text_delta", "text": "ok"}
