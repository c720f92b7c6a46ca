"""The instance journey end to end against the sandbox, checked against its ground truth."""

from __future__ import annotations

import pytest

from tests.behave_run import CLOCK_ALLOWANCE, assert_cost_within, run_behave


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


def first_phase(metrics: dict, name: str) -> dict:
    return next(p for p in metrics["phases"] if p["name"] == name)


def test_reported_cost_matches_billing(journey, sandbox_server):
    """Each machine's bill lies within the cost the suite reported, give or take the uncertainty it reported
    (the moments billing changed are known only to within their brackets)."""
    billed = {str(r["id"]): r["cost"] for r in sandbox_server.admin.billing()["resources"]}
    for machine in journey.metrics["machines"]:
        assert_cost_within(machine, billed[machine["id"]], journey.metrics["run"]["time_scale"])
    assert journey.metrics["run"]["total_cost"] == pytest.approx(sum(m["cost"] for m in journey.metrics["machines"]))


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
    reported = {p["name"]: p for p in reversed(metrics["phases"])}  # first occurrence wins
    for phase, seconds in truth.items():
        measured = reported[phase]
        # The truth lies within the interval the suite reported, whatever the load on the machine.
        assert abs(measured["seconds"] - seconds) <= measured["uncertainty_seconds"] + CLOCK_ALLOWANCE, (
            phase, measured, seconds)
    assert metrics["time_to_running"] == reported["running"]["seconds"]
    assert metrics["time_to_ssh_ready"] == reported["ssh"]["seconds"]


def test_report_is_printed_and_saved(journey):
    assert "REAL TEST REPORT" in journey.stdout or "RELATÓRIO DE TESTES REAIS" in journey.stdout
    saved = list(journey.reports.glob("report-*.txt"))
    assert saved and "Instance Lifecycle" in saved[0].read_text()
    assert (journey.reports / "allure-results").is_dir()
