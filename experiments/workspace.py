"""An agentic trial's folder: the task's workspace copied and committed, its diff, its checks.

A trial folder holds ``work/`` (the copy of the task's workspace, the agent's file in
``.claude/agents/``), ``baseline.git/`` (our repository of ``work/``: one baseline commit, whose
SHA ``prepare`` records; the diff is taken against it), ``home/`` (the fresh ``HOME`` of the
session and of every command), ``tmp/`` (the session's temporary files), ``bin/`` and ``logs/``.
``work/.git`` is a second repository with the same baseline, the agent's to use or break: a real
project is one, and Claude Code tells the model whether it is in one. Git never adds a ``.git``,
so the agent's own commits, or its deleting ``work/.git``, leave the diff as it is.

Our git never reads the user's or the agent's configuration and runs nothing of theirs: every
``GIT_*`` variable of this process dropped (a hook's ``GIT_DIR`` would point at the user's
repository), an explicit git dir and work tree, no global or system file (``HOME`` the fresh
one), no hooks, no fsmonitor, no textconv or external diff, and ``info/attributes`` unsetting
every attribute that names a driver or converts a file, whatever ``.gitattributes`` says.

A ``run`` check is a shell command in the workspace, in a session (process group) of its own,
with the session's allow-listed environment (``session_env``, without the API's variables):
``python`` first on ``PATH`` resolving to this interpreter (a wrapper in ``bin/``), the trial's
``HOME`` and ``TMPDIR``, nothing else of this process's (no secret it holds). It runs the
agent's code (the tests import it), so when the session was sandboxed it runs under bubblewrap
too (``sessions.sandbox.check_sandbox``: no network, only the trial's folder writable, the
suite hidden). The group is killed at its timeout and whatever it left running is killed once
it exits. Its output goes to a file outside the workspace; its
last ``TAIL_CHARS`` characters are kept, key scrubbed. A check's hidden files are written anew
at their paths, never through a link the agent left there. Neither the diff nor a check raises:
a diff git cannot take is ``unavailable: reason``, a check that cannot run fails with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import SpecError
from experiments.agentic_tasks import BYTECODE_CACHE, Check, task_files
from experiments.claude_code_runtime import PASSED_THROUGH, session_env, write_agents
from experiments.providers.base import scrub
from experiments.roster import RosterAgent
from experiments.sessions.sandbox import check_sandbox

TAIL_CHARS = 2_000
MAX_DIFF_CHARS = 200_000
GIT_TIMEOUT_S = 60.0
# Never part of what the agent built: caches a test run leaves.
EXCLUDED = ("__pycache__/", "*.pyc", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/")
# Above every .gitattributes: no filter or diff driver runs, and a file is diffed as its bytes.
ATTRIBUTES = "* !diff !filter !text !eol !ident !working-tree-encoding\n"
# Over anything in a git dir's config: no hooks, no fsmonitor, no global attributes or ignores.
GIT_OPTIONS = (
    "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
    "-c", "core.attributesFile=/dev/null", "-c", "core.excludesFile=/dev/null",
)  # fmt: skip
UNAVAILABLE = "unavailable: "


@dataclass(frozen=True)
class TrialFolder:
    root: Path
    baseline: str = ""  # the baseline commit of ``git_dir``, once prepared

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def git_dir(self) -> Path:
        """Our repository of ``work``, outside it: the agent's git never touches it."""
        return self.root / "baseline.git"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def tmp(self) -> Path:
        """The session's ``TMPDIR``: whatever Claude Code and its commands leave goes with the
        folder."""
        return self.root / "tmp"

    @property
    def bin(self) -> Path:
        """``python`` and ``python3``: this interpreter, first on the checks' ``PATH``."""
        return self.root / "bin"


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    weight: float
    exit_code: int | None = None  # a run check's exit code (None: killed, or not a command)
    timed_out: bool = False
    seconds: float | None = None
    output_tail: str = ""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "weight": self.weight,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "seconds": self.seconds,
            "output_tail": self.output_tail,
            "reason": self.reason,
        }


def git_env(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "agent-registry",
        "GIT_AUTHOR_EMAIL": "trial@agent-registry.invalid",
        "GIT_COMMITTER_NAME": "agent-registry",
        "GIT_COMMITTER_EMAIL": "trial@agent-registry.invalid",
        "GIT_TERMINAL_PROMPT": "0",
    }


def _git(folder: TrialFolder, git_dir: Path, *args: str) -> str:
    command = ["git", f"--git-dir={git_dir}", f"--work-tree={folder.work}", *GIT_OPTIONS, *args]
    try:
        done = subprocess.run(
            command,
            cwd=folder.root,
            env={**_clean_environ(), **git_env(folder.home)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SpecError(f"git {args[0]} failed in a trial workspace: {err}") from None
    if done.returncode != 0:
        line = (done.stderr or done.stdout).strip().splitlines()
        raise SpecError(f"git {args[0]} failed in a trial workspace: {line[0] if line else ''}")
    return done.stdout


def prepare(root: Path, workspace: Path, agent: RosterAgent) -> TrialFolder:
    """Copy ``workspace`` into ``root/work``, write the agent's file and commit the baseline."""
    folder = TrialFolder(root)
    shutil.copytree(workspace, folder.work, symlinks=True,
                    ignore=shutil.ignore_patterns(BYTECODE_CACHE))  # fmt: skip
    folder.home.mkdir()
    folder.logs.mkdir()
    folder.bin.mkdir()
    folder.tmp.mkdir()
    for name in ("python", "python3"):  # a wrapper, not a link: a venv's python finds its venv
        wrapper = folder.bin / name
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        wrapper.chmod(0o755)
    write_agents(folder.work, (agent,))
    _commit_baseline(folder, folder.work / ".git")  # the agent's
    return replace(folder, baseline=_commit_baseline(folder, folder.git_dir))


def _commit_baseline(folder: TrialFolder, git_dir: Path) -> str:
    """A repository at ``git_dir`` of the workspace as it is, in one commit; its SHA."""
    _git(folder, git_dir, "init", "-q", "--template=", "-b", "main")
    (git_dir / "info").mkdir()
    (git_dir / "info" / "exclude").write_text("\n".join(EXCLUDED) + "\n")
    (git_dir / "info" / "attributes").write_text(ATTRIBUTES)
    _git(folder, git_dir, "add", "-A")
    _git(folder, git_dir, "commit", "-q", "--no-verify", "--allow-empty", "-m", "baseline")
    return _git(folder, git_dir, "rev-parse", "HEAD").strip()


def lay_over(source: Path, target: Path, files: Sequence[Path] | None = None) -> None:
    """Copy the regular files of ``source`` (or only ``files``, relative) over ``target``."""
    chosen = files if files is not None else solution_files(source)
    for relative in chosen:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, destination)


def solution_files(source: Path) -> list[Path]:
    """The regular files under ``source``, relative and sorted (no bytecode caches)."""
    return task_files(source)


def diff(folder: TrialFolder, secrets: Sequence[str] = ()) -> tuple[str, bool]:
    """``git diff`` of everything against the baseline, new files included, ``secrets`` scrubbed
    (before the cut: a key across it is never kept in part), and whether it was cut at
    ``MAX_DIFF_CHARS``; ``unavailable: reason`` when git cannot take it."""
    try:
        _git(folder, folder.git_dir, "add", "-A")
        options = ("--cached", "--no-color", "--no-ext-diff", "--no-textconv")
        text = _git(folder, folder.git_dir, "diff", *options, folder.baseline, "--")
    except SpecError as err:
        return f"{UNAVAILABLE}{err}", False
    text = scrub(text, *secrets)
    if len(text) > MAX_DIFF_CHARS:
        return text[:MAX_DIFF_CHARS], True
    return text, False


async def run_checks(
    folder: TrialFolder, checks: Sequence[Check], *, default_timeout_s: float,
    secrets: Sequence[str], masked: Sequence[Path] | None = None,
) -> list[CheckResult]:  # fmt: skip
    """Every check, in order: its hidden files first, then the command or the file test. A check
    that cannot run (its hidden files cannot be written, the workspace is gone) fails. With
    ``masked`` (None: no sandbox) each command runs under bubblewrap (``check_sandbox``)."""
    results = []
    for index, check in enumerate(checks):
        try:
            if check.hidden is not None:
                _lay_hidden(check.hidden, folder.work)
            if check.run is not None:
                timeout = check.timeout_s or default_timeout_s
                log = folder.logs / f"check-{index}.log"
                results.append(await _run(folder, check, timeout, log, secrets, masked))
            else:
                results.append(_file_check(folder.work, check))
        except OSError as err:
            reason = f"cannot run the check: {err}"
            results.append(CheckResult(check.name, False, check.weight, reason=reason))
    return results


def _lay_hidden(source: Path, work: Path) -> None:
    """Write ``source``'s files into ``work`` at the same paths, never through a link: whatever
    is at a path and is not a folder (a symlink, a file, a hard link) is removed first, and
    ``OSError`` when a folder stands where a file goes or the workspace is gone."""
    top = os.open(work, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        _lay_into(source, top)
    finally:
        os.close(top)


def _lay_into(source: Path, into: int) -> None:
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        if entry.name == BYTECODE_CACHE:
            continue
        folder = entry.is_dir(follow_symlinks=False)
        with contextlib.suppress(FileNotFoundError):
            mode = os.stat(entry.name, dir_fd=into, follow_symlinks=False).st_mode
            if not stat.S_ISDIR(mode):
                os.unlink(entry.name, dir_fd=into)
            elif not folder:
                raise IsADirectoryError(f"{entry.name} is a folder where a hidden file goes")
        if folder:
            with contextlib.suppress(FileExistsError):
                os.mkdir(entry.name, dir_fd=into)
            inner = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=into)
            try:
                _lay_into(Path(entry.path), inner)
            finally:
                os.close(inner)
            continue
        created = os.open(entry.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=into)
        with open(created, "wb") as out, open(entry.path, "rb") as read:
            shutil.copyfileobj(read, out)


async def _run(
    folder: TrialFolder, check: Check, timeout_s: float, log: Path, secrets: Sequence[str],
    masked: Sequence[Path] | None,
) -> CheckResult:  # fmt: skip
    assert check.run is not None
    jail = [] if masked is None else check_sandbox(folder.root, folder.work, masked)
    env = session_env(
        folder.home,
        folder.tmp,
        path_first=folder.bin,
        **git_env(folder.home),
        GIT_CEILING_DIRECTORIES=str(folder.root),  # a git command finds work/.git or nothing
        PYTHONDONTWRITEBYTECODE="1",
    )
    for name in PASSED_THROUGH:  # a check never needs the API
        env.pop(name, None)
    started = time.monotonic()
    timed_out = False
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *jail,
            "/bin/sh",
            "-c",
            check.run,
            cwd=folder.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
        finally:
            # The command's whole group: on a timeout, a cancellation, or what it left behind.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    seconds = round(time.monotonic() - started, 3)
    tail = _tail(log, secrets)
    if timed_out:
        return CheckResult(check.name, False, check.weight, None, True, seconds, tail,
                           f"killed after {timeout_s:g} s")  # fmt: skip
    code = process.returncode
    return CheckResult(check.name, code == 0, check.weight, code, False, seconds, tail,
                       f"exit {code}")  # fmt: skip


def _file_check(work: Path, check: Check) -> CheckResult:
    root = work.resolve()
    if check.file_exists is not None:
        found = [p for p in work.glob(check.file_exists) if _inside(p, root) and p.is_file()]
        reason = f"{len(found)} file(s) match {check.file_exists}"
        return CheckResult(check.name, bool(found), check.weight, reason=reason)
    assert check.file_matches is not None
    path, pattern = check.file_matches
    target = work / path
    if not (_inside(target, root) and target.is_file()):
        return CheckResult(check.name, False, check.weight, reason=f"no file {path}")
    text = target.read_text(encoding="utf-8", errors="replace")
    matched = re.search(pattern, text, flags=re.MULTILINE) is not None
    reason = f"{path} {'matches' if matched else 'does not match'} {pattern}"
    return CheckResult(check.name, matched, check.weight, reason=reason)


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


def _tail(log: Path, secrets: Sequence[str]) -> str:
    """The log's last ``TAIL_CHARS`` characters, ``secrets`` scrubbed before the cut."""
    size = log.stat().st_size
    margin = max((len(s.encode()) for s in secrets), default=0)
    with log.open("rb") as read:
        read.seek(max(0, size - TAIL_CHARS * 4 - margin))
        text = read.read().decode("utf-8", errors="replace")
    return scrub(text, *secrets)[-TAIL_CHARS:]


def _clean_environ() -> Mapping[str, str]:
    """This process's environment without the API's variables (a check never needs the key)
    and without git's (a hook's ``GIT_DIR`` or ``GIT_INDEX_FILE`` is the user's repository)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "GIT_"))}
