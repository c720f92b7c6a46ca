"""Ctrl-C, SIGTERM and kill -9 in the middle of a journey: nothing paid is left alive.

An interrupted journey is judged by how long each of its machines billed after the interrupt, from the
sandbox's own bill: no longer than one delete and its proof (cleanup deletes what bills most first and
never waits on one resource while another bills), counted from when the server could answer again (after
a create the server answers nothing for minutes: its stall holds the delete too).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import requests

from support.ledger import maybe_alive, read_entries
from tests.behave_run import ROOT, LiveBehave, alive, behave_env, run_behave, wait_for_event

# (signal, the ground-truth event after which it is sent: the phase it lands in)
PHASES = [
    ("SIGINT", "created"),            # waiting for running
    ("SIGTERM", "ssh_ready"),         # connecting / installing the model
    ("SIGINT", "snapshot_started"),   # inside the synchronous snapshot request
    ("SIGTERM", "pause_requested"),   # waiting for stopped
    ("SIGINT", "resume_requested"),   # waiting for running again
]

#: The longest a machine may go on billing once the server can answer: one delete and its proof (issue 19),
#: in nominal seconds of the sandbox. Waiting out a snapshot's settle time (600 s) instead is what it catches.
DELETE_AND_PROOF = 90


def answering_again(sb, since: float) -> float:
    """When the server could answer again after ``since`` (wall epoch): a stall under way then holds every
    request, the cleanup's delete included, until it ends."""
    at, stalls = since, sb.admin.stalls()
    moved = True
    while moved:
        moved = False
        for stall in stalls:
            if stall["start"] <= at < stall["end"]:
                at, moved = stall["end"], True
    return at


def billed_after(sb, label: str, since: float) -> dict[str, float]:
    """Nominal seconds each machine of the run billed after ``since`` (wall epoch), from the sandbox's bill.
    None may still be billing."""
    billed = {}
    for row in sb.admin.billing()["resources"]:
        if not str(row.get("label") or "").startswith(label):
            continue
        name = f"{row['kind']} {row['id']}"
        assert all(i["end_t"] is not None for i in row["intervals"]), f"{name} is still billing"
        billed[name] = sum(max(0.0, i["end_t"] - max(i["start_t"], since)) * i["scale"] for i in row["intervals"])
    assert billed, f"the run {label} rented nothing"
    return billed


def assert_each_machine_stopped_billing_at_once(sb, label: str, interrupted_at: float) -> dict[str, float]:
    billed = billed_after(sb, label, answering_again(sb, interrupted_at))
    late = {name: round(seconds, 1) for name, seconds in billed.items() if seconds > DELETE_AND_PROOF}
    assert not late, f"billed longer than a delete and its proof ({DELETE_AND_PROOF} s) after the interrupt: {late}"
    return billed


def assert_ledger_closed_with_ids(reports) -> list[dict]:
    entries = read_entries(reports / "ledger.jsonl")
    assert maybe_alive(entries) == []
    deleted = [e for e in entries if e["event"] == "deleted"]
    assert deleted and all(e["id"] for e in deleted), deleted      # every deletion recorded with its id
    return entries


def interrupt_at(sb, live: LiveBehave, label: str, event: str, signame: str = "SIGINT") -> float:
    """Send ``signame`` once the sandbox has recorded ``event`` for the run; when it was sent (wall epoch)."""
    wait_for_event(sb, label, event, timeout=120)
    sent = time.time()
    live.proc.send_signal(getattr(signal, signame))
    return sent


@pytest.mark.parametrize("signame,event", PHASES)
def test_signal_mid_journey_cleans_up_and_reports_interrupted(signame, event, tmp_path, sandbox_server):
    run_id = f"int-{event.replace('_', '')}"
    live = LiveBehave(["features/instance.feature"], tmp_path / "reports", sandbox_server.url, run_id)
    interrupted_at = interrupt_at(sandbox_server, live, f"dumont-acc-{run_id}", event, signame)
    result = live.finish()
    assert result.returncode != 0
    assert alive(sandbox_server, result.label) == [], result.stdout[-3000:] + result.stderr[-2000:]
    metrics = result.metrics
    assert metrics["run"]["interrupted"] == signame
    assert [j["status"] for j in metrics["journeys"]] == ["interrupted"]
    assert f"RUN INTERRUPTED ({signame})" in result.stdout
    assert {m["fate"] for m in metrics["machines"]} == {"deleted"}
    assert_each_machine_stopped_billing_at_once(sandbox_server, result.label, interrupted_at)
    assert_ledger_closed_with_ids(tmp_path / "reports")


def test_ctrl_c_while_the_snapshot_is_made_deletes_the_gpu_at_once_and_leaves_nothing(tmp_path, sandbox_server):
    """Issue 19: the snapshot's create had not answered, and cleanup watched its label for the snapshot's whole
    time limit (600 s) before deleting the GPU.

    What the server does with the snapshot once its instance is gone depends on how far it had read the
    instance: done reading, it completes the snapshot after the GPU is deleted (the case cleanup must still
    find and delete); still reading (a busy machine), the snapshot fails. Either way the GPU goes at once and
    nothing is left; the ground truth says which happened and the ledger must say the same."""
    sb, run_id = sandbox_server, "int-snapshot-gpu-first"
    reports = tmp_path / "reports"
    live = LiveBehave(["features/instance.feature"], reports, sb.url, run_id)
    interrupted_at = interrupt_at(sb, live, f"dumont-acc-{run_id}", "snapshot_started")
    result = live.finish()
    assert result.returncode != 0 and result.metrics["run"]["interrupted"] == "SIGINT"
    assert alive(sb, result.label) == [], result.explain()
    [gpu] = [r for r in sb.admin.resources(label_prefix=result.label) if r["kind"] == "instance"]
    truth = sb.admin.events()
    [snapshot] = [str(e["id"]) for e in truth
                  if e["event"] == "snapshot_started" and str(e["detail"]["instance_id"]) == str(gpu["id"])]
    events = {(str(e["id"]), e["event"]): e["t"] for e in truth}
    [(ended, snapshot_ended)] = [(ev, t) for (rid, ev), t in events.items()
                                 if rid == snapshot and ev in ("snapshot_completed", "snapshot_failed")]
    scale = sb.admin.info()["time_scale"]
    # The GPU: deleted within a delete and its proof of the interrupt, while the snapshot was still being made.
    gpu_deleted = events[(str(gpu["id"]), "deleted")]
    assert (gpu_deleted - interrupted_at) * scale <= DELETE_AND_PROOF
    assert gpu_deleted < snapshot_ended
    assert_each_machine_stopped_billing_at_once(sb, result.label, interrupted_at)
    # The ledger: each deletion under its own id, stamped when it was carried out, in the order it happened.
    entries = assert_ledger_closed_with_ids(reports)
    stamped = {(e["kind"], e["id"]): e["t"] for e in entries if e["event"] == "deleted"}
    assert stamped[("instance", str(gpu["id"]))] < snapshot_ended
    [settled] = [e for e in entries if e["event"] == "settled"]
    if ended == "snapshot_failed":
        # Nothing was made, and the ledger says the label settled with nothing found under it.
        assert ("snapshot", snapshot) not in stamped and settled["found"] == [], entries
        return
    # The snapshot the interrupted request went on to make: deleted once it existed, not left behind.
    assert snapshot_ended < events[(snapshot, "snapshot_deleted")]
    assert stamped[("instance", str(gpu["id"]))] < stamped[("snapshot", snapshot)]
    assert settled["found"] == [snapshot] and settled["t"] >= stamped[("snapshot", snapshot)]


# (feature, the ground-truth event after which Ctrl-C is sent: the step it lands in)
OTHER_JOURNEYS = [
    ("features/snapshot.feature", "snapshot_started"),   # a large model's snapshot: minutes on the server
    ("features/snapshot.feature", "restore_started"),    # the second machine, restoring the snapshot
    ("features/failover.feature", "standby_ready"),      # GPU and standby up, the model being installed
    ("features/failover.feature", "failover"),           # the standby serving, the GPU stopped
    ("features/failover.feature", "failback_started"),   # the work coming back to a GPU
]


@pytest.mark.parametrize("feature,event", OTHER_JOURNEYS)
def test_ctrl_c_in_the_other_journeys_stops_every_machine_billing_at_once(feature, event, tmp_path,
                                                                          sandbox_server):
    run_id = f"int-{feature.split('/')[-1].split('.')[0]}-{event.replace('_', '')}"
    live = LiveBehave([feature], tmp_path / "reports", sandbox_server.url, run_id)
    interrupted_at = interrupt_at(sandbox_server, live, f"dumont-acc-{run_id}", event)
    result = live.finish()
    assert result.returncode != 0 and result.metrics["run"]["interrupted"] == "SIGINT"
    assert alive(sandbox_server, result.label) == [], result.explain()
    assert {m["fate"] for m in result.metrics["machines"]} == {"deleted"}
    assert_each_machine_stopped_billing_at_once(sandbox_server, result.label, interrupted_at)
    assert_ledger_closed_with_ids(tmp_path / "reports")


def test_second_ctrl_c_during_cleanup_is_noted_not_obeyed(tmp_path, sandbox_server):
    run_id = "int-twice"
    live = LiveBehave(["features/instance.feature"], tmp_path / "reports", sandbox_server.url, run_id,
                      # A delete that must be sent twice keeps the cleanup busy long enough to interrupt it.
                      extra_env={})
    sandbox_server.admin.add_fault(kind="sticky_delete", count=1)
    wait_for_event(sandbox_server, f"dumont-acc-{run_id}", "ssh_ready")
    live.proc.send_signal(signal.SIGINT)
    wait_for_event(sandbox_server, f"dumont-acc-{run_id}", "delete_requested")
    live.proc.send_signal(signal.SIGINT)
    result = live.finish()
    assert result.returncode != 0
    assert "received during cleanup" in result.stderr
    assert alive(sandbox_server, result.label) == []


def test_kill_9_leftovers_are_swept(tmp_path, sandbox_server):
    run_id = "kill9"
    reports = tmp_path / "reports"
    live = LiveBehave(["features/instance.feature"], reports, sandbox_server.url, run_id)
    wait_for_event(sandbox_server, f"dumont-acc-{run_id}", "ssh_ready")
    live.proc.kill()
    live.finish()
    assert alive(sandbox_server, f"dumont-acc-{run_id}"), "kill -9 should have left the instance alive"
    sweep = subprocess.run([sys.executable, "-m", "support.sweep"], cwd=ROOT, capture_output=True, text=True,
                           env=behave_env(reports, sandbox_server.url, "sweeper"), timeout=120)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert "deleted instance" in sweep.stdout
    assert alive(sandbox_server, f"dumont-acc-{run_id}") == []


def test_next_run_cleans_up_after_a_killed_one(tmp_path, sandbox_server):
    run_id = "kill9-next"
    reports = tmp_path / "reports"
    live = LiveBehave(["features/instance.feature"], reports, sandbox_server.url, run_id)
    wait_for_event(sandbox_server, f"dumont-acc-{run_id}", "created")
    live.proc.kill()
    live.finish()
    result = run_behave(["features/quick.feature"], reports, sandbox_server.url, "after-kill9")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "left by earlier runs" in result.stdout
    assert alive(sandbox_server, f"dumont-acc-{run_id}") == []


def test_a_new_sandbox_on_an_old_port_is_not_swept_for_the_old_one(tmp_path):
    """Ids restart with every sandbox: leftovers of a dead one must not name the new one's machines."""
    import sandbox
    from support.client import DumontClient

    reports = tmp_path / "reports"
    old = sandbox.start(data_dir=tmp_path / "old", time_scale=60.0, seed=3)
    port = int(old.url.rsplit(":", 1)[1])
    live = LiveBehave(["features/instance.feature"], reports, old.url, "old-run")
    wait_for_event(old, "dumont-acc-old-run", "created")
    live.proc.kill()
    live.finish()
    old.kill()
    new = sandbox.start(data_dir=tmp_path / "new", port=port, time_scale=60.0, seed=3)
    try:
        # Someone else (not this suite) rents a machine on the same account.
        client = DumontClient(new.url, "test@test.com", "test123")
        offer = next(o for o in client.offers() if o["gpu_name"] == "RTX 3060")
        token = requests.post(f"{new.url}/api/v1/auth/login", json={"email": "test@test.com", "password": "test123"},
                              timeout=10).json()["token"]
        someone_elses = requests.post(f"{new.url}/api/v1/instances",
                                      json={"offer_id": offer["id"], "label": "not-ours"},
                                      headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        result = run_behave(["features/quick.feature"], reports, new.url, "new-run")
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert client.find_instance(someone_elses["id"]) is not None
        sweep = subprocess.run([sys.executable, "-m", "support.sweep"], cwd=ROOT, capture_output=True, text=True,
                               env=behave_env(reports, new.url, "sweeper"), timeout=120)
        assert sweep.returncode == 0, sweep.stdout + sweep.stderr
        assert "that sandbox is gone" in sweep.stdout
        assert client.find_instance(someone_elses["id"]) is not None
    finally:
        new.stop()
