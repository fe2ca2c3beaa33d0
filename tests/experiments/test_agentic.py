"""Agentic experiments offline: the suite's agentic fields, the spec, the checks, and the simulated
runtime end to end through ``registry run`` and ``registry report`` (tests/experiments/
agentic_suite is a two-task suite: a function to write, a migration to add)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import SpecError
from experiments.agentic_tasks import Check
from experiments.roster import RosterAgent
from experiments.spec import parse_experiment_spec
from experiments.store.reads import task_answers
from experiments.tasks import load_suite
from experiments.workspace import prepare, run_checks
from registry.database import Database
from tests.conftest import REPO, SEED, Cli
from variants.agentfile import AgentDefinition

SUITE = Path(__file__).parent / "agentic_suite"
HELPFUL_LINE = "Always return the sum of the arguments and create table migrations for the orders."


def _temp_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("registry-agentic-*")}


def _suite_copy(tmp_path: Path, edit: Any = None) -> Path:
    target = tmp_path / "suite"
    shutil.copytree(SUITE, target)
    if edit is not None:
        raw = yaml.safe_load((target / "suite.yaml").read_text())
        edit(raw["tasks"][0])
        (target / "suite.yaml").write_text(yaml.safe_dump(raw))
    return target / "suite.yaml"


# -- the suite -----------------------------------------------------------------------------------


def test_the_suite_loads_its_workspaces_and_checks() -> None:
    suite = load_suite(SUITE / "suite.yaml")
    task = suite.task("add-function")
    assert task.agentic is not None
    assert task.agentic.workspace == (SUITE / "workspaces/add-function").resolve()
    assert [c.name for c in task.agentic.checks] == ["hidden-tests", "adds"]
    hidden = task.agentic.checks[0]
    assert hidden.hidden == (SUITE / "hidden/add-function").resolve() and hidden.timeout_s == 60
    assert task.agentic.checks[1].file_matches == ("calc.py", r"return a \+ b")
    assert task.weights() == {"hidden-tests": 1.0, "adds": 1.0}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.update(workspace="../elsewhere"), "workspace: '../elsewhere' is outside"),
        (lambda t: t.update(workspace="workspaces/nothing"), "is not a folder"),
        (lambda t: t.pop("workspace"),
         "solution and checks are for an agentic task, which needs a workspace: (the folder "
         "the agent starts from); a response task is graded by graders:"),
        (lambda t: t["checks"].append({"name": "x", "run": "true", "file_exists": "a"}),
         "checks[2]: needs exactly one of run, file_exists, file_matches"),
        (lambda t: t["checks"].append({"name": "x", "file_exists": "../a"}),
         "checks[2].file_exists: must stay inside the workspace"),
        (lambda t: t["checks"].append({"name": "x", "file_matches": {"path": "a", "pattern": "("}}),
         "checks[2].file_matches.pattern: not a valid regular expression"),
        (lambda t: t["checks"].append({"name": "adds", "file_exists": "a"}),
         "checks[2].name: two checks named 'adds'"),
        (lambda t: t["checks"].append({"name": "x", "run": "true", "timeout": 3}),
         "checks[2].timeout: unknown field"),
        (lambda t: t["checks"].append({"name": "x", "run": "true", "timeout_s": 0}),
         "checks[2].timeout_s: must be seconds above 0"),
    ],
    ids=["outside", "missing", "no-workspace", "two-kinds", "escape", "regex", "duplicate",
         "unknown", "timeout"],
)  # fmt: skip
def test_a_bad_agentic_task_is_one_line_naming_file_task_and_field(
    tmp_path: Path, edit: Any, message: str
) -> None:
    path = _suite_copy(tmp_path, edit)
    with pytest.raises(SpecError) as caught:
        load_suite(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: tasks[0] 'add-function': ") and message in text, text
    assert "\n" not in text


def test_a_workspace_with_a_symlink_is_refused(tmp_path: Path) -> None:
    path = _suite_copy(tmp_path)
    (path.parent / "workspaces/add-function/link").symlink_to("/etc/passwd")
    with pytest.raises(SpecError, match="workspaces/add-function/link is not a regular file"):
        load_suite(path)


def test_a_diff_grader_is_refused_outside_an_agentic_experiment(cli: Cli, tmp_path: Path) -> None:
    _publish_pair(cli, tmp_path)
    spec = _spec(tmp_path, graders=[{"type": "contains", "value": "x", "on": "diff"}])
    raw = yaml.safe_load(spec.read_text())
    raw["kind"] = "response"
    spec.write_text(yaml.safe_dump(raw))
    line = cli.one_error_line("run", str(spec), "--dry-run")
    assert "on: diff grades an agentic trial's workspace; only kind: agentic has one" in line


def test_the_spec_takes_the_agentic_settings() -> None:
    raw = {"name": "a", "variants": {"a": "x@1", "b": "x@2"}, "control": "a", "tasks": "s.yaml"}
    spec = parse_experiment_spec({**raw, "kind": "agentic"}, base_dir=Path("."))
    assert spec.agentic is not None and spec.provider == "simulated"
    assert (spec.agentic.runtime, spec.agentic.max_turns) == ("simulated", 30)
    assert (spec.agentic.time_limit_s, spec.agentic.check_timeout_s) == (600.0, 120.0)
    assert spec.agentic.sandbox is True
    real = parse_experiment_spec(
        {**raw, "kind": "agentic", "runtime": "claude-code", "max_turns": 5, "time_limit_s": 60,
         "sandbox": False},
        base_dir=Path("."),
    )  # fmt: skip
    assert real.provider == "anthropic" and real.agentic is not None
    assert (real.agentic.max_turns, real.agentic.time_limit_s) == (5, 60.0)
    assert real.agentic.sandbox is False
    with pytest.raises(SpecError, match="sandbox: must be true or false, got 'no'"):
        parse_experiment_spec({**raw, "kind": "agentic", "sandbox": "no"}, base_dir=Path("."))
    with pytest.raises(SpecError, match="max_turns: only an agentic experiment has it"):
        parse_experiment_spec({**raw, "max_turns": 5}, base_dir=Path("."))
    with pytest.raises(SpecError, match="runtime: must be one of simulated, claude-code"):
        parse_experiment_spec({**raw, "kind": "agentic", "runtime": "x"}, base_dir=Path("."))
    with pytest.raises(SpecError, match="runtime claude-code needs provider anthropic"):
        parse_experiment_spec(
            {**raw, "kind": "agentic", "runtime": "claude-code", "provider": "simulated"},
            base_dir=Path("."),
        )


def test_a_session_gets_the_agents_tools_never_the_web_or_a_user() -> None:
    from experiments.sessions.claude_code import allowed_tools

    limited = SEED.read_text().replace(
        "model: sonnet\n", "model: sonnet\ntools: Read, Edit, WebFetch\ndisallowedTools: Bash\n"
    )
    assert allowed_tools(limited) == (
        ["Read", "Edit"],
        ["Bash", "WebFetch", "WebSearch", "AskUserQuestion"],
    )
    assert allowed_tools(SEED.read_text()) == (None, ["WebFetch", "WebSearch", "AskUserQuestion"])


def test_a_file_tool_reaches_only_the_workspace(tmp_path: Path) -> None:
    from experiments.sessions.sandbox import outside

    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "escape").symlink_to(tmp_path)
    (work / "loop").symlink_to(work / "loop")
    inside = [
        ("Read", {"file_path": str(work / "src/a.py")}),
        ("Write", {"file_path": "src/new.py"}),  # relative: against the workspace
        ("Edit", {"file_path": str(work / "src/../a.py")}),
        ("Grep", {"pattern": "x", "path": "src", "glob": "*.py"}),
        ("Glob", {"pattern": "**/*.py"}),
        ("Bash", {"command": "cat /etc/passwd"}),  # not a file tool: Bash has its sandbox
    ]
    for tool, tool_input in inside:
        assert outside(tool, tool_input, work) is None, (tool, tool_input)
    escapes = [
        ("Read", {"file_path": str(SUITE / "hidden/add-function/tests_hidden/check_calc.py")}),
        ("Write", {"file_path": "/tmp/outside"}),
        ("Edit", {"file_path": "../work-2/a.py"}),
        ("MultiEdit", {"file_path": "escape/x"}),  # a symlink out of the workspace
        ("NotebookEdit", {"notebook_path": "~/n.ipynb"}),
        ("LS", {"path": "/root"}),
        ("Grep", {"pattern": "key", "path": "/home"}),
        ("Glob", {"pattern": "../../**/*.py"}),
        ("Glob", {"pattern": "*.py", "path": "src/../.."}),
        ("Read", {"file_path": "loop"}),  # resolving raises: denied, never let through
        ("Read", {"file_path": "a\0b"}),
    ]
    for tool, tool_input in escapes:
        assert outside(tool, tool_input, work) is not None, (tool, tool_input)


# -- checks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sandboxed", [False, True])
def test_a_hanging_check_is_killed_at_its_timeout_and_recorded_failed(
    tmp_path: Path, sandboxed: bool
) -> None:
    if sandboxed and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    agent = RosterAgent.from_definition(AgentDefinition.parse(SEED.read_bytes()), str(SEED))
    folder = prepare(tmp_path / "trial", SUITE / "workspaces/add-function", agent)
    marker = folder.root / "survivor"  # writable in the checks' sandbox too
    checks = [
        # A child in the background and a foreground sleep: the whole group dies at 1 s.
        Check("hangs", run=f"(sleep 5; touch {marker}) & echo started-sk-ant-x; sleep 60",
              timeout_s=1),
        Check("fails", run="echo 'out of sorts' >&2; exit 3"),
        Check("passes", run="python -c 'import sys; print(sys.executable)'"),
    ]  # fmt: skip
    started = time.monotonic()
    masked: list[Path] | None = [] if sandboxed else None
    run = run_checks(folder, checks, default_timeout_s=30, secrets=["sk-ant-x"], masked=masked)
    results = asyncio.run(run)
    assert time.monotonic() - started < 10
    hangs, fails, passes = results
    assert (hangs.passed, hangs.timed_out, hangs.exit_code) == (False, True, None)
    assert hangs.output_tail == "started-[redacted]\n" and hangs.reason == "killed after 1 s"
    assert (fails.passed, fails.exit_code, fails.output_tail) == (False, 3, "out of sorts\n")
    assert passes.passed and passes.output_tail.strip() == sys.executable
    time.sleep(5)
    assert not marker.exists()  # the background child was killed with its group


# -- the simulated runtime end to end ------------------------------------------------------------


def _publish_pair(cli: Cli, tmp_path: Path) -> None:
    cli.ok("publish", str(SEED))
    text = SEED.read_text().replace("You are an expert", f"{HELPFUL_LINE} You are an expert", 1)
    (tmp_path / "helpful.md").write_text(text)
    cli.ok("publish", str(tmp_path / "helpful.md"))


def _spec(tmp_path: Path, **extra: Any) -> Path:
    spec = {
        "name": "agentic", "kind": "agentic", "control": "control",
        "variants": {"control": "backend-logic-implementer@1",
                     "helpful": "backend-logic-implementer@2"},
        "tasks": str(SUITE / "suite.yaml"), "epochs": 3, "seed": 5, **extra,
    }  # fmt: skip
    path = tmp_path / "agentic.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_simulated_agentic_run_is_checked_and_reported(cli: Cli, tmp_path: Path) -> None:
    _publish_pair(cli, tmp_path)
    # A grader of the diff (informational: weight 0) besides the checks: the code changed.
    diff_grader = {"type": "regex", "name": "touches-code", "pattern": r"\+\+\+ b/calc\.py",
                   "on": "diff", "weight": 0}  # fmt: skip
    spec = _spec(tmp_path, graders=[diff_grader])
    dry = cli.ok("run", str(spec), "--dry-run")
    assert "agentic trials, runtime simulated, at most 30 turns and 600 s a trial" in dry.stdout
    before = _temp_folders()
    run = cli.ok("run", str(spec), "--json", "--quiet")
    assert json.loads(run.stdout)["status"] == "completed"
    assert _temp_folders() == before  # every trial folder removed

    report = json.loads(cli.ok("report", "agentic", "--json").stdout)
    assert report["experiment"]["simulated"] is True
    assert report["agentic"] == {
        "runtime": "simulated", "runtime_versions": ["simulated 1"],
        "max_turns": 30, "time_limit_s": 600.0,
    }  # fmt: skip
    by_label = {v["label"]: v for v in report["variants"]}
    for label in ("control", "helpful"):
        figures = by_label[label]["agentic"]
        assert figures["sessions"] == 6 and figures["ended"] == {"finished": 6}
        assert figures["mean_turns"] >= 4 and figures["tool_calls"]["Read"] >= 1
        assert figures["denied"] == {}  # the simulated runtime reaches outside nothing
    # The body that names what the checks test solves more; its quality is the checks'.
    helpful, control = by_label["helpful"], by_label["control"]
    assert helpful["agentic"]["checks_passed"] > control["agentic"]["checks_passed"]
    assert helpful["quality"]["mean"] > control["quality"]["mean"]

    # The diff grader read each workspace's diff: there is one exactly when files changed.
    graded = task_answers(Database(cli.db), 1, "add-function", 1)
    for variant in ("control", "helpful"):
        grades = {g.grader: g for g in graded.grades if g.variant == variant}
        assert set(grades) == {"hidden-tests", "adds", "touches-code"}
        assert grades["touches-code"].passed == grades["adds"].passed

    text = cli.ok("report", "agentic").stdout
    assert "agentic sessions: run by simulated 1, at most 30 turns and 600 s each" in text
    assert "SIMULATED" in text
    markdown = cli.ok("report", "agentic", "--markdown").stdout
    headers = "| variant | sessions | turns | tool calls | by tool | denied | ended | checks |"
    assert headers in markdown
    # Re-grading would drop the checks (their workspaces are gone): refused in one line.
    assert "is agentic: its checks ran in workspaces that are gone" in cli.one_error_line(
        "grade", "agentic"
    )


def test_keep_workspaces_keeps_each_trial_folder(cli: Cli, tmp_path: Path) -> None:
    _publish_pair(cli, tmp_path)
    spec = _spec(tmp_path, epochs=1)
    run = cli.ok("run", str(spec), "--quiet", "--keep-workspaces")
    kept = [Path(line.strip()) for line in run.stderr.splitlines() if "registry-agentic-" in line]
    assert "workspaces kept (4):" in run.stderr and len(kept) == 4
    try:
        for folder in kept:
            assert (folder / "work" / ".git").is_dir()
            assert (folder / "work" / ".claude/agents/backend-logic-implementer.md").is_file()
        # The hidden tests were copied in after the session, for their check.
        assert any((f / "work/tests_hidden/check_calc.py").is_file() for f in kept)
    finally:
        for folder in kept:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_resumed_agentic_run_uses_the_stored_workspaces_and_checks(
    cli: Cli, tmp_path: Path
) -> None:
    _publish_pair(cli, tmp_path)
    suite = _suite_copy(tmp_path)
    spec = _spec(tmp_path, tasks=str(suite))
    stopped = cli("run", str(spec), "--json", "--quiet", "--max-cost", "5")
    assert json.loads(stopped.stdout)["status"] == "stopped"  # one task row of two
    # The suite's files change on disk: the resumed run keeps what the plan stored.
    raw = yaml.safe_load(suite.read_text())
    raw["tasks"][1]["checks"] = [{"name": "never", "file_exists": "nothing-*"}]
    suite.write_text(yaml.safe_dump(raw))
    resumed = cli.ok("run", str(spec), "--json", "--quiet", "--resume", "1", "--max-cost", "100")
    assert json.loads(resumed.stdout)["status"] == "completed"
    report = json.loads(cli.ok("report", "1", "--json").stdout)
    assert all(v["agentic"]["sessions"] == 6 for v in report["variants"])
    helpful = next(v for v in report["variants"] if v["label"] == "helpful")
    assert helpful["agentic"]["checks_passed"] == 1.0


@pytest.mark.parametrize("folder", ["workspaces", "hidden", "solutions"])
def test_a_resumed_run_refuses_task_folders_that_changed_since_the_plan(
    cli: Cli, tmp_path: Path, folder: str
) -> None:
    _publish_pair(cli, tmp_path)
    suite = _suite_copy(tmp_path)
    spec = _spec(tmp_path, tasks=str(suite))
    stopped = cli("run", str(spec), "--json", "--quiet", "--max-cost", "5")
    assert json.loads(stopped.stdout)["status"] == "stopped"
    before = cli.ok("experiments", "--json").stdout
    changed = next(p for p in sorted((suite.parent / folder).rglob("*")) if p.is_file())
    original = changed.read_bytes()
    changed.write_bytes(original + b"\n# edited after the run started\n")
    refused = cli.one_error_line("run", str(spec), "--resume", "1", "--max-cost", "100")
    assert "changed since the experiment was planned" in refused
    assert cli.ok("experiments", "--json").stdout == before  # nothing ran, nothing changed
    changed.write_bytes(original)  # the same files again: the resume goes ahead
    resumed = cli.ok("run", str(spec), "--json", "--quiet", "--resume", "1", "--max-cost", "100")
    assert json.loads(resumed.stdout)["status"] == "completed"


def test_ensure_bubblewrap_as_non_root_says_what_to_install(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "id").write_text("#!/bin/sh\necho 1000\n")  # not root; no bwrap, no socat
    (tools / "id").chmod(0o755)
    script = REPO / "scripts" / "ensure-bubblewrap.sh"
    done = subprocess.run(
        ["/bin/bash", str(script)], env={"PATH": str(tools)}, capture_output=True, text=True
    )
    assert done.returncode != 0 and done.stderr.strip() == (
        "ensure-bubblewrap: install bubblewrap and socat (sudo apt-get install bubblewrap socat)"
    )


def test_protected_names_the_suite_and_the_users_files_never_the_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.sessions.sandbox import deny_rules, protected

    suite, trial = tmp_path / "suite", tmp_path / "trials" / "t1"
    folders = [suite / "workspaces/a", suite / "hidden/a"]
    for folder in (*folders, trial, tmp_path / "repo/.git"):
        folder.mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    found = protected(folders, trial)
    assert {suite, *folders, tmp_path / "repo", Path.home().resolve()} <= set(found)
    assert not any(trial.is_relative_to(p) for p in found) and Path("/") not in found
    monkeypatch.chdir(trial)  # run from inside the trial's folder: the trial stays readable
    assert not any(trial.is_relative_to(p) for p in protected(folders, trial))
    assert deny_rules([suite]) == [f"Read(/{suite}/**)", f"Edit(/{suite}/**)"]
    assert deny_rules([suite])[0].startswith("Read(//")
