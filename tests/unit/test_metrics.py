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
