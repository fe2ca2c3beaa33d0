import asyncio
from collections.abc import Callable

import pytest

from experiments.providers.base import FatalProviderError, ProviderError, RetryableProviderError
from experiments.retry import MAX_RETRY_AFTER_S, call_with_retries


class Script:
    """An async callable that raises the scripted errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def run(fn: Script, rng: Callable[[], float] = lambda: 0.0, **kw: float) -> tuple[str, int, list]:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    result, retries = asyncio.run(call_with_retries(fn, sleep=sleep, rng=rng, **kw))
    return result, retries, delays


def retryable(retry_after: float | None = None) -> RetryableProviderError:
    return RetryableProviderError("busy", status=529, retry_after=retry_after)


def test_success_at_first_attempt_uses_no_retries():
    fn = Script()
    assert run(fn) == ("ok", 0, [])
    assert fn.calls == 1


def test_exponential_backoff_without_jitter():
    fn = Script(retryable(), retryable(), retryable())
    assert run(fn, base=0.5) == ("ok", 3, [0.5, 1.0, 2.0])


def test_jitter_takes_up_to_a_quarter_off():
    fn = Script(retryable(), retryable())
    assert run(fn, rng=lambda: 1.0, base=0.5) == ("ok", 2, [0.375, 0.75])


def test_backoff_is_capped():
    fn = Script(*(retryable() for _ in range(5)))
    _, retries, delays = run(fn, base=1.0, cap=3.0, max_attempts=6)
    assert (retries, delays) == (5, [1.0, 2.0, 3.0, 3.0, 3.0])


def test_retry_after_is_waited_exactly_regardless_of_jitter():
    fn = Script(retryable(retry_after=7.25), retryable(retry_after=0.0))
    assert run(fn, rng=lambda: 0.9) == ("ok", 2, [7.25, 0.0])


def test_absurd_retry_after_is_capped():
    fn = Script(retryable(retry_after=3600.0))
    assert run(fn)[2] == [MAX_RETRY_AFTER_S]


def test_fatal_error_is_raised_at_once():
    fn = Script(FatalProviderError("bad key", status=401))
    with pytest.raises(FatalProviderError, match="bad key") as info:
        run(fn)
    assert fn.calls == 1
    assert info.value.retries == 0


def test_fatal_after_retries_reports_them():
    fn = Script(retryable(), FatalProviderError("gone", status=404))
    with pytest.raises(FatalProviderError) as info:
        run(fn)
    assert (fn.calls, info.value.retries) == (2, 1)


def test_plain_provider_error_is_not_retried():
    fn = Script(ProviderError("no"))
    with pytest.raises(ProviderError):
        run(fn)
    assert fn.calls == 1


def test_gives_up_after_max_attempts_with_the_last_error():
    errors = [retryable() for _ in range(3)]
    fn = Script(*errors, retryable())
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    with pytest.raises(RetryableProviderError) as info:
        asyncio.run(call_with_retries(fn, max_attempts=3, sleep=sleep, rng=lambda: 0.0))
    assert info.value is errors[2]
    assert info.value.retries == 2
    assert (fn.calls, delays) == (3, [0.5, 1.0])


def test_other_exceptions_propagate_untouched():
    fn = Script(KeyError("bug"))
    with pytest.raises(KeyError):
        run(fn)
    assert fn.calls == 1


def test_max_attempts_must_be_positive():
    with pytest.raises(ValueError):
        run(Script(), max_attempts=0)
