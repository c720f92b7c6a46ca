"""Running behave as a subprocess against a sandbox a test started, then reading its ground truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL_PREFIX = "dumont-acc"


@dataclass
class BehaveRun:
    returncode: int
    stdout: str
    stderr: str
    reports: Path
    run_id: str

    @property
    def metrics(self) -> dict:
        return json.loads((Path(self.reports) / "metrics.json").read_text())

    @property
    def label(self) -> str:
        return f"{LABEL_PREFIX}-{self.run_id}"

    def explain(self) -> str:
        """Why the run failed, for an assertion message: each failed journey's error, then the output's end."""
        try:
            errors = [f"{j['test_name']}: {j['status']}: {j['error_message']}" for j in self.metrics["journeys"]
                      if j["status"] != "passed"]
        except (OSError, ValueError, KeyError):
            errors = ["(no metrics.json)"]
        return ("\n".join(errors) + "\n--- stdout ---\n" + self.stdout[-2500:]
                + "\n--- stderr ---\n" + self.stderr[-1500:])


def behave_env(reports: Path, url: str | None, run_id: str, extra_env=None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMONT_", "TEST_", "SANDBOX_", "VAST_"))}
    env.update({"DUMONT_REPORTS_DIR": str(reports), "DUMONT_RUN_ID": run_id, "PYTHONUNBUFFERED": "1",
                "DUMONT_REPORT_LANG": "en"})
    if url:
        env["DUMONT_API_URL"] = url
    env.update(extra_env or {})
    return env


def run_behave(features: list[str], reports: Path, url: str | None, run_id: str, extra_env=None,
               timeout: float = 240) -> BehaveRun:
    done = subprocess.run([sys.executable, "-m", "behave", "--no-capture", *features], cwd=ROOT,
                          env=behave_env(reports, url, run_id, extra_env), capture_output=True, text=True,
                          timeout=timeout)
    return BehaveRun(done.returncode, done.stdout, done.stderr, reports, run_id)


class LiveBehave:
    """behave running in the background, its output collected as it comes (for signals and kill -9)."""

    def __init__(self, features: list[str], reports: Path, url: str | None, run_id: str, extra_env=None):
        self.reports, self.run_id = reports, run_id
        self.proc = subprocess.Popen([sys.executable, "-m", "behave", "--no-capture", *features], cwd=ROOT,
                                     env=behave_env(reports, url, run_id, extra_env), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream, lines):
        for line in stream:
            lines.append(line)

    def wait_for_text(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.out + self.err):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"behave never printed {text!r}:\n{''.join(self.out[-40:])}{''.join(self.err)}")
            time.sleep(0.01)

    def finish(self, timeout: float = 120) -> BehaveRun:
        self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return BehaveRun(self.proc.returncode, "".join(self.out), "".join(self.err), self.reports, self.run_id)


def wait_for_event(sb, label: str, event: str, timeout: float = 60) -> dict:
    """The first ground-truth event of that name on a resource of this label (or on a snapshot of one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ours = {str(r["id"]) for r in sb.admin.resources(label_prefix=label)}
        for e in sb.admin.events():
            detail = e.get("detail") or {}
            if e["event"] == event and (str(e["id"]) in ours or str(detail.get("instance_id")) in ours):
                return e
        time.sleep(0.01)
    raise AssertionError(f"no {event} event for {label} within {timeout} s")


def alive(sb, label: str) -> list[dict]:
    return [r for r in sb.admin.resources(label_prefix=label) if r["alive"]] + [
        r for r in sb.admin.resources(kind="snapshot") if r["alive"] and any(label in t for t in r.get("tags") or [])]


#: The sandbox stamps an event and makes it visible in one step of its single-threaded event loop, on the
#: same system clock as the suite: the two differ only by clock reads (wall seconds).
CLOCK_ALLOWANCE = 0.002


def assert_cost_within(machine: dict, billed: float, time_scale: float) -> None:
    """The sandbox's bill for a machine lies within the cost the suite reported, ± its uncertainty
    (plus the clock allowance at each end, and the rounding of metrics.json)."""
    slack = machine["price_per_hour"] * time_scale / 3600 * 2 * CLOCK_ALLOWANCE + 2e-6
    assert abs(machine["cost"] - billed) <= machine["cost_uncertainty"] + slack, (
        f"machine {machine['id']}: the sandbox billed ${billed:.6f}, the suite reported "
        f"${machine['cost']:.6f} ± {machine['cost_uncertainty']:.6f}")
