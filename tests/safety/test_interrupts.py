"""Ctrl-C, SIGTERM and kill -9 in the middle of a journey: nothing paid is left alive."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from tests.behave_run import ROOT, LiveBehave, alive, behave_env, run_behave, wait_for_event

# (signal, the ground-truth event after which it is sent: the phase it lands in)
PHASES = [
    ("SIGINT", "created"),            # waiting for running
    ("SIGTERM", "ssh_ready"),         # connecting / installing the model
    ("SIGINT", "snapshot_started"),   # inside the synchronous snapshot request
    ("SIGTERM", "pause_requested"),   # waiting for stopped
]


@pytest.mark.parametrize("signame,event", PHASES)
def test_signal_mid_journey_cleans_up_and_reports_interrupted(signame, event, tmp_path, sandbox_server):
    run_id = f"int-{event.replace('_', '')}"
    live = LiveBehave(["features/instance.feature"], tmp_path / "reports", sandbox_server.url, run_id)
    wait_for_event(sandbox_server, f"dumont-acc-{run_id}", event)
    live.proc.send_signal(getattr(signal, signame))
    result = live.finish()
    assert result.returncode != 0
    assert alive(sandbox_server, result.label) == [], result.stdout[-3000:] + result.stderr[-2000:]
    metrics = result.metrics
    assert metrics["run"]["interrupted"] == signame
    assert [j["status"] for j in metrics["journeys"]] == ["interrupted"]
    assert f"RUN INTERRUPTED ({signame})" in result.stdout
    assert {m["fate"] for m in metrics["machines"]} == {"deleted"}


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
