"""``python -m support.parallel``: run the journeys side by side, report them as one run.

Each scenario runs in its own behave process (``--jobs`` at a time) against
one target: the configured server, or one sandbox started here for all of
them. The workers share the ledger and the request budget; their reports,
metrics and Allure results are merged into the usual places under the
reports directory, with one final report. ``--shard i/n`` keeps every n-th
scenario starting at the i-th, so n machines can split a run between them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from behave.configuration import Configuration, read_configuration
from behave.model import ScenarioOutline
from behave.parser import parse_file
from behave.runner_util import collect_feature_locations, load_step_modules, parse_features
from behave.step_registry import registry

from support import config as configuration
from support import preflight, report
from support.allure_out.finish import finish_merged_run
from support.files import write_atomically
from support.progress import read_status, terminal_columns, worker_lines
from support.reporting.summary import summarize_merged
from support.run import Run
from support.verdict import judge

ROOT = Path(__file__).resolve().parent.parent


#: Scenarios with this tag change account-wide settings (e.g. CPU standby): they run one after another,
#: in a lane of their own beside the others.
SERIAL_TAG = "serial"
#: Scenarios with this tag are long: they start first, so that the run does not last a short scenario
#: plus the longest one.
SLOW_TAG = "slow"
#: Wall seconds the other workers wait at most for the first long journey to rent its machine.
LEADER_LIMIT = 60.0


@dataclass(frozen=True, order=True)
class Unit:
    """One scenario (or one example row of a scenario outline) to run: ``behave <file>:<line>``."""

    file: str
    line: int
    name: str
    serial: bool = False
    slow: bool = False

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


def outline_names() -> None:
    """Name the scenarios of an outline as behave will (behave.ini's ``scenario_outline_annotation_schema``:
    the outline's name with the row's values in place of its placeholders)."""
    settings = read_configuration(str(ROOT / "behave.ini"))
    schema = settings.get("scenario_outline_annotation_schema")
    if schema:
        ScenarioOutline.annotation_schema = schema.strip()


def discover(paths: list[str]) -> list[Unit]:
    """Every scenario of the feature files, and every example row of each outline (by the row's line),
    named as the reports will name it."""
    outline_names()
    files = []
    for path in paths:
        target = Path(path)
        files += sorted(target.glob("*.feature")) if target.is_dir() else [target]
    units = []
    for file in files:
        feature = parse_file(str(file))
        for item in feature.scenarios:
            for scenario in (item.scenarios if isinstance(item, ScenarioOutline) else [item]):
                tags = scenario.effective_tags
                units.append(Unit(str(file), scenario.line, scenario.name, SERIAL_TAG in tags, SLOW_TAG in tags))
    return sorted(units, key=lambda u: (u.file, u.line))


def slow_first(numbered: list[tuple[int, Unit]]) -> list[tuple[int, Unit]]:
    """The order in which the lanes take the scenarios: the long ones first, the others in file order.
    The first long one starts alone until it has rented its machine (``Runner._wait_until_it_rents``)."""
    return sorted(numbered, key=lambda item: not item[1].slow)


def shard(units: list[Unit], spec: str | None) -> list[Unit]:
    """``i/n``: every n-th unit starting at the i-th (1-based); deterministic for a given set of files."""
    if not spec:
        return units
    index, count = (int(part) for part in spec.split("/"))
    if not 1 <= index <= count:
        raise ValueError(f"--shard {spec}: expected i/n with 1 <= i <= n")
    return [unit for position, unit in enumerate(units) if position % count == index - 1]


class Runner:
    def __init__(self, config, units: list[Unit], jobs: int, behave_args: list[str], out=print):
        self.config = config
        self.units = units
        self.jobs = jobs
        self.behave_args = behave_args
        self.out = out
        self.workers_dir = config.reports_dir / "workers"
        self.procs: dict[int, subprocess.Popen] = {}
        self.interrupted = False
        self.summary: dict | None = None       # the merged metrics.json, once the workers are done

    def _env(self, index: int, url: str) -> dict:
        env = dict(os.environ)
        env.update({"DUMONT_API_URL": url, "DUMONT_REPORTS_DIR": str(self.workers_dir / str(index)),
                    "DUMONT_RUN_ID": f"{self.config.run_id}-w{index}", "DUMONT_LEDGER": str(self.config.ledger_path),
                    # One budget for the whole run: every worker reserves from the same file.
                    "DUMONT_BUDGET_RUN": self.config.budget_run,
                    "DUMONT_PROGRESS_FILE": str(self._progress_file(index)),
                    "PYTHONUNBUFFERED": "1"})
        return env

    def _progress_file(self, index: int) -> Path:
        return self.workers_dir / str(index) / "progress.json"

    def _show_progress(self, done: threading.Event, stream=None, every: float = 30.0) -> None:
        """While workers run: one line per worker with its journey and phase (redrawn in place on a
        terminal, every ``every`` seconds otherwise)."""
        stream = stream or sys.__stderr__
        live = stream.isatty()
        drawn, last = 0, time.monotonic()
        while not done.wait(0.5 if live else 1.0):
            statuses = {str(i): read_status(self._progress_file(i)) or {} for i, p in list(self.procs.items())
                        if p.poll() is None}
            if live:
                lines = worker_lines(statuses, columns=terminal_columns(stream) - 1)   # a wrapped line breaks \033[F
                stream.write(("\033[F\033[K" * drawn) + "".join(f"{line}\n" for line in lines))
                drawn = len(lines)
            elif time.monotonic() - last >= every and (lines := worker_lines(statuses)):
                last = time.monotonic()
                stream.write("".join(f"{line}\n" for line in lines))
            stream.flush()
        if live and drawn:
            stream.write("\033[F\033[K" * drawn)
            stream.flush()

    def _run_one(self, index: int, unit: Unit, url: str) -> int:
        if self.interrupted:
            return 130
        folder = self.workers_dir / str(index)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "behave.log", "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "behave", "--no-capture", *self.behave_args,
                                     unit.location], cwd=ROOT, env=self._env(index, url), stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            self.procs[index] = proc
            code = proc.wait()
        self.out(f"{'passed' if code == 0 else 'FAILED'}  {unit.location}  {unit.name}  (log: {folder}/behave.log)")
        return code

    def _wait_until_it_rents(self, index: int, limit: float = LEADER_LIMIT) -> None:
        """Until worker ``index`` waits for its first machine (its progress shows a phase), or ends.

        After each create the real server answers nothing for about two minutes, on any route. The longest
        journey goes first so that its create is first: the others' stalls then come while it waits for its
        own machine, instead of holding its create behind theirs (the run lasted as long as the longest
        journey plus every other create's stall).
        """
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.interrupted:
            proc = self.procs.get(index)
            if proc is not None and proc.poll() is not None:
                return
            if (read_status(self._progress_file(index)) or {}).get("phase"):
                return
            time.sleep(0.02)

    def _forward(self, signum, frame) -> None:
        self.interrupted = True
        self.out(f"{signal.Signals(signum).name}: asking every journey to stop and clean up")
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)

    def run(self, url: str) -> int:
        shutil.rmtree(self.workers_dir, ignore_errors=True)
        started = time.time()
        previous = {s: signal.signal(s, self._forward) for s in (signal.SIGINT, signal.SIGTERM)}
        numbered = list(enumerate(self.units))
        shared = slow_first([item for item in numbered if not item[1].serial])
        serial = [item for item in numbered if item[1].serial]
        done = threading.Event()
        shower = threading.Thread(target=self._show_progress, args=(done,), name="progress", daemon=True)
        shower.start()
        try:
            # The @serial scenarios change account-wide standby settings, which only they use: they run one
            # after another in a lane of their own, beside the others (whose instances have no standby).
            lanes = max(1, self.jobs - 1) if serial else self.jobs
            leader = shared[:1] if shared and shared[0][1].slow else []
            with ThreadPoolExecutor(max_workers=lanes + (1 if serial else 0)) as pool:
                runs = [pool.submit(self._run_one, index, unit, url) for index, unit in leader]
                for index, _ in leader:
                    self._wait_until_it_rents(index)
                serial_lane = pool.submit(lambda: [self._run_one(index, unit, url) for index, unit in serial])
                runs += [pool.submit(self._run_one, index, unit, url) for index, unit in shared[len(leader):]]
                codes = [run.result() for run in runs] + serial_lane.result()
        finally:
            done.set()
            shower.join(2.0)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self._merge(started, time.time())
        self.config.budget_path.unlink(missing_ok=True)       # the workers' shared budget: the run is over
        return 0 if all(code == 0 for code in codes) and not self.interrupted else 1

    def _merge(self, started: float, ended: float) -> None:
        self.summary = merge_folders(self.config.reports_dir, self.workers_dir, self.config.language, started,
                                     ended, self.out)


def merge_folders(reports_dir: Path, parent: Path, language: str, started: float | None = None,
                  ended: float | None = None, out=print) -> dict | None:
    """Merge the reports folders under ``parent`` (workers of one run, or the shards of several
    machines) into ``reports_dir``: one metrics.json, one final report, one set of Allure results."""
    results = reports_dir / "allure-results"
    results.mkdir(parents=True, exist_ok=True)
    summaries = []
    folders = sorted((p for p in parent.iterdir() if p.is_dir()),
                     key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else p.name))
    for folder in folders:
        metrics = folder / "metrics.json"
        if metrics.is_file():
            summaries.append(json.loads(metrics.read_text()))
        for result in (folder / "allure-results").glob("*"):
            if result.is_file():
                write_atomically(results / result.name, result.read_bytes())
    if not summaries:
        out(f"nothing to merge: no metrics.json under {parent}")
        return None
    summary = summarize_merged(summaries, started, ended)
    text = report.write(summary, reports_dir, language)
    finish_merged_run(reports_dir, summary, language, parent)
    out("\n" + text)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.parallel", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["features"], help="feature files or folders")
    parser.add_argument("--jobs", "-j", type=int, default=3, help="journeys at a time (default 3)")
    parser.add_argument("--shard", help="i/n: run only this machine's share of the scenarios")
    parser.add_argument("--tags", action="append", default=[], help="passed to behave")
    parser.add_argument("--merge", metavar="FOLDER",
                        help="run nothing: merge the reports folders under FOLDER (e.g. one per shard) "
                             "into the reports directory")
    args = parser.parse_args(argv)
    try:
        config = configuration.load()
    except configuration.ConfigError as error:
        configuration.exit_with_problems(error.problems, error.warnings)
    configuration.print_warnings(config.warnings)
    if args.merge:
        return 0 if merge_folders(config.reports_dir, Path(args.merge), config.language) else 1
    try:
        units = shard(discover(args.paths), args.shard)
    except (ValueError, OSError) as error:
        configuration.exit_with_problems([str(error)])
    if not units:
        print("no scenario to run")
        return 0
    behave_args = [f"--tags={t}" for t in args.tags]
    try:
        run = Run.start(config)
    except configuration.ConfigError as error:
        configuration.exit_with_problems(error.problems)
    try:
        settled = settle_before_running(run, [unit.location for unit in units], behave_args)
        if settled.problems:
            run.close()                 # nothing was rented: stop the sandbox, and leave with exit 2
            configuration.exit_with_problems(settled.problems)
        if run.target.is_sandbox:
            print(f"Sandbox for this run: {run.target.url} (time ×{run.target.time_scale:g})")
        runner = Runner(config, units, max(1, args.jobs), behave_args)
        code = runner.run(run.target.url)
    finally:
        run.close()
    verdict = judge(runner.summary, config.language, [] if code == 0 else ["a journey's process failed (see its log)"])
    print(verdict.line(config.language), flush=True)
    return max(code, verdict.exit_code)


def settle_before_running(run: Run, locations: list[str], behave_args: list[str]) -> preflight.Preflight:
    """The spend opt-in and the budget for every scenario the workers will run, before the first starts
    (each worker checks its own scenario again, as plain behave does)."""
    load_step_modules([str(ROOT / "steps")])
    behave_config = Configuration([*behave_args, *locations])
    features = parse_features(collect_feature_locations(behave_config.paths))
    return run.settle(preflight.selected(features, behave_config, registry))


if __name__ == "__main__":
    sys.exit(main())
