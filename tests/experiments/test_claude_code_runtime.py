"""Starting the Claude Code CLI: a launcher another fork holds open is tried again, nothing else."""

from __future__ import annotations

import asyncio
import errno

import pytest
from claude_agent_sdk import CLIConnectionError

from experiments.claude_code_runtime import START_ATTEMPTS, connect


class _Client:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.attempts = 0

    async def connect(self) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)


def _failed_start(cause: OSError) -> CLIConnectionError:
    try:
        raise CLIConnectionError(f"Failed to start Claude Code: {cause}") from cause
    except CLIConnectionError as err:
        return err


def test_a_launcher_still_busy_is_started_again() -> None:
    busy = OSError(errno.ETXTBSY, "Text file busy")
    client = _Client([_failed_start(busy), _failed_start(busy)])
    asyncio.run(connect(client))
    assert client.attempts == 3


def test_other_start_failures_and_a_launcher_busy_for_good_are_raised() -> None:
    denied = _Client([_failed_start(OSError(errno.EACCES, "Permission denied"))])
    with pytest.raises(CLIConnectionError, match="Permission denied"):
        asyncio.run(connect(denied))
    assert denied.attempts == 1
    busy = OSError(errno.ETXTBSY, "Text file busy")
    stuck = _Client([_failed_start(busy) for _ in range(START_ATTEMPTS)])
    with pytest.raises(CLIConnectionError, match="Text file busy"):
        asyncio.run(connect(stuck))
    assert stuck.attempts == START_ATTEMPTS
