"""Hidden checks for the token-bucket rate limit of GET /search."""

from __future__ import annotations

import io
import json
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from app.web import make_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(app, path="/search", query="q=mug", key=None, ip="203.0.113.7"):
    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": ip,
        "wsgi.input": io.BytesIO(),
    }
    if key is not None:
        environ["HTTP_X_API_KEY"] = key
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = int(status.split()[0])
        seen["headers"] = {name.lower(): value for name, value in headers}

    body = json.loads(b"".join(app(environ, start_response)))
    return seen["status"], seen["headers"], body


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(clock):
    return make_app(clock=clock)


def burst(app, n, **kwargs):
    return [get(app, **kwargs) for _ in range(n)]


def test_ten_requests_then_429_with_retry_after(app):
    replies = burst(app, 10, key="k1")
    assert [r[0] for r in replies] == [200] * 10
    assert [r[1]["x-ratelimit-remaining"] for r in replies] == [str(n) for n in range(9, -1, -1)]
    assert all(r[1]["x-ratelimit-limit"] == "10" for r in replies)
    status, headers, body = get(app, key="k1")
    assert status == 429
    assert body["error"]["code"] == "rate_limited"
    assert headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining"] == "0"


def test_tokens_refill_continuously_not_per_window(app, clock):
    burst(app, 10, key="k1")
    clock.now += 1.0
    # A fixed window would allow ten more here.
    assert [r[0] for r in burst(app, 2, key="k1")] == [200, 429]
    clock.now += 3.5
    assert [r[0] for r in burst(app, 4, key="k1")] == [200, 200, 200, 429]


def test_retry_after_rounds_up(app, clock):
    burst(app, 10, key="k1")
    clock.now += 0.5
    status, headers, _ = get(app, key="k1")
    assert status == 429 and headers["retry-after"] == "1"
    clock.now += 0.5
    assert get(app, key="k1")[0] == 200


def test_refused_requests_do_not_use_tokens(app, clock):
    burst(app, 10, key="k1")
    for _ in range(32):  # binary fractions of a second: exact in floating point
        clock.now += 1 / 64
        assert get(app, key="k1")[0] == 429
    clock.now += 0.5625
    assert get(app, key="k1")[0] == 200


def test_the_bucket_never_holds_more_than_its_capacity(app, clock):
    get(app, key="k1")
    clock.now += 10_000
    assert [r[0] for r in burst(app, 11, key="k1")] == [200] * 10 + [429]


def test_each_key_has_its_own_bucket(app):
    burst(app, 10, key="k1")
    assert get(app, key="k1")[0] == 429
    assert get(app, key="k2")[0] == 200
    # The same IP, another partner: not limited by k1's traffic.
    assert get(app, key="k3", ip="203.0.113.7")[0] == 200


def test_anonymous_callers_are_limited_per_ip(app):
    assert [r[0] for r in burst(app, 11, ip="198.51.100.1")] == [200] * 10 + [429]
    assert get(app, ip="198.51.100.2")[0] == 200
    # An anonymous IP that is exhausted does not limit a keyed partner behind it.
    assert get(app, key="k9", ip="198.51.100.1")[0] == 200


def test_health_is_never_limited(app):
    burst(app, 10)
    assert all(get(app, path="/health", query="")[0] == 200 for _ in range(30))


def test_rate_and_capacity_are_configurable(clock):
    app = make_app(clock=clock, rate=0.25, capacity=3)
    assert [r[0] for r in burst(app, 4, key="k")] == [200, 200, 200, 429]
    status, headers, _ = get(app, key="k")
    assert status == 429 and headers["retry-after"] == "4" and headers["x-ratelimit-limit"] == "3"
    clock.now += 3.75
    status, headers, _ = get(app, key="k")
    assert status == 429 and headers["retry-after"] == "1"
    clock.now += 0.25
    assert get(app, key="k")[0] == 200


def test_a_fast_rate_still_says_at_least_one_second(clock):
    app = make_app(clock=clock, rate=4.0, capacity=1)
    assert get(app, key="k")[0] == 200
    status, headers, _ = get(app, key="k")
    assert status == 429 and headers["retry-after"] == "1"
    clock.now += 0.25
    assert get(app, key="k")[0] == 200
