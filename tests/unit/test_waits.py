"""support.waits: measured time, growing poll interval, and clear failures. All on a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from support.clock import Clock, Moment
from support.errors import ApiError, ConnectionProblem
from support.timings import Expected, TimingHistory
from support.waits import NotYet, PhaseFailed, PhaseTimeout, Polling, Watch, wait_for

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


def wait(clock, probe, scale=1.0, **kwargs):
    kwargs.setdefault("until", lambda s: s == "running")
    kwargs.setdefault("limit", 60)
    kwargs.setdefault("polling", POLL)
    if "started_at" in kwargs:
        started_at = kwargs.pop("started_at")
        kwargs["since"] = Moment(started_at, started_at)
    return wait_for("running", probe, clock=Clock(scale), now=clock, sleep=clock.sleep, **kwargs)


def test_returns_time_since_started_at(clock):
    started_at = clock() - 5.0                      # the create was sent 5 s before the wait began
    waited = wait(clock, script(clock, ["loading", "loading", "running"]), started_at=started_at)
    assert waited.value == "running"
    assert waited.polls == 3
    # "no" seen at +1 s, "yes" at +2 s after the wait began: the midpoint, 6.5 s after started_at.
    assert waited.seconds == pytest.approx(6.5)
    assert waited.span.uncertainty == pytest.approx(0.5)
    assert waited.event.at == pytest.approx(started_at + 6.5)
    assert clock.sleeps == [1.0, 1.0]


def test_ready_at_first_poll_is_bracketed_by_the_start(clock):
    # Nothing was seen before "yes": the event lies anywhere between the start and the answer.
    waited = wait(clock, script(clock, ["running"]), started_at=clock() - 3)
    assert waited.polls == 1 and clock.sleeps == []
    assert waited.seconds == pytest.approx(1.5)
    assert waited.span.uncertainty == pytest.approx(1.5)


def test_not_before_narrows_the_bracket(clock):
    started_at = clock() - 3
    waited = wait(clock, script(clock, ["running"]), started_at=started_at, not_before=clock() - 1)
    assert waited.event.earliest == pytest.approx(clock() - 1)
    assert waited.seconds == pytest.approx(2.5) and waited.span.uncertainty == pytest.approx(0.5)


def test_a_late_answer_widens_the_bracket_instead_of_looking_early(clock):
    # The server stalls: the "yes" poll is sent at +1 s but answered 120 s later. The event may have
    # happened any time in between, and the phase's time says so.
    started_at = clock()
    answers = ["loading", "running"]

    def stalled_probe():
        value = answers.pop(0)
        if value == "running":
            clock.advance(120)
        return value

    waited = wait(clock, stalled_probe, started_at=started_at)
    assert waited.event.latest == pytest.approx(started_at + 121)
    assert waited.event.earliest == pytest.approx(started_at)      # the last "not yet" was sent at +0
    assert waited.seconds + waited.span.uncertainty == pytest.approx(121)


def test_an_observed_not_yet_counts_and_a_silent_error_does_not(clock):
    started_at = clock()
    probe = script(clock, [NotYet("refused"), ConnectionError("timed out"), "running"])
    waited = wait(clock, probe, started_at=started_at)
    # "not yet" was seen at +0 only; the timeout at +1 taught nothing; "yes" answered at +2.
    assert waited.event.earliest == pytest.approx(started_at)
    assert waited.event.latest == pytest.approx(started_at + 2)


def test_limits_are_real_seconds_turned_into_wall_time_by_the_clock(clock):
    with pytest.raises(PhaseTimeout) as caught:
        wait(clock, script(clock, ["loading"]), scale=60, limit=600,
             polling=Polling(shortest=60, longest=60, fraction=0))
    assert sum(clock.sleeps) == pytest.approx(10)               # 600 real seconds at ×60
    assert all(s == pytest.approx(1.0) for s in clock.sleeps)   # 60 real seconds between polls
    assert caught.value.limit == 600 and caught.value.elapsed == pytest.approx(600)
    assert "600 s" in str(caught.value) and "10.0 s of wall time at ×60" in str(caught.value)


def test_measurement_tracks_a_long_phase_closely(clock):
    # A phase that really ends 437 s after it began is timed to within half a poll interval.
    start = clock()

    def probe():
        return "running" if clock() - start >= 437 else "loading"

    waited = wait(clock, probe, limit=1000)
    assert abs(waited.seconds - 437) <= POLL.interval(437) / 2 + 1e-9
    assert waited.seconds - waited.span.uncertainty <= 437 <= waited.seconds + waited.span.uncertainty


def test_interval_grows_with_elapsed_and_is_clamped():
    assert POLL.interval(0) == 1.0
    assert POLL.interval(100) == pytest.approx(2.0)
    assert POLL.interval(500) == pytest.approx(10.0)
    assert POLL.interval(10_000) == 15.0


def test_sleeps_grow_and_never_pass_the_deadline(clock):
    with pytest.raises(PhaseTimeout):
        wait(clock, script(clock, ["loading"]), limit=1000)
    sleeps = clock.sleeps
    assert sleeps[0] == 1.0
    assert max(sleeps) == 15.0
    assert sleeps[:-1] == sorted(sleeps[:-1])        # the last one is cut to the deadline
    assert sum(sleeps) == pytest.approx(1000)
    assert len(sleeps) < 1000 / 4                     # far fewer polls than a fixed 1 s interval


def test_timeout_names_phase_limit_and_last_state(clock):
    probe = script(clock, [{"actual_status": "loading"}, {"actual_status": "created"}])
    with pytest.raises(PhaseTimeout) as caught:
        wait(clock, probe, limit=30, until=lambda i: i["actual_status"] == "running",
             describe=lambda i: f"actual_status={i['actual_status']}")
    error = caught.value
    assert error.phase == "running" and error.limit == 30
    assert error.last_state == "actual_status=created"
    assert error.elapsed == pytest.approx(30)
    message = str(error)
    assert "'running'" in message and "30 s" in message and "actual_status=created" in message
    assert isinstance(error, AssertionError)          # behave reports it as a failed step


def test_timeout_before_anything_observed(clock):
    def slow_probe():
        clock.advance(20)
        raise ConnectionProblem("GET", "/api/v1/instances/1", "timed out")

    with pytest.raises(PhaseTimeout) as caught:
        wait(clock, slow_probe, limit=10)
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
        wait(clock, script(clock, ["loading", error]), limit=20)
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
        wait(clock, probe, limit=0)
    assert len(probe.calls) == 1 and clock.sleeps == []


# -- polls dense only where history says the event is likely ---------------------------------------------


def test_with_history_polls_approach_then_crowd_the_expected_window(clock):
    start = clock()

    def probe():
        return "running" if clock() - start >= 100 else "loading"

    polling = Polling(shortest=0.25, longest=15, fraction=0.02, precision=0.02)
    waited = wait(clock, probe, started_at=start, limit=600, polling=polling, expected=Expected(95, 110))
    # Three looks on the way (at a third, two thirds and the start of the window), then every 2 % of the
    # time waited: about 4 looks inside the window before the event.
    assert waited.polls <= 8
    assert waited.span.uncertainty <= 0.01 * 100 + 1e-9
    assert waited.seconds - waited.span.uncertainty <= 100 <= waited.seconds + waited.span.uncertainty


def test_without_history_the_same_phase_costs_many_more_polls(clock):
    start = clock()

    def probe():
        return "running" if clock() - start >= 100 else "loading"

    polling = Polling(shortest=0.25, longest=15, fraction=0.02, precision=0.02)
    waited = wait(clock, probe, started_at=start, limit=600, polling=polling)
    assert waited.polls > 30


def test_an_event_earlier_than_history_is_caught_with_an_honest_bracket(clock):
    start = clock()

    def probe():
        return "running" if clock() - start >= 20 else "loading"

    waited = wait(clock, probe, started_at=start, limit=600, expected=Expected(95, 110),
                  polling=Polling(shortest=0.25, longest=15, fraction=0.02, precision=0.02))
    assert waited.seconds - waited.span.uncertainty <= 20 <= waited.seconds + waited.span.uncertainty
    assert waited.polls <= 2


def test_history_keeps_recent_times_per_target_and_phase(tmp_path):
    history = TimingHistory(tmp_path / "h.jsonl", "sandbox", prior=None)
    other = TimingHistory(tmp_path / "h.jsonl", "http://real:8766", prior=None)
    assert history.expected("running") is None
    for seconds in (100, 104, 98):
        history.add("running", seconds)
    other.add("running", 500)
    history.add("pause", 8)
    window = history.expected("running")
    assert window.low == pytest.approx(98 * 0.95) and window.high == pytest.approx(104 * 1.05)
    assert other.expected("running").low == pytest.approx(475)


def test_each_look_is_told_as_a_short_phrase(clock):
    """What the live line shows: a few words per look, not the exception's full text (the timeout keeps it)."""
    told = []
    looks = [NotYet("connection refused"), ConnectionError("timed out"), TimeoutError("read timed out"),
             ConnectionRefusedError(111, "Connection refused"),
             ConnectionProblem("GET", "/api/v1/instances/9", "Read timed out"),
             ApiError("GET", "/api/v1/instances/9", 429, "Too Many Requests"),
             ApiError("GET", "/api/v1/instances/9", 503, "Provider unreachable"), "loading", "running"]
    wait(clock, script(clock, looks), limit=600, observe=told.append, describe=lambda s: f"it is {s}")
    assert told == ["connection refused", "timed out", "timed out", "connection refused", "no API answer yet",
                    "API rate limit", "API error 503", "it is loading"]


def test_a_watch_tells_its_followers_what_it_sees_from_its_latest_look_on():
    looks = threading.Semaphore(0)           # one look per release: the test decides when the watch looks
    seen = []

    def probe():
        assert looks.acquire(timeout=5)
        seen.append(len(seen))
        if len(seen) >= 4:
            return "up"
        raise NotYet("connection refused" if len(seen) < 3 else "key refused")

    watch = Watch.start("ssh", probe, until=lambda v: v == "up", limit=3600, clock=Clock(1),
                        polling=Polling.every(0.001))
    looks.release()
    wait_until(lambda: watch.last_seen == "connection refused")
    told = []
    stop_telling = watch.observe(told.append)
    assert told == ["connection refused"]                 # the latest, at once
    looks.release()
    wait_until(lambda: len(told) == 2)
    looks.release()
    wait_until(lambda: len(told) == 3)
    assert told == ["connection refused", "connection refused", "key refused"]
    stop_telling()
    looks.release()
    assert watch.result(until=time.monotonic() + 5).value == "up"
    assert told == ["connection refused", "connection refused", "key refused"]      # no longer told


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)
