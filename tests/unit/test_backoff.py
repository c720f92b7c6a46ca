"""support.backoff: what is retryable, and how long to wait."""

from __future__ import annotations

import pytest

from support.backoff import ApiError, BackoffPolicy, ConnectionProblem, is_retryable, parse_retry_after


class FixedRng:
    """A random source whose ``uniform`` always answers the low or the high end."""

    def __init__(self, end: str):
        self.end = end

    def uniform(self, low, high):
        return low if self.end == "low" else high


def api_error(status, error="boom", retry_after=None):
    return ApiError("GET", "/api/v1/x", status, error, retry_after)


@pytest.mark.parametrize("status, error, rate_limited", [
    (429, "Too Many Requests", True),
    (500, "Limite de requisições excedido. Tente novamente.", True),
    (500, "LIMITE DE REQUISIÇÕES EXCEDIDO", True),
    (500, "Internal server error", False),
    (503, "Limite de requisições excedido", False),     # only the 500 form is the upstream limit
    (400, "Limite de requisições excedido", False),
])
def test_rate_limit_detection(status, error, rate_limited):
    assert api_error(status, error).rate_limited is rate_limited


@pytest.mark.parametrize("error, idempotent, expected", [
    (api_error(429), False, True),
    (api_error(500, "Limite de requisições excedido"), False, True),
    (api_error(503), True, True),
    (api_error(503), False, False),
    (api_error(500), False, False),
    (api_error(404), True, False),
    (api_error(401), True, False),
    (ConnectionProblem("GET", "/x", "refused"), True, True),
    (ConnectionProblem("POST", "/x", "refused"), False, False),
    (ValueError("not an API error"), True, False),
])
def test_is_retryable(error, idempotent, expected):
    assert is_retryable(error, idempotent) is expected


def test_exponential_from_two_seconds_times_one_and_a_half():
    policy = BackoffPolicy(jitter=0.0, cap=1000)
    assert [policy.wait_before(n, None) for n in range(1, 6)] == pytest.approx([2, 3, 4.5, 6.75, 10.125])


def test_jitter_bounds():
    policy = BackoffPolicy(jitter=0.2)
    assert policy.wait_before(1, None, FixedRng("low")) == pytest.approx(1.6)
    assert policy.wait_before(1, None, FixedRng("high")) == pytest.approx(2.4)
    assert policy.wait_before(3, None, FixedRng("high")) == pytest.approx(4.5 * 1.2)


def test_cap():
    policy = BackoffPolicy(cap=60, jitter=0.2)
    assert policy.wait_before(40, None, FixedRng("high")) == pytest.approx(72)
    assert policy.wait_before(40, None, FixedRng("low")) == pytest.approx(48)


def test_time_scale_divides_computed_waits_and_deadline_only():
    policy = BackoffPolicy(jitter=0.0, time_scale=60, deadline=300)
    assert policy.wait_before(1, None) == pytest.approx(2 / 60)
    assert policy.wait_before(1, api_error(429, retry_after=7)) == 7
    # 300 s / 60 would be 5 s, too short for an unscaled Retry-After: the floor keeps 15 s.
    assert policy.scaled_deadline == 15
    assert BackoffPolicy(time_scale=1, deadline=300).scaled_deadline == 300
    assert BackoffPolicy(time_scale=2, deadline=300).scaled_deadline == 150
    assert BackoffPolicy(time_scale=60, deadline=10).scaled_deadline == 10


def test_retry_after_wins_over_exponential():
    policy = BackoffPolicy()
    assert policy.wait_before(5, api_error(429, retry_after=3.5)) == 3.5
    assert policy.wait_before(5, api_error(429, retry_after=0)) == 0


@pytest.mark.parametrize("header, seconds", [("7", 7.0), ("0.5", 0.5), (" 3 ", 3.0), ("-4", 0.0),
                                             ("Wed, 21 Oct 2015 07:28:00 GMT", None), (None, None)])
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds


def test_api_error_message_names_call_and_server_words():
    error = ApiError("DELETE", "/api/v1/instances/7", 500, "Failed to destroy instance 7")
    assert str(error) == "DELETE /api/v1/instances/7 → 500: Failed to destroy instance 7"
    assert error.server_error and not error.rate_limited
