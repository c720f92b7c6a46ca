"""The reports of a run with one passing, one failing and one interrupted journey, checked against the
sandbox's ground truth: the final report (printed and saved, en and pt), metrics.json (and its schema),
JUnit XML, the Allure results and the charts."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from support.allure_out.categories import CATEGORIES
from support.report import format_cost, render
from tests.behave_run import CLOCK_ALLOWANCE, assert_cost_within
from tests.reports.conftest import LABEL, ROOT, STATUSES

SCHEMA = ROOT / "schemas" / "metrics.schema.json"


def printed_report(stdout: str) -> str:
    start = stdout.index("=====================================\nREAL TEST REPORT")
    end = stdout.index("=====================================", stdout.index("INSTANCES CREATED/DELETED:", start))
    return stdout[start:end + 37]


def allure_results(reports: Path) -> dict[str, dict]:
    """Allure results by scenario name."""
    results = {}
    for path in (reports / "allure-results").glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        results[data["name"]] = data
    return results


def category(result: dict) -> str | None:
    """The category Allure 3 gives a result: the first rule whose statuses and message match."""
    message = (result.get("statusDetails") or {}).get("message") or ""
    for rule in CATEGORIES:
        if result["status"] in rule["matchedStatuses"] and (
                "messageRegex" not in rule or re.search(rule["messageRegex"], message)):
            return rule["name"]
    return None


# -- the run itself ---------------------------------------------------------------------------------------


def test_the_run_failed_was_interrupted_and_left_nothing_alive(triad):
    assert triad.returncode != 0, triad.describe()
    assert triad.resources, "the run created nothing"
    assert [r for r in triad.resources if r["alive"]] == [], triad.describe()
    assert {j["journey"]: j["status"] for j in triad.metrics["journeys"]} == STATUSES, triad.describe()


# -- the final report ------------------------------------------------------------------------------------


def test_final_report_is_printed_once_and_saved(triad):
    text = printed_report(triad.stdout)
    assert triad.stdout.count("REAL TEST REPORT") == 1
    saved = (triad.reports / "report-en.txt").read_text(encoding="utf-8")
    assert saved == text + "\n"


def test_final_report_sections_match_ground_truth(triad):
    text = (triad.reports / "report-en.txt").read_text(encoding="utf-8")
    metrics = triad.metrics
    billed = triad.billed()
    assert re.search(r"^Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", text, re.M)
    assert re.search(r"^Total duration: [\d.]+ s$", text, re.M)
    assert f"Total cost: {format_cost(metrics['run']['total_cost'])}" in text
    assert abs(metrics["run"]["total_cost"] - sum(r["cost"] for r in billed.values())) <= sum(
        m["cost_uncertainty"] for m in metrics["machines"]) + 1e-5
    assert "RUN INTERRUPTED (SIGINT)" in text
    assert re.search(r"^✅ Quick checks: [\d.]+ s$", text, re.M)
    gpus = {j["journey"]: re.escape(j["gpu_name"] or "") for j in metrics["journeys"]}
    assert re.search(rf"^❌ Instance Lifecycle: [\d.]+ s \({gpus['Instance Lifecycle']}, \$0\.\d{{4}}\)\n"
                     r"   ↳ .*phase 'running' did not finish within 180 s \(3\.0 s of wall time at ×60\)", text, re.M)
    assert re.search(rf"^⏹️ Snapshot/Restore: [\d.]+ s \({gpus['Snapshot/Restore']}, \$0\.\d{{4}}\)\n"
                     r"   ↳ interrupted \(SIGINT\); its cleanup ran$", text, re.M)
    assert "- Success rate: 33%" in text
    assert re.search(r"^- API calls: \d+ \(\d+ retries, 0 rate limited\)$", text, re.M)
    instances = [r for r in triad.resources if r["kind"] == "instance"]
    assert len(instances) == 2
    for resource in instances:
        assert f"- {resource['id']}: {resource['gpu_name']} - DELETED ✅" in text


def test_final_report_in_portuguese(triad):
    text = render(triad.metrics, "pt")
    for expected in ("RELATÓRIO DE TESTES REAIS", "EXECUÇÃO INTERROMPIDA (SIGINT)", "JORNADAS EXECUTADAS:",
                     "↳ interrompida (SIGINT); a limpeza foi executada", "Taxa de sucesso: 33%",
                     "INSTÂNCIAS CRIADAS/DELETADAS:"):
        assert expected in text, expected
    assert text.count("DELETADA ✅") == 2


# -- metrics.json ------------------------------------------------------------------------------------------


def test_metrics_json_follows_its_schema(triad):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(triad.metrics)]
    assert errors == []


def test_schema_rejects_what_metrics_json_must_never_hold(triad):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    leaked_password = json.loads(json.dumps(triad.metrics))
    leaked_password["config"]["password"] = "test123"
    assert not validator.is_valid(leaked_password)
    bad_status = json.loads(json.dumps(triad.metrics))
    bad_status["journeys"][0]["status"] = "ok"
    assert not validator.is_valid(bad_status)


def test_metrics_costs_and_fates_match_billing(triad):
    billed = triad.billed()
    machines = triad.metrics["machines"]
    assert {m["id"] for m in machines} == set(billed)
    for machine in machines:
        truth = billed[machine["id"]]
        assert machine["fate"] == "deleted" and not truth["alive"]
        assert_cost_within(machine, truth["cost"], triad.metrics["run"]["time_scale"])
    for name in ("Instance Lifecycle", "Snapshot/Restore"):
        journey = triad.journey(name)
        assert journey["total_cost"] == pytest.approx(sum(m["cost"] for m in journey["machines"]), abs=1e-6)
    # The failing journey's machine never ran: it was billed only while loading.
    failed = triad.journey("Instance Lifecycle")
    assert {i["state"] for i in billed[failed["instance_id"]]["intervals"]} == {"loading"}
    assert failed["time_to_running"] == 0.0 and "phase 'running' did not finish" in failed["error_message"]


def test_metrics_times_match_ground_truth(triad):
    interrupted = triad.journey("Snapshot/Restore")
    instance = interrupted["instance_id"]
    events = [e for e in triad.events if str(e["id"]) == instance]
    created = next(e["t"] for e in events if e["event"] == "created")
    running = next(e["t"] for e in events if e["event"] == "status" and e.get("to") == "running")
    ssh_ready = next(e["t"] for e in events if e["event"] == "ssh_ready")
    # The truth lies within the bracket the suite reported (plus the clock allowance), whatever the load.
    for name, truth in (("running", running - created), ("ssh", ssh_ready - created)):
        phase = next(p for p in interrupted["phases"] if p["name"] == name)
        assert abs(phase["seconds"] - truth) <= phase["uncertainty_seconds"] + CLOCK_ALLOWANCE, (name, phase, truth)
    assert interrupted["time_to_running"] == next(p for p in interrupted["phases"] if p["name"] == "running")["seconds"]
    assert interrupted["time_to_model_install"] > 0
    for machine in triad.metrics["machines"]:
        truth = next(r for r in triad.resources if str(r["id"]) == machine["id"])
        lived = (datetime.fromisoformat(machine["deleted_at"]) - datetime.fromisoformat(machine["created_at"]))
        assert lived.total_seconds() == pytest.approx(truth["deleted_at"] - truth["created_at"], abs=0.25)


def test_metrics_run_api_and_config(triad):
    metrics = triad.metrics
    assert metrics["run"]["interrupted"] == "SIGINT"
    assert metrics["run"]["success_rate"] == pytest.approx(1 / 3)
    assert metrics["run"]["label"] == LABEL
    api = metrics["api"]
    assert api["calls"] > 10 and api["attempts"] >= api["calls"] and api["rate_limited"] == 0
    assert metrics["config"]["password"] == "***"
    assert metrics["config"]["timeouts"]["running"] == 180


def test_no_secret_in_any_report_file(triad):
    for path in triad.reports.rglob("*"):
        if path.is_file():
            assert b"test123" not in path.read_bytes(), path


# -- JUnit -------------------------------------------------------------------------------------------------


def test_junit_xml_per_feature(triad):
    suites = {}
    for path in (triad.reports / "junit").glob("TESTS-*.xml"):
        root = ElementTree.parse(path).getroot()
        suites[path.name] = root
    assert set(suites) == {"TESTS-features.quick.xml", "TESTS-features.instance.xml", "TESTS-features.snapshot.xml"}
    quick, instance, snapshot = (suites[f"TESTS-features.{n}.xml"] for n in ("quick", "instance", "snapshot"))
    assert (quick.get("tests"), quick.get("failures"), quick.get("errors")) == ("1", "0", "0")
    assert instance.get("failures") == "1"
    assert "phase 'running' did not finish" in instance.find("testcase/failure").get("message")
    # behave writes an interrupted scenario as skipped; the report marks it as an interruption.
    assert (snapshot.get("errors"), snapshot.get("skipped")) == ("1", "0")
    error = snapshot.find("testcase/error")
    assert error.get("type") == "Interrupted" and "SIGINT" in error.get("message")


# -- Allure results ----------------------------------------------------------------------------------------


def test_allure_run_files(triad):
    results = triad.reports / "allure-results"
    assert json.loads((results / "categories.json").read_text(encoding="utf-8")) == CATEGORIES
    assert {c["name"] for c in CATEGORIES} == {"Interrupted", "Budget refused", "Rate limited",
                                               "Infrastructure timeout", "Product defect"}
    raw = (results / "environment.xml").read_bytes()
    environment = {p.findtext("key"): p.findtext("value") for p in ElementTree.fromstring(raw).iter("parameter")}
    assert environment["Target"] == "sandbox (time ×60; simulated costs)"      # non-ASCII survives
    gpus = {m["gpu_name"] for m in triad.metrics["machines"]}
    assert set(environment["GPU"].split(", ")) == gpus and environment["Interrupted"] == "SIGINT"
    assert environment["Mode"] == "sandbox" and environment["URL"].startswith("http://127.0.0.1:")
    assert not (results / "environment.properties").exists()
    executor = json.loads((results / "executor.json").read_text(encoding="utf-8"))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        assert executor["type"] == "github" and executor["buildUrl"].endswith(os.environ["GITHUB_RUN_ID"])
    else:
        assert executor["type"] == "local" and "reports-triad" in executor["buildName"]


def test_allure_labels_attachments_and_categories(triad):
    results = allure_results(triad.reports)
    folder = triad.reports / "allure-results"
    assert len(results) == 3
    for journey in triad.metrics["journeys"]:
        result = results[journey["test_name"]]
        labels = {(label["name"], label["value"]) for label in result["labels"]}
        assert ("epic", journey["journey"]) in labels
        assert any(name == "feature" for name, _ in labels)
        paid = journey["journey"] != "Quick checks"
        assert ("severity", "critical" if paid else "normal") in labels
        gpu = journey["gpu_name"]
        assert ((("tag", f"GPU: {gpu}") in labels and ("gpu", gpu) in labels) if paid else gpu is None)
        attachments = {a["name"]: a for a in result["attachments"]}
        assert {"phase timings", "phase timings (json)", "journey metrics", "timeline (svg)"} <= set(attachments)
        for attachment in attachments.values():
            assert (folder / attachment["source"]).is_file()
        timings = json.loads((folder / attachments["phase timings (json)"]["source"]).read_text(encoding="utf-8"))
        assert [(p["name"], p["seconds"]) for p in timings] == [(p["name"], p["seconds"]) for p in journey["phases"]]
        text = (folder / attachments["phase timings"]["source"]).read_text(encoding="utf-8")
        assert all(p["name"] in text for p in journey["phases"])
    by_journey = {j["journey"]: results[j["test_name"]] for j in triad.metrics["journeys"]}
    assert by_journey["Quick checks"]["status"] == "passed" and category(by_journey["Quick checks"]) is None
    assert by_journey["Instance Lifecycle"]["status"] == "failed"
    assert category(by_journey["Instance Lifecycle"]) == "Infrastructure timeout"
    interrupted = by_journey["Snapshot/Restore"]
    assert interrupted["status"] == "broken" and category(interrupted) == "Interrupted"
    assert interrupted["statusDetails"]["message"].startswith(
        "Interrupted by SIGINT during step 'When I take a snapshot of the instance'")


def test_allure_ssh_output_attached_and_redacted(triad):
    result = allure_results(triad.reports)[triad.journey("Snapshot/Restore")["test_name"]]
    install = next(s for s in result["steps"] if s["name"].startswith("When I install the model"))
    attachment = next(a for a in install["attachments"] if a["name"] == "ssh: installing model qwen2.5-7b")
    text = (triad.reports / "allure-results" / attachment["source"]).read_text(encoding="utf-8")
    assert text.startswith("$ set -e;") and "exit code 0" in text and "--- stdout ---" in text


def test_charts_saved_and_attached(triad):
    metrics = triad.metrics
    timeline = ElementTree.parse(triad.reports / "timeline.svg").getroot()
    journeys = {e.get("data-journey"): e.get("data-status") for e in timeline.iter("{http://www.w3.org/2000/svg}rect")
                if e.get("data-journey")}
    assert journeys == STATUSES
    phases = [float(e.get("data-seconds")) for e in timeline.iter("{http://www.w3.org/2000/svg}rect")
              if e.get("data-phase")]
    assert phases == [p["seconds"] for j in metrics["journeys"] for p in j["phases"]]
    cost = ElementTree.parse(triad.reports / "cost-per-journey.svg").getroot()
    totals = {e.get("data-journey"): float(e.get("data-total")) for e in cost.iter("{http://www.w3.org/2000/svg}text")
              if e.get("data-journey")}
    assert totals == {j["journey"]: j["total_cost"] for j in metrics["journeys"]}
    folder = triad.reports / "allure-results"
    (globals_file,) = folder.glob("*-globals.json")
    attachments = json.loads(globals_file.read_text(encoding="utf-8"))["attachments"]
    assert {a["name"] for a in attachments} == {"timeline of the journeys (svg)", "cost per journey (svg)"}
    for attachment in attachments:
        assert attachment["type"] == "image/svg+xml"
        assert ElementTree.parse(folder / attachment["source"]).getroot().tag == "{http://www.w3.org/2000/svg}svg"


# -- names -------------------------------------------------------------------------------------------------

OUTLINE_NAME = "A qwen2.5-7b model survives the loss of its RTX A4000 through a snapshot"


def test_outline_names_are_expanded_everywhere(triad):
    """The snapshot outline's name has <model> and <gpu>: every report shows the example row's values."""
    assert triad.journey("Snapshot/Restore")["test_name"] == OUTLINE_NAME
    assert f"Scenario Outline: {OUTLINE_NAME}" in triad.stdout
    assert OUTLINE_NAME in allure_results(triad.reports)
    junit = ElementTree.parse(triad.reports / "junit" / "TESTS-features.snapshot.xml").getroot()
    assert [case.get("name") for case in junit.iter("testcase")] == [OUTLINE_NAME]
    for path in triad.reports.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt", ".svg", ".xml"):
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "<model>" not in text and "<gpu>" not in text and " -- @1.1" not in text, path
    assert "<model>" not in triad.stdout and " -- @1.1" not in triad.stdout


# -- uncertainty -------------------------------------------------------------------------------------------


def test_every_phase_carries_its_uncertainty_in_every_report(triad):
    metrics = triad.metrics
    assert metrics["schema_version"] == 2
    phases = [p for j in metrics["journeys"] for p in j["phases"]]
    assert phases and all(p["uncertainty_seconds"] >= 0 for p in phases)
    assert any(p["uncertainty_seconds"] > 0 for p in phases)          # polled phases are known to a bracket
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    without = json.loads(json.dumps(metrics))
    del next(j for j in without["journeys"] if j["phases"])["phases"][0]["uncertainty_seconds"]
    assert not validator.is_valid(without)
    svg = "{http://www.w3.org/2000/svg}"
    timeline = ElementTree.parse(triad.reports / "timeline.svg").getroot()
    drawn = [(e.get("data-phase"), float(e.get("data-uncertainty"))) for e in timeline.iter(f"{svg}rect")
             if e.get("data-phase")]
    assert drawn == [(p["name"], p["uncertainty_seconds"]) for p in phases]
    whiskers = [g for g in timeline.iter(f"{svg}g") if g.get("class") == "uncertainty"]
    assert len(whiskers) == sum(1 for p in phases if p["uncertainty_seconds"])
    assert all("±" in g.findtext(f"{svg}title") for g in whiskers)
    results = allure_results(triad.reports)
    folder = triad.reports / "allure-results"
    for journey in metrics["journeys"]:
        attachments = {a["name"]: a["source"] for a in results[journey["test_name"]]["attachments"]}
        timings = json.loads((folder / attachments["phase timings (json)"]).read_text(encoding="utf-8"))
        assert [p["uncertainty_seconds"] for p in timings] == [p["uncertainty_seconds"] for p in journey["phases"]]
        text = (folder / attachments["phase timings"]).read_text(encoding="utf-8").splitlines()
        for line, phase in zip(text, journey["phases"], strict=False):
            assert f"± {phase['uncertainty_seconds']:.3f} s" in line, line
    uncertainty = metrics["metrics"]["uncertainty_seconds"]
    assert set(uncertainty) == {"mean_time_to_running", "mean_time_to_failover", "mean_time_to_restore"}
    assert (uncertainty["mean_time_to_running"] is None) == (metrics["metrics"]["mean_time_to_running"] is None)
