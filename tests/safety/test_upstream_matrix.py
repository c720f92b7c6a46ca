"""The upstream-behaviour fault matrix: each verified behaviour of the real server × the phase where it hurts.

docs/dumont-api.md, "Verified against the upstream server": a provider rate limit turns GET of an instance into
404 and the list and delete into 503; the server stalls for minutes after a create; the snapshot listing can be
refused (a missing snapshot repository: no snapshots can exist; a 503: nothing is known); the server can become
unreachable; posting standby settings back can change them. Each cell runs a journey (or the sweep) against a
sandbox showing that behaviour and checks, from the sandbox's ground truth: zero machines left alive, the outcome
the user should see, and reported times whose brackets contain the truth.
"""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import requests

import sandbox
from support.backoff import BackoffPolicy
from support.client import DumontClient
from support.clock import Clock
from support.leaks import check_leaks
from support.ledger import Ledger
from support.resources import SNAPSHOT, kinds
from tests.behave_run import CLOCK_ALLOWANCE, ROOT, alive, behave_env, run_behave

INSTANCE = "/api/v1/instances/*"


@pytest.fixture
def sb(tmp_path):
    handle = sandbox.start(data_dir=tmp_path / "sandbox", time_scale=60.0, seed=13)
    yield handle
    handle.stop()


def phase(journey: dict, name: str) -> dict:
    return next(p for p in journey["phases"] if p["name"] == name)


def assert_running_bracketed(sb, result) -> None:
    """The reported time to running holds the sandbox's truth within its uncertainty."""
    journey = result.metrics["journeys"][0]
    instance_id = journey["instance_id"]
    events = [e for e in sb.admin.events(resource_id=instance_id) if str(e["id"]) == str(instance_id)]
    created = next(e["t"] for e in events if e["event"] == "created")
    running = next(e["t"] for e in events if e["event"] == "status" and e.get("to") == "running")
    measured = phase(journey, "running")
    assert abs(measured["seconds"] - (running - created)) <= measured["uncertainty_seconds"] + CLOCK_ALLOWANCE, (
        measured, running - created)


def test_provider_rate_limit_while_waiting_is_not_taken_for_a_lost_machine(tmp_path, sb):
    # GET of the instance answers 404 (a provider rate limit, after the server's retries) several times while
    # the suite waits for it to run: "not sure, look again", never "the instance disappeared".
    sb.admin.add_fault(kind="provider_error", error="rate_limit", method="GET", path=INSTANCE, count=4)
    result = run_behave(["features/instance.feature"], tmp_path / "reports", sb.url, "um-wait")
    assert result.returncode == 0, result.explain()
    assert alive(sb, result.label) == []
    assert_running_bracketed(sb, result)


def test_provider_rate_limit_during_delete_confirmation_never_fakes_a_deletion(tmp_path, sb):
    # The delete answers 200 but the machine stays (sticky), and GET answers 404 (a provider rate limit): only
    # the list can tell, and it still holds the machine, so the suite deletes again instead of calling it gone.
    sb.admin.add_fault(kind="sticky_delete", count=1)
    sb.admin.add_fault(kind="provider_error", error="rate_limit", method="GET", path=INSTANCE, count=100,
                       probability=0.5)
    result = run_behave(["features/instance.feature"], tmp_path / "reports", sb.url, "um-delete")
    sb.admin.clear_faults()
    assert result.returncode == 0, result.explain()
    assert alive(sb, result.label) == []
    deletes = [r for r in sb.admin.requests_log() if r["method"] == "DELETE" and "/instances/" in r["path"]]
    assert len(deletes) >= 2                                   # the first one did not take, and it was noticed


def test_a_long_stall_after_create_widens_the_bracket_instead_of_breaking_the_journey(tmp_path, sb):
    # Five minutes of the whole server not answering (5 s of wall time at ×60) right after the create, with a
    # request timeout shorter than that: the journey goes on, the times hold the truth, the stall is reported.
    sb.admin.settings(create_stall=300)
    result = run_behave(["features/instance.feature"], tmp_path / "reports", sb.url, "um-stall",
                        extra_env={"DUMONT_REQUEST_TIMEOUT": "2", "DUMONT_TIMEOUT_RUNNING": "1800",
                                   "DUMONT_TIMEOUT_RESUME": "1800", "DUMONT_TIMEOUT_SSH": "1800",
                                   "DUMONT_TIMEOUT_DELETE": "900"})
    assert result.returncode == 0, result.explain()
    assert alive(sb, result.label) == []
    assert_running_bracketed(sb, result)
    journey = result.metrics["journeys"][0]
    assert journey["api"]["stalled_seconds"] > 1.0, journey["api"]       # reported, not only counted
    # The snapshot was sent while the server still held every request: its phase says how much of its time
    # was the server's stall, and that holds the truth (the stall's end, from the snapshot's start on) within
    # the uncertainty it states. The start is the unrounded one (metrics.json's timestamps keep milliseconds).
    [snapshot] = [p for p in journey["phases"] if p["name"] == "snapshot"]
    stalled, uncertainty = snapshot["server_stalled_seconds"], snapshot["server_stalled_uncertainty"]
    [stall] = [e["detail"] for e in sb.admin.events() if e["event"] == "server_stall"]
    truth = stall["end"] - journey["extra"]["snapshot_started_at"]
    assert abs(stalled - truth) <= uncertainty + CLOCK_ALLOWANCE, (stall, snapshot, truth)
    assert stalled - uncertainty <= snapshot["seconds"] + snapshot["uncertainty_seconds"], snapshot
    assert uncertainty < stalled / 10, snapshot                     # a bracket narrow enough to say something


def test_a_server_without_a_snapshot_repository_fails_the_snapshot_step_but_not_the_leak_check(tmp_path, sb):
    # "Restic repository not configured" refuses the snapshot the journey needs: the journey fails in the
    # server's words. But such a server holds no snapshot at all, so the leak check and the sweep count
    # snapshots as checked (none), not as a blind spot.
    sb.admin.add_fault(kind="unconfigured", setting="restic")
    reports = tmp_path / "reports"
    result = run_behave(["features/instance.feature"], reports, sb.url, "um-restic")
    assert result.returncode != 0
    journey = result.metrics["journeys"][0]
    assert "Restic repository not configured" in journey["error_message"]
    assert alive(sb, result.label) == []
    assert result.metrics["leak_check_warnings"] == []
    assert "leak check incomplete" not in result.stdout + result.stderr
    done = subprocess.run([sys.executable, "-m", "support.sweep", "--dry-run"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=behave_env(reports, sb.url, "um-restic-sweep"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "snapshots: none (the server has no snapshot repository configured)" in done.stdout
    assert "could not list" not in done.stdout and "every kind was checked" in done.stdout


def leave_an_instance(sb, label: str) -> int:
    """An instance a killed run left behind: made straight through the API, known only by its label."""
    sb.admin.settings(create_stall=0)                       # the stall after a create is not what is tested here
    api = f"{sb.url}/api/v1"
    token = requests.post(f"{api}/auth/login", json={"email": "test@test.com", "password": "test123"},
                          timeout=30).json()["token"]
    offer = requests.get(f"{api}/instances/offers", params={"limit": 1}, timeout=30).json()["offers"][0]
    made = requests.post(f"{api}/instances", json={"offer_id": offer["id"], "label": label, "disk_size": 10},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_the_sweep_on_a_server_without_a_snapshot_repository_deletes_what_it_had_and_passes(tmp_path, sb):
    sb.admin.add_fault(kind="unconfigured", setting="restic")
    label = "dumont-acc-orphan-restic-1"
    leave_an_instance(sb, label)
    assert len(alive(sb, label)) == 1
    done = subprocess.run([sys.executable, "-m", "support.sweep"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=behave_env(tmp_path / "reports", sb.url, "um-restic-orphan"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert alive(sb, label) == []
    assert "snapshots: none (the server has no snapshot repository configured)" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "nothing left alive"


def test_a_failing_snapshot_listing_still_fails_the_sweep_and_the_leak_check(tmp_path, sb):
    # A 503 on every snapshot listing says nothing about what exists: the sweep deletes the instance it can see,
    # names the kind it could not list and exits non-zero; the leak check is incomplete.
    sb.admin.add_fault(kind="http_error", method="GET", path="/api/v1/snapshots", status=503, count=1000)
    label = "dumont-acc-orphan-503-1"
    leave_an_instance(sb, label)
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "support.sweep"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=behave_env(reports, sb.url, "um-503-orphan"))
    assert done.returncode != 0
    assert alive(sb, label) == []
    assert "could not list snapshots, so they were not checked" in done.stdout and "503" in done.stdout
    assert "nothing left alive" not in done.stdout and "none (" not in done.stdout
    # The end-of-run leak check of a run that asked for a snapshot, through the suite's own client.
    ledger = Ledger(reports / "ledger.jsonl", "um-503-run", sb.url)
    ledger.intent(ledger.resource(SNAPSHOT, "dumont-acc-um-503-run-snap-1"))
    client = DumontClient(sb.url, "test@test.com", "test123", timeout=30,
                          backoff=BackoffPolicy(clock=Clock(60.0), min_deadline=1.0))
    run = SimpleNamespace(config=SimpleNamespace(run_label="dumont-acc-um-503-run", run_id="um-503-run",
                                                 keep_snapshots=False),
                          ledger=ledger, kinds=kinds(), client=client, journeys=[], provider=None)
    check = check_leaks(run)
    assert not check.complete and check.absent == {}
    [problem] = check.problems()
    assert problem.startswith("leak check incomplete: could not list snapshot (GET /api/v1/snapshots → 503")
    # With the repository missing instead, the same check is complete.
    sb.admin.clear_faults()
    sb.admin.add_fault(kind="unconfigured", setting="restic")
    check = check_leaks(run)
    assert check.complete and check.problems() == [] and list(check.absent) == [SNAPSHOT]


def test_a_server_unreachable_during_cleanup_fails_the_run_and_the_sweep_finishes_the_job(tmp_path, sb):
    # Every delete's connection is dropped: the journey's own delete and its cleanup both fail. The run says so
    # loudly and keeps the machine in the ledger; once the server answers again, the sweep deletes it.
    sb.admin.add_fault(kind="connection_drop", method="DELETE", path=INSTANCE, count=1000)
    reports = tmp_path / "reports"
    result = run_behave(["features/instance.feature"], reports, sb.url, "um-unreachable",
                        extra_env={"DUMONT_TIMEOUT_DELETE": "60"})
    assert result.returncode != 0
    assert "cleanup failed" in result.stdout + result.stderr
    assert {m["fate"] for m in result.metrics["machines"]} == {"leaked"}
    assert alive(sb, result.label) != []
    sb.admin.clear_faults()
    done = subprocess.run([sys.executable, "-m", "support.sweep"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=behave_env(reports, sb.url, "um-unreachable-sweep"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert alive(sb, result.label) == []


def test_standby_settings_come_back_as_they_were(tmp_path, sb):
    # The status config has no "enabled" and configure defaults it to true: the suite must send it explicitly.
    result = run_behave(["features/failover.feature:35"], tmp_path / "reports", sb.url, "um-standby")
    assert result.returncode == 0, result.explain()
    assert alive(sb, result.label) == []
    token = requests.post(f"{sb.url}/api/v1/auth/login", json={"email": "test@test.com", "password": "test123"},
                          timeout=10).json()["token"]
    status = requests.get(f"{sb.url}/api/v1/standby/status", headers={"Authorization": f"Bearer {token}"},
                          timeout=10).json()
    assert status["auto_standby_enabled"] is False


def test_a_restore_that_restored_nothing_fails_saying_what_the_server_claimed(tmp_path, sb):
    # The real server answers a restore with success whatever restic did: only the data on the machine tells.
    sb.admin.add_fault(kind="restore_nothing", count=1)
    result = run_behave(["features/snapshot.feature"], tmp_path / "reports", sb.url, "um-restore")
    assert result.returncode != 0
    [journey] = result.metrics["journeys"]
    message = journey["error_message"]
    assert re.fullmatch(r"the server answered the restore of \w+ with success \(files_restored 0\), but model "
                        r"qwen2\.5-7b is not intact on instance \d+: all \d+ files are missing", message), message
    assert alive(sb, result.label) == []
