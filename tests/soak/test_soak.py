"""A small soak with a fixed seed, end to end: `python -m soak` as `make soak` runs it, then its summary.

Seed 167, runs 8 to 10: the instance journey (in Portuguese) under several faults and a SIGINT, the
failover journey on request killed with SIGKILL and then swept, and the automatic failover journey
under a rate-limit storm, a 503, a price change and a sync that never completes: about half a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from soak.schedule import draw
from tests.behave_run import ROOT

SEED, START, RUNS = 167, 8, 3


def test_the_drawn_soak_is_the_one_this_test_means():
    """If the drawing changes, pick another window: this test must keep an interrupt, a kill and several kinds."""
    plans = [draw(SEED, k) for k in range(START, START + RUNS)]
    assert {p.interrupt.signal for p in plans if p.interrupt} >= {"SIGINT", "SIGKILL"}
    assert len({a.kind for p in plans for a in p.actions}) >= 7


def test_a_fixed_seed_soak_keeps_every_promise(tmp_path):
    out = tmp_path / "soak"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMONT_", "TEST_", "SANDBOX_", "VAST_"))}
    done = subprocess.run([sys.executable, "-m", "soak", "--seed", str(SEED), "--start", str(START),
                           "--runs", str(RUNS), "--jobs", "2", "--reports", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=480)
    summary = json.loads((out / "summary.json").read_text())
    explain = done.stdout[-4000:] + done.stderr[-2000:]
    assert summary["runs"] == RUNS, explain
    assert summary["leaks"] == 0, explain
    assert summary["false_passes"] == 0, explain
    assert summary["brackets_missed"] == 0, explain
    assert summary["unjudged"] == 0, explain
    assert summary["over_budget"] == 0, explain
    assert summary["brackets_checked"] > 0, explain
    assert summary["interrupts"].get("SIGKILL") == 1, explain
    assert done.returncode == 0, explain
    # Good runs keep what replays them; the summary names the seed and the table is printed.
    for k in range(START, START + RUNS):
        kept = {p.name for p in (out / "runs" / str(k)).iterdir()}
        assert {"schedule.json", "verdict.json"} <= kept
    assert f"seed {SEED}: {RUNS} run(s)" in done.stdout
