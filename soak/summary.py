"""The soak's verdicts together: ``summary.json`` and the table printed at the end. Pure."""

from __future__ import annotations

from collections import Counter

from soak.judge import Verdict, reason_key


def replay(seed: int, run: int) -> str:
    return f"make soak SEED={seed} RUNS=1 START={run}"


def fired(truth: dict | None) -> Counter:
    """How many times each fault kind fired in a run, by the sandbox's own count."""
    found: Counter = Counter()
    for fault in (truth or {}).get("faults") or []:
        if fault.get("fired"):
            found[fault.get("kind")] += int(fault["fired"])
    return found


def build(seed: int, rows: list[tuple], seconds: float, jobs: int) -> dict:
    """``rows``: (schedule, record, verdict) of each run, in run order."""
    verdicts: list[Verdict] = [v for _, _, v in rows]
    faults: Counter = Counter(kind for v in verdicts for kind in v.faults)
    fired_total: Counter = Counter()
    for _, record, _ in rows:
        fired_total.update(fired(record.truth))
    failures = Counter(reason_key(v.reason) for v in verdicts if v.outcome not in ("passed", "unjudged", "false pass"))
    return {
        "seed": seed,
        "runs": len(rows),
        "first_run": rows[0][0].run if rows else None,
        "jobs": jobs,
        "seconds": round(seconds, 1),
        "faults": dict(sorted(faults.items())),
        "fault_kinds": len(faults),
        "faults_fired": dict(sorted(fired_total.items())),
        "interrupts": dict(sorted(Counter(v.interrupt for v in verdicts if v.interrupt).items())),
        "loaded_runs": sum(1 for s, _, _ in rows if s.load),
        "outcomes": dict(sorted(Counter(v.outcome for v in verdicts).items())),
        "leaks": sum(len(v.leaks) for v in verdicts),
        "false_passes": sum(1 for v in verdicts if v.outcome == "false pass"),
        "brackets_checked": sum(v.brackets_checked for v in verdicts),
        "brackets_missed": sum(len(v.missed) for v in verdicts),
        "unjudged": sum(1 for v in verdicts if v.outcome == "unjudged"),
        "over_budget": sum(1 for v in verdicts if v.over_budget),
        "failures_by_reason": dict(failures.most_common()),
        "bad_runs": [{"run": v.run, "outcome": v.outcome, "reason": v.reason, "leaks": v.leaks,
                      "broken": v.broken, "brackets_missed": v.missed, "replay": replay(seed, v.run)}
                     for v in verdicts if v.bad],
    }


def table(rows: list[tuple], summary: dict) -> str:
    head = f"{'run':>4}  {'journey':<9} {'lang':<4} {'faults injected':<44} {'signal':<8} {'load':>4} " \
           f"{'exit':>4}  {'outcome':<18} {'brackets':>8} {'leaks':>5} {'wall s':>7}"
    lines = [head, "-" * len(head)]
    for schedule, record, verdict in rows:
        faults = ",".join(verdict.faults) or "-"
        exit_code = "-" if record.exit_code is None else str(record.exit_code)
        ok = verdict.brackets_checked - len(verdict.missed)
        lines.append(f"{schedule.run:>4}  {schedule.journey:<9} {schedule.language:<4} {faults[:44]:<44} "
                     f"{verdict.interrupt or '-':<8} {schedule.load:>4} {exit_code:>4}  {verdict.outcome:<18} "
                     f"{f'{ok}/{verdict.brackets_checked}':>8} {len(verdict.leaks):>5} {record.wall:>7.1f}")
        if verdict.reason and verdict.outcome != "passed":
            lines.append(f"{'':>6}↳ {verdict.reason[:130]}")
        for line in verdict.broken + verdict.missed:
            lines.append(f"{'':>6}✗ {line[:130]}")
    s = summary
    lines += ["", f"seed {s['seed']}: {s['runs']} run(s) in {s['seconds']} s with {s['jobs']} at a time",
              f"faults injected ({s['fault_kinds']} kinds): "
              + (", ".join(f"{k} {n}" for k, n in s["faults"].items()) or "none"),
              "interrupts: " + (", ".join(f"{k} {n}" for k, n in s["interrupts"].items()) or "none")
              + f"; runs under CPU load: {s['loaded_runs']}",
              "outcomes: " + ", ".join(f"{k} {n}" for k, n in s["outcomes"].items()),
              f"leaks {s['leaks']}, false passes {s['false_passes']}, brackets missed {s['brackets_missed']} "
              f"of {s['brackets_checked']}, unjudged {s['unjudged']}, over budget {s['over_budget']}"]
    if s["failures_by_reason"]:
        lines.append("failures by reason:")
        lines += [f"  {n} × {reason}" for reason, n in s["failures_by_reason"].items()]
    for bad in s["bad_runs"]:
        lines.append(f"BAD run {bad['run']} ({bad['outcome']}): {bad['reason'][:100]} — replay: {bad['replay']}")
    return "\n".join(lines)
