"""The runs the report tests read, each once per test session, against a sandbox of its own.

The triad: one behave run with a passing, a failing and an interrupted journey.

* passing: the quick checks;
* failing: the instance journey, whose machine never leaves ``loading`` (sandbox
  fault ``never_running``) so the ``running`` phase times out (DUMONT_TIMEOUT_RUNNING);
* interrupted: the snapshot journey, sent SIGINT when its "take a snapshot" step
  starts (after its model was installed over SSH).

The tests read its reports and the sandbox's ground truth (billing, resources, events), saved
before the sandbox stops.

The all-pass parallel run (``support.parallel``, as `make acceptance` runs): the quick checks, the
instance journey and the two failover scenarios (one feature, an outline and a scenario, sharing
their journey's name), every one passing, one of them after a rate limit and a lost answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import sandbox

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "reports-triad"
LABEL = f"dumont-acc-{RUN_ID}"
#: The journeys of the run and how each ends.
STATUSES = {"Quick checks": "passed", "Instance Lifecycle": "failed", "Snapshot/Restore": "interrupted"}
FEATURES = ["features/quick.feature", "features/instance.feature", "features/snapshot.feature"]
#: behave's pretty formatter prints a step's line when the step starts: the interrupt lands there.
INTERRUPT_FEATURE = "Feature: Snapshot and restore"
INTERRUPT_STEP = "When I take a snapshot of the instance"
#: Fixed sandbox durations (nominal seconds, ×60 faster): boot 1.5 s, SSH 0.17 s later.
TIMINGS = {"boot": 90, "ssh_ready": 10}
#: The running phase may take 180 nominal s = 3 s: plenty for a 90 s boot, a timeout for never_running.
TIMEOUT_RUNNING = "180"


@dataclass
class TriadRun:
    returncode: int
    stdout: str
    stderr: str
    reports: Path
    interrupted_at: float | None
    billing: dict = field(default_factory=dict)
    resources: list = field(default_factory=list)
    events: list = field(default_factory=list)

    @property
    def metrics(self) -> dict:
        return json.loads((self.reports / "metrics.json").read_text(encoding="utf-8"))

    def journey(self, name: str) -> dict:
        return next(j for j in self.metrics["journeys"] if j["journey"] == name)

    def billed(self) -> dict[str, dict]:
        return {str(r["id"]): r for r in self.billing["resources"] if str(r["label"]).startswith(LABEL)}

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-3000:]}"


def behave_env(reports: Path, url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMONT_", "TEST_", "SANDBOX_", "VAST_"))}
    env.update({"DUMONT_REPORTS_DIR": str(reports), "DUMONT_RUN_ID": RUN_ID, "DUMONT_API_URL": url,
                "DUMONT_REPORT_LANG": "en", "DUMONT_TIMEOUT_RUNNING": TIMEOUT_RUNNING, "PYTHONUNBUFFERED": "1"})
    return env


def run_triad(reports: Path, sb, timeout: float = 120) -> TriadRun:
    sb.admin.add_fault(kind="never_running", count=1)     # the first machine created: the instance journey's
    proc = subprocess.Popen([sys.executable, "-m", "behave", *FEATURES], cwd=ROOT, env=behave_env(reports, sb.url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    err: list[str] = []
    pump = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
    pump.start()
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    out: list[str] = []
    interrupted_at = None
    in_feature = False
    try:
        for line in proc.stdout:
            out.append(line)
            in_feature = in_feature or INTERRUPT_FEATURE in line
            if in_feature and interrupted_at is None and INTERRUPT_STEP in line:
                proc.send_signal(signal.SIGINT)
                interrupted_at = time.time()
        proc.wait(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        pump.join(5)
    return TriadRun(proc.returncode, "".join(out), "".join(err), reports, interrupted_at)


@pytest.fixture(scope="session")
def triad(tmp_path_factory) -> TriadRun:
    base = tmp_path_factory.mktemp("triad")
    sb = sandbox.start(data_dir=base / "sandbox", time_scale=60.0, seed=7,
                       extra_args=["--timings", json.dumps(TIMINGS)])
    try:
        run = run_triad(base / "reports", sb)
        run.billing = sb.admin.billing()
        run.resources = sb.admin.resources(label_prefix=LABEL)
        run.events = sb.admin.events()
    finally:
        sb.stop()
    assert run.interrupted_at is not None, "the snapshot journey never reached its snapshot step\n" + run.describe()
    assert (run.reports / "metrics.json").is_file(), run.describe()
    return run


#: The all-pass parallel run: its features, and its journeys by scenario name.
PARALLEL_FEATURES = ["features/quick.feature", "features/instance.feature", "features/failover.feature"]
PARALLEL_JOURNEYS = {
    "The service answers and has machines for rent": "Quick checks",
    "Rent the cheapest GPU, install a model, snapshot, pause, resume and delete it": "Instance Lifecycle",
    "The GPU fails; the standby takes over by itself and the work comes back to a GPU": "Failover CPU Standby",
    "The GPU fails and the operator triggers the failover": "Failover CPU Standby",
}

#: Faults of the parallel run: only the failover journeys ask for the account's standby status.
STANDBY_STATUS = "/api/v1/standby/status"
API_FAULTS = [{"kind": "rate_limit", "form": "429", "method": "GET", "path": STANDBY_STATUS, "count": 1},
              {"kind": "lost_response", "method": "GET", "path": STANDBY_STATUS, "count": 1}]


@dataclass
class ParallelRun:
    returncode: int
    stdout: str
    stderr: str
    reports: Path
    stale: Path             # a result file of an earlier run, left in the results directory before this one

    @property
    def metrics(self) -> dict:
        return json.loads((self.reports / "metrics.json").read_text(encoding="utf-8"))

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-3000:]}"


@pytest.fixture(scope="session")
def parallel_run(tmp_path_factory) -> ParallelRun:
    base = tmp_path_factory.mktemp("parallel")
    reports = base / "reports"
    stale = reports / "allure-results" / "0000-earlier-run-result.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMONT_", "TEST_", "SANDBOX_", "VAST_"))}
    with sandbox.start(data_dir=base / "sandbox", time_scale=60.0, seed=3) as sb:
        # The first failover journey's first standby status request is rate limited (429), then its
        # answer is lost (the connection drops): retried both times, the journey passes, and reports it.
        for fault in API_FAULTS:
            sb.admin.add_fault(**fault)
        env.update(DUMONT_API_URL=sb.url, DUMONT_REPORTS_DIR=str(reports), DUMONT_RUN_ID="reports-par",
                   DUMONT_REPORT_LANG="en", PYTHONUNBUFFERED="1")
        done = subprocess.run([sys.executable, "-m", "support.parallel", "--jobs", "2", *PARALLEL_FEATURES],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    run = ParallelRun(done.returncode, done.stdout, done.stderr, reports, stale)
    assert run.returncode == 0, run.describe()
    return run
