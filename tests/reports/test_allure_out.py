"""support.allure_out (each of its modules) and support.charts without a run: categories, command output,
run files, history, JUnit marking, labels."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import allure_commons
import pytest
from allure_commons.utils import format_exception

from support import charts
from support.allure_out import categories, finish, history, labels, publish, results_dir
from support.backoff import ApiError, ConnectionProblem
from support.costs import OfferNeeds, SpendRefused, choose_offer
from support.interrupts import ScenarioTimeLimit
from support.preflight import SKIPPED_ON_PURPOSE
from support.reporting.junit import mark_interrupted_in_junit, merge_junit
from support.spending import Budget
from support.ssh import CommandFailed, CommandResult
from support.waits import PhaseFailed, PhaseTimeout

ROOT = Path(__file__).resolve().parents[2]


def allure_message(error: BaseException) -> str:
    """The message allure-behave records for a step that raised ``error``."""
    return format_exception(type(error), error)


def categorize(status: str, message: str, *, allure2: bool) -> str | None:
    """First matching category: Allure 3 searches the regex; Allure 2 needs it to match the whole message."""
    for rule in categories.CATEGORIES:
        if status not in rule["matchedStatuses"]:
            continue
        regex = rule.get("messageRegex")
        if regex is None or (re.fullmatch(regex, message) if allure2 else re.search(regex, message)):
            return rule["name"]
    return None


def budget(limit: float) -> Budget:
    return Budget(Path(tempfile.mkdtemp(prefix="budget-")) / "budget.json", limit)


def full_budget() -> Budget:
    held = budget(1.0)
    held.reserve("other", 0.8, 0, "another journey")
    return held


def refused(callable_, *args) -> SpendRefused:
    with pytest.raises(SpendRefused) as caught:
        callable_(*args)
    return caught.value


CASES = [
    ("broken", "Interrupted by SIGINT during step 'When I pause the instance'; the journey stopped there",
     "Interrupted"),
    ("broken", allure_message(KeyboardInterrupt("SIGTERM")), "Interrupted"),
    ("failed", allure_message(refused(lambda: budget(0.5).reserve("j", 0.9, 0, "instance journey"))), "Budget refused"),
    ("failed", allure_message(refused(lambda: full_budget().reserve("j", 0.6, 0, "instance journey"))),
     "Budget refused"),
    ("failed", allure_message(refused(choose_offer, [{"gpu_name": "H100", "dph_total": 3, "disk_space": 40}],
                                      OfferNeeds(("RTX 3060",), disk_gb=20, max_price=1.0))),
     "Budget refused"),
    ("skipped", SKIPPED_ON_PURPOSE, "Budget refused"),
    ("broken", allure_message(ApiError("GET", "/api/v1/instances", 429, "Too Many Requests")), "Rate limited"),
    ("broken", allure_message(ApiError("POST", "/api/v1/instances", 500,
                                       "Limite de requisições excedido. Tente novamente em alguns segundos.")),
     "Rate limited"),
    ("failed", allure_message(PhaseTimeout("running", 600.0, "actual_status='loading'", 600.2)),
     "Infrastructure timeout"),
    ("failed", allure_message(PhaseFailed("running", "the instance stopped for good (actual_status='exited', "
                                                     "status='running')", 42.0)), "Infrastructure timeout"),
    ("failed", allure_message(PhaseFailed("create", str(ApiError("POST", "/api/v1/instances", 429, "Too Many")), 0.1)),
     "Rate limited"),
    ("failed", allure_message(PhaseFailed("create", str(ApiError("POST", "/api/v1/instances", 500,
                                                                 "Failed to create instance: no host")), 0.1)),
     "Product defect"),
    ("failed", allure_message(ScenarioTimeLimit("scenario exceeded its maximum time of 3600 s")),
     "Infrastructure timeout"),
    ("broken", allure_message(ConnectionProblem("GET", "/api/v1/instances/1", "timed out")), "Infrastructure timeout"),
    ("failed", allure_message(AssertionError("model qwen3-0.6b is not intact on instance 7: corrupt: a.bin")),
     "Product defect"),
    ("broken", allure_message(ApiError("POST", "/api/v1/instances", 500, "Failed to create instance: boom")),
     "Product defect"),
    ("failed", allure_message(CommandFailed(CommandResult("x", 1, "", "no space\nleft", 0.1), "installing model m")),
     "Product defect"),
    ("passed", "", None),
]


@pytest.mark.parametrize("status, message, expected", CASES)
@pytest.mark.parametrize("allure2", [False, True], ids=["allure3", "allure2"])
def test_categories_match_the_messages_our_code_raises(status, message, expected, allure2):
    assert categorize(status, message, allure2=allure2) == expected


def test_categories_are_valid_for_allure3_and_javascript_regexes():
    for rule in categories.CATEGORIES:
        assert set(rule) <= {"name", "description", "matchedStatuses", "messageRegex"}
        # No inline flags or lookbehinds: the same text must compile in Java and JavaScript.
        assert "(?" not in rule.get("messageRegex", "")


# -- command output ----------------------------------------------------------------------------------------


class Recorder:
    """Collects what allure.attach sends (stands in for allure-behave's listener)."""

    def __init__(self):
        self.attached = []

    @allure_commons.hookimpl
    def attach_data(self, body, name, attachment_type, extension):
        self.attached.append((name, body, attachment_type))


@pytest.fixture
def recorder():
    plugin = Recorder()
    allure_commons.plugin_manager.register(plugin)
    yield plugin
    allure_commons.plugin_manager.unregister(plugin)


def test_recorded_command_output_is_published_redacted(recorder):
    from support.attachments import Attachment, command_output
    from support.metrics import JourneyMetrics

    result = CommandResult("HF_TOKEN=hf_abcdefgh12345678 hf download x", 0,
                           "fetched with s3cretpass\nAuthorization: Bearer abc.def.ghi\n", "", 1.5)
    recorded = [Attachment("ssh: installing model x", command_output(result))]
    journey = SimpleNamespace(metrics=JourneyMetrics("s", "Instance Lifecycle", "f"), run=SimpleNamespace(),
                              unpublished=lambda: [recorded.pop()] if recorded else [])
    publish.attach_recorded(journey, secrets=["s3cretpass"])
    publish.attach_journey(journey, secrets=["s3cretpass"])          # published once, not twice
    [(name, body, kind)] = [a for a in recorder.attached if a[0].startswith("ssh:")]
    assert name == "ssh: installing model x" and kind.mime_type == "text/plain"
    assert "hf_abcdefgh12345678" not in body and "s3cretpass" not in body and "abc.def.ghi" not in body
    assert "HF_TOKEN=***" in body and "exit code 0 after 1.50 s" in body


def test_long_output_keeps_its_end():
    text = publish.clean_output("x" * 100_000 + "THE END", [])
    assert len(text) < 70_000 and text.endswith("THE END") and "characters cut" in text


# -- run-level files ---------------------------------------------------------------------------------------


def summary(**run):
    base = {"id": "r1", "label": "dumont-acc-r1", "target": "sandbox", "url": "http://127.0.0.1:1",
            "time_scale": 60.0, "server_version": "3.0.0", "started_at": "2027-01-15T14:03:09.123+00:00",
            "interrupted": None}
    base.update(run)
    return {"run": base, "journeys": [], "machines": [{"kind": "instance", "gpu_name": "RTX A4000"}],
            "config": {"allowed_gpus": ["RTX 3060", "RTX A4000"], "max_price": 1.0, "budget_usd": 5.0,
                       "allow_spend": False, "language": "pt"}}


def test_environment_xml_keeps_non_ascii_and_escapes(tmp_path):
    items = results_dir.environment_items(summary(url="http://h/?a=1&b=<2>"))
    items.append(("Observação", "custos simulados — tempo ×60"))
    path = tmp_path / "environment.xml"
    path.write_text(results_dir.environment_xml(items), encoding="utf-8")
    parsed = {p.findtext("key"): p.findtext("value") for p in ElementTree.parse(path).getroot().iter("parameter")}
    assert parsed["Observação"] == "custos simulados — tempo ×60"
    assert parsed["URL"] == "http://h/?a=1&b=<2>" and parsed["GPU"] == "RTX A4000"
    assert parsed["Target"] == "sandbox (time ×60; simulated costs)"


def test_executor_on_github_actions_and_locally():
    env = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
           "GITHUB_RUN_ID": "99", "GITHUB_RUN_NUMBER": "7", "GITHUB_WORKFLOW": "acceptance"}
    ci = results_dir.executor(summary(), env)
    assert ci["type"] == "github" and ci["buildUrl"] == "https://github.com/o/r/actions/runs/99"
    assert ci["buildOrder"] == 7 and ci["buildName"] == "acceptance #7 (sandbox)"
    local = results_dir.executor(summary(), {})
    assert local["type"] == "local" and "r1" in local["buildName"]


def test_prepare_rewrites_run_files_and_adds_one_history_point_per_run(tmp_path):
    reports = tmp_path / "reports"
    with pytest.raises(SystemExit, match="make acceptance"):
        history.prepare(reports)
    results = reports / "allure-results"
    results.mkdir(parents=True)
    (results / "a-result.json").write_text("{}")
    (results / "environment.properties").write_text("stale=1")
    (reports / "metrics.json").write_text(json.dumps(summary()), encoding="utf-8")
    old_history = reports / "allure-report" / "history"
    old_history.mkdir(parents=True)
    (old_history / "history-trend.json").write_text("[]")
    assert "history file" in history.prepare(reports)
    assert {p.name for p in results.iterdir()} >= {"categories.json", "environment.xml", "executor.json", "history"}
    assert not (results / "environment.properties").exists()
    assert (results / "history" / "history-trend.json").read_text() == "[]"
    assert json.loads((reports / "allure-generate.json").read_text()) == {"appendHistory": True}
    assert "already" in history.prepare(reports)
    assert json.loads((reports / "allure-generate.json").read_text()) == {"appendHistory": False}
    (reports / "metrics.json").write_text(json.dumps(summary(id="r2")), encoding="utf-8")
    history.prepare(reports)
    assert json.loads((reports / "allure-generate.json").read_text()) == {"appendHistory": True}


def test_write_run_files_never_raises(tmp_path, capsys):
    run = SimpleNamespace(config=SimpleNamespace(reports_dir=tmp_path, language="en"), secrets=lambda: [],
                          journeys=[], started_at=0.0)
    finish.write_run_files(run, {"run": {}})        # a broken summary: warnings, no exception
    assert "warning: could not write the Allure" in capsys.readouterr().err


# -- JUnit -------------------------------------------------------------------------------------------------

JUNIT = """<testsuite name="features.snapshot.Snapshot" tests="2" errors="{errors}" failures="0" skipped="{skipped}">
<testcase classname="c" name="Interrupted one" status="{status}">{outcome}</testcase>
<testcase classname="c" name="Other" status="passed"/></testsuite>"""


@pytest.mark.parametrize("status, outcome, errors, skipped", [
    ("untested", "<skipped />", 0, 1),
    ("failed", '<error type="KeyboardInterrupt" message="SIGINT" />', 1, 0),
])
def test_junit_marks_interrupted_scenarios(tmp_path, status, outcome, errors, skipped):
    (tmp_path / "TESTS-x.xml").write_text(JUNIT.format(status=status, outcome=outcome, errors=errors,
                                                       skipped=skipped))
    summary_ = {"run": {"interrupted": "SIGTERM"},
                "journeys": [{"test_name": "Interrupted one", "status": "interrupted", "error_message": "SIGTERM"},
                             {"test_name": "Other", "status": "passed", "error_message": None}]}
    assert mark_interrupted_in_junit(tmp_path, summary_) == 1
    assert mark_interrupted_in_junit(tmp_path, summary_) == 0          # once only
    suite = ElementTree.parse(tmp_path / "TESTS-x.xml").getroot()
    assert (suite.get("errors"), suite.get("skipped")) == ("1", "0")
    error = suite.find("testcase/error")
    assert error.get("type") == "Interrupted" and error.get("message").startswith("Interrupted by SIGTERM")
    assert suite.findall("testcase")[1].find("error") is None


def test_merged_junit_has_one_file_per_feature_without_phantom_cases(tmp_path):
    """behave file:line writes the feature's other scenarios as skipped: the merge keeps what each folder ran."""
    suite = ('<testsuite name="features.failover.F" tests="2" errors="0" failures="{failures}" skipped="1" time="4.5">'
             '<testcase classname="c" name="A" status="{a}" time="{ta}">{a_outcome}</testcase>'
             '<testcase classname="c" name="B" status="{b}" time="{tb}">{b_outcome}</testcase></testsuite>')
    ran = {"0": "A", "1": "B", "2": "Refused"}
    for worker, name in ran.items():
        (tmp_path / worker / "junit").mkdir(parents=True)
        (tmp_path / worker / "metrics.json").write_text(json.dumps({"journeys": [{"test_name": name}]}))
    (tmp_path / "0" / "junit" / "TESTS-features.failover.xml").write_text(suite.format(
        failures=0, a="passed", ta="4.5", a_outcome="", b="skipped", tb="0", b_outcome="<skipped />"))
    (tmp_path / "1" / "junit" / "TESTS-features.failover.xml").write_text(suite.format(
        failures=1, a="skipped", ta="0", a_outcome="<skipped />", b="failed", tb="2.25",
        b_outcome='<failure message="boom" />'))
    (tmp_path / "2" / "junit" / "TESTS-features.quick.xml").write_text(
        '<testsuite name="q" tests="1" skipped="1"><testcase classname="q" name="Refused" status="skipped" time="0">'
        '<skipped message="DUMONT_ALLOW_SPEND" /></testcase></testsuite>')     # skipped by a guard: a real result
    written = merge_junit([tmp_path / w for w in ran], tmp_path / "merged")
    assert [p.name for p in written] == ["TESTS-features.failover.xml", "TESTS-features.quick.xml"]
    failover = ElementTree.parse(written[0]).getroot()
    assert [(c.get("name"), c.get("status")) for c in failover.iter("testcase")] == [("A", "passed"), ("B", "failed")]
    assert {k: failover.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "2", "failures": "1", "errors": "0", "skipped": "0", "time": "6.75"}
    quick = ElementTree.parse(written[1]).getroot()
    assert (quick.get("tests"), quick.get("skipped")) == ("1", "1")


# -- labels and charts -------------------------------------------------------------------------------------


def test_runtime_labels_registered_once():
    labels.enable_runtime_labels()
    labels.enable_runtime_labels()
    impls = allure_commons.plugin_manager.hook.add_label.get_hookimpls()
    assert len(impls) == 1


def test_severity_and_gpu_labels():
    metrics = SimpleNamespace(journey="Instance Lifecycle", gpu_name="RTX 3060")
    assert labels.journey_labels(metrics, ["instance", "paid", "gpu"]) == [
        ("epic", "Instance Lifecycle"), ("severity", "critical"), ("tag", "GPU: RTX 3060"), ("gpu", "RTX 3060")]
    quick = SimpleNamespace(journey="Quick checks", gpu_name=None)
    assert labels.journey_labels(quick, ["quick"]) == [("epic", "Quick checks"), ("severity", "normal")]
    assert labels.severity_for(["paid", "blocker"]) == "blocker"


def test_charts_without_journeys_are_valid_svg(tmp_path):
    paths = charts.write_charts({"run": {"time_scale": 1.0}, "journeys": []}, tmp_path, "pt")
    for path in paths.values():
        root = ElementTree.parse(path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "nenhuma jornada" in path.read_text(encoding="utf-8")


def test_chart_text_is_escaped():
    journey = {"journey": 'A <b>"quoted"</b> & co', "test_name": "t", "status": "failed",
               "start_time": "2027-01-15T14:03:09.123+00:00", "duration_seconds": 2.0, "total_cost": 0.5,
               "phases": [{"name": "create", "seconds": 1.0, "started_at": "2027-01-15T14:03:09.200+00:00",
                           "detail": "<x>"}],
               "machines": [{"id": "1", "gpu_name": "RTX 3060", "cost": 0.5}]}
    for svg in (charts.timeline_svg([journey]), charts.cost_svg([journey], "en", 60)):
        root = ElementTree.fromstring(svg.encode("utf-8"))
        assert any(e.get("data-journey") == 'A <b>"quoted"</b> & co' for e in root.iter())
