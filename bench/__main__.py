"""``python -m bench``: how much time and money the harness itself adds, against the sandbox's ground truth.

Runs each journey alone, then all of them together, against one sandbox
with a fixed seed, and prints ratios (last lines, each with its target):

* harness overhead = (journey wall time − irreducible server-side time on its
  critical path) / journey wall time;
* phase timing error = |reported − ground truth| / ground truth, per phase;
* API calls per journey, and rate-limited answers hit;
* billed cost / minimal cost (price × irreducible time);
* parallel slowdown = the journeys together / the slowest alone (wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sandbox

ROOT = Path(__file__).resolve().parent.parent
JOURNEYS = {"instance": "features/instance.feature", "snapshot": "features/snapshot.feature"}
TARGETS = {"overhead": 0.05, "timing_error": 0.02, "rate_limited": 0, "cost_ratio": 1.05, "parallel": 1.15}


def run(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.monotonic() - started, done


def environment(sb, reports: Path, run_id: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMONT_", "TEST_", "SANDBOX_"))}
    env.update(DUMONT_API_URL=sb.url, DUMONT_REPORTS_DIR=str(reports), DUMONT_RUN_ID=run_id, DUMONT_REPORT_LANG="en")
    return env


def first(events, name, after=0.0, **match):
    for event in events:
        if event["event"] == name and event["t"] >= after and all(event.get(k) == v for k, v in match.items()):
            return event["t"]
    return None


def truth_for(sb, metrics: dict, info: dict) -> dict:
    """Ground-truth durations of the phases the suite reports, and the journey's irreducible time."""
    ids = [m["id"] for m in metrics["machines"] if m["kind"] == "instance"]
    events = sorted((e for e in sb.admin.events() if str(e["id"]) in ids
                     or str((e.get("detail") or {}).get("instance_id")) in ids), key=lambda e: e["t"])
    truth, critical, stopped_part = {}, 0.0, 0.0
    created = first(events, "created")
    running = first(events, "status", to="running")
    ssh = first(events, "ssh_ready")
    if created and running and ssh:
        truth["running"], truth["ssh"] = running - created, ssh - created
        critical += ssh - created
    paused = first(events, "pause_requested")
    if paused:
        stopped = first(events, "status", paused, to="stopped")
        resumed = first(events, "resume_requested")
        back = first(events, "status", resumed, to="running")
        ssh_again = first(events, "ssh_ready", back)
        truth["pause"], truth["resume"] = stopped - paused, back - resumed
        critical += (stopped - paused) + (ssh_again - resumed)
        stopped_part = back - resumed            # billed at the storage price, not the GPU's
    started = first(events, "snapshot_started")
    if started:
        truth["snapshot"] = first(events, "snapshot_completed", started) - started
        critical += truth["snapshot"]
    restored = first(events, "restore_started")
    if restored:
        critical += first(events, "restore_completed", restored) - restored
        second = [e for e in events if e["event"] == "created"][1:]
        if second:
            new_id = second[0]["id"]
            critical += (first([e for e in events if e["id"] == new_id], "ssh_ready") - second[0]["t"])
    journey = metrics["journeys"][0]
    model_bytes = {m["name"]: m["nominal_bytes"] for m in sb.admin.models()}
    for phase in journey["phases"]:
        if phase["name"] == "model_install":
            download_rate = info["timings"]["model_mb_per_s"] * 1e6
            critical += model_bytes.get(phase["detail"], 0) / download_rate / info["time_scale"]
    return {"phases": truth, "critical": critical, "stopped": stopped_part}


def alone(sb, name: str, info: dict, workdir: Path) -> dict:
    reports = workdir / name
    wall, done = run([sys.executable, "-m", "behave", "-f", "null", JOURNEYS[name]],
                     environment(sb, reports, f"bench-{name}"))
    if done.returncode != 0:
        raise SystemExit(f"journey {name} failed; see {reports}:\n{done.stdout[-2000:]}")
    metrics = json.loads((reports / "metrics.json").read_text())
    journey = metrics["journeys"][0]
    truth = truth_for(sb, metrics, info)
    reported = {}
    for phase in journey["phases"]:
        reported.setdefault(phase["name"], phase["seconds"])
    billing = {str(r["id"]): r for r in sb.admin.billing()["resources"]}
    machines = [billing[m["id"]] for m in metrics["machines"] if m["id"] in billing]
    billed = sum(r["cost"] for r in machines)
    price = max((r["dph_total"] for r in machines), default=0.0)
    storage = max((r.get("storage_dph", 0.0) for r in machines), default=0.0)
    minimal = (price * (truth["critical"] - truth["stopped"]) + storage * truth["stopped"]) * info["time_scale"] / 3600
    return {"name": name, "wall": wall, "journey_seconds": journey["duration_seconds"],
            "overhead": (journey["duration_seconds"] - truth["critical"]) / journey["duration_seconds"],
            "errors": {p: abs(reported[p] - t) / t for p, t in truth["phases"].items() if p in reported and t > 0},
            "calls": metrics["api"]["calls"], "rate_limited": metrics["api"]["rate_limited"],
            "cost_ratio": billed / minimal if minimal else float("nan")}


def together(sb, names: list[str], workdir: Path) -> float:
    reports = workdir / "together"
    wall, done = run([sys.executable, "-m", "support.parallel", "--jobs", str(len(names)),
                      *[JOURNEYS[n] for n in names]], environment(sb, reports, "bench-par"))
    if done.returncode != 0:
        raise SystemExit(f"parallel run failed:\n{done.stdout[-2000:]}")
    return wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--journeys", default=",".join(JOURNEYS), help="comma-separated: instance,snapshot,failover")
    args = parser.parse_args(argv)
    names = [n for n in args.journeys.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="dumont-bench-") as folder, \
            sandbox.start(time_scale=args.time_scale, seed=args.seed) as sb:
        info = sb.admin.info()
        workdir = Path(folder)
        results = [alone(sb, name, info, workdir) for name in names]
        parallel_wall = together(sb, names, workdir)
    print(f"{'journey':<10} {'wall s':>7} {'journey s':>9} {'overhead':>9} {'calls':>6} {'limited':>8} "
          f"{'cost/min':>9}  phase timing errors")
    for r in results:
        errors = ", ".join(f"{p} {e:.1%}" for p, e in sorted(r["errors"].items()))
        print(f"{r['name']:<10} {r['wall']:>7.2f} {r['journey_seconds']:>9.2f} {r['overhead']:>9.1%} "
              f"{r['calls']:>6} {r['rate_limited']:>8} {r['cost_ratio']:>9.3f}  {errors}")
    slowest = max(r["wall"] for r in results)
    worst_error = max((e for r in results for e in r["errors"].values()), default=0.0)
    lines = [
        ("harness overhead (worst journey)", max(r["overhead"] for r in results), TARGETS["overhead"], "{:.1%}"),
        ("phase timing error (worst phase)", worst_error, TARGETS["timing_error"], "{:.1%}"),
        ("rate-limited answers (all journeys)", sum(r["rate_limited"] for r in results), TARGETS["rate_limited"],
         "{}"),
        ("billed / minimal cost (worst journey)", max(r["cost_ratio"] for r in results), TARGETS["cost_ratio"],
         "{:.3f}"),
        ("parallel wall / slowest alone", parallel_wall / slowest, TARGETS["parallel"], "{:.2f}"),
    ]
    print(f"\ntime scale ×{args.time_scale:g}, seed {args.seed}, API calls per journey: "
          + ", ".join(f"{r['name']} {r['calls']}" for r in results))
    failed = 0
    for label, value, target, fmt in lines:
        ok = value <= target
        failed += not ok
        print(f"{label:<40} {fmt.format(value):>8}   target ≤ {fmt.format(target):<6} {'ok' if ok else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
