"""Journeys side by side: one run, merged reports, wall time near the slowest journey."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from support.ledger import maybe_alive, read_entries
from support.parallel import discover, shard, slow_first
from tests.behave_run import ROOT, alive, behave_env

FEATURES = ["features/instance.feature", "features/snapshot.feature", "features/quick.feature"]


def test_shards_partition_the_scenarios():
    units = discover(["features"])
    parts = [shard(units, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(u for part in parts for u in part) == sorted(units)
    assert all(parts), "every shard gets work"
    assert shard(units, "2/3") == shard(discover(["features"]), "2/3")


def test_the_long_scenarios_start_first():
    units = [u for u in discover(["features"]) if not u.serial]
    order = [unit for _, unit in slow_first(list(enumerate(units)))]
    assert [u.file for u in order if u.slow] == ["features/snapshot.feature"]
    assert order[0].slow and not any(u.slow for u in order[1:])
    assert [u for u in order if not u.slow] == [u for u in units if not u.slow]     # the rest in file order


def test_parallel_run_is_one_run(tmp_path, sandbox_server):
    reports = tmp_path / "reports"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "support.parallel", "--jobs", "3", *FEATURES], cwd=ROOT,
                          env=behave_env(reports, sandbox_server.url, "par"), capture_output=True, text=True,
                          timeout=300)
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metrics = json.loads((reports / "metrics.json").read_text())
    journeys = {j["journey"]: j for j in metrics["journeys"]}
    assert set(journeys) == {"Instance Lifecycle", "Snapshot/Restore", "Quick checks"}
    assert "REAL TEST REPORT" in done.stdout and (reports / "report-en.txt").is_file()
    results = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    assert len(results) == 3
    # The workers that rented machines (all but the quick checks) wrote to the one ledger; nothing is left.
    entries = read_entries(reports / "ledger.jsonl")
    assert {e["run_id"] for e in entries} == {"par-w0", "par-w2"}
    assert maybe_alive(entries) == []
    for worker in ("par-w0", "par-w1", "par-w2"):
        assert alive(sandbox_server, f"dumont-acc-{worker}") == []
    slowest = max(j["duration_seconds"] for j in metrics["journeys"])
    total = sum(j["duration_seconds"] for j in metrics["journeys"])
    assert wall < total, f"no overlap: wall {wall:.1f} s, journeys {total:.1f} s"
    assert slowest <= metrics["run"]["duration_seconds"] <= wall


def test_shards_from_several_machines_merge_into_one_report(tmp_path, sandbox_server):
    shards = tmp_path / "shards"
    for index in (1, 2):
        done = subprocess.run([sys.executable, "-m", "support.parallel", "--shard", f"{index}/2", "--jobs", "1",
                               "features/quick.feature", "features/instance.feature"], cwd=ROOT,
                              env=behave_env(shards / str(index), sandbox_server.url, f"shard{index}"),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    merged = tmp_path / "merged"
    done = subprocess.run([sys.executable, "-m", "support.parallel", "--merge", str(shards)], cwd=ROOT,
                          env=behave_env(merged, None, "merge"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    metrics = json.loads((merged / "metrics.json").read_text())
    assert sorted(j["journey"] for j in metrics["journeys"]) == ["Instance Lifecycle", "Quick checks"]
    assert len(list((merged / "allure-results").glob("*-result.json"))) == 2
    assert "REAL TEST REPORT" in (merged / "report-en.txt").read_text()


def test_the_others_start_once_the_first_long_journey_waits_for_its_machine(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from support import parallel
    from support.files import write_atomically

    units = [parallel.Unit("a.feature", 1, "long", False, True), parallel.Unit("b.feature", 1, "short", False, False),
             parallel.Unit("c.feature", 1, "serial", True, False)]
    runner = parallel.Runner(SimpleNamespace(reports_dir=tmp_path), units, jobs=3, behave_args=[], out=lambda *a: None)
    started = {}

    def run_one(index, unit, url):
        started[unit.name] = time.monotonic()
        if unit.name == "long":             # its create answered: it now waits for its machine
            started["rented"] = time.monotonic()
            runner._progress_file(index).parent.mkdir(parents=True)
            write_atomically(runner._progress_file(index), json.dumps({"journey": "long", "phase": "running"}))
        return 0

    monkeypatch.setattr(runner, "_run_one", run_one)
    monkeypatch.setattr(runner, "_merge", lambda *a: None)
    runner.config.budget_path = tmp_path / "budget.json"
    assert runner.run("http://sandbox") == 0
    assert started["short"] > started["rented"] and started["serial"] > started["rented"]
