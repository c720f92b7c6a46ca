"""support.waits: measured time, growing poll interval, and clear failures. All on a fake clock."""

from __future__ import annotations

import pytest

from support.backoff import ApiError, ConnectionProblem
from support.waits import PhaseFailed, PhaseTimeout, Polling, wait_for

POLL = Polling(shortest=1.0, longest=15.0, fraction=0.02)


def script(clock, states, latency=0.0):
    """A probe answering ``states`` in order (the last one forever); exceptions are raised."""
    answers = list(states)
    calls = []

    def probe():
        clock.advance(latency)
        calls.append(clock())
        value = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(value, BaseException):
            raise value
        return value

    probe.calls = calls
    return probe


def wait(clock, probe, **kwargs):
    kwargs.setdefault("until", lambda s: s == "running")
    kwargs.setdefault("timeout", 60)
    kwargs.setdefault("polling", POLL)
    return wait_for("running", probe, clock=clock, sleep=clock.sleep, **kwargs)


def test_returns_time_since_started_at(clock):
    started_at = clock() - 5.0                      # the create was sent 5 s before the wait began
    waited = wait(clock, script(clock, ["loading", "loading", "running"]), started_at=started_at)
    assert waited.value == "running"
    assert waited.polls == 3
    # "no" seen at +1 s, "yes" at +2 s after the wait began: the midpoint, 6.5 s after started_at.
    assert waited.seconds == pytest.approx(6.5)
    assert waited.observed_at == pytest.approx(started_at + 6.5)
    assert clock.sleeps == [1.0, 1.0]


def test_ready_at_first_poll(clock):
    waited = wait(clock, script(clock, ["running"]), started_at=clock() - 3)
    assert waited.polls == 1 and clock.sleeps == []
    assert waited.seconds == pytest.approx(3.0)


def test_measurement_tracks_a_long_phase_closely(clock):
    # A phase that really ends 437 s after it began is timed to within half a poll interval.
    start = clock()

    def probe():
        return "running" if clock() - start >= 437 else "loading"

    waited = wait(clock, probe, timeout=1000)
    assert abs(waited.seconds - 437) <= POLL.interval(437) / 2 + 1e-9


def test_interval_grows_with_elapsed_and_is_clamped():
    assert POLL.interval(0) == 1.0
    assert POLL.interval(100) == pytest.approx(2.0)
    assert POLL.interval(500) == pytest.approx(10.0)
    assert POLL.interval(10_000) == 15.0
    fast = Polling(shortest=1.0, longest=15.0, fraction=0.02, time_scale=10)
    assert fast.interval(0) == pytest.approx(0.1)
    assert fast.interval(10) == pytest.approx(0.2)
    assert fast.interval(10_000) == pytest.approx(1.5)


def test_sleeps_grow_and_never_pass_the_deadline(clock):
    with pytest.raises(PhaseTimeout):
        wait(clock, script(clock, ["loading"]), timeout=1000)
    sleeps = clock.sleeps
    assert sleeps[0] == 1.0
    assert max(sleeps) == 15.0
    assert sleeps[:-1] == sorted(sleeps[:-1])        # the last one is cut to the deadline
    assert sum(sleeps) == pytest.approx(1000)
    assert len(sleeps) < 1000 / 4                     # far fewer polls than a fixed 1 s interval


def test_timeout_names_phase_limit_and_last_state(clock):
    probe = script(clock, [{"actual_status": "loading"}, {"actual_status": "created"}])
    with pytest.raises(PhaseTimeout) as caught:
        wait(clock, probe, timeout=30, until=lambda i: i["actual_status"] == "running",
             describe=lambda i: f"actual_status={i['actual_status']}")
    error = caught.value
    assert error.phase == "running" and error.timeout == 30
    assert error.last_state == "actual_status=created"
    assert error.elapsed == pytest.approx(30)
    message = str(error)
    assert "'running'" in message and "30.0 s" in message and "actual_status=created" in message
    assert isinstance(error, AssertionError)          # behave reports it as a failed step


def test_timeout_before_anything_observed(clock):
    def slow_probe():
        clock.advance(20)
        raise ConnectionProblem("GET", "/api/v1/instances/1", "timed out")

    with pytest.raises(PhaseTimeout) as caught:
        wait(clock, slow_probe, timeout=10)
    assert "timed out" in caught.value.last_state


def test_fail_if_stops_at_once(clock):
    probe = script(clock, ["loading", "exited"])
    with pytest.raises(PhaseFailed) as caught:
        wait(clock, probe, fail_if=lambda s: "the instance exited" if s == "exited" else None)
    assert caught.value.phase == "running"
    assert "the instance exited" in str(caught.value)
    assert len(probe.calls) == 2 and clock.sleeps == [1.0]


def test_until_wins_over_fail_if(clock):
    waited = wait(clock, script(clock, ["running"]), fail_if=lambda s: "never")
    assert waited.value == "running"


@pytest.mark.parametrize("error", [
    ConnectionProblem("GET", "/api/v1/instances/9", "Connection refused"),
    ConnectionError("ssh: connection refused"),
    TimeoutError("read timed out"),
    ApiError("GET", "/api/v1/instances/9", 503, "Provider unreachable"),
    ApiError("GET", "/api/v1/instances/9", 500, "Limite de requisições excedido"),
    ApiError("GET", "/api/v1/instances/9", 429, "Too Many Requests"),
])
def test_transient_errors_are_not_yet(clock, error):
    probe = script(clock, [error, error, "running"])
    waited = wait(clock, probe)
    assert waited.value == "running" and waited.polls == 3


@pytest.mark.parametrize("error, shown", [
    (ConnectionProblem("GET", "/api/v1/instances/9", "Connection refused"), "Connection refused"),
    (ApiError("GET", "/api/v1/instances/9", 503, "Provider unreachable"), "503: Provider unreachable"),
])
def test_transient_error_is_the_last_state_on_timeout(clock, error, shown):
    with pytest.raises(PhaseTimeout) as caught:
        wait(clock, script(clock, ["loading", error]), timeout=20)
    assert shown in caught.value.last_state
    assert shown in str(caught.value)


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_non_retryable_api_error_propagates(clock, status):
    error = ApiError("GET", "/api/v1/instances/9", status, "Instance 9 not found")
    probe = script(clock, ["loading", error, "running"])
    with pytest.raises(ApiError) as caught:
        wait(clock, probe)
    assert caught.value is error
    assert len(probe.calls) == 2


def test_zero_timeout_polls_once(clock):
    probe = script(clock, ["loading"])
    with pytest.raises(PhaseTimeout):
        wait(clock, probe, timeout=0)
    assert len(probe.calls) == 1 and clock.sleeps == []
