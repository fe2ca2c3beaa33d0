"""The ``claude-code`` runtime: the real Claude Code CLI runs the session as the variant's agent.

The CLI starts (through ``claude_agent_sdk``) in the trial's workspace with the fresh ``HOME``
and the quiet environment of ``experiments.claude_code_runtime``, as ``--agent NAME`` (the
variant's file is in the workspace's ``.claude/agents/``), on the arm's model, with the tools the
agent's frontmatter allows (``tools``, minus ``disallowedTools``) and never ``WebFetch`` or
``WebSearch`` (no network beyond the API) or ``AskUserQuestion`` (a trial has no user). Edits
and commands run without prompting (a permission callback allows every tool offered; as root
Claude Code refuses ``bypassPermissions``), but a file tool that would reach outside the workspace
is denied by a ``PreToolUse`` hook and again by that callback, the suite and the user's files by
Claude Code itself at use time (``permissions.deny``), and Bash runs in Claude Code's sandbox
unless the spec says ``sandbox: false`` (``experiments.sessions.sandbox``, with
``--unsandboxed``); our denials are counted by tool.

The session ends ``finished`` (a result), ``turn_limit`` (Claude Code's ``--max-turns``),
``time_limit`` (the wall clock: the CLI and every process it started are killed) or ``error``
(an API 400 among them: most likely that trial's own, such as a conversation grown too long;
401, 403 and 404 stop the run). A session whose main loop got no answer at all (Claude Code
retrying an unreachable or hanging API until the time limit) is an ``error`` marked
``unreachable``, never a measurement. Turns are the main loop's API rounds; without a result,
usage is the assistant messages' (priced by the kind). Whatever the ending, the CLI and its
descendants are killed once it is reached: nothing of the session outlives ``play()``.

The CLI's environment is ``session_env``'s allow-list (through ``launcher``): ``PATH`` with the
trial's ``bin`` first (``python`` is this interpreter, as for the checks), the trial's ``HOME``
and ``tmp`` (``TMPDIR``, ``CLAUDE_CODE_TMPDIR``: its sockets and scratch files go with the
folder), git's identity and ``GIT_CEILING_DIRECTORIES`` at the trial's folder, the key on a
pipe (never in the environment Bash inherits); no other ``GIT_*``, ``SSH_*`` or cloud variable
of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import Counter
from typing import Any

from experiments.claude_code_runtime import (
    SESSION_FATAL_STATUSES,
    SessionLog,
    cli_pid,
    cli_version,
    connect,
    descendants,
    find_cli,
    kill_all,
    kill_client,
    launcher,
    missing_key,
    refused_key,
    require_sdk,
    session_env,
)
from experiments.providers.base import FatalProviderError
from experiments.sessions.base import (
    ERROR,
    FINISHED,
    TIME_LIMIT,
    TURN_LIMIT,
    SessionResult,
    SessionSetup,
)
from experiments.sessions.sandbox import (
    FILE_TOOLS,
    bash_sandbox,
    denial,
    deny_rules,
    outside,
    require_sandbox,
    sandbox_refusal,
)
from experiments.workspace import TrialFolder, git_env
from variants.agentfile import AgentDefinition
from variants.tools import split_tools

WHO = "runtime claude-code"
# No network beyond the API, whatever the agent's frontmatter allows; and no user to ask.
NEVER_TOOLS = ("WebFetch", "WebSearch", "AskUserQuestion")


class _Session(SessionLog):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(secrets)
        self.tools: Counter[str] = Counter()
        self.denied: Counter[str] = Counter()  # file tools denied, by tool
        self.last_text: str | None = None
        self.unsandboxed: str | None = None  # the CLI's refusal to start without its sandbox
        self.error: str | None = None  # the SDK's failure
        self.leftovers = 0


class ClaudeCodeRuntime:
    name = "claude-code"
    simulated = False

    def __init__(self, *, sandbox: bool = True) -> None:
        require_sdk(WHO)
        if sandbox:
            require_sandbox(WHO)
        self.sandbox = sandbox
        self.cli = find_cli()
        self.cc_version = cli_version(self.cli)

    @property
    def version(self) -> str:
        return f"claude-code {self.cc_version}"

    async def play(self, setup: SessionSetup) -> SessionResult:
        key = os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise FatalProviderError(missing_key(WHO))
        session = _Session((key,))
        ended = None
        try:
            async with asyncio.timeout(setup.time_limit_s):
                await self._run(setup, session)
        except TimeoutError:
            ended = TIME_LIMIT
        if session.fatal is not None:
            raise refused_key(*session.fatal)
        if session.unsandboxed is not None:
            raise FatalProviderError(session.unsandboxed)
        return self._result(setup, session, ended)

    def _result(self, setup: SessionSetup, session: _Session, ended: str | None) -> SessionResult:
        result = session.result
        answer, error, status = session.last_text, session.error, None
        if result is not None:
            if result.subtype == "success" and not result.is_error:
                ended, answer = ended or FINISHED, result.result
            elif result.subtype == "error_max_turns":
                ended = ended or TURN_LIMIT
            else:
                message, status = session.diagnostics.result_error(result)
                if status in SESSION_FATAL_STATUSES:
                    raise FatalProviderError(message, status=status)
                ended, error = ended or ERROR, error or message
        elif ended is None:
            ended, error = ERROR, error or session.diagnostics.no_result()
        # No round of the main loop got an answer, and nothing else explains it: the API is
        # unreachable or hangs. Not a measurement: the trial fails, and a run of them stops.
        unreachable = (
            not session.message_ids
            and session.error is None
            and status is None
            and (ended == TIME_LIMIT or result is not None)
        )
        if unreachable:
            what = session.last_retry or error or f"nothing within {setup.time_limit_s:g} s"
            ended = ERROR
            error = f"claude-code: no response from the API ({what}; {session.retries} retries)"
        return SessionResult(
            ended=ended,
            answer=answer,
            turns=session.turns,
            tool_calls=dict(session.tools),
            denied=dict(session.denied),
            usage=session.usage(),
            cost_usd=session.cost_usd(),
            request_usages=session.request_usages(),
            model_id=session.model,
            requests=session.requests,
            session_id=session.session_id,
            error=error,
            leftover_processes=session.leftovers,
            unreachable=unreachable,
        )

    async def _run(self, setup: SessionSetup, session: _Session) -> None:
        from claude_agent_sdk import (
            AssistantMessage,
            ClaudeAgentOptions,
            ClaudeSDKClient,
            ClaudeSDKError,
            HookMatcher,
            PermissionResultAllow,
            PermissionResultDeny,
            TextBlock,
            ToolUseBlock,
        )

        def refused(tool: str, tool_input: Any) -> str | None:
            """Why a file tool's call is denied (None: allowed)."""
            path = outside(tool, tool_input, setup.workspace)
            if path is None:
                return None
            session.denied[tool] += 1
            return denial(tool, path, setup.workspace)

        async def allow(tool: str, tool_input: dict[str, Any], context: Any) -> Any:
            reason = refused(tool, tool_input)
            if reason is None:
                return PermissionResultAllow()
            return PermissionResultDeny(message=reason)

        async def confine(hook_input: Any, tool_use_id: str | None, context: Any) -> Any:
            try:
                reason = refused(hook_input["tool_name"], hook_input["tool_input"])
            except Exception:  # a malformed call is denied too
                reason = "denied: a malformed tool call"
            if reason is None:
                return {}
            return {
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": reason,
                }
            }

        folder = TrialFolder(setup.root)
        tools, disallowed = allowed_tools(setup.agent.markdown)
        env = session_env(
            setup.home,
            folder.tmp,
            path_first=folder.bin,
            **git_env(setup.home),
            GIT_CEILING_DIRECTORIES=str(folder.root),  # the agent's git finds work/.git only
        )
        deny = setup.protected
        sandbox = bash_sandbox(
            setup.workspace, setup.home, tools=folder.bin, tmp=folder.tmp, deny=deny
        )
        permissions = {"deny": deny_rules(deny)}
        settings = {"sandbox": sandbox, "permissions": permissions} if self.sandbox else None
        options = ClaudeAgentOptions(
            cwd=str(setup.workspace),
            model=setup.model_id,
            cli_path=launcher(folder.root, self.cli, env),
            env=env,
            system_prompt={"type": "preset", "preset": "claude_code"},
            extra_args={"agent": setup.agent.name},
            tools=tools,
            disallowed_tools=disallowed,
            permission_mode="acceptEdits",
            can_use_tool=allow,
            hooks={"PreToolUse": [HookMatcher(matcher="|".join(FILE_TOOLS), hooks=[confine])]},
            # As --settings: the SDK's SandboxSettings type lacks filesystem and failIfUnavailable.
            settings=json.dumps(settings or {"permissions": permissions}),
            max_turns=setup.max_turns,
            include_partial_messages=True,  # the output tokens of a session without a result
            stderr=session.diagnostics.on_stderr,
        )
        client = ClaudeSDKClient(options)
        try:
            await connect(client)
            await client.query(setup.prompt)
            async for message in client.receive_messages():
                if session.note(message):
                    break
                if isinstance(message, AssistantMessage) and message.error is None:
                    for block in message.content:
                        if isinstance(block, ToolUseBlock):
                            session.tools[block.name] += 1
                        elif isinstance(block, TextBlock) and message.parent_tool_use_id is None:
                            session.last_text = block.text
        except ClaudeSDKError as err:
            session.error = session.diagnostics.failed(err)
            session.unsandboxed = sandbox_refusal(str(err))
        finally:
            # The CLI's tool processes first (they would outlive it), then the CLI itself.
            pid = cli_pid(client)
            children = descendants(pid) if pid is not None else []
            kill_client(client)
            session.leftovers = await asyncio.to_thread(kill_all, children)
            with contextlib.suppress(Exception):
                await client.disconnect()


def allowed_tools(markdown: str) -> tuple[list[str] | None, list[str]]:
    """The tools an agent file allows (None: Claude Code's default set) and those it must not
    use (its ``disallowedTools``, and ``NEVER_TOOLS`` always)."""
    definition = AgentDefinition.parse(markdown.encode("utf-8"), origin="variant")
    tools = definition.tools
    denied = split_tools(definition.fields.get("disallowedTools")) or []
    disallowed = [*denied, *(t for t in NEVER_TOOLS if t not in denied)]
    if tools is not None:
        tools = [t for t in tools if t not in disallowed]
    return tools, disallowed
