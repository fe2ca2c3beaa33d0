"""Agentic trials on the real Claude Code CLI (bundled with claude-agent-sdk) against the loopback
fake, which scripts each session (tests/experiments/session_fake.py): tool calls that read, edit
and write files in the trial's workspace and run a command, then a final answer."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from experiments.providers.base import FatalProviderError
from experiments.roster import RosterAgent
from experiments.sessions.base import SessionSetup
from experiments.workspace import prepare
from tests.conftest import SEED, Cli
from tests.experiments.session_fake import ScriptedSession, tool
from tests.fake_anthropic import DEFAULT_KEY, Text, fake_anthropic, http_error
from variants.agentfile import AgentDefinition

pytest.importorskip("claude_agent_sdk", reason="install the claude-code extra")

SUITE = Path(__file__).parent / "agentic_suite"
FINAL = "Implemented add and wrote NOTES.md."


def _steps() -> list[Any]:
    """Read calc.py, fix it, write a new file, run a command (leaving a process behind), answer."""
    calc = lambda w: str(w / "calc.py")  # noqa: E731
    command = "python -c 'import calc; print(calc.add(2, 3))' && (sleep 300 >/dev/null 2>&1 &)"
    return [
        lambda w: tool("Read", {"file_path": calc(w)}),
        lambda w: tool("Edit", {"file_path": calc(w), "old_string": "raise NotImplementedError",
                                "new_string": "return a + b"}),
        lambda w: tool("Write", {"file_path": str(w / "NOTES.md"), "content": "add: done\n"}),
        tool("Bash", {"command": command, "description": "Try add"}),
        Text(FINAL, input_tokens=2_000, output_tokens=20),
    ]  # fmt: skip


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("REGISTRY_CLAUDE_CLI", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    managers: list[Any] = []

    def start(session: ScriptedSession) -> Any:
        manager = fake_anthropic(session, x_api_key=True)
        fake = manager.__enter__()
        managers.append(manager)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        return fake

    yield start
    for manager in reversed(managers):
        manager.__exit__(None, None, None)


def _spec(tmp_path: Path, **extra: Any) -> Path:
    suite = yaml.safe_load((SUITE / "suite.yaml").read_text())
    suite["tasks"] = suite["tasks"][:1]
    for folder in ("workspaces", "solutions", "hidden"):
        shutil.copytree(SUITE / folder, tmp_path / folder, dirs_exist_ok=True)
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    spec = {
        "name": "agentic-cc", "kind": "agentic", "runtime": "claude-code", "control": "a",
        "variants": {"a": "backend-logic-implementer@1", "b": "backend-logic-implementer@1"},
        "tasks": "suite.yaml", "max_turns": 10, "time_limit_s": 120, **extra,
    }  # fmt: skip
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _trials(cli: Cli) -> list[dict[str, Any]]:
    path = cli.db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "select variant, response_text, error, quality, cost_usd, details, input_tokens, "
            "output_tokens, stop_reason from trial order by id"
        ).fetchall()
    return [
        {"variant": v, "text": t, "error": e, "quality": q, "cost_usd": c,
         "details": json.loads(d) if d else None, "tokens": (i, o), "stop_reason": s}
        for v, t, e, q, c, d, i, o, s in rows
    ]  # fmt: skip


def _temp_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("registry-agentic-*")}


def _leftovers() -> list[int]:
    """Live processes of a trial: a claude child of this test, or anything in a trial folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            exe, cwd = os.readlink(entry / "exe"), os.readlink(entry / "cwd")
        except OSError:
            continue
        if fields[0] == "Z":
            continue
        if "registry-agentic-" in cwd or (int(fields[1]) == os.getpid() and "claude" in exe):
            found.append(int(entry.name))
    return found


def test_a_scripted_session_edits_the_workspace_and_passes_its_checks(
    sqlite_cli: Cli, tmp_path: Path, fake_api: Any
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    session = ScriptedSession(_steps())
    fake = fake_api(session)
    before = _temp_folders()
    started = time.monotonic()
    run = sqlite_cli.ok("run", str(_spec(tmp_path, epochs=1)), "--json", "--quiet")
    seconds = time.monotonic() - started
    assert json.loads(run.stdout)["status"] == "completed"
    trials = _trials(sqlite_cli)
    assert len(trials) == 2 and session.requests == 10 == fake.message_calls
    for trial in trials:
        _check_scripted_trial(trial, fake.requests[0].body)
    assert not _leftovers() and _temp_folders() == before
    trial = trials[0]
    print(
        f"\none scripted trial: {fake.message_calls // 2} requests, {trial['tokens']} tokens, "
        f"{trial['details']['wall_s']} s session; two trials: {seconds:.1f} s registry run"
    )


def _check_scripted_trial(trial: dict[str, Any], body: dict[str, Any]) -> None:
    details = trial["details"]
    assert trial["error"] is None and trial["text"] == FINAL
    assert details["ended"] == "finished" == trial["stop_reason"]
    assert details["turns"] == 5 and details["requests"] == 5
    assert details["tool_calls"] == {"Bash": 1, "Edit": 1, "Read": 1, "Write": 1}
    assert details["runtime_version"].startswith("claude-code 2.")
    # What the workspace holds: the fix and the new file, against the baseline.
    assert "-    raise NotImplementedError\n+    return a + b" in details["diff"]
    assert "new file mode 100644" in details["diff"] and "+add: done" in details["diff"]
    assert ".claude/agents" not in details["diff"] and "tests_hidden" not in details["diff"]
    checks = {c["name"]: c for c in details["checks"]}
    assert checks["hidden-tests"]["passed"] and checks["hidden-tests"]["exit_code"] == 0
    assert "1 passed" in checks["hidden-tests"]["output_tail"]
    assert checks["adds"]["passed"] and trial["quality"] == 1.0
    # Tokens and cost as Claude Code reports them: the fake's usage, summed over the session.
    assert trial["tokens"] == (5 * 2_000, 4 * 50 + 20)
    assert trial["cost_usd"] > 0
    # The session ran as the agent, on its tools, without the web or a user to ask.
    assert "You are an expert backend engineer" in json.dumps(body["system"])
    names = {t["name"] for t in body["tools"]}
    assert {"Bash", "Edit", "Read", "Write"} <= names
    assert not names & {"WebFetch", "WebSearch", "AskUserQuestion"}
    assert DEFAULT_KEY not in json.dumps(details)
    # The command's background sleep was killed with the session.
    assert details["leftover_processes"] >= 1


def test_a_limited_agent_at_its_turn_limit_is_checked_and_its_workspace_kept(
    sqlite_cli: Cli, tmp_path: Path, fake_api: Any
) -> None:
    # An agent limited to Bash and Read (and WebFetch, which no trial gets).
    limited = SEED.read_text().replace(
        "model: sonnet\n", "model: sonnet\ntools: Bash, Read, WebFetch\n"
    )
    (tmp_path / "limited.md").write_text(limited)
    sqlite_cli.ok("publish", str(tmp_path / "limited.md"))
    session = ScriptedSession([tool("Bash", {"command": "true", "description": "Wait"})])
    fake = fake_api(session)
    spec = _spec(tmp_path, epochs=1, max_turns=2)
    run = sqlite_cli.ok("run", str(spec), "--quiet", "--keep-workspaces")
    trials = _trials(sqlite_cli)
    kept = [Path(t["details"]["workspace"]) for t in trials]
    try:
        for trial in trials:
            details = trial["details"]
            assert trial["error"] is None and details["ended"] == "turn_limit"
            assert details["turns"] == 2 and details["tool_calls"] == {"Bash": 2}
            assert not any(c["passed"] for c in details["checks"]) and trial["quality"] == 0.0
        assert session.requests == 4
        offered = {t["name"] for r in fake.requests if r.body.get("tools") for t in r.body["tools"]}
        assert {"Bash", "Read"} <= offered and not offered & {"Edit", "Write", "WebFetch"}
        for folder in kept:
            assert f"  {folder}" in run.stderr and (folder / "work/calc.py").is_file()
    finally:
        for folder in kept:
            shutil.rmtree(folder, ignore_errors=True)
    assert not _leftovers()


def test_a_session_at_its_time_limit_is_killed_and_priced_from_its_messages(
    sqlite_cli: Cli, tmp_path: Path, fake_api: Any
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    # Two rounds answered (a Bash call each), then the API stalls past the time limit.
    session = ScriptedSession([_bash("true")], stall_s=60, stall_after=2)
    fake_api(session)
    before = _temp_folders()
    started = time.monotonic()
    sqlite_cli.ok("run", str(_spec(tmp_path, epochs=1, time_limit_s=8)), "--quiet")
    assert time.monotonic() - started < 40
    for trial in _trials(sqlite_cli):
        details = trial["details"]
        assert trial["error"] is None and details["ended"] == "time_limit"
        assert 8 <= details["wall_s"] < 14
        assert trial["quality"] == 0.0 and trial["text"] is None
        # No result came: usage is the two answered rounds', priced with the price table.
        assert details["turns"] == 2 and details["tool_calls"] == {"Bash": 2}
        assert trial["tokens"] == (2 * 2_000, 2 * 50) and trial["cost_usd"] > 0
    assert not _leftovers() and _temp_folders() == before


def test_an_unreachable_api_fails_the_trials_and_stops_the_run_as_unreachable(
    sqlite_cli: Cli, tmp_path: Path, fake_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    spec = _spec(tmp_path, epochs=3, time_limit_s=4)  # 6 sessions, at once
    run = sqlite_cli("run", str(spec), "--quiet")
    assert run.exit_code == 3, run.stderr
    assert "the API is unreachable" in run.stdout + run.stderr
    trials = _trials(sqlite_cli)
    assert len(trials) == 6
    for trial in trials:
        assert trial["stop_reason"] == "error" and trial["quality"] is None
        assert "no response from the API" in trial["error"]
        assert trial["details"]["turns"] == 0
    assert not _leftovers()


def test_an_api_400_in_a_session_fails_that_trial_not_the_run(
    sqlite_cli: Cli, tmp_path: Path, fake_api: Any
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    fake_api(ScriptedSession([_bash("true"), http_error(400, "prompt is too long")]))
    run = sqlite_cli("run", str(_spec(tmp_path, epochs=1)), "--quiet")
    assert run.exit_code == 3 and "incomplete" in run.stdout, run.stderr
    for trial in _trials(sqlite_cli):
        assert trial["stop_reason"] == "error" and "prompt is too long" in trial["error"].lower()
        assert trial["details"]["turns"] == 1 and trial["quality"] is None


# Claude Code's own temporary folder is named after the user's id.
CLAUDE_TMP = f"claude-{os.getuid()}"


def _claude_temp_files() -> set[str]:
    """What Claude Code leaves in the shared /tmp (its sockets, its own folders)."""
    root = Path(tempfile.gettempdir())
    found = {p.name for p in root.glob("claude-*")} | {p.name for p in root.glob("cc-*")}
    for folder in (CLAUDE_TMP, "cc-socks"):
        found |= {f"{folder}/{p.name}" for p in (root / folder).glob("*")}
    return found


def test_the_session_keeps_the_key_the_users_environment_and_tmp_out(
    sqlite_cli: Cli, tmp_path: Path, fake_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    user_repo = tmp_path / "user-repo"
    user_repo.mkdir()
    monkeypatch.setenv("GIT_DIR", str(user_repo / ".git"))  # as git exports it to a hook
    monkeypatch.setenv("GIT_WORK_TREE", str(user_repo))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-of-the-user")
    command = (
        "printenv ANTHROPIC_API_KEY > key.txt; env > env.txt; "
        "python -c 'import sys; print(sys.executable)' > exe.txt; "
        "git rev-parse --show-toplevel > top.txt; "
        "mkdir -p ~/.cache && touch ~/.cache/written && echo HOME-WRITABLE"
    )
    # The model writes the key into a file (it is in the diff) and quotes it in its answer.
    leak = lambda w: tool("Write", {"file_path": str(w / "leak.txt"), "content": DEFAULT_KEY})  # noqa: E731
    session = ScriptedSession([_bash(command), leak, Text(f"Done; the key is {DEFAULT_KEY}.")])
    fake = fake_api(session)
    before = _claude_temp_files()
    run = sqlite_cli.ok("run", str(_spec(tmp_path, epochs=1)), "--quiet", "--keep-workspaces")
    trials = _trials(sqlite_cli)
    kept = [Path(t["details"]["workspace"]) for t in trials]
    try:
        # The key is nowhere in what was stored: not the answer, the diff or any detail.
        path = sqlite_cli.db.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            rows = conn.execute("select * from trial").fetchall()
        assert DEFAULT_KEY not in json.dumps(rows, default=str)
        assert all(t["text"] == "Done; the key is [redacted]." for t in trials)
        assert all("+[redacted]" in t["details"]["diff"] for t in trials)
        for folder in kept:
            work = folder / "work"
            assert (work / "key.txt").read_text() == ""  # never in the environment Bash inherits
            env = dict(
                line.split("=", 1) for line in (work / "env.txt").read_text().splitlines()
                if "=" in line
            )  # fmt: skip
            assert not {
                k for k in env if k.startswith(("GIT_DIR", "GIT_WORK_TREE", "SSH_", "AWS_"))
            }
            assert "aws-secret-of-the-user" not in (work / "env.txt").read_text()
            assert env["HOME"] == str(folder / "home")
            assert (work / "exe.txt").read_text().strip() == sys.executable
            assert (work / "top.txt").read_text().strip() == str(work.resolve())
            assert (folder / "home/.cache/written").is_file()
            # Claude Code's temporary files went into the trial's folder.
            names = {p.name for p in (folder / "tmp").iterdir()}
            assert {CLAUDE_TMP, "cc-socks"} <= names
            assert any(n.startswith("claude-http-") for n in names)
        assert "HOME-WRITABLE" in json.dumps([r.body for r in fake.requests])
        assert not (user_repo / ".git").exists()
    finally:
        for folder in kept:
            shutil.rmtree(folder, ignore_errors=True)
    # Nothing new in the shared /tmp (another process's Claude Code would also show here).
    assert _claude_temp_files() <= before, run.stderr


def _tool_results(body: dict[str, Any]) -> list[str]:
    """The text of every tool result a request carries, in order."""
    texts = []
    for message in body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if block.get("type") == "tool_result":
                content = block["content"]
                if isinstance(content, list):
                    content = " ".join(part.get("text", "") for part in content)
                texts.append(content)
    return texts


def _bash(command: str) -> Any:
    return tool("Bash", {"command": command, "description": "Try"})


def test_the_agent_reaches_nothing_outside_its_workspace_but_the_api(
    sqlite_cli: Cli, tmp_path: Path, fake_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    hidden = tmp_path / "hidden/add-function/tests_hidden/check_calc.py"  # the suite's hidden test
    # A wheel's shipped suite: inside this interpreter's installation, which Bash may read.
    shipped = Path(tempfile.mkdtemp(prefix="registry-test-data-", dir=sys.prefix)) / "agentic"
    (shipped / "hidden").mkdir(parents=True)
    (shipped / "hidden" / "test_secret.py").write_text("def test_shipped(): pass\n")
    monkeypatch.setattr("experiments.sessions.sandbox.data_path", lambda name: shipped)
    private = Path("/etc/ssl/private")
    secret = private / f"registry-test-{os.getpid()}.key"
    planted = os.geteuid() == 0  # only root can put a key there: as a user, the rest is checked
    made = planted and not private.exists()
    if planted:
        private.mkdir(parents=True, exist_ok=True)
        secret.write_text("PRIVATE KEY\n")
    outside = Path(tempfile.gettempdir()) / f"registry-outside-{os.getpid()}.txt"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connect = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)"
    fetch = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)"
    conftest = f"import pathlib\npathlib.Path({str(outside)!r}).write_text('from-check')\n"
    session = ScriptedSession([
        tool("Read", {"file_path": str(hidden)}),
        tool("Write", {"file_path": str(outside), "content": "escaped\n"}),
        lambda w: tool("Edit", {"file_path": str(w / "calc.py"),
                                "old_string": "raise NotImplementedError",
                                "new_string": "return a + b"}),
        _bash(f"cat {hidden}"),
        _bash(f"ls {shipped}/hidden; cat {shipped}/hidden/test_secret.py"),
        _bash("ln -s loop loop; ln -s %s secret; ls -l" % (shipped / "hidden/test_secret.py")),
        lambda w: tool("Read", {"file_path": str(w / "loop")}),
        lambda w: tool("Read", {"file_path": str(w / "secret")}),
        _bash(f"ls {Path.home()} /home; cat {Path(__file__).resolve()} {secret}"),
        _bash(f"echo escaped > {outside}"),
        _bash(f"python3 -c '{connect}' 127.0.0.1 {port} && echo REACHED"),
        _bash(f"python3 -c '{connect}' 1.1.1.1 80 && echo REACHED"),
        lambda w: _bash(f"python3 -c '{fetch}' {os.environ['ANTHROPIC_BASE_URL']} && echo REACHED"),
        lambda w: _bash(f"python3 -c 'import calc; print(calc.add(2, 3))'; ls {w.parent}"),
        # Loaded by the checks' pytest: the checks run sandboxed too.
        lambda w: tool("Write", {"file_path": str(w / "conftest.py"), "content": conftest}),
        Text(FINAL, input_tokens=2_000, output_tokens=20),
    ])  # fmt: skip
    fake = fake_api(session)
    started = time.monotonic()
    try:
        sqlite_cli.ok("run", str(_spec(tmp_path, epochs=1, max_turns=25)), "--quiet")
        listener.settimeout(0.01)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
        shutil.rmtree(shipped.parent)
        if planted:
            secret.unlink()
        if made:
            private.rmdir()
    seconds = time.monotonic() - started
    trials = _trials(sqlite_cli)
    assert len(trials) == 2 and not outside.exists()
    results = max((_tool_results(r.body) for r in fake.requests if r.body.get("tools")), key=len)
    assert len(results) == 15
    read, write, edit, cat, wheel, _links, loop, link, ls, _echo, loopback, external, api, own = (
        results[:-1]
    )
    # The file tools: denied outside the workspace, with a word to the model; allowed inside.
    # The suite's folder is refused by Claude Code itself (permissions.deny), the rest by us.
    assert "denied by your permission settings" in read
    assert "Write denied" in write
    assert "def test_add" not in read and "updated" in edit.lower()
    # Bash: none of the suite, the user's files or home; no write outside; no network at all.
    assert "No such file" in cat and "def test_add" not in cat
    # Nor the shipped suite inside the interpreter's installation, nor through a link.
    assert "def test_shipped" not in wheel + loop + link and "cannot access" in wheel
    assert "Read denied" in loop and "Read denied" in link and "outside this task's" in link
    home = {name for name in os.listdir(Path.home()) if not name.startswith(".")}
    # A folder also hidden inside home (the repository, when it lives there) shows as the empty
    # mount point that hides it: its name, nothing it holds (cat of this file finds nothing).
    here, user = Path.cwd().resolve(), Path.home().resolve()
    if here.is_relative_to(user) and here != user:
        home.discard(here.relative_to(user).parts[0])
    assert not home & set(ls.splitlines()) and "No such file" in ls
    assert f"{Path(__file__).resolve()}: No such file" in ls
    assert "PRIVATE KEY" not in ls and f"{secret}: No such file" in ls  # /etc's secrets
    assert "REACHED" not in loopback + external + api and "Error" in loopback
    assert own.startswith("5")  # the workspace's own code still runs
    for trial in trials:
        details = trial["details"]
        assert details["sandbox"] is True and details["ended"] == "finished"
        assert details["denied"] == {"Read": 2, "Write": 1}
        assert "+    return a + b" in details["diff"] and "escaped" not in details["diff"]
        # The checks ran the agent's conftest.py in their own sandbox (nothing written outside)
        # and read the hidden tests, laid into the workspace by us.
        assert {c["name"]: c["passed"] for c in details["checks"]} == {
            "hidden-tests": True, "adds": True
        }  # fmt: skip
    # The report counts the denials per variant, like tool calls.
    report = json.loads(sqlite_cli.ok("report", "agentic-cc", "--json").stdout)
    assert {v["label"]: v["agentic"]["denied"] for v in report["variants"]} == {
        "a": {"Read": 2.0, "Write": 1.0}, "b": {"Read": 2.0, "Write": 1.0}
    }  # fmt: skip
    for flags in ((), ("--markdown",)):
        text = sqlite_cli.ok("report", "agentic-cc", *flags).stdout
        assert "denied" in text and "Read 2.0, Write 1.0" in text
    print(f"\ntwo sandboxed trials: {seconds:.1f} s registry run, "
          f"{[t['details']['wall_s'] for t in trials]} s sessions")  # fmt: skip


def test_without_a_working_sandbox_the_run_is_refused_before_anything_is_spent(
    sqlite_cli: Cli, tmp_path: Path, fake_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_cli.ok("publish", str(SEED))
    session = ScriptedSession([Text(FINAL)])
    fake = fake_api(session)
    spec = _spec(tmp_path, epochs=1)
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # no bwrap, no socat
    refused = sqlite_cli("run", str(spec), "--quiet")
    line = refused.stderr.strip().splitlines()[-1]
    assert refused.exit_code == 1 and line.startswith("registry: error: runtime claude-code")
    assert "bubblewrap and socat" in line and "apt-get install bubblewrap socat" in line
    assert "sandbox: false" in line and fake.message_calls == 0
    monkeypatch.setenv("PATH", path)
    # The opt-out: refused unless acknowledged on the command line.
    unsandboxed_spec = str(_spec(tmp_path, epochs=1, sandbox=False))
    refused = sqlite_cli("run", unsandboxed_spec, "--quiet")
    line = refused.stderr.strip().splitlines()[-1]
    assert refused.exit_code == 1 and "pass --unsandboxed" in line and fake.message_calls == 0
    assert "can read your API key and reach the network" in refused.stderr
    assert not _trials(sqlite_cli)
    # Acknowledged: warned, and Bash then runs unsandboxed (the file tools stay confined).
    unsandboxed = sqlite_cli.ok("run", unsandboxed_spec, "--unsandboxed", "--quiet")
    assert "warning: sandbox: false: the agent's Bash commands can read" in unsandboxed.stderr
    assert {t["details"]["sandbox"] for t in _trials(sqlite_cli)} == {False}


def test_the_clis_own_refusal_to_start_unsandboxed_stops_the_run(
    tmp_path: Path, fake_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cause the check before the run did not see (here socat gone after it) is fatal too."""
    from experiments.sessions.claude_code import ClaudeCodeRuntime

    fake = fake_api(ScriptedSession([Text(FINAL)]))
    runtime = ClaudeCodeRuntime()
    agent = RosterAgent.from_definition(AgentDefinition.parse(SEED.read_bytes()), str(SEED))
    folder = prepare(tmp_path / "trial", SUITE / "workspaces/add-function", agent)
    tools = tmp_path / "no-socat"
    tools.mkdir()
    for name in ("bwrap", "sh", "bash"):
        (tools / name).symlink_to(shutil.which(name) or name)
    monkeypatch.setenv("PATH", str(tools))
    setup = SessionSetup(
        root=folder.root, workspace=folder.work, home=folder.home, agent=agent,
        model_id="claude-sonnet-4-5",
        prompt="Implement add.", max_turns=5, time_limit_s=60, seed=1, arm_label="a",
        task_id="add-function", epoch=0, system="",
    )  # fmt: skip
    with pytest.raises(FatalProviderError) as refused:
        asyncio.run(runtime.play(setup))
    message = str(refused.value)
    assert message.startswith("claude-code: Sandbox required but unavailable")
    assert "socat" in message and "sandbox: false" in message and "\n" not in message
    assert fake.message_calls == 0 and not _leftovers()


def test_the_launcher_runs_from_an_interpreter_path_with_a_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launcher starts whatever the interpreter's path: a space, or over a shebang's 127
    bytes; the CLI gets the allowed variables and the key on a pipe only."""
    from experiments.claude_code_runtime import KEY_FD_ENV, launcher

    spaced = tmp_path / ("with space " + "x" * 120) / "python"
    spaced.parent.mkdir()
    spaced.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(spaced))
    folder = tmp_path / "trial"
    folder.mkdir()
    script = launcher(folder, "/usr/bin/env", {"PATH": os.environ["PATH"]})
    env = {"PATH": os.environ["PATH"], "ANTHROPIC_API_KEY": "sk-test", "OTHER": "x"}
    done = subprocess.run([script], env=env, capture_output=True, text=True, check=True)
    names = {line.split("=", 1)[0] for line in done.stdout.splitlines()}
    assert names - {"PWD"} == {"PATH", KEY_FD_ENV} and "sk-test" not in done.stdout
