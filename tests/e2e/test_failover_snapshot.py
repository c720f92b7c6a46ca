"""The failover and snapshot/restore journeys end to end, checked against the sandbox's ground truth."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.behave_run import LiveBehave, alive, run_behave


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)

#: Only for the snapshot journey's *absolute* times (a start time in metrics.json against the moment the
#: sandbox stamped): the suite times phases on its monotonic clock and writes their start as epoch time,
#: converted with an offset measured once per process, which the report does not carry yet. Durations
#: (every failover check) are differences of readings of one system clock on each side and need none.
CLOCK_ALLOWANCE = 0.002
#: metrics.json writes start times to the millisecond.
ISO_ROUNDING = 0.001
#: metrics.json writes a phase's seconds and its uncertainty to 4 decimals, each rounded to nearest: each
#: end of the interval they give may have moved inwards by half of that, twice.
PHASE_ROUNDING = 0.0001


def phase(journey: dict, name: str, occurrence: int = 0) -> dict:
    return [p for p in journey["phases"] if p["name"] == name][occurrence]


def assert_brackets(measured: dict, truth: float, what: str) -> None:
    """The true duration lies within the interval the suite reported for this phase (as written, rounded)."""
    low = measured["seconds"] - measured["uncertainty_seconds"] - PHASE_ROUNDING
    high = measured["seconds"] + measured["uncertainty_seconds"] + PHASE_ROUNDING
    assert low <= truth <= high, (f"{what}: the sandbox says {truth:.4f} s, the suite reported "
                                  f"{measured['seconds']:.4f} ± {measured['uncertainty_seconds']:.4f} s")


@pytest.fixture
def failover_run(tmp_path, sandbox_server):
    result = run_behave(["features/failover.feature"], tmp_path / "reports", sandbox_server.url, "e2e-failover")
    assert result.returncode == 0, result.explain()
    return result


def test_failover_journeys_measure_what_really_happened(failover_run, sandbox_server):
    journeys = failover_run.metrics["journeys"]
    assert [j["status"] for j in journeys] == ["passed", "passed"]
    for journey in journeys:
        gpu_id = int(journey["instance_id"])
        truth = sandbox_server.admin.standby_truth(gpu_id)
        failover = truth["failovers"][0]
        # Data loss: exactly the bytes the sandbox says were written after the last completed sync.
        assert journey["extra"]["rpo_bytes"] == failover["lost_bytes"], (journey["extra"], failover)
        assert {f"{p['path']}" for p in failover["lost_files"]} == {
            f"{path}" for path in journey["extra"]["rpo_lost_files"]}
        # The RPO window: from the last completed sync's copy to the failure. The copy was taken some time
        # between the sync's start and its completion (the sandbox dates the sync by its start), so the true
        # window is one of [failed_at - completed, failed_at - started]; the suite's window, bracketed by the
        # canaries and by the polls that saw the GPU stopped, must meet that span. Both are durations, each
        # read on one machine's system clock (the sandbox's epoch, the suite's monotonic: same rate), so
        # they compare as they are, with no allowance; the suite rounds its range outwards.
        low, high = journey["extra"]["rpo_seconds_range"]
        truth_most = failover["rpo_seconds"]
        truth_least = failover["failed_at"] - failover["last_sync_completed_at"]
        assert low <= truth_most and truth_least <= high, ((low, high), (truth_least, truth_most))
        assert low <= journey["extra"]["rpo_seconds"] <= high
        # The switch to the standby, as timed by the suite, against the sandbox's own clock: the truth
        # lies within the bracket the suite reported, whatever the load on the machine.
        switch = failover["completed_at"] - failover["failed_at"]
        assert_brackets(phase(journey, "detect"), switch, "the switch to the standby")
        back = truth["failbacks"][0]
        failback = phase(journey, "failback")
        assert failback["seconds"] + failback["uncertainty_seconds"] >= back["completed_at"] - back["started_at"]
        assert journey["time_to_failover"] == phase(journey, "failover")["seconds"]


def test_failover_on_request_and_by_the_server_learn_apart(failover_run):
    """A switch on request takes seconds, one after health checks tens of seconds: one history for both
    would make every later run poll densely across the whole span between them."""
    lines = (Path(failover_run.reports) / "phase-history.jsonl").read_text().splitlines()
    learnt = {}
    for record in map(json.loads, lines):
        learnt.setdefault(record["phase"], []).append(record["seconds"])
    assert len(learnt.get("detect automatic", [])) == 1 and len(learnt.get("detect on request", [])) == 1, learnt
    assert "detect" not in learnt
    assert learnt["detect on request"][0] < learnt["detect automatic"][0]
    assert len(learnt.get("failback syncing", [])) == 2


def test_failover_leaves_nothing_alive(failover_run, sandbox_server):
    assert alive(sandbox_server, failover_run.label) == []
    standbys = [r for r in sandbox_server.admin.resources(kind="standby")]
    assert standbys and not [s for s in standbys if s["alive"]]
    assert {m["fate"] for m in failover_run.metrics["machines"]} == {"deleted"}


def test_snapshot_restore_time_matches_ground_truth(tmp_path, sandbox_server):
    result = run_behave(["features/snapshot.feature"], tmp_path / "reports", sandbox_server.url, "e2e-snap")
    assert result.returncode == 0, result.explain()
    journey = result.metrics["journeys"][0]
    ids = [m["id"] for m in result.metrics["machines"]]
    assert len(ids) == 2
    events = sandbox_server.admin.events()
    second_created = next(e["t"] for e in events if e["event"] == "created" and str(e["id"]) == ids[1])
    restored = next(e["t"] for e in events if e["event"] == "restore_completed")
    # The restore phase starts when the new machine was made (bracketed by its create request) ...
    restore = phase(journey, "restore")
    start = datetime.fromisoformat(restore["started_at"]).timestamp()
    assert abs(start - second_created) <= restore["uncertainty_seconds"] + CLOCK_ALLOWANCE + ISO_ROUNDING
    # ... and the restore itself completed inside the request the suite timed as restore_apply.
    applied = phase(journey, "restore_apply")
    applied_from = datetime.fromisoformat(applied["started_at"]).timestamp()
    applied_until = applied_from + applied["seconds"]
    assert applied_from - CLOCK_ALLOWANCE - ISO_ROUNDING <= restored <= applied_until + CLOCK_ALLOWANCE + ISO_ROUNDING
    snapshot = next(e for e in events if e["event"] == "snapshot_completed")
    assert journey["extra"]["snapshot_bytes"] == snapshot["detail"]["bytes"]
    assert alive(sandbox_server, result.label) == []


def stalled_sync_started(sb, gpu_id) -> bool:
    """A sync of this GPU began under the stall fault (it will never complete)."""
    faults = [f for f in sb.admin.faults() if f.get("kind") == "sync_stall"]
    return any(f.get("fired", 0) for f in faults)


def test_corrupt_file_on_standby_fails_with_its_name(tmp_path, sandbox_server):
    label = "dumont-acc-e2e-corrupt"
    live = LiveBehave(["features/failover.feature:12"], tmp_path / "reports", sandbox_server.url, "e2e-corrupt")
    # Once the data set has reached the standby, damage one file there, before the failover.
    # The next step starting means the data set was verified on the standby.
    live.wait_for_text("I keep writing canary files and the GPU fails", timeout=90)
    gpu = next(r for r in sandbox_server.admin.resources(label_prefix=label) if r["kind"] == "instance")
    sandbox_server.admin.add_fault(kind="sync_stall", gpu_id=gpu["id"], count=1000)
    # Syncs that start from now on never complete; one already under way still would, and would repair
    # the file: damage it once none of this GPU's syncs is in flight (the suite may fail the GPU at once
    # after that last sync, so no waiting for a later one).

    def sync_in_flight() -> bool:
        syncs = [e["event"] for e in sandbox_server.admin.events()
                 if e["event"] in ("sync_started", "sync_completed")
                 and (e.get("detail") or {}).get("gpu_instance_id") == gpu["id"]]
        return bool(syncs) and syncs[-1] == "sync_started" and not stalled_sync_started(sandbox_server, gpu["id"])

    wait_until(lambda: not sync_in_flight(), timeout=30)
    sandbox_server.admin.corrupt_file("dataset/part-07.bin", standby_of=gpu["id"])
    result = live.finish()
    assert result.returncode != 0
    journey = result.metrics["journeys"][0]
    assert "corrupt: dataset/part-07.bin" in journey["error_message"]
    assert alive(sandbox_server, result.label) == []
