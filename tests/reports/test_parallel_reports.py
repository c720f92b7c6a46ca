"""Journeys run side by side (support.parallel, `make acceptance`): the merged Allure results keep every
attachment, hold one set of run-level files and charts, and the JUnit XML of every worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from xml.etree import ElementTree

import sandbox
from tests.reports.conftest import ROOT

ATTACHMENTS = {"phase timings", "phase timings (json)", "journey metrics", "timeline (svg)"}


def test_parallel_run_keeps_attachments_and_writes_one_set_of_run_files(tmp_path):
    reports = tmp_path / "reports"
    stale = reports / "allure-results" / "0000-earlier-run-result.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMONT_", "TEST_", "SANDBOX_", "VAST_"))}
    with sandbox.start(data_dir=tmp_path / "sandbox", time_scale=60.0, seed=3) as sb:
        env.update(DUMONT_API_URL=sb.url, DUMONT_REPORTS_DIR=str(reports), DUMONT_RUN_ID="reports-par",
                   DUMONT_REPORT_LANG="en")
        done = subprocess.run([sys.executable, "-m", "support.parallel", "--jobs", "2", "features/quick.feature",
                               "features/instance.feature"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = reports / "allure-results"
    assert not stale.exists()
    found = [json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*-result.json")]
    assert sorted(label["value"] for r in found for label in r["labels"] if label["name"] == "epic") == [
        "Instance Lifecycle", "Quick checks"]
    for result in found:
        attachments = {a["name"]: a["source"] for a in result["attachments"]}
        assert ATTACHMENTS <= set(attachments), result["name"]
        assert all((results / source).is_file() for source in attachments.values())
    install = next(s for r in found for s in r["steps"] if s["name"].startswith("When I install the model"))
    assert [a["name"] for a in install["attachments"]] == ["ssh: installing model qwen3-0.6b"]
    (globals_file,) = results.glob("*-globals.json")
    charts = json.loads(globals_file.read_text(encoding="utf-8"))["attachments"]
    assert len(charts) == 2 and all((results / c["source"]).is_file() for c in charts)
    timeline = (reports / "timeline.svg").read_text(encoding="utf-8")
    assert 'data-journey="Quick checks"' in timeline and 'data-journey="Instance Lifecycle"' in timeline
    environment = ElementTree.parse(results / "environment.xml").getroot()
    assert {p.findtext("key"): p.findtext("value") for p in environment.iter("parameter")}["Run"].startswith(
        "reports-par ")
    assert sorted(p.name for p in (reports / "junit").glob("TESTS-*.xml")) == [
        "TESTS-features.instance.xml", "TESTS-features.quick.xml"]
