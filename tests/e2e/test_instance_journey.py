"""The instance journey end to end against the sandbox, checked against its ground truth."""

from __future__ import annotations

import pytest

from tests.behave_run import run_behave

TIME_TOLERANCE = 0.05
COST_TOLERANCE = 0.01


def transitions(events: list[dict], instance_id) -> list[dict]:
    return [e for e in events if str(e["id"]) == str(instance_id)]


def first(events, event, **match):
    for e in events:
        if e["event"] == event and all(e.get(k) == v for k, v in match.items()):
            return e["t"]
    raise AssertionError(f"no {event} {match} in ground truth")


def after(events, t, event, **match):
    return first([e for e in events if e["t"] >= t], event, **match)


@pytest.fixture
def journey(tmp_path, sandbox_server):
    result = run_behave(["features/instance.feature"], tmp_path / "reports", sandbox_server.url, "e2e-instance")
    assert result.returncode == 0, result.explain()
    return result


def test_instance_journey_leaves_nothing_alive(journey, sandbox_server):
    mine = sandbox_server.admin.resources(label_prefix=journey.label)
    assert [r for r in mine if r["kind"] == "instance"], "the journey created no instance"
    assert [r for r in mine if r["alive"]] == []
    fates = {m["id"]: m["fate"] for m in journey.metrics["machines"]}
    assert set(fates.values()) == {"deleted"}


def test_reported_cost_matches_billing(journey, sandbox_server):
    billed = {str(r["id"]): r["cost"] for r in sandbox_server.admin.billing()["resources"]}
    for machine in journey.metrics["machines"]:
        truth = billed[machine["id"]]
        assert machine["cost"] == pytest.approx(truth, rel=COST_TOLERANCE), machine
    assert journey.metrics["run"]["total_cost"] == pytest.approx(
        sum(billed[m["id"]] for m in journey.metrics["machines"]), rel=COST_TOLERANCE)


def test_reported_phase_times_match_ground_truth(journey, sandbox_server):
    metrics = journey.metrics["journeys"][0]
    instance_id = metrics["instance_id"]
    events = transitions(sandbox_server.admin.events(resource_id=instance_id), instance_id)
    created = first(events, "created")
    running = first(events, "status", to="running")
    ssh_ready = first(events, "ssh_ready")
    pause_requested = first(events, "pause_requested")
    stopped = after(events, pause_requested, "status", to="stopped")
    resume_requested = first(events, "resume_requested")
    resumed = after(events, resume_requested, "status", to="running")
    truth = {
        "running": running - created,
        "ssh": ssh_ready - created,
        "pause": stopped - pause_requested,
        "resume": resumed - resume_requested,
    }
    reported = {p["name"]: p["seconds"] for p in reversed(metrics["phases"])}  # first occurrence wins
    for phase, seconds in truth.items():
        assert reported[phase] == pytest.approx(seconds, rel=TIME_TOLERANCE), (phase, reported[phase], seconds)
    assert metrics["time_to_running"] == reported["running"]
    assert metrics["time_to_ssh_ready"] == reported["ssh"]


def test_report_is_printed_and_saved(journey):
    assert "REAL TEST REPORT" in journey.stdout or "RELATÓRIO DE TESTES REAIS" in journey.stdout
    saved = list(journey.reports.glob("report-*.txt"))
    assert saved and "Instance Lifecycle" in saved[0].read_text()
    assert (journey.reports / "allure-results").is_dir()
