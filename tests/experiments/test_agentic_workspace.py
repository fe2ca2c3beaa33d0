"""An agentic trial's folder holds up against what the agent (or the user's shell) leaves: an
inherited ``GIT_DIR``, the agent's own commits, a deleted ``.git``, links where hidden files go,
and git configuration or attributes that would run a command (tests/experiments/agentic_suite)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from core.errors import SpecError
from experiments.agentic_tasks import Check
from experiments.roster import RosterAgent
from experiments.tasks import load_suite
from experiments.workspace import TrialFolder, diff, prepare, run_checks
from tests.conftest import SEED, Cli
from tests.experiments.test_agentic import SUITE, _publish_pair, _spec, _suite_copy
from variants.agentfile import AgentDefinition

WORKSPACE = SUITE / "workspaces/add-function"
HIDDEN = SUITE / "hidden/add-function"
SOLVED = "def add(a: int, b: int) -> int:\n    return a + b\n"
RUN_HIDDEN = "python -m pytest -q -p no:cacheprovider tests_hidden/check_calc.py"
HIDDEN_TESTS = Check("hidden-tests", run=RUN_HIDDEN, hidden=HIDDEN, timeout_s=60)


def _prepare(tmp_path: Path) -> TrialFolder:
    agent = RosterAgent.from_definition(AgentDefinition.parse(SEED.read_bytes()), str(SEED))
    return prepare(tmp_path / "trial", WORKSPACE, agent)


def _agent_git(work: Path, *args: str) -> None:
    """git as the agent runs it in its workspace (its own repository, work/.git)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    identity = ("-c", "user.name=agent", "-c", "user.email=agent@example.invalid")
    subprocess.run(["git", *identity, *args], cwd=work, env=env, check=True, capture_output=True)


def _checks(folder: TrialFolder, *checks: Check) -> list[Any]:
    return asyncio.run(run_checks(folder, checks, default_timeout_s=30, secrets=[]))


def _repository_state(repo: Path) -> dict[str, bytes]:
    """What a trial must never change in a repository: its log, index, config and refs."""
    git = repo / ".git"
    command = ["git", "-C", str(repo), "log", "--all", "--format=%H %s"]
    log = subprocess.run(command, capture_output=True, check=True, env={"PATH": os.environ["PATH"]})
    state = {"log": log.stdout, "index": (git / "index").read_bytes()}
    state |= {str(p.relative_to(git)): p.read_bytes() for p in git.rglob("*") if p.is_file()
              and p.parts[len(git.parts)] in ("config", "refs", "HEAD", "logs")}  # fmt: skip
    return state


@pytest.fixture
def users_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository of the user's, exported as git exports it to a hook."""
    repo = tmp_path / "users"
    repo.mkdir()
    (repo / "app.py").write_text("print('mine')\n")
    _agent_git(repo, "init", "-q", "-b", "feature")
    _agent_git(repo, "add", "-A")
    _agent_git(repo, "commit", "-q", "-m", "the user's work")
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(repo))
    monkeypatch.setenv("GIT_INDEX_FILE", str(repo / ".git/index"))
    monkeypatch.setenv("GIT_PREFIX", "")
    return repo


# -- the user's repository -----------------------------------------------------------------------


def test_a_trial_under_an_inherited_git_dir_leaves_the_users_repository_alone(
    tmp_path: Path, users_repository: Path
) -> None:
    before = _repository_state(users_repository)
    folder = _prepare(tmp_path)
    (folder.work / "calc.py").write_text(SOLVED)
    changes, _ = diff(folder)
    # A check that runs git works on the workspace's repository, not on the user's.
    commits = Check("commits", run="git add -A && git commit -q -m checked && git log --oneline")
    checked, tests = _checks(folder, commits, HIDDEN_TESTS)
    assert "+    return a + b" in changes and "app.py" not in changes
    assert checked.passed and "checked" in checked.output_tail and tests.passed
    assert _repository_state(users_repository) == before


def test_registry_run_from_a_hook_leaves_the_users_repository_alone(
    cli: Cli, tmp_path: Path, users_repository: Path
) -> None:
    before = _repository_state(users_repository)
    _publish_pair(cli, tmp_path)
    run = cli.ok("run", str(_spec(tmp_path, epochs=1)), "--json", "--quiet")
    assert json.loads(run.stdout)["status"] == "completed"
    assert _repository_state(users_repository) == before


# -- the diff against the baseline ---------------------------------------------------------------


def test_an_agent_that_commits_its_work_keeps_its_diff(tmp_path: Path) -> None:
    folder = _prepare(tmp_path)
    (folder.work / "calc.py").write_text(SOLVED)
    (folder.work / "notes.bin").write_bytes(b"\0\1binary")
    _agent_git(folder.work, "add", "-A")
    _agent_git(folder.work, "commit", "-q", "-m", "done")
    changes, cut = diff(folder)
    assert "+    return a + b" in changes and not cut
    assert "Binary files /dev/null and b/notes.bin differ" in changes


def test_an_agent_that_deletes_dot_git_or_makes_its_own_keeps_its_diff(tmp_path: Path) -> None:
    folder = _prepare(tmp_path)
    shutil.rmtree(folder.work / ".git")
    (folder.work / "calc.py").write_text(SOLVED)
    assert "+    return a + b" in diff(folder)[0]
    _agent_git(folder.work, "init", "-q")
    _agent_git(folder.work, "add", "-A")
    _agent_git(folder.work, "commit", "-q", "-m", "a fresh start")
    (folder.work / ".claude/agents/backend-logic-implementer.md").unlink()
    changes, _ = diff(folder)
    assert "+    return a + b" in changes and ".git/" not in changes
    assert "deleted file mode 100644" in changes  # its own definition: what it did, shown


def test_a_diff_git_cannot_take_is_unavailable_not_an_error(tmp_path: Path) -> None:
    folder = _prepare(tmp_path)
    shutil.rmtree(folder.work)
    changes, cut = diff(folder)
    assert changes.startswith("unavailable: git add failed in a trial workspace: ") and not cut
    assert "\n" not in changes


# -- hidden files --------------------------------------------------------------------------------


def test_hidden_files_replace_what_the_agent_left_at_their_paths(tmp_path: Path) -> None:
    folder = _prepare(tmp_path)
    (folder.work / "calc.py").write_text(SOLVED)
    (folder.work / "tests_hidden").write_text("a file named like the hidden folder\n")
    assert _checks(folder, HIDDEN_TESTS)[0].passed
    # A folder where a hidden file goes cannot be replaced: the check fails, saying why.
    shutil.rmtree(folder.work / "tests_hidden")
    (folder.work / "tests_hidden/check_calc.py").mkdir(parents=True)
    blocked, adds = _checks(folder, HIDDEN_TESTS, Check("adds", file_exists="calc.py"))
    assert (blocked.passed, blocked.exit_code) == (False, None) and adds.passed
    assert blocked.reason.startswith("cannot run the check: ") and "check_calc.py" in blocked.reason


def test_a_check_in_a_workspace_that_is_gone_fails(tmp_path: Path) -> None:
    folder = _prepare(tmp_path)
    shutil.rmtree(folder.work)
    hidden, run = _checks(folder, HIDDEN_TESTS, Check("runs", run="true"))
    assert not hidden.passed and not run.passed
    assert hidden.reason.startswith("cannot run the check: ") and "No such file" in run.reason


@pytest.mark.parametrize("link", ["folder", "file", "hard"])
def test_hidden_files_are_never_written_through_a_link(tmp_path: Path, link: str) -> None:
    folder = _prepare(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "check_calc.py").write_text("precious\n")
    if link == "folder":
        (folder.work / "tests_hidden").symlink_to(outside)
    else:
        (folder.work / "tests_hidden").mkdir()
        target = folder.work / "tests_hidden/check_calc.py"
        if link == "file":
            target.symlink_to(outside / "check_calc.py")
        else:
            os.link(outside / "check_calc.py", target)
    (folder.work / "calc.py").write_text(SOLVED)
    assert _checks(folder, HIDDEN_TESTS)[0].passed  # the real hidden tests ran
    assert [p.name for p in outside.iterdir()] == ["check_calc.py"]
    assert (outside / "check_calc.py").read_text() == "precious\n"
    hidden = folder.work / "tests_hidden"
    assert not hidden.is_symlink() and not (hidden / "check_calc.py").is_symlink()
    assert (hidden / "check_calc.py").read_bytes() == (
        HIDDEN / "tests_hidden/check_calc.py"
    ).read_bytes()


# -- git runs nothing the agent configured -------------------------------------------------------


def test_our_git_runs_no_filter_driver_hook_or_fsmonitor_the_agent_set(tmp_path: Path) -> None:
    folder = _prepare(tmp_path)
    marker = tmp_path / "PWNED"
    touch = f"touch {marker}"
    evil = (f'[diff "x"]\n\ttextconv = {touch}\n[filter "y"]\n\tclean = {touch}\n'
            f"\tsmudge = {touch}\n\trequired = true\n[core]\n\tfsmonitor = {touch}\n"
            f"\tpager = {touch}\n[diff]\n\texternal = {touch}\n")  # fmt: skip
    work = folder.work
    (work / ".gitattributes").write_text("* diff=x filter=y\n*.txt -diff\n")
    with (work / ".git/config").open("a") as config:
        config.write(evil)
    (work / ".git/hooks").mkdir(exist_ok=True)
    for hook in ("pre-commit", "post-commit", "post-index-change"):
        (work / ".git/hooks" / hook).write_text(f"#!/bin/sh\n{touch}\n")
        (work / ".git/hooks" / hook).chmod(0o755)
    (work / "evil.gitconfig").write_text(evil)  # a file the agent wrote, for git to include
    for config_file in (folder.home / ".gitconfig", folder.home / ".config/git/config"):
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(evil)
    (folder.home / ".config/git/attributes").write_text("* diff=x filter=y\n")
    nested = work / "vendored"  # a repository of the agent's inside the workspace
    nested.mkdir()
    (nested / "lib.py").write_text("x = 1\n")
    _agent_git(nested, "init", "-q")
    _agent_git(nested, "add", "-A")
    _agent_git(nested, "commit", "-q", "-m", "vendored")
    with (nested / ".git/config").open("a") as config:
        config.write(evil)
    (work / "calc.py").write_text(SOLVED)
    (work / "readme.txt").write_text("plain text\n")
    changes, _ = diff(folder)
    assert not marker.exists()
    assert "+    return a + b" in changes  # the bytes, no textconv
    assert "+plain text" in changes  # -diff in .gitattributes hides nothing


# -- checks at load ------------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [float("inf"), float("nan"), -1])
def test_a_check_weight_must_be_a_finite_number_of_at_least_0(
    tmp_path: Path, weight: float
) -> None:
    path = _suite_copy(tmp_path, lambda t: t["checks"][1].update(weight=weight))
    with pytest.raises(SpecError, match=r"checks\[1\]\.weight: must be a finite number >= 0"):
        load_suite(path)


def test_an_agentic_run_with_batch_is_refused_in_one_line(cli: Cli, tmp_path: Path) -> None:
    _publish_pair(cli, tmp_path)
    for dry in ((), ("--dry-run",)):
        line = cli.one_error_line("run", str(_spec(tmp_path, epochs=1)), "--batch", *dry)
        assert "--batch: a trial of kind agentic is not one request" in line
    assert json.loads(cli.ok("experiments", "--json").stdout) == []  # nothing stored


def test_a_key_across_the_cut_of_the_diff_or_a_check_tail_is_scrubbed(tmp_path: Path) -> None:
    from experiments.workspace import MAX_DIFF_CHARS, TAIL_CHARS

    key = "sk-ant-straddling-0123456789abcdef"
    folder = _prepare(tmp_path)
    header = diff(folder)[0]  # nothing changed yet: empty
    assert header == ""
    # The key ends just past MAX_DIFF_CHARS, whatever the diff's header: find where it lands.
    (folder.work / "big.txt").write_text("x" * MAX_DIFF_CHARS + "\n")
    prefix = diff(folder)[0].index("x" * 100)
    (folder.work / "big.txt").write_text("x" * (MAX_DIFF_CHARS - prefix - 10) + key + "\n")
    changes, cut = diff(folder, [key])
    assert cut and key[:10] not in changes
    # A check's output: the key's first characters before the tail's cut.
    command = f"printf '{key}'; printf 'y%.0s' $(seq 1 {TAIL_CHARS - 10})"
    result = asyncio.run(
        run_checks(folder, [Check("leaks", run=command)], default_timeout_s=30, secrets=[key])
    )[0]
    assert len(result.output_tail) == TAIL_CHARS and key[-10:] not in result.output_tail


AGENT_CONFTEST = """
import json, os, pathlib
seen = {name: os.environ.get(name) for name in ("AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY")}
seen["home"] = os.environ["HOME"]
for name, path in (("shipped", SHIPPED), ("outside", OUTSIDE)):
    try:
        if name == "shipped":
            seen[name] = pathlib.Path(path).read_text()
        else:
            pathlib.Path(path).write_text("escaped")
            seen[name] = "written"
    except OSError as err:
        seen[name] = type(err).__name__
pathlib.Path("seen.txt").write_text(json.dumps(seen))
import pytest
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""


@pytest.mark.parametrize("sandboxed", [False, True])
def test_the_agents_conftest_at_check_time_gets_no_secret_and_forces_no_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandboxed: bool
) -> None:
    """The checks run the agent's code: with the session's allow-listed environment (no secret
    of ours), its pytest configuration kept out of the hidden tests, and (sandboxed) under
    bubblewrap: nothing written outside the trial, the shipped suite hidden."""
    if sandboxed and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-of-the-user")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-of-the-user")
    shipped = Path(tempfile.mkdtemp(prefix="registry-test-data-", dir=sys.prefix))
    (shipped / "test_secret.py").write_text("hidden test\n")
    outside = tmp_path / "outside.txt"
    folder = _prepare(tmp_path)
    conftest = AGENT_CONFTEST.replace("SHIPPED", repr(str(shipped / "test_secret.py")))
    conftest = conftest.replace("OUTSIDE", repr(str(outside)))
    (folder.work / "conftest.py").write_text(conftest)
    (folder.work / "test_own.py").write_text("def test_own():\n    assert False\n")
    hidden = tmp_path / "hidden"
    shutil.copytree(HIDDEN, hidden)
    (hidden / "tests_hidden" / "pytest.ini").write_text("[pytest]\npythonpath = ..\n")
    options = "--noconftest -c tests_hidden/pytest.ini"  # as the shipped suite runs them
    checks = (
        Check("hidden-tests", run=RUN_HIDDEN.replace("-m", "-P -m", 1) + f" {options}",
              hidden=hidden),
        Check("agents-own", run="python -m pytest -q -p no:cacheprovider test_own.py"),
    )  # fmt: skip
    try:
        masked = [shipped] if sandboxed else None
        run = run_checks(folder, checks, default_timeout_s=60, secrets=[], masked=masked)
        hidden_tests, own = asyncio.run(run)
    finally:
        shutil.rmtree(shipped)
    seen = json.loads((folder.work / "seen.txt").read_text())
    assert seen["AWS_SECRET_ACCESS_KEY"] is None and seen["ANTHROPIC_API_KEY"] is None
    assert seen["home"] == str(folder.home)
    assert not hidden_tests.passed and "failed" in hidden_tests.output_tail  # not forced
    assert own.passed  # the agent's own configuration rules its own test run
    if sandboxed:
        assert not outside.exists()  # written, if at all, in the sandbox's own /tmp
        assert seen["shipped"] != "hidden test\n"


def test_a_check_sandbox_shows_an_interpreter_that_lives_under_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout or virtualenv under /tmp (CI clones there): the check's own empty /tmp must
    # not hide it, nor the trial folder.
    from experiments.sessions import sandbox

    install = tmp_path / "install"
    (install / "bin").mkdir(parents=True)
    tool = install / "bin" / "hello"
    tool.write_text("#!/bin/sh\necho hello from $0\n")
    tool.chmod(0o755)
    monkeypatch.setattr(sandbox, "interpreter_paths", lambda: [str(install)])
    work = tmp_path / "trial" / "work"
    work.mkdir(parents=True)
    command = sandbox.check_sandbox(tmp_path / "trial", work, masked=[])
    shell = f"{tool} > made.txt && ls /tmp | wc -l"
    done = subprocess.run([*command, "/bin/sh", "-c", shell], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (work / "made.txt").read_text() == f"hello from {tool}\n"
    assert done.stdout.strip() == "1"  # the check's /tmp shows only the path down to the trial


def test_bytecode_caches_in_a_suite_change_nothing_a_trial_sees(cli: Cli, tmp_path: Path) -> None:
    # pip byte-compiles every .py file it installs, the shipped suite's too: the caches it leaves
    # beside a workspace, a solution or hidden tests must not reach a trial or its figures.
    _publish_pair(cli, tmp_path)
    suite = _suite_copy(tmp_path)
    spec = _spec(tmp_path, tasks=str(suite))
    clean = json.loads(cli.ok("run", str(spec), "--json", "--quiet").stdout)
    before = load_suite(suite).tasks[0].agentic
    assert before is not None
    for folder in before.folders():
        cache = folder / "__pycache__"
        cache.mkdir(exist_ok=True)
        (cache / "stale.cpython-311.pyc").write_bytes(b"\x00stale bytecode")
    after = load_suite(suite).tasks[0].agentic
    assert after is not None and after.fingerprint == before.fingerprint
    cached = json.loads(cli.ok("run", str(spec), "--json", "--quiet").stdout)
    assert clean["status"] == cached["status"] == "completed"
    reports = [json.loads(cli.ok("report", str(r["experiment"]), "--json").stdout)
               for r in (clean, cached)]  # fmt: skip
    figures = [[(v["quality"]["mean"], v["agentic"]) for v in r["variants"]] for r in reports]
    assert figures[0] == figures[1]
