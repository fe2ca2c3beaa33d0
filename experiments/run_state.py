"""What a run reports while it goes and when it ends: shared by the runner and the batch path."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# How `registry run` exits besides 0 (completed, or stopped at the budget asked for), 1 (an error
# or a failed run), 2 (a usage error) and 130 (Ctrl-C): trials are missing because of failures
# (some failed after retries, or the API was unreachable); resume retries them.
EXIT_INCOMPLETE = 3
# The start of the note of a run stopped because no call got a response.
UNREACHABLE = "the API is unreachable"
# The start of the note of a --batch run whose batch, found for a lost request, was another's.
FOREIGN_BATCH = "another experiment's batch"


def unreachable_note(what: str, error: object) -> str:
    """The note of a run stopped because ``what`` got no response (``error``, the last one)."""
    return f"{UNREACHABLE}: {what} got no response ({error}); check the network, then resume"


# A run says it is alive this often; one silent for STALE_AFTER is taken for dead.
HEARTBEAT_S = 20.0
STALE_AFTER = timedelta(seconds=90)
# The status shown for a run left ``running`` by a process that is gone (kill -9, a crash).
INTERRUPTED = "interrupted"


def owner_id() -> str:
    """Who runs an experiment: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def liveness(
    status: str,
    owner: str | None,
    heartbeat_at: datetime | None,
    started_at: datetime,
    now: datetime,
    *,
    host: str | None = None,
    alive: Callable[[int], bool] = process_alive,
) -> str:
    """The status to show: ``INTERRUPTED`` for a run stored as running whose process is gone.

    On its own host the owner's pid says it at once; elsewhere (or for a run stored before
    heartbeats) silence longer than ``STALE_AFTER`` does.
    """
    if status != "running":
        return status
    if owner is not None:
        owner_host, _, pid = owner.rpartition(":")
        if owner_host == (host or socket.gethostname()) and pid.isdigit() and not alive(int(pid)):
            return INTERRUPTED
    if now - (heartbeat_at or started_at) > STALE_AFTER:
        return INTERRUPTED
    return status


@dataclass
class RunState:
    """What the progress display and the summary read."""

    total: int
    done: int = 0  # already stored before this run, plus completed in it
    failed: int = 0
    cached: int = 0
    cost_usd: float = 0.0  # billed for the answers: cache hits cost nothing
    judge_cost_usd: float = 0.0  # billed for the judges that graded them
    reserved_usd: float = 0.0  # expected cost of the cells admitted and still running
    stopped: str | None = None  # why the run stopped early, if it did
    concluded: str | None = None  # a sequential look decided the verdict: why it stopped there
    started: float = field(default_factory=time.monotonic)

    @property
    def spent_usd(self) -> float:
        """What the budget counts as spent: the answers and their judges."""
        return self.cost_usd + self.judge_cost_usd

    def count_spend(self, billed_usd: float, judge_cost_usd: float) -> None:
        """Add what a trial's answer was billed and what its judges cost."""
        self.cost_usd += billed_usd
        self.judge_cost_usd += judge_cost_usd


@dataclass(frozen=True)
class RunSummary:
    experiment_id: int
    status: str  # completed, incomplete, stopped, failed
    total: int
    done: int
    failed: int
    cached: int
    cost_usd: float
    judge_cost_usd: float
    elapsed_s: float
    note: str | None

    @classmethod
    def of(cls, experiment_id: int, state: RunState, status: str, note: str | None) -> RunSummary:
        elapsed = time.monotonic() - state.started
        return cls(
            experiment_id, status, state.total, state.done, state.failed, state.cached,
            state.cost_usd, state.judge_cost_usd, elapsed, note,
        )  # fmt: skip


def run_status(
    state: RunState, fatal: list[BaseException], interrupted: bool
) -> tuple[str, str | None]:
    """The experiment's status after a run, and the note that explains it."""
    if fatal:
        return "failed", str(fatal[0])
    if interrupted:
        return "stopped", "interrupted"
    if state.concluded:  # the answer is known: the trials not run are not missing
        return "completed", state.concluded
    if state.stopped:
        return "stopped", state.stopped
    if state.failed:
        return "incomplete", f"{state.failed} trials failed after retries; resume to retry them"
    if state.done < state.total:  # cells left without any result (a batch that skipped some)
        missing = state.total - state.done
        return "incomplete", f"{missing} trials got no result; resume to run them"
    return "completed", None


def exit_code(summary: RunSummary) -> int:
    """0, or ``EXIT_INCOMPLETE`` when failures (not the budget) left trials without an answer."""
    if summary.status == "incomplete":
        return EXIT_INCOMPLETE
    if summary.status == "stopped" and (summary.note or "").startswith(
        (UNREACHABLE, FOREIGN_BATCH)
    ):
        return EXIT_INCOMPLETE
    return 0
