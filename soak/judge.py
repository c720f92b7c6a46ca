"""The verdict of one run: what the sandbox's truth says, held against what the suite said.

Pure: it reads a :class:`~soak.runner.RunRecord` (exit code, last lines, metrics.json, what was injected,
the truth) and starts nothing, so tests/soak/test_judge.py checks it on made-up runs.

* **leak** — a resource still alive in the run's sandbox once behave (and, after a SIGKILL, its sweep)
  has ended. The sandbox is the run's own, so every resource in it is the run's.
* **bracket** — each phase whose meaning is a server-side interval (bench/analysis.py ``phase_checks``:
  running, ssh, pause, resume, snapshot, restore, standby ready, detect), the failover's RPO window and
  failback, and each machine's cost: the truth must lie within what the suite reported ± its uncertainty.
* **broken promise** — besides a missed bracket: data the suite called intact or lost that the truth
  says otherwise (RPO bytes and files, snapshot size, a restore that restored nothing), a GPU the
  sandbox made broken in a journey that passed, a machine the suite called deleted that the truth says
  was still billing after the run, spend past the run's budget.
* **outcome** — exit 0 with anything above is a *false pass*. A failure is *expected* when the schedule
  gave it a cause (a fault that may make the journey impossible, an interrupt, a budget too small) and
  *clear* when it says why in one line (the journey's error and the verdict line ``❌ …``; for a run
  refused before it started, exit 2, its one stderr line). Anything the soak could not see is
  *unjudged*, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bench.analysis import Scenario, Truth, epoch, phase_checks

#: The sandbox stamps an event and the suite reads its clock on the same system clock: they differ by
#: clock reads only (tests/behave_run.py, CLOCK_ALLOWANCE); metrics.json rounds seconds to 4 decimals.
CLOCK_ALLOWANCE = 0.002
PHASE_ROUNDING = 0.0001
PHASE_SLACK = CLOCK_ALLOWANCE + 2 * PHASE_ROUNDING
#: metrics.json rounds a cost to 6 decimals.
COST_ROUNDING = 2e-6
#: metrics.json writes a phase's start to the millisecond.
ISO_ROUNDING = 0.001
#: A machine the suite called deleted must be gone by the time its run ended (plus the clock allowance).
DELETION_SLACK = CLOCK_ALLOWANCE
#: Phases timed as one synchronous request (both ends in the suite, uncertainty 0): the server's own
#: interval (its events) lies *inside* the request, shorter by the round trip, as tests/e2e check them.
REQUEST_TIMED = {"snapshot": "snapshot", "restore_apply": "restore"}

OUTCOMES_OK = ("passed", "expected failure", "interrupted", "killed", "refused")


@dataclass
class Verdict:
    run: int
    outcome: str
    reason: str = ""                          # one line: why it failed (or was not judged)
    leaks: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)          # promises the truth says were broken
    brackets_checked: int = 0
    missed: list[str] = field(default_factory=list)          # brackets the truth fell outside of
    over_budget: bool = False
    faults: list[str] = field(default_factory=list)          # kinds injected (applied), in order
    interrupt: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def bad(self) -> bool:
        return (self.outcome not in OUTCOMES_OK or bool(self.leaks) or bool(self.missed) or self.over_budget
                or bool(self.broken))

    def to_dict(self) -> dict:
        return {"run": self.run, "outcome": self.outcome, "reason": self.reason, "bad": self.bad,
                "leaks": self.leaks, "broken": self.broken, "brackets_checked": self.brackets_checked,
                "brackets_missed": self.missed, "over_budget": self.over_budget, "faults": self.faults,
                "interrupt": self.interrupt, "notes": self.notes}


# -- the truth against the suite's figures ------------------------------------------------------------


def leaks(truth: dict) -> list[str]:
    return [f"{r['kind']} {r['id']} ({r.get('label') or 'no label'})" for r in truth.get("resources") or []
            if r.get("alive")]


def _billing_rows(truth: dict, machine: dict) -> list[dict]:
    """The sandbox's bill for a machine of metrics.json: an instance by its id, a standby (which the suite
    knows by its GPU's id) by the standby resources paired with that GPU."""
    rows = (truth.get("billing") or {}).get("resources") or []
    if machine.get("kind") == "standby":
        ids = {str(r["id"]) for r in truth.get("resources") or []
               if r.get("kind") == "standby" and str(r.get("gpu_instance_id")) == str(machine["id"])}
        return [r for r in rows if r.get("kind") == "standby" and str(r["id"]) in ids]
    return [r for r in rows if r.get("kind") == machine.get("kind") and str(r["id"]) == str(machine["id"])]


def _truth_resources(truth: dict, machine: dict) -> list[dict]:
    resources = truth.get("resources") or []
    if machine.get("kind") == "standby":
        return [r for r in resources if r.get("kind") == "standby"
                and str(r.get("gpu_instance_id")) == str(machine["id"])]
    return [r for r in resources if r.get("kind") == machine.get("kind") and str(r["id"]) == str(machine["id"])]


def cost_checks(metrics: dict, truth: dict, time_scale: float) -> tuple[int, list[str], list[str]]:
    """Each machine the suite saw deleted: its bill within cost ± cost_uncertainty; and gone by the run's end.

    Returns (brackets checked, brackets missed, broken promises)."""
    checked, missed, broken = 0, [], []
    ended = _epoch(metrics.get("run", {}).get("ended_at"))
    for machine in metrics.get("machines") or []:
        if machine.get("fate") != "deleted":
            continue
        mine = _truth_resources(truth, machine)
        late = [r for r in mine if r.get("alive") or (ended is not None and r.get("deleted_at") is not None
                                                       and r["deleted_at"] > ended + DELETION_SLACK)]
        if late:
            broken.append(f"{machine['kind']} {machine['id']}: the suite said deleted, the sandbox billed it "
                          f"past the run's end")
        rows = _billing_rows(truth, machine)
        if not rows:
            continue
        billed = sum(float(r.get("cost") or 0.0) for r in rows)
        slack = float(machine.get("price_per_hour") or 0.0) * time_scale / 3600 * 2 * CLOCK_ALLOWANCE + COST_ROUNDING
        checked += 1
        if abs(float(machine["cost"]) - billed) > float(machine.get("cost_uncertainty") or 0.0) + slack:
            missed.append(f"cost of {machine['kind']} {machine['id']}: the sandbox billed ${billed:.6f}, the suite "
                          f"reported ${float(machine['cost']):.6f} ± {float(machine.get('cost_uncertainty') or 0):.6f}")
    return checked, missed, broken


def _epoch(value) -> float | None:
    return None if value is None else epoch(value)


def phase_brackets(metrics: dict, truth: dict) -> tuple[int, list[str]]:
    """Every reported phase whose truth the sandbox knows, within its bracket (bench/analysis.py pairs them);
    a request-timed phase around the server's own interval."""
    known = Truth(truth)
    checked, missed = 0, []
    for raw in metrics.get("journeys") or []:
        if raw.get("status") == "skipped" or not raw.get("start_time") or not raw.get("end_time"):
            continue
        scenario = Scenario.of(raw, known)
        for check in phase_checks(scenario, known):
            if any(check.label.endswith(f": {name}") for name in REQUEST_TIMED):
                continue
            checked += 1
            if abs(check.reported - check.truth) > check.uncertainty + PHASE_SLACK:
                missed.append(f"{check.label}: the sandbox says {check.truth:.4f} s, the suite reported "
                              f"{check.reported:.4f} ± {check.uncertainty:.4f} s")
        for phase in scenario.phases:
            if phase.name in REQUEST_TIMED:
                checked += 1
                missed += _around(scenario, known, phase)
    return checked, missed


def _around(scenario: Scenario, known: Truth, phase) -> list[str]:
    """The server's interval for a request-timed phase (its start, and its completion or failure) inside the
    phase. A restore that restored nothing still ran on the server, from its start to its failure: the phase
    times the server's call, and the journey's error says what it did."""
    event = REQUEST_TIMED[phase.name]
    starts = known.named(f"{event}_started", scenario.snapshots)
    start = min(starts, key=lambda e: abs(e["t"] - phase.start)) if starts else None
    ends = [e for outcome in ("completed", "failed")
            if start and (e := known.first(f"{event}_{outcome}", [start["id"]], start["t"])) is not None]
    end = min(ends, key=lambda e: e["t"]) if ends else None
    if start is None or end is None:
        return [f"{scenario.journey}: {phase.name}: reported, but the sandbox never ended a {event}"]
    slack = phase.uncertainty + CLOCK_ALLOWANCE + ISO_ROUNDING + PHASE_ROUNDING
    if start["t"] < phase.start - slack or end["t"] > phase.end + slack:
        return [f"{scenario.journey}: {phase.name}: the sandbox's {event} ran "
                f"{start['t'] - phase.start:+.4f} s to {end['t'] - phase.end:+.4f} s from the suite's phase, "
                f"outside it (± {slack:.4f} s)"]
    return []


def failover_checks(metrics: dict, truth: dict) -> tuple[int, list[str], list[str]]:
    """The failover journey's data (RPO bytes and files: exact) and its windows (RPO range, failback), as
    tests/e2e/test_failover_snapshot.py checks them. Returns (brackets checked, missed, broken)."""
    checked, missed, broken = 0, [], []
    for journey in metrics.get("journeys") or []:
        extra = journey.get("extra") or {}
        gpu = journey.get("instance_id")
        standby = (truth.get("standby") or {}).get(str(gpu)) if gpu is not None else None
        if standby is None or "rpo_bytes" not in extra or not standby.get("failovers"):
            continue
        failover = standby["failovers"][0]
        if extra["rpo_bytes"] != failover.get("lost_bytes"):
            broken.append(f"GPU {gpu}: the suite says {extra['rpo_bytes']} bytes lost, the sandbox "
                          f"{failover.get('lost_bytes')}")
        lost = {f"{p['path']}" for p in failover.get("lost_files") or []}
        if "rpo_lost_files" in extra and set(extra["rpo_lost_files"]) != lost:
            broken.append(f"GPU {gpu}: the files the suite says were lost are not the sandbox's")
        if extra.get("rpo_seconds_range") and failover.get("last_sync_completed_at") is not None:
            low, high = extra["rpo_seconds_range"]
            most = failover["rpo_seconds"]
            least = failover["failed_at"] - failover["last_sync_completed_at"]
            checked += 1
            if not (low - PHASE_SLACK <= most and least <= high + PHASE_SLACK):
                missed.append(f"RPO window of GPU {gpu}: the sandbox says [{least:.4f}, {most:.4f}] s, the suite "
                              f"[{low:.4f}, {high:.4f}] s")
        back = (standby.get("failbacks") or [None])[0]
        failback = [p for p in journey.get("phases") or [] if p["name"] == "failback"]
        if back and failback and back.get("completed_at") is not None:
            truth_s = back["completed_at"] - back["started_at"]
            checked += 1
            if failback[0]["seconds"] + failback[0]["uncertainty_seconds"] + PHASE_SLACK < truth_s:
                missed.append(f"failback of GPU {gpu}: the sandbox says {truth_s:.4f} s, the suite reported "
                              f"{failback[0]['seconds']:.4f} ± {failback[0]['uncertainty_seconds']:.4f} s")
    return checked, missed, broken


def snapshot_checks(metrics: dict, truth: dict) -> list[str]:
    """The snapshot size the suite reported is that of a snapshot the sandbox completed for its machine."""
    known = Truth(truth)
    broken = []
    for raw in metrics.get("journeys") or []:
        reported = (raw.get("extra") or {}).get("snapshot_bytes")
        if reported is None or not raw.get("start_time") or not raw.get("end_time"):
            continue
        scenario = Scenario.of(raw, known)
        sizes = [(e.get("detail") or {}).get("bytes") for e in known.named("snapshot_completed", scenario.snapshots)]
        if sizes and reported not in sizes:
            broken.append(f"{raw.get('test_name')}: snapshot of {reported} bytes reported, the sandbox made {sizes}")
    return broken


def checked_by_design(scenario: Scenario, known: Truth) -> list[str]:
    """The instances a journey's GPU step is written to check: the snapshot journey checks only the machine
    restored from the snapshot (made after the snapshot started), the others every GPU they rent."""
    if scenario.journey != "snapshot":
        return scenario.instances
    started = [e["t"] for e in known.named("snapshot_started", scenario.snapshots)]
    if not started:
        return []
    return [i for i in scenario.instances
            if (made := known.first("created", [i])) is not None and made["t"] > min(started)]


def passed_on_broken_machines(metrics: dict, truth: dict) -> list[str]:
    """A journey that passed although the sandbox says its data or its GPU was not what it claimed: a
    restore that restored nothing (``restore_failed`` with no ``restore_completed`` after it), or a GPU
    the sandbox made broken (``gpu_assigned`` with a ``condition``) that the GPU check let through."""
    known = Truth(truth)
    broken = []
    for raw in metrics.get("journeys") or []:
        if raw.get("status") != "passed" or not raw.get("start_time") or not raw.get("end_time"):
            continue
        scenario = Scenario.of(raw, known)
        for failed in known.named("restore_failed", scenario.snapshots):
            if known.first("restore_completed", [failed["id"]], failed["t"]) is None:
                broken.append(f"{raw.get('test_name')}: passed, but the sandbox restored nothing "
                              f"(restore_failed on snapshot {str(failed['id'])[:8]})")
        for assigned in known.named("gpu_assigned", checked_by_design(scenario, known)):
            condition = (assigned.get("detail") or {}).get("condition")
            if condition:
                broken.append(f"{raw.get('test_name')}: passed on instance {assigned['id']}, whose GPU the sandbox "
                              f"made broken ({condition})")
    return broken


# -- the outcome ---------------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(\.\d+)?")


def reason_key(text: str) -> str:
    """A failure's reason with its numbers and ids taken out, so that runs that failed alike count together."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else "(no reason given)"
    return _NUMBER.sub("N", line)[:110]


def _failure_reason(record) -> tuple[str, bool]:
    """Why a run failed, in its own words, and whether that is one clear line."""
    metrics = record.metrics
    if record.exit_code == 2:
        line = record.stderr_line
        return line or "(exit 2 without a line on stderr)", bool(line) and "Traceback" not in record.stderr
    verdict_ok = record.verdict_line.startswith("❌")
    if metrics is None:
        return "(no metrics.json)", False
    if record.interrupted and (metrics.get("run") or {}).get("interrupted") == record.interrupted:
        return f"interrupted ({record.interrupted})", verdict_ok
    failed = [j for j in metrics.get("journeys") or [] if j.get("status") in ("failed", "interrupted")]
    if not failed:                         # the leak check, the cleanup, a hook: the verdict line says which
        return record.verdict_line or "(no verdict line)", verdict_ok
    message = failed[0].get("error_message") or ""
    one_line = bool(message.strip()) and "\n" not in message.strip() and "Traceback" not in message
    return message or "(no error message)", one_line and verdict_ok


#: Fault kinds the sandbox does not count when they act (an offer hidden from a search), so ``fired`` 0 says nothing.
UNCOUNTED = {"offer_vanish"}


def _took_effect(done: dict, truth: dict | None) -> bool:
    """A fault the sandbox says never fired cannot have failed the journey; a setting always acts."""
    result = str(done.get("result") or "")
    if not result.startswith("fault ") or truth is None or done.get("kind") in UNCOUNTED:
        return True
    fault_id = result.split(" ", 1)[1]
    known = next((f for f in truth.get("faults") or [] if f.get("id") == fault_id), None)
    return known is None or bool(known.get("fired"))


def causes(record) -> list[str]:
    """What in the schedule may have failed the journey: faults that may and took effect, an interrupt, the
    budget."""
    found = [d["what"] for d, a in _applied_actions(record) if a.may_fail and _took_effect(d, record.truth)]
    if record.interrupted:
        found.append(record.interrupted)
    if record.schedule.refused_by_budget:
        found.append(f"budget ${record.schedule.budget:g}")
    return found


def _applied_actions(record):
    """Each applied fault or setting with its action in the schedule (matched by what it is, in order)."""
    left = list(record.schedule.actions)
    pairs = []
    for done in record.done:
        if done.get("kind") == "interrupt" or not done.get("applied"):
            continue
        action = next((a for a in left if a.what == done["what"] and a.kind == done["kind"]), None)
        if action is not None:
            left.remove(action)
            pairs.append((done, action))
    return pairs


def judge(record) -> Verdict:
    schedule = record.schedule
    verdict = Verdict(schedule.run, "unjudged", faults=[d["kind"] for d, _ in _applied_actions(record)],
                      interrupt=record.interrupted)
    verdict.notes += [f"not reached: {what}" for what in record.not_reached]
    truth, metrics = record.truth, record.metrics
    if truth is not None:
        verdict.leaks = leaks(truth)
        spent = float((truth.get("billing") or {}).get("total_cost") or 0.0)
        verdict.over_budget = spent > schedule.budget + COST_ROUNDING
        if verdict.over_budget:
            verdict.broken.append(f"spent ${spent:.4f}, past the budget ${schedule.budget:g}")
    if truth is not None and metrics is not None:
        scale = float((metrics.get("run") or {}).get("time_scale") or (truth.get("info") or {}).get("time_scale") or 1)
        for checked, missed, broken in (cost_checks(metrics, truth, scale), failover_checks(metrics, truth)):
            verdict.brackets_checked += checked
            verdict.missed += missed
            verdict.broken += broken
        checked, missed = phase_brackets(metrics, truth)
        verdict.brackets_checked += checked
        verdict.missed += missed
        verdict.broken += snapshot_checks(metrics, truth)
        verdict.broken += passed_on_broken_machines(metrics, truth)
    if record.swept:
        verdict.notes.append(f"left for the sweep: {', '.join(record.left_for_sweep) or 'nothing'}")
        if record.sweep_exit != 0:
            verdict.notes.append(f"the sweep exited {record.sweep_exit}")
    if not record.quiet:
        verdict.notes.append("the sandbox still held a request in a stall when its truth was read")

    if record.problem:
        return _set(verdict, "unjudged", record.problem)
    if record.aborted:
        return _set(verdict, "unjudged", "the soak was stopped during this run")
    if record.hung:
        return _set(verdict, "unjudged", "behave did not end within the run's limit (killed)")
    if truth is None:
        return _set(verdict, "unjudged", "no ground truth")
    if record.interrupted == "SIGKILL":
        return _set(verdict, "killed", "killed (SIGKILL), then swept")
    if record.exit_code == 0:
        if record.interrupted:
            verdict.notes.append(f"{record.interrupted} came after the journeys had ended")
        return _judge_pass(verdict, record)
    reason, clear = _failure_reason(record)
    if not clear:
        return _set(verdict, "unclear failure", reason)
    if record.interrupted and reason.startswith("interrupted"):
        return _set(verdict, "interrupted", reason)
    found = causes(record)
    if not found:
        return _set(verdict, "unexpected failure", reason)
    if record.exit_code == 2:
        return _set(verdict, "refused", reason)
    verdict.notes.append("may have failed it: " + "; ".join(found))
    return _set(verdict, "expected failure", reason)


def _judge_pass(verdict: Verdict, record) -> Verdict:
    metrics = record.metrics
    if metrics is None:
        return _set(verdict, "unjudged", "exit 0 without a metrics.json")
    wrong = []
    if not record.verdict_line.startswith("✅"):
        wrong.append(f"exit 0 but the verdict line is {record.verdict_line[:80]!r}")
    failed = [j.get("test_name") for j in metrics.get("journeys") or [] if j.get("status") not in ("passed", "skipped")]
    if failed:
        wrong.append(f"exit 0 but metrics.json says {', '.join(map(str, failed))} did not pass")
    if verdict.leaks:
        wrong.append("exit 0 with " + ", ".join(verdict.leaks) + " alive")
    if wrong or verdict.broken or verdict.missed:
        first = (wrong + verdict.broken + verdict.missed)[0]
        verdict.broken = wrong + verdict.broken
        return _set(verdict, "false pass", first)
    return _set(verdict, "passed", "")


def _set(verdict: Verdict, outcome: str, reason: str) -> Verdict:
    verdict.outcome = outcome
    verdict.reason = reason
    return verdict
