"""A run's behave process and its sweep, started as the suite's users start them.

The environment is the caller's without any DUMONT_/TEST_/SANDBOX_/VAST_ variable (so nothing of the
developer's own configuration leaks in), plus the run's target, reports directory, run id and budget:
the same as tests/behave_run.py's ``behave_env``. The sweep gets the same reports directory, hence the
same ledger, as a developer's ``make sweep`` after a ``kill -9`` would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from soak.catalogue import ROOT

LABEL_PREFIX = "dumont-acc"
_OWN = ("DUMONT_", "TEST_", "SANDBOX_", "VAST_")


def environment(url: str, reports: Path, run_id: str, budget: float) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN)}
    env.update(DUMONT_API_URL=url, DUMONT_REPORTS_DIR=str(reports), DUMONT_RUN_ID=run_id,
               DUMONT_BUDGET_USD=repr(budget), DUMONT_REPORT_LANG="en", PYTHONUNBUFFERED="1")
    return env


def start_behave(features: tuple[str, ...], env: dict, stdout: Path, stderr: Path) -> subprocess.Popen:
    """``python -m behave <features>`` in the repository, its output in two files (read after it ends)."""
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "behave", "--no-capture", *features], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err)


def sweep(env: dict, log: Path, timeout: float) -> int | None:
    """``python -m support.sweep`` with the run's environment; its exit code (None: it overran and was killed)."""
    sweeper = dict(env, DUMONT_RUN_ID=env["DUMONT_RUN_ID"] + "-sweep")
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "support.sweep"], cwd=ROOT, env=sweeper,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None


def last_line(path: Path) -> str:
    """The last non-empty line of a file: behave's verdict is the last thing a run prints."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")
