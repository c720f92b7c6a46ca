"""The bench's arithmetic (bench/analysis.py, bench/output.py) on made-up runs: no sandbox, no behave."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from bench import analysis
from bench.analysis import PhaseCheck, RunResult, Segment, Split, analyze, attribute, median, segments
from bench.output import Summary, Target

T0 = 1000.0
SNAP = "ab" * 16


def iso(t: float) -> str:
    """As metrics.json writes times: ISO 8601, milliseconds, UTC."""
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")


def event(t, name, rid, kind="instance", to=None, **detail):
    return {"t": T0 + t, "kind": kind, "id": rid, "event": name, "from": None, "to": to, "detail": detail or None}


def request(t, method, path, duration=0.002, status=200, fault=None):
    return {"t": T0 + t, "method": method, "path": path, "status": status, "duration_s": duration,
            "account": "test@test.com", "fault": fault}


def phase(name, start, seconds, uncertainty=0.0, detail=""):
    return {"name": name, "started_at": iso(T0 + start), "seconds": seconds, "uncertainty_seconds": uncertainty,
            "detail": detail}


INFO = {"time_scale": 60.0, "timings": {"model_mb_per_s": 200.0}}
MODELS = [{"name": "qwen3-0.6b", "nominal_bytes": 1_200_000_000}]       # 6 s nominal: 0.1 s wall at ×60


def interval(state, dph, start, end):
    return {"state": state, "dph": dph, "scale": 60.0, "start_t": T0 + start, "end_t": T0 + end,
            "cost": dph * 60.0 * (end - start) / 3600}


def instance_run():
    """One instance journey: create → running → SSH, model, snapshot, pause, resume → SSH, delete."""
    events = [event(0.0, "created", 1, to="loading"), event(1.5, "status", 1, to="running"),
              event(1.8, "ssh_ready", 1),
              event(2.1, "snapshot_started", SNAP, kind="snapshot"), event(2.8, "snapshot_completed", SNAP, "snapshot"),
              event(2.9, "pause_requested", 1), event(3.0, "status", 1, to="stopped"),
              event(3.1, "resume_requested", 1), event(4.0, "status", 1, to="running"), event(4.5, "ssh_ready", 1),
              event(4.6, "deleted", 1)]
    requests = [request(-0.2, "POST", "/api/v1/auth/login"),
                request(-0.01, "POST", "/api/v1/instances", duration=0.02),
                request(1.49, "GET", "/api/v1/instances/1"), request(1.52, "GET", "/api/v1/instances/1"),
                request(2.09, "POST", "/api/v1/snapshots", duration=0.72),
                request(2.895, "POST", "/api/v1/instances/1/pause", duration=0.01),
                request(2.99, "GET", "/api/v1/instances/1"), request(3.01, "GET", "/api/v1/instances/1"),
                request(3.095, "POST", "/api/v1/instances/1/resume", duration=0.01),
                request(4.6, "DELETE", "/api/v1/instances/1"), request(4.8, "GET", "/api/v1/instances")]
    rows = [{"id": 1, "kind": "instance", "cost": 0.0, "intervals": [
        interval("loading", 0.06, 0.0, 1.5), interval("running", 0.06, 1.5, 3.0),
        interval("stopped", 0.006, 3.0, 4.0), interval("running", 0.06, 4.0, 4.6)]}]
    rows[0]["cost"] = sum(i["cost"] for i in rows[0]["intervals"])
    truth = {"info": INFO, "models": MODELS, "events": events, "requests": requests,
             "billing": {"resources": rows},
             "resources": [{"kind": "instance", "id": 1}, {"kind": "snapshot", "id": SNAP, "instance_id": 1}]}
    phases = [phase("create", -0.02, 0.03),
              # since = the middle of the create request (T0), event bracket [1.78, 1.86]: at 1.82 ± 0.04
              phase("running", 0.0, 1.505, 0.02), phase("ssh", 0.0, 1.82, 0.01 + 0.04),
              phase("model_install", 1.9, 0.15, detail="qwen3-0.6b"), phase("snapshot", 2.09, 0.72),
              phase("pause", 2.9, 0.105, 0.015), phase("resume", 3.1, 0.9, 0.02),
              phase("ssh", 3.1, 1.42, 0.005 + 0.02), phase("delete", 4.59, 0.02)]
    metrics = {"api": {"calls": 11}, "journeys": [{
        "feature_file": "features/instance.feature", "test_name": "Rent", "status": "passed",
        "start_time": iso(T0 - 0.1), "end_time": iso(T0 + 4.7), "phases": phases,
        "machines": [{"id": "1", "kind": "instance"}]}]}
    return metrics, truth


def test_median_leaves_out_what_is_missing():
    assert median([3, None, 1, 2]) == 2
    assert median([1.0, 4.0]) == 2.5
    assert median([None, math.nan]) is None


def test_union_and_overlap_count_each_moment_once():
    assert analysis.union_length([(0, 2), (1, 3), (5, 6), (2.5, 2.7)]) == pytest.approx(4.0)
    assert analysis.overlap_length(1.5, 5.5, [(0, 2), (1, 3), (5, 6)]) == pytest.approx(2.0)


def test_split_projects_the_time_scaled_part_to_real_speed():
    split = Split.of(10.0, [Segment("boot", 0, 5, latency=0.3), Segment("pause", 4, 8, latency=0.2)], 60.0)
    assert split.irreducible == pytest.approx(8.0)       # the two intervals overlap by one second
    assert split.latency == pytest.approx(0.5)
    assert split.harness == pytest.approx(1.5)
    assert split.overhead == pytest.approx(0.2)
    assert split.irreducible_nominal == pytest.approx(480.0) and split.latency_nominal == pytest.approx(30.0)
    assert split.projected == pytest.approx((30 + 1.5) / (480 + 30 + 1.5))
    both = split + split
    assert both.wall == 20.0 and both.projected == pytest.approx(split.projected)


def test_instance_journey_critical_path_from_the_ground_truth():
    metrics, truth_data = instance_run()
    truth = analysis.Truth(truth_data)
    scenario = analysis.Scenario.of(metrics["journeys"][0], truth)
    found = {s.name: s for s in segments(scenario, truth)}
    assert list(found) == ["boot", "model download", "snapshot", "pause", "resume"]
    assert (found["boot"].start, found["boot"].end) == (T0, T0 + 1.8)
    # SSH seen at the upper end of the bracket: 1.82 + (0.05 − half the create's 0.02 s) → 1.86
    assert found["boot"].latency == pytest.approx(0.06)
    assert found["model download"].seconds == pytest.approx(0.1)
    assert found["snapshot"].seconds == pytest.approx(0.7) and found["snapshot"].latency == 0
    assert found["pause"].latency == pytest.approx(0.01)           # the GET at 3.01 saw "stopped" at 3.00
    assert found["resume"].end == T0 + 4.5
    assert found["resume"].latency == pytest.approx(3.1 + 1.42 + 0.025 - 0.005 - 4.5)


def test_a_request_of_the_journey_held_by_a_server_stall_is_a_server_side_wait():
    metrics, truth_data = instance_run()
    # The API's look at 1.49 was held until 2.2 by a stall; the model download (1.9–2.0) went on meanwhile.
    held = request(1.49, "GET", "/api/v1/instances/1", duration=0.71) | {"stalled_s": 0.69}
    other = request(1.6, "GET", "/api/v1/instances/2", duration=0.6) | {"stalled_s": 0.6}   # another journey's
    truth_data["requests"] = [r for r in truth_data["requests"] if r["t"] != T0 + 1.49] + [held, other]
    truth = analysis.Truth(truth_data)
    scenario = analysis.Scenario.of(metrics["journeys"][0], truth)
    [stall] = [s for s in segments(scenario, truth) if s.name == "server stall"]
    assert (stall.start, stall.end) == (T0 + 1.49, T0 + 2.2)
    split = Split.of(4.8, segments(scenario, truth), 60.0)
    without = Split.of(4.8, [s for s in segments(scenario, truth) if s.name != "server stall"], 60.0)
    assert split.irreducible - without.irreducible == pytest.approx(2.2 - 2.0)    # past the boot and the download


def test_a_command_that_used_the_gpu_is_the_machines_own_work_and_only_that_command():
    metrics, truth_data = instance_run()
    # the GPU check's probe ran on the machine from 1.92 to 2.05; the SSH round trip around it is the harness's
    truth_data["events"].append(event(1.92, "gpu_command", 1, start=T0 + 1.92, end=T0 + 2.05))
    truth_data["events"].append(event(1.95, "gpu_command", 7, start=T0 + 1.95, end=T0 + 2.5))    # not this journey's
    truth = analysis.Truth(truth_data)
    scenario = analysis.Scenario.of(metrics["journeys"][0], truth)
    [check] = [s for s in segments(scenario, truth) if s.name == "gpu check"]
    assert (check.start, check.end, check.latency) == (T0 + 1.92, T0 + 2.05, 0)
    without = Split.of(4.8, [s for s in segments(scenario, truth) if s.name != "gpu check"], 60.0)
    split = Split.of(4.8, segments(scenario, truth), 60.0)
    # past the model download (1.9–2.0): 0.05 s more of the machine's own work, 0.05 s less harness
    assert split.irreducible - without.irreducible == pytest.approx(0.05)
    assert without.harness - split.harness == pytest.approx(0.05)


def test_instance_journey_figures():
    metrics, truth = instance_run()
    result = analyze("instance", 5.5, metrics, truth, history=0)
    journey = result.journeys["instance"]
    split = journey.split
    assert split.wall == pytest.approx(4.8)
    assert split.irreducible == pytest.approx(1.8 + 0.1 + 0.7 + 0.1 + 1.4)
    assert split.latency == pytest.approx(0.06 + 0.01 + 0.04)
    assert split.harness == pytest.approx(4.8 - 4.1 - 0.11)
    # Alone, every request of the sandbox is the journey's; the suite counted its own calls.
    assert (journey.calls, journey.requests, journey.limited) == (11, 11, 0)
    # Minimal cost: each billing interval only where it overlaps the irreducible intervals.
    covered = 0.06 * 1.5 + 0.06 * (0.3 + 0.1 + 0.7 + 0.1) + 0.006 * 0.9 + 0.06 * 0.5
    assert journey.minimal == pytest.approx(covered * 60 / 3600)
    assert journey.billed == pytest.approx((0.06 * 3.6 + 0.006 * 1.0) * 60 / 3600)
    checks = {c.label: c for c in journey.checks}
    assert checks["instance: ssh"].truth == pytest.approx(1.8)
    assert checks["instance: ssh"].error == pytest.approx(0.02 / 1.8)
    assert checks["instance: ssh after resume"].truth == pytest.approx(1.4)
    assert checks["instance: pause"].truth == pytest.approx(0.1) and checks["instance: pause"].in_bracket
    assert checks["instance: snapshot"].truth == pytest.approx(0.7)
    assert checks["instance: running"].truth == pytest.approx(1.5)


def failover_run():
    gpu, standby = 5, 6
    assoc = f"/api/v1/standby/associations/{gpu}"
    events = [event(0.0, "created", gpu, to="loading"), event(0.0, "created", standby, kind="standby"),
              event(1.0, "standby_ready", standby, kind="standby", to="syncing"),
              event(1.5, "status", gpu, to="running"), event(1.8, "ssh_ready", gpu)]
    # Syncs every 0.5 s; one is under way when the writes end (at 10.0), so the data set needs the next.
    for started, done in [(9.9, 10.3), (10.5, 10.6), (11.0, 11.1), (11.5, 11.6)]:
        events.append(event(done, "sync_completed", standby, kind="standby", started_at=T0 + started))
    events += [event(11.8, "pause_requested", gpu), event(11.9, "status", gpu, to="stopped"),
               event(12.3, "failover", standby, kind="standby", to="failover_active", explicit=False),
               event(12.5, "failback_started", standby, kind="standby"), event(12.5, "resume_requested", gpu),
               event(12.9, "status", gpu, to="running"), event(13.0, "failback_completed", standby, kind="standby"),
               event(13.2, "ssh_ready", gpu)]
    requests = [request(-0.01, "POST", "/api/v1/instances", duration=0.02),
                request(11.65, "GET", assoc), request(11.79, "POST", f"/api/v1/instances/{gpu}/pause"),
                request(12.32, "GET", assoc), request(12.48, "POST", f"/api/v1/instances/{gpu}/failback", 0.02)]
    phases = [phase("ssh", 0.0, 1.82, 0.01 + 0.03), phase("write_dataset", 9.8, 0.2),
              phase("ssh", 12.49, 0.72, 0.01 + 0.01)]
    metrics = {"api": {"calls": 5}, "journeys": [{
        "feature_file": "features/failover.feature", "test_name": "GPU fails", "status": "passed",
        "start_time": iso(T0 - 0.1), "end_time": iso(T0 + 13.5), "phases": phases,
        "machines": [{"id": str(gpu), "kind": "instance"}, {"id": str(gpu), "kind": "standby"}]}]}
    truth = {"info": INFO, "models": MODELS, "events": events, "requests": requests, "billing": {"resources": []},
             "resources": [{"kind": "instance", "id": gpu}, {"kind": "standby", "id": standby, "gpu_instance_id": gpu}]}
    return metrics, truth


def test_failover_sync_waits_failure_and_failback():
    metrics, truth_data = failover_run()
    truth = analysis.Truth(truth_data)
    scenario = analysis.Scenario.of(metrics["journeys"][0], truth)
    assert scenario.standbys == {"5": "6"}
    found = {s.name: s for s in segments(scenario, truth)}
    assert list(found) == ["boot", "sync", "failure+detect", "failback"]
    sync = found["sync"]
    # From the end of the writes to the second completion of a sync started after them.
    assert (sync.start, sync.end) == (T0 + 10.0, T0 + 11.1)
    # The suite moved on at the poll after the sync of 11.6: one whole interval past 11.1, plus 0.05 s.
    assert sync.latency == pytest.approx(0.55) and "1 sync" in sync.note
    assert (found["failure+detect"].start, found["failure+detect"].end) == (T0 + 11.8, T0 + 12.3)
    assert found["failure+detect"].latency == pytest.approx(0.02)
    failback = found["failback"]
    assert (failback.start, failback.end) == (T0 + 12.5, T0 + 13.2)       # SSH after the association is back
    assert failback.latency == pytest.approx(12.49 + 0.72 + 0.02 - 0.01 - 13.2)
    labels = {c.label for c in analysis.phase_checks(scenario, truth)}
    assert labels == {"failover: ssh", "failover: ssh after failback"}


def test_a_sync_under_way_that_carried_the_data_set_is_the_one_needed():
    """The suite found the data set on the standby after the sync under way at the writes' end: one
    sync fewer is irreducible, and the suite's pause after the next one shows no sync waited past."""
    metrics, truth_data = failover_run()
    truth_data["events"] = [e for e in truth_data["events"]
                            if e["event"] != "sync_completed" or e["t"] < T0 + 11.0]
    truth_data["events"] = [event(11.2, "pause_requested", 5) if e["event"] == "pause_requested" else e
                            for e in truth_data["events"]]
    truth_data["requests"] = [request(10.62, "GET", "/api/v1/standby/associations/5")] + [
        r for r in truth_data["requests"] if not r["path"].endswith("/pause")]
    truth = analysis.Truth(truth_data)
    scenario = analysis.Scenario.of(metrics["journeys"][0], truth)
    sync = {s.name: s for s in segments(scenario, truth)}["sync"]
    assert (sync.start, sync.end) == (T0 + 10.0, T0 + 10.6)     # the 10.3 one carried it; 10.6 dated the canaries
    assert sync.latency == pytest.approx(0.02) and sync.note == ""


def test_ssh_latency_ends_where_the_machine_accepted_the_poll_not_after_its_handshake():
    metrics, truth_data = failover_run()
    truth_data["events"].append(event(13.25, "ssh_first_connection", 5))
    truth = analysis.Truth(truth_data)
    scenario = analysis.Scenario.of(metrics["journeys"][0], truth)
    failback = {s.name: s for s in segments(scenario, truth)}["failback"]
    assert failback.latency == pytest.approx(0.05)        # the handshake after 13.25 is the harness's


def test_a_poll_in_flight_at_the_event_saw_it():
    truth = analysis.Truth({"requests": [request(1.0, "GET", "/api/v1/instances/1", duration=0.05),
                                         request(2.0, "GET", "/api/v1/instances/1")]})
    assert analysis.http_latency(truth, T0 + 1.02, "/instances/1", before=T0 + 1.5) == (0.0, "")
    latency, _ = analysis.http_latency(truth, T0 + 1.02, "/instances/1")
    assert latency == pytest.approx(0.98)


def test_requests_go_to_the_journey_whose_resource_they_name_else_to_the_one_running():
    owners = {"1": "instance", "5": "failover", SNAP: "snapshot"}
    windows = {"instance": [(T0, T0 + 10)], "snapshot": [(T0, T0 + 20)], "failover": [(T0 + 20, T0 + 30)]}
    log = [request(1, "GET", "/api/v1/instances/1"),
           request(2, "GET", f"/api/snapshots/{SNAP}"),
           request(5, "POST", "/api/v1/instances"),                          # two journeys running: shared
           request(15, "GET", "/api/v1/instances/offers"),                  # only the snapshot journey runs
           request(22, "GET", "/api/v1/balance", status=429),
           request(25, "POST", "/api/v1/instances/5/pause", status=500, fault="rate_limit"),
           request(26, "GET", "/api/v1/standby/associations/5", status=500, fault="rate_limit:f3"),
           request(27, "GET", "/api/v1/standby/associations/5", status=500, fault="http_error:f4"),
           request(40, "GET", "/health")]
    found = attribute(log, owners, windows)
    assert found.requests == {"instance": 1, "snapshot": 2, "failover": 4}
    assert found.limited == {"instance": 0, "snapshot": 0, "failover": 3}
    assert (found.shared, found.outside) == (1, 1)


TIMING = "timing error (phase ends a client could see, phases ≥ 12.5 s)"


def journey(name, wall, irreducible, latency, calls=100, billed=1.02, checks=()):
    split = Split(wall, irreducible, latency, 60.0)
    return analysis.JourneyResult(name, split, [], list(checks), billed, 1.0, calls, calls, 0, 1)


def test_summary_takes_medians_then_the_worst_journey():
    runs = []
    for rep, (fast, slow) in enumerate([(4.0, 18.0), (4.4, 19.0), (4.2, 30.0)], start=1):
        check = PhaseCheck("instance: ssh", 1.0 + rep / 100, 0.02, 1.0)
        runs.append(RunResult("instance", fast + 0.5, {"instance": journey("instance", fast, 3.8, 0.05,
                                                                           checks=[check])}, 0, 0, repetition=rep))
        runs.append(RunResult("snapshot", slow + 0.5, {"snapshot": journey("snapshot", slow, slow - 0.5, 0.01)},
                              0, 0, repetition=rep))
        together = {"instance": journey("instance", fast, 3.8, 0.05, calls=70 + rep),
                    "snapshot": journey("snapshot", slow, slow - 0.5, 0.01)}
        runs.append(RunResult("together", slow + 1.0, together, 0, 0, repetition=rep))
    summary = Summary.of(runs, ["instance", "snapshot"], {"seed": 1})
    targets = {t.name: t for t in summary.targets()}
    assert targets["×60 overhead"].value == pytest.approx(1 - 3.8 / 4.2)
    assert "[instance]" in targets["×60 overhead"].shown
    assert targets[TIMING].value == pytest.approx(0.02)
    assert targets["instance journey calls"].value == 72 and targets["instance journey calls"].met
    assert targets["together/slowest"].value == pytest.approx(20.0 / 19.5)    # median of 19/18.5, 20/19.5, 31/30.5
    assert targets["rate limited"].met
    assert not summary.all_met                                     # the overhead is ~9.5 %
    lines = summary.text().splitlines()[-7:]
    assert [line.split(":")[0] for line in lines] == [
        "projected real-speed overhead", "×60 overhead", TIMING,
        "billed/minimal",
        "instance journey calls", "rate limited", "together/slowest"]
    assert lines[-1].endswith("✅") and lines[1].endswith("❌")


def test_target_line():
    assert Target("timing error", 0.031, 0.02, "3.1 % [failover: ssh]", "≤ 2 %").line() == \
        "timing error: 3.1 % [failover: ssh] (target ≤ 2 %) ❌"
    assert Target("rate limited", 0, 0, "0", "0").met
    assert not Target("billed/minimal", None, 1.05, "n/a", "≤ 1.05").met


def test_a_phase_end_hidden_by_a_server_stall_is_shown_but_not_held_against_the_harness():
    seen = PhaseCheck("instance: resume", 1.01, 0.02, 1.0)
    hidden = PhaseCheck("instance: running", 0.6, 0.5, 1.0, hidden=True)
    runs = [RunResult("instance", 4.5, {"instance": journey("instance", 4.0, 3.8, 0.05, checks=[seen, hidden])},
                      0, 0, repetition=1)]
    summary = Summary.of(runs, ["instance"], {"seed": 1})
    targets = {t.name: t for t in summary.targets()}
    assert targets[TIMING].value == pytest.approx(0.01)
    rows = {row[0]: row for row in summary.phase_rows()}
    assert rows["instance: running"][-2] == "1/1" and rows["instance: running"][-3] == "1/1"


def test_a_phase_too_short_for_polite_polling_is_shown_but_not_held_against_the_harness():
    long = PhaseCheck("failover: detect (automatic)", 0.51, 0.02, 0.5)       # 30 s real at ×60
    short = PhaseCheck("failover: detect (on request)", 0.036, 0.01, 0.03)   # 1.8 s real: polled at the floor
    runs = [RunResult("failover", 9.0, {"failover": journey("failover", 8.0, 7.5, 0.05, checks=[long, short])},
                      0, 0, repetition=1)]
    summary = Summary.of(runs, ["failover"], {"seed": 1})
    assert {t.name: t for t in summary.targets()}[TIMING].value == pytest.approx(0.02)
    rows = {row[0]: row for row in summary.phase_rows()}
    assert rows["failover: detect (on request)"][-1] == "yes" and rows["failover: detect (automatic)"][-1] == ""
    assert "12.5 s" in summary.floor_line()
