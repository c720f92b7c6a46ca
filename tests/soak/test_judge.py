"""The soak's judge on made-up runs: truth and metrics written by hand, no sandbox, no behave."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import pytest

from soak.judge import judge, reason_key
from soak.runner import RunRecord
from soak.schedule import Action, Moment, Schedule
from soak.summary import build, table

T0 = 1_800_000_000.0
GPU = "31000001"
PRICE = 0.09
SCALE = 60.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")


def cost(seconds: float, price: float = PRICE) -> float:
    return price * seconds * SCALE / 3600


def plan(*actions: Action, budget: float = 5.0) -> Schedule:
    return Schedule(7, 1, "instance", ("instance",), "en", ("features/instance.feature",), sandbox_seed=1,
                    budget=budget, load=0, actions=tuple(actions))


TRANSIENT = Action("http_error", "http_error 503 on GET /api/v1/instances/* ×1", Moment(), False,
                   fault={"kind": "http_error", "status": 503})
FATAL = Action("never_running", "never_running ×1", Moment(), True, fault={"kind": "never_running"})


def applied(action: Action) -> dict:
    return {"kind": action.kind, "what": action.what, "at": T0, "result": "fault f1", "applied": True}


def truth(alive: bool = False, billed_seconds: float = 10.0, deleted_at: float = T0 + 10.0) -> dict:
    """An instance made at T0, running at T0+2, SSH at T0+3, snapshotted T0+4.1..T0+4.9, deleted at T0+10."""
    events = [
        {"t": T0, "kind": "instance", "id": int(GPU), "event": "created", "to": "loading", "detail": None},
        {"t": T0 + 2.0, "kind": "instance", "id": int(GPU), "event": "status", "to": "running", "detail": None},
        {"t": T0 + 3.0, "kind": "instance", "id": int(GPU), "event": "ssh_ready", "to": None, "detail": None},
        {"t": T0 + 4.1, "kind": "snapshot", "id": "ab" * 16, "event": "snapshot_started", "to": None, "detail": None},
        {"t": T0 + 4.9, "kind": "snapshot", "id": "ab" * 16, "event": "snapshot_completed", "to": None,
         "detail": {"bytes": 1200}},
    ]
    resources = [
        {"kind": "instance", "id": int(GPU), "label": "dumont-acc-soak7-1-x-r1", "alive": alive,
         "deleted_at": None if alive else deleted_at},
        {"kind": "snapshot", "id": "ab" * 16, "label": "dumont-acc-soak7-1", "alive": False, "instance_id": int(GPU),
         "tags": ["dumont-acc-soak7-1"]},
    ]
    return {"info": {"time_scale": SCALE}, "events": events, "resources": resources, "requests": [],
            "billing": {"resources": [{"kind": "instance", "id": int(GPU), "cost": cost(billed_seconds)}],
                        "total_cost": cost(billed_seconds)},
            "standby": {}, "faults": [{"kind": "http_error", "fired": 1}]}


def metrics(status: str = "passed", error: str | None = None, running=(2.0, 0.1), machine_cost=None) -> dict:
    phases = [
        {"name": "running", "seconds": running[0], "uncertainty_seconds": running[1], "started_at": iso(T0),
         "detail": ""},
        {"name": "ssh", "seconds": 3.0, "uncertainty_seconds": 0.01, "started_at": iso(T0), "detail": ""},
        {"name": "snapshot", "seconds": 1.0, "uncertainty_seconds": 0.0, "started_at": iso(T0 + 4.0), "detail": ""},
    ]
    machine = {"id": GPU, "kind": "instance", "price_per_hour": PRICE, "fate": "deleted",
               "cost": cost(10.0) if machine_cost is None else machine_cost, "cost_uncertainty": 1e-5,
               "created_at": iso(T0), "deleted_at": iso(T0 + 10.0)}
    journey = {"test_name": "Rent", "feature_file": "features/instance.feature", "status": status,
               "error_message": error, "start_time": iso(T0 - 1), "end_time": iso(T0 + 11), "phases": phases,
               "machines": [machine], "instance_id": GPU, "extra": {"snapshot_bytes": 1200}}
    return {"run": {"time_scale": SCALE, "ended_at": iso(T0 + 12), "interrupted": None},
            "journeys": [journey], "machines": [machine]}


def record(schedule=None, exit_code=0, verdict="✅ PASSED: 1 journey(s) passed; nothing left billing (exit 0)",
           done=(), **fields) -> RunRecord:
    made = RunRecord(schedule or plan(TRANSIENT), Path("."), exit_code=exit_code, verdict_line=verdict,
                     done=list(done), truth=fields.pop("truth", truth()), metrics=fields.pop("metrics", metrics()))
    for key, value in fields.items():
        setattr(made, key, value)
    return made


FAILED = "❌ FAILED: 1 of 1 journey(s) failed: Instance Lifecycle (exit 1)"


def test_a_clean_pass():
    verdict = judge(record(done=[applied(TRANSIENT)]))
    assert verdict.outcome == "passed" and not verdict.bad
    assert verdict.brackets_checked == 4        # running, ssh, the snapshot inside its request, the cost
    assert verdict.faults == ["http_error"]


def test_something_alive_after_a_pass_is_a_leak_and_a_false_pass():
    verdict = judge(record(truth=truth(alive=True)))
    assert verdict.outcome == "false pass" and verdict.bad
    assert verdict.leaks == ["instance 31000001 (dumont-acc-soak7-1-x-r1)"]
    assert any("billed it past the run's end" in b for b in verdict.broken)


def test_a_machine_deleted_after_the_run_said_so_was_billed_past_its_deletion():
    verdict = judge(record(truth=truth(deleted_at=T0 + 30)))
    assert verdict.outcome == "false pass"
    assert verdict.leaks == []
    assert any("past the run's end" in b for b in verdict.broken)


def test_a_cost_outside_its_uncertainty_is_a_missed_bracket():
    verdict = judge(record(metrics=metrics(machine_cost=cost(10.0) + 1e-4)))
    assert verdict.outcome == "false pass"
    assert len(verdict.missed) == 1 and verdict.missed[0].startswith("cost of instance 31000001")


def test_a_phase_whose_truth_lies_outside_its_bracket():
    verdict = judge(record(metrics=metrics(running=(1.5, 0.1))))      # truth: 2.0 s
    assert verdict.outcome == "false pass"
    assert verdict.missed == ["instance: running: the sandbox says 2.0000 s, the suite reported 1.5000 ± 0.1000 s"]
    assert judge(record(metrics=metrics(running=(1.5, 0.6)))).outcome == "passed"


def test_a_missed_bracket_counts_in_a_failed_run_too():
    verdict = judge(record(plan(FATAL), exit_code=1, verdict=FAILED, done=[applied(FATAL)],
                           metrics=metrics("failed", "phase 'ssh' timed out", running=(1.0, 0.1))))
    assert verdict.outcome == "expected failure" and verdict.bad and len(verdict.missed) == 1


def test_a_snapshot_is_judged_inside_its_request():
    late = truth()
    late["events"][4]["t"] = T0 + 5.2          # completed after the suite's request had ended
    verdict = judge(record(truth=late))
    assert verdict.outcome == "false pass"
    assert "instance: snapshot: the sandbox's snapshot ran" in verdict.missed[0]


def test_a_snapshot_size_the_sandbox_never_made():
    changed = metrics()
    changed["journeys"][0]["extra"]["snapshot_bytes"] = 999
    assert any("snapshot of 999 bytes" in b for b in judge(record(metrics=changed)).broken)


def test_spend_past_the_budget():
    verdict = judge(record(plan(TRANSIENT, budget=0.01)))
    assert verdict.over_budget and verdict.bad


def test_a_failure_a_fault_may_cause_said_in_one_line_is_expected():
    verdict = judge(record(plan(FATAL), exit_code=1, verdict=FAILED, done=[applied(FATAL)],
                           metrics=metrics("failed", "phase 'running' timed out after 600 s (last: loading)")))
    assert verdict.outcome == "expected failure" and not verdict.bad
    assert reason_key(verdict.reason) == "phase 'running' timed out after N s (last: loading)"


def test_a_failure_nothing_in_the_schedule_explains_is_unexpected():
    verdict = judge(record(exit_code=1, verdict=FAILED, done=[applied(TRANSIENT)],
                           metrics=metrics("failed", "GET /api/v1/instances/1 → 503: boom")))
    assert verdict.outcome == "unexpected failure" and verdict.bad


def test_a_fatal_fault_that_never_came_due_explains_nothing():
    verdict = judge(record(plan(FATAL), exit_code=1, verdict=FAILED, metrics=metrics("failed", "boom")))
    assert verdict.outcome == "unexpected failure"


def test_a_fatal_fault_the_sandbox_says_never_fired_explains_nothing():
    silent = truth()
    silent["faults"] = [{"id": "f1", "kind": "never_running", "fired": 0}]
    verdict = judge(record(plan(FATAL), exit_code=1, verdict=FAILED, done=[applied(FATAL)], truth=silent,
                           metrics=metrics("failed", "boom")))
    assert verdict.outcome == "unexpected failure"
    silent["faults"][0]["fired"] = 1
    assert judge(record(plan(FATAL), exit_code=1, verdict=FAILED, done=[applied(FATAL)], truth=silent,
                        metrics=metrics("failed", "boom"))).outcome == "expected failure"


def test_a_failure_without_a_clear_line_is_unclear():
    for error, line in (("Traceback (most recent call last):\n  File ...", FAILED), ("boom", "Took 0min 4s"),
                        ("", FAILED)):
        verdict = judge(record(plan(FATAL), exit_code=1, verdict=line, done=[applied(FATAL)],
                               metrics=metrics("failed", error)))
        assert verdict.outcome == "unclear failure", (error, line)


def test_a_refusal_before_anything_ran():
    refused = record(plan(TRANSIENT, budget=0.05), exit_code=2, verdict="USING RUNNER: behave.runner:Runner",
                     metrics=None, stderr_line="configuration error: DUMONT_BUDGET_USD: too small",
                     stderr="configuration error: DUMONT_BUDGET_USD: too small\n")
    refused.truth["billing"] = {"resources": [], "total_cost": 0.0}
    verdict = judge(refused)
    assert verdict.outcome == "refused" and not verdict.bad
    assert verdict.reason == "configuration error: DUMONT_BUDGET_USD: too small"


def test_an_interrupt_is_judged_by_what_the_suite_reported_and_left():
    interrupted = metrics("interrupted", "interrupted")
    interrupted["run"]["interrupted"] = "SIGTERM"
    sigterm = {"kind": "interrupt", "what": "SIGTERM", "at": T0, "result": "sent", "applied": True}
    line = "❌ INTERRUPTED (SIGTERM): 1 of 1 journey(s) failed: Instance Lifecycle (exit 1)"
    verdict = judge(record(exit_code=1, verdict=line, done=[sigterm], interrupted="SIGTERM", metrics=interrupted))
    assert verdict.outcome == "interrupted" and not verdict.bad
    assert verdict.interrupt == "SIGTERM"


def test_a_killed_run_is_judged_after_its_sweep():
    kill = {"kind": "interrupt", "what": "SIGKILL", "at": T0, "result": "sent", "applied": True}
    swept = record(exit_code=None, verdict="", done=[kill], interrupted="SIGKILL", metrics=None, swept=True,
                   sweep_exit=0)
    assert judge(swept).outcome == "killed" and not judge(swept).bad
    left = copy.copy(swept)
    left.truth = truth(alive=True)
    assert judge(left).outcome == "killed" and judge(left).bad and judge(left).leaks


def test_what_the_soak_could_not_see_is_unjudged():
    assert judge(record(metrics=None)).outcome == "unjudged"
    assert judge(record(problem="the sandbox did not start")).outcome == "unjudged"
    assert judge(record(hung=True, exit_code=None)).outcome == "unjudged"
    assert judge(record(truth=None)).outcome == "unjudged"
    assert all(judge(r).bad for r in (record(metrics=None), record(truth=None)))


def test_a_failover_that_lost_other_bytes_than_the_suite_says():
    gone = metrics()
    gone["journeys"][0]["extra"] = {"rpo_bytes": 4096, "rpo_lost_files": ["canary/c0001.bin"],
                                    "rpo_seconds_range": [0.2, 0.6], "rpo_seconds": 0.4}
    seen = truth()
    failover = {"lost_bytes": 8192, "lost_files": [{"path": "canary/c0001.bin"}], "rpo_seconds": 0.5,
                "failed_at": T0 + 6, "last_sync_completed_at": T0 + 5.7}
    seen["standby"] = {GPU: {"failovers": [failover], "failbacks": []}}
    verdict = judge(record(metrics=gone, truth=seen))
    assert verdict.outcome == "false pass"
    assert verdict.broken == ["GPU 31000001: the suite says 4096 bytes lost, the sandbox 8192"]
    seen["standby"][GPU]["failovers"][0]["lost_bytes"] = 4096
    assert judge(record(metrics=gone, truth=seen)).outcome == "passed"
    seen["standby"][GPU]["failovers"][0]["rpo_seconds"] = 0.9          # the truth's window ends past the suite's
    seen["standby"][GPU]["failovers"][0]["last_sync_completed_at"] = T0 + 5.1
    assert "RPO window" in judge(record(metrics=gone, truth=seen)).missed[0]


def test_the_summary_counts_and_names_the_bad_runs():
    good = record(done=[applied(TRANSIENT)])
    bad = record(Schedule(7, 2, "instance", ("instance",), "en", ("features/instance.feature",), 1, 5.0, 0,
                          (TRANSIENT,)), truth=truth(alive=True), done=[applied(TRANSIENT)])
    rows = [(r.schedule, r, judge(r)) for r in (good, bad)]
    summary = build(7, rows, 12.3, 2)
    for key in ("seed", "runs", "faults", "interrupts", "leaks", "false_passes", "brackets_checked",
                "brackets_missed", "unjudged", "over_budget", "failures_by_reason"):
        assert key in summary
    assert summary["runs"] == 2 and summary["leaks"] == 1 and summary["false_passes"] == 1
    assert summary["faults"] == {"http_error": 2} and summary["faults_fired"] == {"http_error": 2}
    assert [b["run"] for b in summary["bad_runs"]] == [2]
    assert summary["bad_runs"][0]["replay"] == "make soak SEED=7 RUNS=1 START=2"
    assert "BAD run 2" in table(rows, summary)


@pytest.mark.parametrize("text,key", [("Instance 31000001 not found (after 12.5 s)",
                                       "Instance N not found (after N s)"),
                                      ("", "(no reason given)"), ("two\nlines", "two")])
def test_reasons_count_together_without_their_numbers(text, key):
    assert reason_key(text) == key


def test_a_pass_after_a_restore_that_restored_nothing_is_false():
    nothing = truth()
    nothing["events"].append({"t": T0 + 6, "kind": "snapshot", "id": "ab" * 16, "event": "restore_failed",
                              "to": None, "detail": {"restored": False}})
    verdict = judge(record(truth=nothing))
    assert verdict.outcome == "false pass"
    assert "restored nothing" in verdict.broken[0]
    nothing["events"].append({"t": T0 + 7, "kind": "snapshot", "id": "ab" * 16, "event": "restore_completed",
                              "to": None, "detail": None})
    assert judge(record(truth=nothing)).outcome == "passed"       # a second restore that worked


def test_a_pass_on_a_gpu_the_sandbox_broke_is_false():
    broken = truth()
    broken["events"].append({"t": T0 + 0.01, "kind": "instance", "id": int(GPU), "event": "gpu_assigned",
                             "to": None, "detail": {"condition": "cuda_broken"}})
    verdict = judge(record(truth=broken))
    assert verdict.outcome == "false pass" and "(cuda_broken)" in verdict.broken[0]
    broken["events"][-1]["detail"]["condition"] = None
    assert judge(record(truth=broken)).outcome == "passed"


@pytest.mark.parametrize("broken_one, false_pass", [("first", False), ("restored", True)])
def test_the_snapshot_journey_answers_for_the_gpu_of_the_machine_it_restored_only(broken_one, false_pass):
    restored = int(GPU) + 1
    made = truth()
    made["events"] += [
        {"t": T0 + 6.0, "kind": "instance", "id": restored, "event": "created", "to": "loading", "detail": None},
        {"t": T0 + 6.0, "kind": "instance", "id": restored, "event": "gpu_assigned", "to": None,
         "detail": {"condition": "cuda_broken" if broken_one == "restored" else None}},
        {"t": T0 + 0.01, "kind": "instance", "id": int(GPU), "event": "gpu_assigned", "to": None,
         "detail": {"condition": "cuda_broken" if broken_one == "first" else None}},
    ]
    journey_metrics = metrics()
    [journey] = journey_metrics["journeys"]
    journey["feature_file"] = "features/pt/snapshot.feature"
    journey["machines"] = journey["machines"] + [dict(journey["machines"][0], id=str(restored))]
    verdict = judge(record(truth=made, metrics=journey_metrics))
    assert (verdict.outcome == "false pass") is false_pass
    if false_pass:
        assert f"instance {restored}" in verdict.broken[0]


def test_a_restore_that_restored_nothing_is_timed_from_its_start_to_its_failure():
    # Seed 2026, run 193: the server's restore failed (restored nothing) but still ran, inside the suite's phase.
    failed = truth()
    failed["events"] += [
        {"t": T0 + 6.0, "kind": "snapshot", "id": "ab" * 16, "event": "restore_started", "to": None, "detail": None},
        {"t": T0 + 6.01, "kind": "snapshot", "id": "ab" * 16, "event": "restore_failed", "to": None,
         "detail": {"restored": False}},
    ]
    timed = metrics(status="failed", error="the server answered the restore of ab… with success (files_restored 0)")
    timed["journeys"][0]["phases"].append({"name": "restore_apply", "seconds": 0.05, "uncertainty_seconds": 0.0,
                                           "started_at": iso(T0 + 5.98), "detail": ""})
    assert judge(record(truth=failed, metrics=timed, exit_code=1, verdict=FAILED)).missed == []
    timed["journeys"][0]["phases"][-1]["started_at"] = iso(T0 + 7.0)         # a phase that missed the call
    assert judge(record(truth=failed, metrics=timed, exit_code=1, verdict=FAILED)).missed != []
