"""Journeys run side by side (support.parallel, `make acceptance`): the merged Allure results keep every
attachment, hold one result per scenario that ran (no phantom "skipped" copies of the scenarios another
worker ran), one set of run-level files and charts, and one JUnit file per feature."""

from __future__ import annotations

import json
from itertools import takewhile
from xml.etree import ElementTree

from tests.reports.conftest import PARALLEL_JOURNEYS

ATTACHMENTS = {"phase timings", "phase timings (json)", "journey metrics", "timeline (svg)"}


def results(run) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in (run.reports / "allure-results").glob("*-result.json")]


def test_parallel_run_keeps_attachments_and_writes_one_set_of_run_files(parallel_run):
    reports = parallel_run.reports
    folder = reports / "allure-results"
    assert not parallel_run.stale.exists()
    found = results(parallel_run)
    assert sorted(label["value"] for r in found for label in r["labels"] if label["name"] == "epic") == sorted(
        PARALLEL_JOURNEYS.values())
    for result in found:
        attachments = {a["name"]: a["source"] for a in result["attachments"]}
        assert ATTACHMENTS <= set(attachments), result["name"]
        assert all((folder / source).is_file() for source in attachments.values())
    installs = [s for r in found for s in r["steps"] if s["name"].startswith("When I install the model")]
    assert len(installs) == 3
    for install in installs:
        assert [a["name"] for a in install["attachments"]] == ["ssh: installing model qwen3-0.6b"]
    (globals_file,) = folder.glob("*-globals.json")
    charts = json.loads(globals_file.read_text(encoding="utf-8"))["attachments"]
    assert len(charts) == 2 and all((folder / c["source"]).is_file() for c in charts)
    timeline = (reports / "timeline.svg").read_text(encoding="utf-8")
    assert 'data-journey="Quick checks"' in timeline and 'data-journey="Instance Lifecycle"' in timeline
    environment = ElementTree.parse(folder / "environment.xml").getroot()
    assert {p.findtext("key"): p.findtext("value") for p in environment.iter("parameter")}["Run"].startswith(
        "reports-par ")


def test_one_result_per_scenario_that_ran_and_no_phantom(parallel_run):
    """Each worker runs `behave file:line`: the other scenario of failover.feature must not come back as a
    skipped result with the same history id (Allure counted those as skipped and retried)."""
    found = results(parallel_run)
    assert sorted(r["name"] for r in found) == sorted(PARALLEL_JOURNEYS)
    assert {r["status"] for r in found} == {"passed"}
    assert len({r["historyId"] for r in found}) == len(found)
    assert "passed  features/failover.feature:33  The GPU fails; the standby takes over" in parallel_run.stdout


def test_one_junit_file_per_feature_holding_what_ran(parallel_run):
    junit = parallel_run.reports / "junit"
    assert sorted(p.name for p in junit.glob("TESTS-*.xml")) == [
        "TESTS-features.failover.xml", "TESTS-features.instance.xml", "TESTS-features.quick.xml"]
    failover = ElementTree.parse(junit / "TESTS-features.failover.xml").getroot()
    assert (failover.get("tests"), failover.get("skipped"), failover.get("failures")) == ("2", "0", "0")
    assert sorted(case.get("name") for case in failover.iter("testcase")) == sorted(
        name for name, journey in PARALLEL_JOURNEYS.items() if journey == "Failover CPU Standby")
    assert {case.get("status") for case in failover.iter("testcase")} == {"passed"}


def test_journeys_sharing_a_kind_are_named_by_their_scenario_everywhere(parallel_run):
    failovers = sorted(f"Failover CPU Standby — {name}" for name, journey in PARALLEL_JOURNEYS.items()
                       if journey == "Failover CPU Standby")
    metrics = parallel_run.metrics
    assert sorted(j["display_name"] for j in metrics["journeys"]) == sorted(
        failovers + ["Instance Lifecycle", "Quick checks"])
    text = (parallel_run.reports / "report-en.txt").read_text(encoding="utf-8")
    for name in failovers:
        assert f"✅ {name}: " in text, name
    assert "✅ Failover CPU Standby: " not in text
    svg = "{http://www.w3.org/2000/svg}"
    timeline = ElementTree.parse(parallel_run.reports / "timeline.svg").getroot()
    shown = sorted(e.get("data-journey") for e in timeline.iter(f"{svg}rect") if e.get("data-journey"))
    assert [name for name in shown if name.startswith("Failover")] == failovers
    labels = [e.text for e in timeline.iter(f"{svg}text") if e.text and e.text.startswith("Failover")]
    assert len(set(labels)) == 2, labels          # clipped, the two labels still differ
    cost = ElementTree.parse(parallel_run.reports / "cost-per-journey.svg").getroot()
    assert sorted(e.get("data-journey") for e in cost.iter(f"{svg}text")
                  if (e.get("data-journey") or "").startswith("Failover")) == failovers
    folder = parallel_run.reports / "allure-results"
    for result in results(parallel_run):
        if PARALLEL_JOURNEYS[result["name"]] == "Failover CPU Standby":
            source = next(a["source"] for a in result["attachments"] if a["name"] == "timeline (svg)")
            title = ElementTree.parse(folder / source).getroot().findtext(f"{svg}title")
            assert title == f"Failover CPU Standby — {result['name']}"


def test_each_journey_reports_its_api_calls_and_the_time_they_lost(parallel_run):
    """The standby status request was rate limited once and lost its answer once: the journey that sent it
    says so, in seconds, in metrics.json and in the text report; the run's API figures add up."""
    metrics = parallel_run.metrics
    journeys = metrics["journeys"]
    for journey in journeys:
        assert set(journey["api"]) == {"calls", "retries", "rate_limited", "backoff_seconds", "stalled_seconds"}
        assert journey["api"]["calls"] > 0, journey["display_name"]
    hit = [j for j in journeys if j["api"]["rate_limited"]]
    assert len(hit) == 1 and hit[0]["journey"] == "Failover CPU Standby", [j["api"] for j in journeys]
    api = hit[0]["api"]
    assert api["rate_limited"] == 1 and api["retries"] >= 2
    assert api["backoff_seconds"] > 0 and api["stalled_seconds"] > 0
    run = metrics["api"]
    assert run["rate_limited"] == 1 and run["stalled_seconds"] >= api["stalled_seconds"]
    assert run["calls"] >= sum(j["api"]["calls"] for j in journeys)      # plus each worker's login
    text = (parallel_run.reports / "report-en.txt").read_text(encoding="utf-8")
    line = f"✅ {hit[0]['display_name']}: "
    # The journey's own lines follow it, each starting "↳" (its offer, its API figures, its GPU check).
    own = list(takewhile(lambda t: t.startswith("   ↳ "), text[text.index(line):].splitlines()[1:]))
    [following] = [t for t in own if t.startswith("   ↳ API: ")]
    expected = f"   ↳ API: {api['calls']} calls, {api['retries']} retries, 1 rate limited, "
    assert following.startswith(expected), following
    assert "waiting in backoff" in following and "lost to stalls" in following
