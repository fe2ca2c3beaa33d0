"""Hidden checks for ApiClient retries: which failures, how long to wait, when to stop."""

from __future__ import annotations

import pytest

from app.client import ApiClient
from app.transport import Response


class Script:
    """A transport that plays a script of responses or exceptions, recording each call."""

    def __init__(self, *steps: Response | BaseException) -> None:
        self.steps = list(steps)
        self.calls: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def __call__(self, method, url, headers, body):
        self.calls.append((method, url, dict(headers), body))
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        return step


def make(transport, rand=0.5, **kwargs):
    sleeps: list[float] = []
    values = iter(rand) if isinstance(rand, list) else None
    client = ApiClient(
        "https://carrier.test/v1",
        transport,
        sleep=sleeps.append,
        random=(lambda: next(values)) if values else (lambda: rand),
        **kwargs,
    )
    return client, sleeps


OK = Response(200, {}, b"{}")


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_statuses_are_retried_with_exponential_backoff(status):
    transport = Script(Response(status), Response(status), OK)
    client, sleeps = make(transport, base_delay=0.2)
    assert client.request("GET", "/rates").status == 200
    assert len(transport.calls) == 3
    assert sleeps == pytest.approx([0.1, 0.2])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 500, 501])
def test_other_statuses_are_not_retried(status):
    transport = Script(Response(status), OK)
    client, sleeps = make(transport)
    assert client.request("GET", "/rates").status == status
    assert len(transport.calls) == 1 and sleeps == []


def test_gives_up_after_max_attempts_without_a_last_sleep():
    transport = Script(Response(503, {}, b"down"))
    client, sleeps = make(transport, max_attempts=4, base_delay=0.2)
    response = client.request("GET", "/rates")
    assert response.status == 503 and response.body == b"down"
    assert len(transport.calls) == 4
    assert sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_the_delay_is_capped_by_max_delay():
    transport = Script(Response(503))
    client, sleeps = make(transport, rand=1.0, max_attempts=8, base_delay=1.0, max_delay=5.0)
    client.request("GET", "/rates")
    assert sleeps == pytest.approx([1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0])


def test_full_jitter_draws_a_new_fraction_each_time():
    transport = Script(Response(502), Response(502), Response(502), OK)
    client, sleeps = make(transport, rand=[0.25, 0.0, 0.75], base_delay=0.4)
    assert client.request("GET", "/rates").status == 200
    assert sleeps == pytest.approx([0.1, 0.0, 1.2])


@pytest.mark.parametrize("error", [ConnectionError("reset"), TimeoutError("slow")])
def test_transport_errors_are_retried(error):
    transport = Script(error, error, OK)
    client, sleeps = make(transport)
    assert client.request("GET", "/tracking/X1").status == 200
    assert len(transport.calls) == 3 and len(sleeps) == 2


def test_the_last_transport_error_is_raised_after_the_last_attempt():
    transport = Script(ConnectionError("first"), ConnectionError("second"), TimeoutError("last"))
    client, sleeps = make(transport, max_attempts=3)
    with pytest.raises(TimeoutError, match="last"):
        client.request("GET", "/rates")
    assert len(transport.calls) == 3 and len(sleeps) == 2


def test_other_exceptions_are_not_retried():
    transport = Script(ValueError("bug"), OK)
    client, sleeps = make(transport)
    with pytest.raises(ValueError):
        client.request("GET", "/rates")
    assert len(transport.calls) == 1 and sleeps == []


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(status):
    transport = Script(Response(status, {"Retry-After": "3"}), OK)
    client, sleeps = make(transport, base_delay=0.2)
    assert client.request("GET", "/rates").status == 200
    assert sleeps == pytest.approx([3.0])


def test_retry_after_header_name_is_case_insensitive():
    transport = Script(Response(429, {"retry-after": "2"}), OK)
    client, sleeps = make(transport)
    client.request("GET", "/rates")
    assert sleeps == pytest.approx([2.0])


def test_an_unreadable_retry_after_falls_back_to_the_backoff():
    transport = Script(Response(503, {"Retry-After": "soon"}), OK)
    client, sleeps = make(transport, base_delay=0.2)
    assert client.request("GET", "/rates").status == 200
    assert sleeps == pytest.approx([0.1])


def test_a_retry_after_beyond_the_limit_is_not_waited_for():
    transport = Script(Response(429, {"Retry-After": "120"}), OK)
    client, sleeps = make(transport, max_retry_after=30.0)
    response = client.request("GET", "/rates")
    assert response.status == 429 and len(transport.calls) == 1 and sleeps == []


def test_post_without_an_idempotency_key_is_never_retried():
    transport = Script(Response(503), OK)
    client, sleeps = make(transport)
    assert client.request("POST", "/labels", body=b"{}").status == 503
    transport = Script(ConnectionError("reset"), OK)
    client, sleeps = make(transport)
    with pytest.raises(ConnectionError):
        client.request("POST", "/labels", body=b"{}")
    assert len(transport.calls) == 1 and sleeps == []


def test_post_with_an_idempotency_key_is_retried_with_the_same_request():
    transport = Script(Response(503), TimeoutError("slow"), Response(201, {}, b"{}"))
    client, _ = make(transport)
    response = client.request(
        "POST", "/labels", headers={"idempotency-key": "label-o-1"}, body=b'{"rate_id": "r1"}'
    )
    assert response.status == 201 and len(transport.calls) == 3
    assert len({(c[0], c[1], tuple(sorted(c[2].items())), c[3]) for c in transport.calls}) == 1


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
def test_idempotent_methods_are_retried(method):
    transport = Script(Response(503), OK)
    client, _ = make(transport)
    assert client.request(method, "/labels/L1").status == 200
    assert len(transport.calls) == 2


def test_patch_is_not_retried():
    transport = Script(Response(503), OK)
    client, _ = make(transport)
    assert client.request("PATCH", "/labels/L1").status == 503


def test_max_attempts_one_means_no_retry():
    transport = Script(Response(503), OK)
    client, sleeps = make(transport, max_attempts=1)
    assert client.request("GET", "/rates").status == 503 and sleeps == []
