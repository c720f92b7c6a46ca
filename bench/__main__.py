"""``python -m bench``: how much time, money and API calls the harness adds, against the sandbox's ground truth.

Three repetitions (``--repetitions``), each: every journey alone (instance, snapshot, failover: one
``behave`` process each, as a worker of ``make acceptance`` runs it), then all of them together
(``python -m support.parallel --jobs 3``, as ``make acceptance`` runs them). Every run gets a fresh
sandbox with the same seed. The figures are medians over the repetitions.

One reports directory (``reports/bench/``, emptied when the bench starts) serves every run, so the
timing history the suite keeps there (``phase-history.jsonl``, support/timings.py) grows from one run
to the next as it does on a developer's machine: the first run of the first repetition has none, later
runs have what the earlier ones recorded. The output says how many history lines each run could use
(the workers of a parallel run keep their own folder, see "history" in the output).

What is measured (bench/analysis.py has the exact rules):

* a journey's wall time W (its scenarios' own time in metrics.json) = **irreducible** I (the
  server-side waits on its critical path, from the ground truth: boot and SSH readiness, model
  download at the mirror's bandwidth, snapshot, pause, resume, restore, the journey's requests a server
  stall held; for failover the sync waits, the failure and the switch, and the failback) + **detection
  latency** D (from each of those events to
  the suite's poll that saw it; scales with time, shown in nominal seconds) + **harness** H (the rest:
  round trips, SSH handshakes, hashing, Python; wall seconds, does not scale);
* overhead at the sandbox's scale = (D + H) / W; projected to real speed = (D·s + H) / (I·s + D·s + H);
* phase timing error = |reported − truth| / truth for every phase that is a server-side interval, and
  the reported uncertainty / truth;
* API calls per journey (the suite's own count, metrics.json ``api.calls`` of its process) and the
  requests the server received for it and answered rate-limited (the request log, attributed by the
  resource ids in the paths, else by which journey was running);
* billed / minimal cost: the sandbox's bill for the journey's machines / what they cost during the
  irreducible intervals only, each at the price of its state then;
* together / slowest: wall time of the parallel run / the slowest journey alone (process wall times).

The last seven lines are the targets, each ``name: median value (target) ✅/❌``. Exit code 0 when
every target is met, 1 when one is missed (as before), 2 when a journey failed and nothing could be
measured. ``--from DIR`` analyses the runs saved under ``DIR/runs`` again without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import analysis, output

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPORTS = Path("reports") / "bench"


class BenchError(Exception):
    """A run the bench needed did not pass: nothing to measure."""


def environment(url: str, reports: Path, run_id: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMONT_", "TEST_", "SANDBOX_", "VAST_"))}
    env.update(DUMONT_API_URL=url, DUMONT_REPORTS_DIR=str(reports), DUMONT_RUN_ID=run_id, DUMONT_REPORT_LANG="en",
               PYTHONUNBUFFERED="1")
    return env


def history_lines(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except OSError:
        return 0


def ground_truth(sb) -> dict:
    admin = sb.admin
    resources = admin.resources()
    return {"info": admin.info(), "events": admin.events(), "requests": admin.requests_log(),
            "billing": admin.billing(), "resources": resources, "models": admin.models(),
            "standby": {str(r["gpu_instance_id"]): admin.standby_truth(r["gpu_instance_id"])
                        for r in resources if r.get("kind") == "standby"}}


def execute(command: list[str], env: dict, log: Path) -> tuple[float, int]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        started = time.monotonic()
        code = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
        return time.monotonic() - started, code


def save(folder: Path, **parts) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in parts.items():
        (folder / f"{name}.json").write_text(json.dumps(value, indent=1))


def run_once(kind: str, features: list[str], args, reports: Path, rep: int, first: bool = False) -> Path:
    """One run against a fresh sandbox; its reports and the sandbox's ground truth saved under runs/.

    ``first``: a first run, as from a fresh clone: a reports directory of its own, empty (no timing history;
    the checked-in prior only), so that what it learns does not steer the other runs either."""
    import sandbox

    folder = reports / "runs" / (f"rep{rep}-first-{kind}" if first else f"rep{rep}-{kind}")
    shutil.rmtree(folder, ignore_errors=True)
    if first:
        reports = reports / "first" / f"rep{rep}-{kind}"
        shutil.rmtree(reports, ignore_errors=True)
        reports.mkdir(parents=True)
    history = reports / "phase-history.jsonl"
    before = history_lines(history)
    if kind == "together":
        command = [sys.executable, "-m", "support.parallel", "--jobs", str(args.jobs), *features]
    else:
        command = [sys.executable, "-m", "behave", "--no-capture", *features]
    with sandbox.start(time_scale=args.time_scale, seed=args.seed) as sb:
        wall, code = execute(command, environment(sb.url, reports, f"bench{rep}-{kind}"), folder / "output.log")
        truth = ground_truth(sb)
    if code != 0:
        raise BenchError(f"repetition {rep}, {kind}: the run failed (exit {code}); see {folder / 'output.log'}")
    metrics = json.loads((reports / "metrics.json").read_text())
    workers = None
    if kind == "together":
        workers = [json.loads(p.read_text()) for p in sorted((reports / "workers").glob("*/metrics.json"))]
        if history_lines(history) > before:
            usable = before                       # the workers append to the run's own history file
        else:                                     # each worker's own file: what it held besides its own phases
            usable = max((history_lines(p.parent / "phase-history.jsonl")
                          - sum(len(j["phases"]) for j in json.loads(p.read_text())["journeys"])
                          for p in (reports / "workers").glob("*/metrics.json")), default=0)
    else:
        usable = before
    save(folder, metrics=metrics, truth=truth, workers=workers,
         run={"kind": kind, "wall": wall, "history": usable, "repetition": rep, "serial": serial_journeys(features),
              "first": first})
    return folder


def serial_journeys(features: list[str]) -> list[str]:
    """Journeys whose scenarios the parallel runner keeps for the end, one at a time (tag @serial)."""
    from support.parallel import discover

    return sorted({analysis.journey_of(unit.file) for unit in discover(features) if unit.serial})


def load_run(folder: Path) -> analysis.RunResult:
    read = {name: json.loads((folder / f"{name}.json").read_text()) for name in ("metrics", "truth", "workers", "run")}
    run = read["run"]
    result = analysis.analyze(run["kind"], run["wall"], read["metrics"], read["truth"], read["workers"], run["history"])
    result.repetition = run["repetition"]
    result.serial = run.get("serial") or []
    result.first = bool(run.get("first"))
    return result


def machine(load_before: tuple[float, ...] | None) -> dict:
    try:
        load_after = os.getloadavg()
    except OSError:
        load_after = None
    return {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform(terse=True),
            "load_before": load_before, "load_after": load_after}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=3, help="journeys at a time in the run together (default 3)")
    parser.add_argument("--journeys", default=",".join(analysis.JOURNEYS),
                        help="comma-separated, among: " + ", ".join(analysis.JOURNEYS))
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS,
                        help="the reports directory of every run (emptied first; default reports/bench)")
    parser.add_argument("--from", dest="saved", type=Path, metavar="DIR",
                        help="run nothing: analyse the runs saved under DIR/runs by an earlier bench")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the tables as Markdown to FILE")
    parser.add_argument("--no-first-runs", dest="first_runs", action="store_false",
                        help="leave out the first runs (each journey alone with no timing history of its own)")
    args = parser.parse_args(argv)
    names = [n for n in args.journeys.split(",") if n]
    unknown = [n for n in names if n not in analysis.JOURNEYS]
    if unknown or not names:
        parser.error(f"unknown journey(s) {', '.join(unknown) or '(none)'}; "
                     f"choose among {', '.join(analysis.JOURNEYS)}")

    if args.saved is not None:
        reports = args.saved
        host = json.loads((reports / "machine.json").read_text()) if (reports / "machine.json").is_file() else {}
    else:
        reports = args.reports if args.reports.is_absolute() else ROOT / args.reports
        shutil.rmtree(reports, ignore_errors=True)
        reports.mkdir(parents=True)
        load_before = os.getloadavg()
        started = time.time()
        try:
            for rep in range(1, args.repetitions + 1):
                for name in names if args.first_runs else ():
                    run_once(name, [analysis.JOURNEYS[name]], args, reports, rep, first=True)
                    print(f"repetition {rep}: {name} first run done", file=sys.stderr)
                for name in names:
                    run_once(name, [analysis.JOURNEYS[name]], args, reports, rep)
                    print(f"repetition {rep}: {name} alone done", file=sys.stderr)
                run_once("together", [analysis.JOURNEYS[n] for n in names], args, reports, rep)
                print(f"repetition {rep}: together done", file=sys.stderr)
        except BenchError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 2
        host = machine(load_before) | {"seconds": round(time.time() - started, 1), "seed": args.seed,
                                       "time_scale": args.time_scale, "repetitions": args.repetitions}
        (reports / "machine.json").write_text(json.dumps(host, indent=1))

    runs = [load_run(folder) for folder in sorted((reports / "runs").iterdir()) if (folder / "run.json").is_file()]
    summary = output.Summary.of(runs, names, host)
    text = summary.text()
    print(text)
    markdown = summary.markdown()
    (reports / "summary.md").write_text(markdown + "\n")
    if args.markdown:
        args.markdown.write_text(markdown + "\n")
    return 0 if summary.all_met else 1


if __name__ == "__main__":
    sys.exit(main())
