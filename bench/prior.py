"""``python -m bench.prior`` (``make prior``): the checked-in prior of where each phase's events fall.

A first run has no timing history of its own (``reports/phase-history.jsonl``): without a prior it polls
densely everywhere, and its calls are several times those of a run with history. The prior
(``support/prior/phase-prior.json``, read by support/timings.py) is made from bench runs: each journey
alone against a fresh sandbox at its real-server defaults (provider-shaped rate limits, the stall after
each create), as ``make bench`` runs them, then every phase time they recorded, per kind of target:

* ``low`` / ``high``: the fewest and most seconds seen, widened by support.timings.MARGIN, as the local
  history widens its own; ``spans``, where the times fall apart, the stretches around them (between them
  nothing was seen, and a wait looks there sparsely);
* ``typical``: their median (what ``DUMONT_OFFER_CHOICE=journey_cost`` takes for a journey's hold time);
* ``n``: how many times it was seen.

``--from DIR`` makes it from the runs an earlier bench left in DIR (``reports/bench``) without running
anything; ``--history FILE --kind server`` adds a real server's kind from the history a run against it
left (no real server is in the checked-in prior: none was measured). Times are real-world seconds, so one
prior serves any time scale; the sandbox draws each machine's durations from its seed and offer, so a
run with another seed (``SANDBOX_SEED``) can see events outside these windows: its brackets are then wider,
never wrong, and its calls no more numerous.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from support.timings import PRIOR_PATH, SANDBOX, Expected, target_kind

ROOT = Path(__file__).resolve().parent.parent
#: Rounded to what matters for a window: a tenth of a second, or three digits.
DIGITS = 3


def histories(folder: Path) -> list[Path]:
    """Every phase history under ``folder`` (a bench's reports directory: its own and its workers')."""
    return sorted(p for p in folder.rglob("phase-history.jsonl") if p.is_file())


def read_times(paths: list[Path], kind: str | None = None) -> dict[str, dict[str, list[float]]]:
    """Per kind of target, per phase, every time recorded (real seconds); ``kind`` forces one kind."""
    found: dict[str, dict[str, list[float]]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                seconds = float(record["seconds"])
                phase = str(record["phase"])
            except (ValueError, KeyError, TypeError):
                continue
            if seconds <= 0:
                continue
            where = kind or target_kind(str(record.get("target") or ""))
            found.setdefault(where, {}).setdefault(phase, []).append(seconds)
    return found


def windows(times: dict[str, list[float]]) -> dict[str, dict]:
    found = {}
    for phase, seen in sorted(times.items()):
        around = Expected.around(seen)
        entry = {"low": round(around.low, DIGITS), "high": round(around.high, DIGITS),
                 "typical": round(statistics.median(seen), DIGITS), "n": len(seen)}
        if len(around.stretches()) > 1:
            entry["spans"] = [[round(a, DIGITS), round(b, DIGITS)] for a, b in around.stretches()]
        found[phase] = entry
    return found


def make_prior(times: dict[str, dict[str, list[float]]], source: str, previous: dict | None = None) -> dict:
    kinds = dict((previous or {}).get("kinds") or {})
    for kind, phases in times.items():
        kinds[kind] = windows(phases)
    return {"version": 1, "made": time.strftime("%Y-%m-%d", time.gmtime()), "source": source,
            "note": "Made by `make prior` (bench/prior.py); read by support/timings.py. Real-world seconds "
                    "after each phase began: low/high the window where its event fell (widened by 5 %), typical "
                    "the median, n how often it was seen.",
            "kinds": dict(sorted(kinds.items()))}


def run_journeys(folder: Path, repetitions: int, seed: int, time_scale: float) -> str:
    """Each journey alone, ``repetitions`` times, against fresh sandboxes, as the bench runs them (one reports
    directory: the later runs are steered by what the earlier ones recorded, as a developer's are)."""
    from bench import analysis
    from bench.__main__ import run_once

    args = argparse.Namespace(time_scale=time_scale, seed=seed, jobs=3)
    for rep in range(1, repetitions + 1):
        for name, feature in analysis.JOURNEYS.items():
            run_once(name, [feature], args, folder, rep)
            print(f"prior: repetition {rep}: {name} done", file=sys.stderr)
    return (f"{repetitions} run(s) of each journey alone ({', '.join(analysis.JOURNEYS)}) against the sandbox at its "
            f"real-server defaults, seed {seed}, time ×{time_scale:g}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prior", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="saved", type=Path, metavar="DIR",
                        help="make it from the phase histories an earlier bench left under DIR (reports/bench)")
    parser.add_argument("--history", type=Path, metavar="FILE", help="make a kind from this history file")
    parser.add_argument("--kind", choices=(SANDBOX, "server"), help="the kind of target --history is from")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=PRIOR_PATH)
    args = parser.parse_args(argv)
    previous = json.loads(args.out.read_text()) if args.out.is_file() else None
    if args.history is not None:
        if args.kind is None:
            parser.error("--history needs --kind (sandbox or server)")
        times = read_times([args.history], args.kind)
        source = f"{(previous or {}).get('source', '')}; {args.kind}: {args.history.name}".strip("; ")
    elif args.saved is not None:
        times = read_times(histories(args.saved))
        source = f"the runs of an earlier bench ({args.saved})"
    else:
        folder = Path(tempfile.mkdtemp(prefix="dumont-prior-"))
        try:
            source = run_journeys(folder, args.repetitions, args.seed, args.time_scale)
            times = read_times(histories(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if not times:
        print("prior: no phase times found: nothing written", file=sys.stderr)
        return 1
    prior = make_prior(times, source, previous)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(prior, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = ", ".join(f"{kind}: {len(phases)} phases" for kind, phases in prior["kinds"].items())
    print(f"prior written to {args.out} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
