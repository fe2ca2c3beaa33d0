"""What keeps a ``claude-code`` session inside its trial: the file tools and Bash.

The file tools (``FILE_TOOLS``) are confined by us: ``outside`` names the first path a call would
reach outside the workspace (symlinks and ``..`` resolved, a relative path taken against the
workspace; a path that cannot be resolved counts as outside), and the runtime denies that call
with ``denial``; ``protected`` names what stays unreadable to both, even inside what the
sandbox allows (the suite, the shipped suite, the user's repository and ``HOME``), as
``denyRead`` and as Claude Code's ``permissions.deny`` (``deny_rules``). Bash runs in Claude
Code's own sandbox (bubblewrap and socat on Linux), configured by ``bash_sandbox``: it reads only
the workspace, the fresh ``HOME``, the trial's own ``bin`` and temporary folder, the system folders
(not their secrets) and this interpreter, writes only the workspace, the fresh ``HOME`` and the
temporary folder (and a ``/tmp`` of its own), and reaches no network at all (no domain allowed;
the CLI itself, outside the sandbox, still reaches the API). It must start
(``failIfUnavailable``) and cannot be turned off for one command. ``require_sandbox`` refuses,
before anything is spent, on a machine where it cannot work; ``sandbox_refusal`` recognises the
CLI's own refusal, should it find a cause that check did not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.errors import SpecError
from registry.shipped import data_path

# The file tools and the inputs that name a path.
FILE_TOOLS: Mapping[str, tuple[str, ...]] = {
    "Read": ("file_path",),
    "Write": ("file_path",),
    "Edit": ("file_path",),
    "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path",),
    "Glob": ("path", "pattern"),
    "Grep": ("path", "glob"),
    "LS": ("path",),
}
WILDCARDS = frozenset("*?[{")
# What Bash may read besides the trial's folders: the system, never /root, /home or the user's
# files (this interpreter's installation is added, for the project's python).
SYSTEM_READ = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
SYSTEM_SECRETS = (
    "/etc/shadow", "/etc/gshadow", "/etc/ssh", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssl/private",
    "/etc/NetworkManager", "/etc/wireguard", "/etc/netrc", "/etc/.netrc", "/etc/environment",
)  # fmt: skip
# What a check's sandbox shows of /etc: what a shell, git and Python need.
CHECK_ETC = (
    "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/ld.so.cache", "/etc/ld.so.conf",
    "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives", "/etc/hosts", "/etc/ssl/certs",
)  # fmt: skip
PROBE_TIMEOUT_S = 30.0
OPT_OUT = (
    "or set `sandbox: false` in the spec and pass --unsandboxed "
    "(Bash then reads the whole machine and your API key)"
)
CLI_REFUSAL = "Sandbox required but unavailable"  # what the CLI says when it cannot start one


def outside(tool: str, tool_input: Mapping[str, Any], workspace: Path) -> str | None:
    """The first path of a file tool's call that falls outside ``workspace`` (None: inside, or
    not a file tool). A glob counts by the folders before its first wildcard. A path that cannot
    be resolved (a symlink loop, a NUL byte, anything else raised) counts as outside: the call is
    denied, never let through."""
    try:
        return _outside(tool, tool_input, workspace)
    except Exception:  # whatever resolving raises (a loop, a NUL), the call is denied
        return repr(next(iter(tool_input.values()), tool))


def protected(folders: Sequence[Path], trial_root: Path) -> list[Path]:
    """What neither Bash nor a file tool may read, even where the sandbox allows reading (this
    interpreter's installation holds a wheel's ``registry/_data``): the suite's folder (the
    common parent of its tasks' ``folders``), the shipped suite, the repository this process
    runs in and the real ``HOME``; never one that holds the trial's folder (each task's
    folders are named too, for suites whose common parent is such a one)."""
    found = [Path(os.path.commonpath([str(f.resolve()) for f in folders]))] if folders else []
    found += folders
    with contextlib.suppress(FileNotFoundError):
        found.append(data_path("agentic"))
    cwd = Path.cwd().resolve()
    found.append(next((p for p in (cwd, *cwd.parents) if (p / ".git").exists()), cwd))
    found.append(Path.home().resolve())
    root = trial_root.resolve()
    chosen = {p.resolve() for p in found}
    return sorted(p for p in chosen if p != Path("/") and not root.is_relative_to(p))


def deny_rules(paths: Sequence[Path]) -> list[str]:
    """Claude Code's ``permissions.deny`` rules refusing every file tool under ``paths``
    (``//`` starts an absolute path in a rule)."""
    return [f"{tool}(/{path}/**)" for path in paths for tool in ("Read", "Edit")]


def _outside(tool: str, tool_input: Mapping[str, Any], workspace: Path) -> str | None:
    root = workspace.resolve()
    base = root
    for key in FILE_TOOLS.get(tool, ()):
        value = tool_input.get(key)
        if not isinstance(value, str) or not value:
            continue
        target = _plain_prefix(value) if key in ("pattern", "glob") else value
        resolved = (base / Path(target).expanduser()).resolve()
        if not resolved.is_relative_to(root):
            return value
        if key == "path":
            base = resolved  # a glob pattern is relative to the call's path
    return None


def denial(tool: str, path: str, workspace: Path) -> str:
    """What the model reads when a file tool is denied."""
    return (
        f"{tool} denied: {path} is outside this task's workspace ({workspace}). "
        "Only files inside the workspace can be read or changed."
    )


def bash_sandbox(
    workspace: Path, home: Path, *, tools: Path, tmp: Path, deny: Sequence[Path] = ()
) -> dict[str, Any]:
    """Claude Code's ``sandbox`` settings of a session in ``workspace`` with ``home``, ``tools``
    (the ``bin`` first on its ``PATH``) and ``tmp`` (its ``TMPDIR``); ``deny`` (``protected``)
    stays unreadable even inside what it allows."""
    own = [str(workspace), str(home), str(tools), str(tmp)]
    readable = [*own, *_existing(SYSTEM_READ), *interpreter_paths()]
    return {
        "enabled": True,
        "failIfUnavailable": True,
        "allowUnsandboxedCommands": False,
        "autoAllowBashIfSandboxed": True,
        "network": {"allowedDomains": []},
        "filesystem": {
            "denyRead": ["/", *_existing(SYSTEM_SECRETS), *map(str, deny)],
            "allowRead": readable,
            "allowWrite": [str(home), str(tmp)],
        },
    }


def interpreter_paths() -> list[str]:
    """This interpreter's installation: its prefixes and the folder above its binary's."""
    exe = Path(sys.executable).resolve().parent.parent
    return sorted({sys.prefix, sys.base_prefix, str(exe)})


def check_sandbox(trial_root: Path, workspace: Path, masked: Sequence[Path]) -> list[str]:
    """The ``bwrap`` command a check runs under (its shell command follows): no network, its
    own process ids and session, dying with us; the system folders, a few files of ``/etc``
    and this interpreter read-only, but ``masked`` (``protected``) hidden under an empty
    folder; the trial's folder read-write; its own ``/tmp``, ``/proc`` and ``/dev``; nothing of
    the user's repository or ``HOME``."""
    # The empty /tmp first: bwrap mounts in order, and the interpreter or the trial folder may
    # themselves live under /tmp (a checkout or a virtualenv there), so they are bound on top.
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--tmpfs", "/tmp"]
    for path in _existing(SYSTEM_READ[:-1]):  # /etc: only CHECK_ETC
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        else:
            command += ["--ro-bind", path, path]
    readable = [*_existing(CHECK_ETC), *interpreter_paths()]
    for path in readable:
        command += ["--ro-bind", path, path]
    roots = [Path(p) for p in readable]
    for mask in masked:  # only what a folder shown holds, never what holds the interpreter
        if any(mask.is_relative_to(r) for r in roots) and not any(
            r.is_relative_to(mask) for r in roots
        ):
            command += ["--tmpfs", str(mask)]
    command += ["--bind", str(trial_root), str(trial_root)]
    command += ["--proc", "/proc", "--dev", "/dev", "--chdir", str(workspace), "--"]
    return command


def require_sandbox(who: str) -> None:
    """``SpecError`` naming what to install (or the opt-out) when Claude Code's sandbox cannot
    start here: bubblewrap or socat missing, or namespaces refused."""
    missing = [tool for tool in ("bwrap", "socat") if shutil.which(tool) is None]
    if missing:
        raise SpecError(
            f"{who} sandboxes Bash with bubblewrap and socat, but {' and '.join(missing)} "
            f"cannot be found on PATH: apt-get install bubblewrap socat, {OPT_OUT}"
        )
    probe = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
             "--unshare-net", "--unshare-pid", "true"]  # fmt: skip
    try:
        done = subprocess.run(
            probe, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=PROBE_TIMEOUT_S,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SpecError(f"{who}: bubblewrap cannot run here ({err}), {OPT_OUT}") from None
    if done.returncode != 0:
        line = next((s.strip() for s in done.stderr.splitlines() if s.strip()), "")
        raise SpecError(
            f"{who}: bubblewrap cannot start a sandbox here ({line or f'exit {done.returncode}'}): "
            f"allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
            f"kernel.apparmor_restrict_unprivileged_userns=0), {OPT_OUT}"
        )


def sandbox_refusal(error: str) -> str | None:
    """The line to stop a run with when the CLI refused to start without its sandbox (None: the
    error is another); what ``require_sandbox`` did not foresee, so no session can succeed."""
    at = error.find(CLI_REFUSAL)
    if at < 0:
        return None
    reason = error[at:].splitlines()[0].split(" · ")[0]
    return f"claude-code: {reason}: install what it names, {OPT_OUT}"


def _plain_prefix(pattern: str) -> str:
    """The folders of a glob before its first wildcard (``.`` when it starts with one)."""
    parts = []
    for part in Path(pattern).parts:
        if WILDCARDS & set(part):
            break
        parts.append(part)
    return os.path.join(*parts) if parts else "."


def _existing(paths: tuple[str, ...]) -> list[str]:
    return [p for p in paths if os.path.exists(p)]
