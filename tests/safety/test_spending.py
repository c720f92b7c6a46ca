"""Spending is guarded where money is spent, for the whole run, whatever the scenario says.

Every test runs against a sandbox in its "real" profile: nothing the suite sees says sandbox, so the
suite takes it for the real service (opt-in, allowed GPUs, price cap, balance and budget all apply),
while the test still reads the sandbox's ground truth.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import pytest

import sandbox
from support.allure_out.categories import CATEGORIES
from tests.behave_run import ROOT, behave_env, run_behave
from tests.scenarios import real_ssh_key, scenario_folder

#: Short limits keep each journey's worst case small, so that a budget "for one journey" is easy to state.
LIMITS = {"DUMONT_TIMEOUT_CREATE": "60", "DUMONT_TIMEOUT_RUNNING": "120", "DUMONT_TIMEOUT_SSH": "60",
          "DUMONT_TIMEOUT_DELETE": "60", "DUMONT_TIMEOUT_SCENARIO": "600"}

UNTAGGED = """\
    Feature: Something new product staff wrote

      Scenario: A quick look at a GPU
        Given the cheapest offer among the allowed GPUs
        When I create an instance from that offer
        Then the instance is running within the time limit
    """

#: Steps a careless author could write: they rent without declaring it, or rent whatever GPU they name.
SNEAKY_STEPS = """\
    from support import instances
    from support.gherkin import steps
    from support.spending import GPU, Spends


    @steps("I quietly rent a machine", "eu alugo uma máquina sem dizer")
    def quietly(context):
        offers = context.run.client.offers(num_gpus=1, limit=100)
        instances.create(context.journey, offer=min(offers, key=lambda o: o["dph_total"]))


    @steps('I rent a "{gpu}" directly', 'eu alugo uma "{gpu}" diretamente', Spends(rents=(GPU,), limits=("create",)))
    def rent_directly(context, gpu):
        offers = [o for o in context.run.client.offers(num_gpus=1, limit=100) if o["gpu_name"] == gpu]
        context.journey.chose(offers[0])
        instances.create(context.journey)
    """


@pytest.fixture
def real_looking(tmp_path):
    """A sandbox that tells the suite nothing about being one."""
    sb = sandbox.start(data_dir=tmp_path / "sandbox", time_scale=60.0, seed=5, profile="real")
    yield sb
    sb.stop()


def instances_made(sb) -> list[dict]:
    return [r for r in sb.admin.resources(kind="instance")]


def allure_category(reports, scenario: str) -> str | None:
    """The Allure category the report's reader will see the scenario under."""
    for path in (reports / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("name") != scenario:
            continue
        message = (result.get("statusDetails") or {}).get("message", "")
        for rule in CATEGORIES:
            if result["status"] in rule["matchedStatuses"] and re.search(rule.get("messageRegex", ".*"), message):
                return rule["name"]
    return None


def refusal_lines(result) -> list[str]:
    """What a refused run printed on stderr: the lines a person reads."""
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_a_scenario_that_rents_without_the_opt_in_is_refused_before_anything_runs(tmp_path, real_looking):
    feature = scenario_folder(tmp_path, UNTAGGED)     # untagged: its steps say that it rents
    result = run_behave([str(feature)], tmp_path / "reports", real_looking.url, "no-opt-in")
    assert result.returncode == 2, result.explain()
    [line] = refusal_lines(result)
    assert "DUMONT_ALLOW_SPEND: not set" in line and "1 selected scenario(s)" in line and "1 GPU" in line, line
    assert "DUMONT_ALLOW_SPEND=1" in line and "DUMONT_ALLOW_SPEND=0" in line
    assert "A quick look at a GPU" not in result.stdout          # no scenario started
    assert instances_made(real_looking) == []
    assert not (tmp_path / "reports" / "metrics.json").exists()


def test_with_the_opt_in_at_0_the_scenarios_that_rent_are_skipped_on_purpose(tmp_path, real_looking):
    feature = scenario_folder(tmp_path, UNTAGGED)
    result = run_behave([str(feature)], tmp_path / "reports", real_looking.url, "opt-out",
                        extra_env={"DUMONT_ALLOW_SPEND": "0"})
    assert result.returncode == 0, result.explain()
    assert instances_made(real_looking) == []
    [journey] = result.metrics["journeys"]
    assert journey["journey"] == "A quick look at a GPU"            # named by its scenario, not "Quick checks"
    assert journey["status"] == "skipped" and "DUMONT_ALLOW_SPEND=0" in journey["error_message"]
    assert allure_category(result.reports, "A quick look at a GPU") == "Budget refused"
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict.startswith("✅ PASSED") and "1 skipped (skipped on purpose" in verdict, verdict


def test_a_budget_too_small_for_any_offer_is_refused_before_anything_runs(tmp_path, real_looking):
    feature = scenario_folder(tmp_path, UNTAGGED)
    worst = one_journeys_worst_case(real_looking)      # the same steps, and the cleanup's delete
    result = run_behave([str(feature)], tmp_path / "reports", real_looking.url, "small-budget", extra_env={
        **LIMITS, "DUMONT_ALLOW_SPEND": "1", "DUMONT_SSH_KEY": str(real_ssh_key(real_looking, tmp_path)),
        "DUMONT_BUDGET_USD": f"{worst / 2:.6f}"})
    assert result.returncode == 2, result.explain()
    [line] = refusal_lines(result)
    # The numbers: the worst case at the cheapest allowed offer (the one the journey would rent), and the budget.
    assert f"may cost ${worst:.4f} in its worst case" in line and "more than the budget" in line, line
    assert instances_made(real_looking) == []


def test_the_parallel_runner_refuses_before_it_starts_a_worker(tmp_path, real_looking):
    feature = scenario_folder(tmp_path, THREE_JOURNEYS)
    env = behave_env(tmp_path / "reports", real_looking.url, "parallel-no-opt-in")
    done = subprocess.run([sys.executable, "-m", "support.parallel", "--jobs", "3", str(feature)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    assert "3 selected scenario(s) would rent" in line, line
    assert not (tmp_path / "reports" / "workers").exists()
    assert instances_made(real_looking) == []


def test_a_step_that_rents_without_saying_so_is_refused_at_the_point_of_spending(tmp_path, real_looking):
    feature = scenario_folder(tmp_path, """\
        Feature: A scenario whose steps do not say they rent
          Scenario: Renting behind the guard's back
            When I quietly rent a machine
        """, SNEAKY_STEPS)
    result = run_behave([str(feature)], tmp_path / "reports", real_looking.url, "sneaky")
    assert result.returncode != 0
    assert instances_made(real_looking) == []
    [journey] = result.metrics["journeys"]
    assert "needs DUMONT_ALLOW_SPEND=1" in journey["error_message"]
    assert allure_category(result.reports, "Renting behind the guard's back") == "Budget refused"


@pytest.mark.parametrize("scenario, env, refusal", [
    ('I rent a "RTX 4090" directly', {}, "RTX 4090 is not among the allowed GPUs"),
    ('I rent a "RTX 3060" directly', {"DUMONT_MAX_PRICE": "0.01"}, r"above the price cap DUMONT_MAX_PRICE=\$0.010/h"),
    ("I quietly rent a machine", {}, "the scenario's steps do not rent a gpu here"),
], ids=["gpu not allowed", "over the price cap", "undeclared rent"])
def test_with_the_opt_in_a_gpu_or_price_outside_the_rules_rents_nothing(tmp_path, real_looking, scenario, env,
                                                                       refusal):
    feature = scenario_folder(tmp_path, f"""\
        Feature: Renting outside the rules
          Scenario: Outside the rules
            When {scenario}
        """, SNEAKY_STEPS)
    key = real_ssh_key(real_looking, tmp_path)
    result = run_behave([str(feature)], tmp_path / "reports", real_looking.url, "rules",
                        extra_env={"DUMONT_ALLOW_SPEND": "1", "DUMONT_SSH_KEY": str(key), **env})
    assert result.returncode != 0
    assert instances_made(real_looking) == []
    [journey] = result.metrics["journeys"]
    assert re.search(refusal, journey["error_message"]), journey["error_message"]
    assert allure_category(result.reports, "Outside the rules") == "Budget refused"


ONE_JOURNEY = """
      Scenario: {name}
        Given the cheapest offer among the allowed GPUs
        When I create an instance from that offer
        Then the instance is running within the time limit
        When I delete the instance
        Then the instance is gone
"""
THREE_JOURNEYS = "Feature: Three journeys that each rent a GPU\n" + "".join(
    ONE_JOURNEY.format(name=name) for name in ("First", "Second", "Third"))


def one_journeys_worst_case(sb) -> float:
    """The worst case the guard will reserve for one of THREE_JOURNEYS: the cheapest allowed GPU for
    the create, running and delete limits."""
    import requests

    # The search the journey makes: its needs stated (a 20 GB disk, no download floor), no hidden default.
    offers = requests.get(f"{sb.url}/api/v1/instances/offers", timeout=10, params={
        "num_gpus": 1, "max_price": 1.0, "min_disk": 20, "min_inet_down": 0, "limit": 100}).json()["offers"]
    price = min(o["dph_total"] for o in offers if o["gpu_name"] in ("RTX 3060", "RTX A4000"))
    seconds = sum(int(LIMITS[name]) for name in ("DUMONT_TIMEOUT_CREATE", "DUMONT_TIMEOUT_RUNNING",
                                                 "DUMONT_TIMEOUT_DELETE"))
    return math.ceil(price * seconds / 3600 * 1e6) / 1e6


def most_alive_at_once(sb) -> int:
    """From the sandbox's ground truth: the most instances alive at the same moment."""
    changes = []
    for event in sb.admin.events(kind="instance"):
        if event["event"] == "created":
            changes.append((event["t"], 1))
        elif event["event"] == "deleted":
            changes.append((event["t"], -1))
    alive = most = 0
    for _, change in sorted(changes):
        alive += change
        most = max(most, alive)
    return most


def test_three_journeys_in_parallel_with_a_budget_for_one_hold_one_at_a_time(tmp_path, real_looking):
    feature = scenario_folder(tmp_path, THREE_JOURNEYS)
    worst = one_journeys_worst_case(real_looking)
    env = behave_env(tmp_path / "reports", real_looking.url, "three", {
        **LIMITS, "DUMONT_ALLOW_SPEND": "1", "DUMONT_SSH_KEY": str(real_ssh_key(real_looking, tmp_path)),
        "DUMONT_BUDGET_USD": f"{worst * 1.5:.6f}"})
    done = subprocess.run([sys.executable, "-m", "support.parallel", "--jobs", "3", str(feature)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert len(instances_made(real_looking)) == 3                      # every journey rented, in turn
    assert most_alive_at_once(real_looking) == 1
    assert all(not r["alive"] for r in instances_made(real_looking))
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    reserved = [j["extra"]["worst_case"]["usd"] for j in metrics["journeys"]]
    assert reserved == [pytest.approx(worst, abs=2e-6)] * 3


def test_a_journey_billing_past_its_reservation_is_stopped_and_cleaned_up(tmp_path, real_looking):
    # The provider bills far more than the offer said: the reservation (made at the offer's price) runs out
    # long before the journey's limits do.
    real_looking.admin.add_fault(kind="price_change", factor=2000, count=10)
    feature = scenario_folder(tmp_path, """\
        Feature: A machine that bills more than its offer said
          Scenario: Overrun
            Given the cheapest offer among the allowed GPUs
            When I create an instance from that offer
            Then the instance is running within the time limit
            And I can connect to it over SSH
        """)
    result = run_behave([str(feature)], tmp_path / "reports", real_looking.url, "overrun", extra_env={
        **LIMITS, "DUMONT_ALLOW_SPEND": "1", "DUMONT_SSH_KEY": str(real_ssh_key(real_looking, tmp_path))})
    assert result.returncode != 0
    [journey] = result.metrics["journeys"]
    assert "past the" in journey["error_message"] and "it reserved" in journey["error_message"], journey
    [instance] = instances_made(real_looking)
    assert not instance["alive"]
    assert {m["fate"] for m in result.metrics["machines"]} == {"deleted"}
