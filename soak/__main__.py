"""``python -m soak``: N journeys under seeded random faults, interrupts and load, judged by the truth.

Run k of seed S always gets the same schedule (soak/schedule.py), so ``--runs 1 --start k`` replays it
alone. ``--jobs`` runs go on side by side, each with its own sandbox. Output under
``<reports>/soak/`` (``DUMONT_REPORTS_DIR``, by default ``reports``): ``summary.json``, and per run
``runs/<k>/`` with its schedule and verdict; a bad run keeps everything (behave's output and reports,
the sweep's output, the sandbox's log and its truth). Exit code 0 when no run is bad (no leak, false
pass, missed bracket, spend past the budget, unclear or unexpected failure, unjudged run), else 1;
130 when stopped by Ctrl-C or SIGTERM (each run under way cleans up first).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from soak import runner, schedule, summary
from soak.judge import Verdict, judge
from support.config import reports_dir

#: What a good run keeps: enough to see what it was and replay it.
KEPT_WHEN_GOOD = {"schedule.json", "schedule.txt", "verdict.json"}


def soak_dir(given: Path | None) -> Path:
    return (given if given is not None else reports_dir() / "soak").resolve()


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def prune(folder: Path, keep_all: bool) -> None:
    """A good run keeps what replays it (its schedule and verdict); a bad one (or every one, with --keep)
    keeps everything but the sandbox's own data, whose log stays."""
    for path in folder.iterdir():
        if path.name == "sandbox":
            for inner in path.iterdir():
                if not (keep_all and inner.name == "sandbox.log"):
                    _remove(inner)
            if not keep_all:
                _remove(path)
        elif not keep_all and path.name not in KEPT_WHEN_GOOD:
            _remove(path)


def one(plan: schedule.Schedule, root: Path, stop: threading.Event, keep: bool) -> tuple:
    record = runner.run(plan, root, stop)
    try:
        verdict = judge(record)
    except Exception as error:          # a run the judge cannot read is counted, never dropped
        verdict = Verdict(plan.run, "unjudged", f"the judge failed: {type(error).__name__}: {error}")
    folder = root / "runs" / str(plan.run)
    (folder / "verdict.json").write_text(json.dumps({**verdict.to_dict(), "record": record.to_dict(),
                                                     "replay": summary.replay(plan.seed, plan.run)}, indent=1),
                                         encoding="utf-8")
    prune(folder, verdict.bad or keep)
    print(f"soak: run {plan.run} ({plan.journey}) {verdict.outcome}{' — BAD' if verdict.bad else ''} "
          f"in {record.wall:.1f} s", file=sys.stderr, flush=True)
    return plan, record, verdict


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=int, default=1, help="the first run's number (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, each with its own sandbox (default 2)")
    parser.add_argument("--reports", type=Path, help="where to write (default <DUMONT_REPORTS_DIR>/soak)")
    parser.add_argument("--keep", action="store_true", help="keep every run's files, not only the bad runs'")
    parser.add_argument("--schedule", type=Path, action="append", metavar="FILE",
                        help="replay a saved runs/<k>/schedule.json instead of drawing (repeatable)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        parser.error("--runs and --jobs must be at least 1")
    root = soak_dir(args.reports)
    if args.schedule:
        plans = [schedule.Schedule.from_dict(json.loads(path.read_text(encoding="utf-8"))) for path in args.schedule]
        args.seed = plans[0].seed
    else:
        plans = [schedule.draw(args.seed, k) for k in range(args.start, args.start + args.runs)]
    for plan in plans:
        shutil.rmtree(root / "runs" / str(plan.run), ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)

    stop = threading.Event()

    def stopping(signum, _frame):
        print(f"soak: {signal.Signals(signum).name}: stopping after each run's cleanup", file=sys.stderr, flush=True)
        stop.set()

    previous = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = []
            for plan in plans:
                futures.append(pool.submit(_unless_stopped, plan, root, stop, args.keep))
            rows = [row for row in (f.result() for f in futures) if row is not None]
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    result = summary.build(args.seed, rows, time.monotonic() - started, args.jobs)
    (root / "summary.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(summary.table(rows, result))
    print(f"summary: {root / 'summary.json'}")
    if stop.is_set():
        return 130
    return 1 if result["bad_runs"] else 0


def _unless_stopped(plan, root, stop, keep):
    return None if stop.is_set() else one(plan, root, stop, keep)


if __name__ == "__main__":
    sys.exit(main())
