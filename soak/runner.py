"""One run of the soak: a sandbox of its own, behave under the schedule, the sweep if it was killed,
the truth once the sandbox is quiet; everything saved under ``runs/<k>/``.

Every process it starts is ended by its PID before it returns: behave (killed if it overruns the run's
limit), the CPU burners, the sweep (killed if it overruns), the sandbox (stopped).
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import sandbox
from soak import launch
from soak.inject import Injector
from soak.load import CpuLoad
from soak.schedule import Schedule
from soak.truth import collect, wait_quiet

TIME_SCALE = 60.0
#: How often the injector looks at the sandbox's events while behave runs (wall seconds; 6 nominal s).
POLL = 0.1
#: A scenario's own limit is DUMONT_TIMEOUT_SCENARIO (3600 real s: 60 wall s at ×60), its cleanup comes
#: after it: a behave process past this many wall seconds per feature argument has hung.
LIMIT_PER_FEATURE = 150.0
#: After a signal, how long behave may take to clean up and exit before it counts as hung.
CLEANUP_LIMIT = 120.0
SWEEP_LIMIT = 120.0
QUIET_LIMIT = 30.0


@dataclass
class RunRecord:
    """What happened in one run, as the soak saw it (the judge adds what it means)."""

    schedule: Schedule
    folder: Path
    exit_code: int | None = None          # None: behave did not exit by itself (SIGKILL, or hung and killed)
    hung: bool = False
    aborted: bool = False                 # the soak itself was stopped (Ctrl-C) during this run
    wall: float = 0.0
    verdict_line: str = ""
    stderr_line: str = ""
    stderr: str = ""
    metrics: dict | None = None
    done: list[dict] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)
    interrupted: str | None = None        # the signal delivered to behave
    sweep_exit: int | None = None
    swept: bool = False
    left_for_sweep: list[str] = field(default_factory=list)   # alive after the kill, before the sweep
    quiet: bool = True
    truth: dict | None = None
    problem: str | None = None            # why the soak could not see something (sandbox start, truth)

    def to_dict(self) -> dict:
        return {"run": self.schedule.run, "exit_code": self.exit_code, "hung": self.hung, "aborted": self.aborted,
                "wall": round(self.wall, 2), "verdict_line": self.verdict_line, "stderr_line": self.stderr_line,
                "done": self.done, "not_reached": self.not_reached, "interrupted": self.interrupted,
                "swept": self.swept, "sweep_exit": self.sweep_exit, "left_for_sweep": self.left_for_sweep,
                "quiet": self.quiet, "problem": self.problem}


def limit_of(schedule: Schedule) -> float:
    return LIMIT_PER_FEATURE * len(schedule.features)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _supervise(proc: subprocess.Popen, injector: Injector, limit: float, stop: threading.Event,
               record: RunRecord) -> None:
    """Until behave ends: carry out the schedule; kill behave past its limit; on the soak's own stop, let
    behave clean up after a SIGINT as a user's Ctrl-C would."""
    started = time.monotonic()
    signalled = None
    while True:
        try:
            proc.wait(POLL)
            return
        except subprocess.TimeoutExpired:
            pass
        injector.tick()
        now = time.monotonic()
        if injector.interrupted and signalled is None:
            signalled = now
        if stop.is_set() and not record.aborted:
            record.aborted = True
            proc.send_signal(signal.SIGINT)     # as a Ctrl-C: behave's cleanup still runs
            signalled = signalled or now
        overran = now - started > limit or (signalled is not None and now - signalled > CLEANUP_LIMIT)
        if overran:
            record.hung = True
            proc.kill()
            proc.wait()
            return


def run(schedule: Schedule, root: Path, stop: threading.Event) -> RunRecord:
    """Run ``schedule`` under ``root/runs/<k>/`` and return what happened (never raises for the run's own
    failures: a sandbox that would not start is the record's ``problem``)."""
    folder = root / "runs" / str(schedule.run)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schedule.json").write_text(json.dumps(schedule.to_dict(), indent=1), encoding="utf-8")
    (folder / "schedule.txt").write_text("\n".join(schedule.lines()) + "\n", encoding="utf-8")
    record = RunRecord(schedule, folder)
    reports = folder / "reports"
    try:
        sb = sandbox.start(data_dir=folder / "sandbox", time_scale=TIME_SCALE, seed=schedule.sandbox_seed)
    except Exception as error:
        record.problem = f"the sandbox did not start: {str(error)[:300]}"
        return record
    proc = None
    try:
        env = launch.environment(sb.url, reports, schedule.run_id, schedule.budget)
        injector = Injector(sb.admin, schedule.actions, schedule.interrupt)
        injector.arm()
        limit = limit_of(schedule)
        started = time.monotonic()
        with CpuLoad(schedule.load, limit + CLEANUP_LIMIT):
            proc = launch.start_behave(schedule.features, env, folder / "stdout.log", folder / "stderr.log")
            injector.watch(proc)
            _supervise(proc, injector, limit, stop, record)
        record.wall = time.monotonic() - started
        record.interrupted = injector.interrupted
        record.done = [d.to_dict() for d in injector.done]
        record.not_reached = injector.not_reached()
        killed = record.hung or record.interrupted == "SIGKILL"
        record.exit_code = None if killed else proc.returncode
        record.verdict_line = launch.last_line(folder / "stdout.log")
        record.stderr = (folder / "stderr.log").read_text(encoding="utf-8", errors="replace")
        record.stderr_line = launch.last_line(folder / "stderr.log")
        record.metrics = _read_json(reports / "metrics.json")
        record.quiet = wait_quiet(sb.admin, QUIET_LIMIT)
        if killed:                                # as the README says to after a kill -9: make sweep
            record.left_for_sweep = [f"{r['kind']} {r['id']}" for r in sb.admin.resources(alive=True)]
            record.swept = True
            record.sweep_exit = launch.sweep(env, folder / "sweep.log", SWEEP_LIMIT)
            record.quiet = wait_quiet(sb.admin, QUIET_LIMIT) and record.quiet
        record.truth = collect(sb.admin)
    except Exception as error:                    # the soak's own trouble: the run is unjudged, and says why
        record.problem = f"the soak could not follow the run: {type(error).__name__}: {str(error)[:300]}"
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        sb.stop()
    if record.truth is not None:
        (folder / "truth.json").write_text(json.dumps(record.truth), encoding="utf-8")
    return record
