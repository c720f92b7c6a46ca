"""Running behave as a subprocess against a sandbox a test started, then reading its ground truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class BehaveRun:
    returncode: int
    stdout: str
    stderr: str
    reports: Path
    run_id: str

    @property
    def metrics(self) -> dict:
        return json.loads((self.reports / "metrics.json").read_text())

    @property
    def label(self) -> str:
        return self.metrics["run"]["label"]


def run_behave(features: list[str], reports: Path, url: str | None, run_id: str, extra_env=None,
               timeout: float = 240) -> BehaveRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMONT_", "TEST_", "SANDBOX_"))}
    env.update({"DUMONT_REPORTS_DIR": str(reports), "DUMONT_RUN_ID": run_id, "PYTHONUNBUFFERED": "1"})
    if url:
        env["DUMONT_API_URL"] = url
    env.update(extra_env or {})
    done = subprocess.run([sys.executable, "-m", "behave", "--no-capture", *features], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return BehaveRun(done.returncode, done.stdout, done.stderr, reports, run_id)


