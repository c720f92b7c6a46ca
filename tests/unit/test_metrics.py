"""support.metrics: the brief's TestMetrics fields filled from phases."""

from __future__ import annotations

import json
import time

import pytest

from support.metrics import JourneyMetrics, MachineRecord, iso

T0 = 1_800_000_000.0


def test_first_phase_fills_the_brief_field():
    metrics = JourneyMetrics("t", "Instance Lifecycle", "features/instance.feature", start_time=T0)
    metrics.add_phase("running", 95.12341, T0 + 1)
    metrics.add_phase("running", 30.0, T0 + 900)              # resume: recorded, brief field unchanged
    metrics.add_phase("ssh", 12.0, T0 + 100)
    metrics.add_phase("pause", 5.0, T0 + 200)                 # not a brief field
    assert metrics.time_to_running == pytest.approx(95.1234, abs=1e-4)
    assert metrics.time_to_ssh_ready == 12.0
    assert metrics.phase_seconds("running") == [pytest.approx(95.1234, abs=1e-4), 30.0]
    assert [p.name for p in metrics.phases] == ["running", "running", "ssh", "pause"]


def test_finish_sets_status_success_and_cost():
    metrics = JourneyMetrics("t", "Instance Lifecycle", "f", start_time=time.time() - 10)
    metrics.machines += [MachineRecord("1", "instance", "lbl", "RTX 3060", 0.1, T0, cost=0.25),
                         MachineRecord("2", "standby", "lbl", "CPU", 0.01, T0, cost=0.05)]
    metrics.finish("passed")
    assert metrics.success and metrics.status == "passed" and metrics.error_message is None
    assert metrics.total_cost == pytest.approx(0.30)
    assert metrics.duration_seconds == pytest.approx(10, abs=1)
    metrics.finish("failed", "boom")
    assert not metrics.success and metrics.error_message == "boom"


def test_to_dict_is_json_with_iso_times():
    metrics = JourneyMetrics("t", "Instance Lifecycle", "f", start_time=T0)
    metrics.add_phase("snapshot", 3.0, T0 + 10)
    metrics.machines.append(MachineRecord("1", "instance", "lbl", "RTX 3060", 0.1, T0, T0 + 60, "deleted", 0.1))
    metrics.finish("passed")
    data = json.loads(json.dumps(metrics.to_dict()))
    assert data["start_time"] == iso(T0) and data["start_time"].endswith("+00:00")
    assert data["phases"][0]["started_at"] == iso(T0 + 10)
    assert data["machines"][0]["deleted_at"] == iso(T0 + 60)
    assert data["time_to_snapshot"] == 3.0
    for field in ("test_name", "start_time", "end_time", "duration_seconds", "instance_id", "gpu_name",
                  "gpu_cost_per_hour", "total_cost", "success", "error_message", "time_to_running",
                  "time_to_ssh_ready", "time_to_model_install", "time_to_snapshot"):
        assert field in data


def test_iso_none():
    assert iso(None) is None


# -- a journey's API figures: calls, retries, rate limits, backoff and stall seconds ----------------------


def test_stalled_seconds_count_unanswered_exchanges_and_slow_answers_whole():
    from support.client import CallRecord

    record = CallRecord("GET", "/a", 200, 40.0, 3, 0, 2.0,
                        exchanges=((0.0, 30.0, False), (31.0, 0.2, True), (32.0, 7.5, True)), stall_after=5.0)
    assert record.stalled_seconds == pytest.approx(37.5)          # the timeout, and the 7.5 s answer
    long_by_design = CallRecord("POST", "/snapshots", 200, 90.0, 1, 0, 0.0, exchanges=((0.0, 90.0, True),))
    assert long_by_design.stalled_seconds == 0.0                  # no stall_after: a synchronous snapshot
    assert CallRecord("GET", "/b", None, 0.1, 1, 0, 0.0).stalled_seconds == 0.0     # recorded without exchanges


def test_calls_stalled_side_by_side_lose_their_common_time_once():
    """Three calls held behind one 20 s server stall, overlapping: 20 s lost, not 54 (never more than the
    journey lasted)."""
    from support.client import CallLog, CallRecord

    log = CallLog()
    log.add(CallRecord("GET", "/instances/1", 200, 20.0, 1, 0, 0.0, ((100.0, 20.0, True),), 5.0))
    log.add(CallRecord("GET", "/standby/status", 200, 18.0, 1, 0, 0.0, ((101.0, 18.0, True),), 5.0))
    log.add(CallRecord("GET", "/instances", 200, 16.0, 1, 0, 0.0, ((104.0, 16.0, True),), 5.0))
    log.add(CallRecord("GET", "/instances/1", 200, 9.0, 1, 0, 0.0, ((130.0, 9.0, True),), 5.0))   # a later stall
    assert log.figures()["stalled_seconds"] == pytest.approx(20.0 + 9.0)


def test_call_log_figures_of_a_window():
    from support.client import CallLog, CallRecord

    log = CallLog()
    log.add(CallRecord("POST", "/login", 200, 0.1, 1, 0, 0.0, ((0.0, 0.1, True),), 5.0))
    start = log.position()
    log.add(CallRecord("GET", "/a", 200, 3.0, 3, 2, 2.5, ((1.0, 0.1, True), (2.0, 0.1, True), (3.0, 6.0, True)),
                       5.0))
    log.add(CallRecord("GET", "/b", None, 30.0, 1, 0, 0.0, ((10.0, 30.0, False),), 5.0))
    end = log.position()
    log.add(CallRecord("GET", "/c", 200, 0.1, 2, 1, 1.0, ((50.0, 0.1, True), (51.0, 0.1, True)), 5.0))
    assert log.figures(start, end) == {"calls": 2, "retries": 2, "rate_limited": 2, "backoff_seconds": 2.5,
                                       "stalled_seconds": 36.0}
    assert log.figures()["calls"] == 4 and log.figures(end)["backoff_seconds"] == 1.0


def test_the_client_records_each_exchange_and_when_it_stalls(server, make_client):
    """A timeout then an answer slower than 5 real seconds (5 ms at ×1000) are stalls; a call given its own
    timeout (long by design) is not, unless it gets no answer."""
    import requests

    from support.backoff import BackoffPolicy
    from support.clock import Clock

    def slow(server, seen):
        time.sleep(0.05)
        return None                      # then the normal route answers

    client = make_client(backoff=BackoffPolicy(clock=Clock(1000), jitter=0.0))
    client.login()
    server.fault("GET", "/api/v1/balance", requests.ReadTimeout("read timed out"), slow)
    client.balance()
    record = client.call_log.calls[-1]
    assert [answered for _, _, answered in record.exchanges] == [False, True]
    assert record.exchanges[1][1] >= 0.05 and record.stall_after == pytest.approx(0.005)
    assert record.stalled_seconds == pytest.approx(sum(seconds for _, seconds, _ in record.exchanges))
    server.fault("GET", "/api/v1/balance", slow)
    client.get("/api/v1/balance", timeout=10)
    assert client.call_log.calls[-1].stall_after is None and client.call_log.calls[-1].stalled_seconds == 0.0
    figures = client.call_log.figures(1)
    assert figures["calls"] == 2 and figures["retries"] == 1 and figures["stalled_seconds"] >= 0.05
