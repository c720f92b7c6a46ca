"""Which offer a journey rents: the search states the journey's needs, and the choice says why (support/costs.py,
support/instances.py, support/reporting/offer_line.py), on made-up catalogues and histories."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from sandbox.cloud.offers import Offers
from support import instances
from support.clock import Clock
from support.config import Timeouts
from support.costs import BY_JOURNEY_COST, BY_PRICE, HoldEstimate, OfferNeeds, SpendRefused, choose_offer
from support.journey import Journey
from support.ledger import Ledger
from support.progress import Progress
from support.reporting.offer_line import offer_lines
from support.timings import Prior, TimingHistory

NEEDS = OfferNeeds(gpus=("RTX 3060", "RTX A4000"), disk_gb=20, max_price=1.0)


def offer(oid, gpu="RTX 3060", price=0.10, disk=100.0, down=500.0, reliability=0.98):
    return {"id": oid, "gpu_name": gpu, "dph_total": price, "disk_space": disk, "inet_down": down,
            "reliability": reliability}


# -- the search: what it asks the server ------------------------------------------------------------


def test_the_query_states_the_disk_and_the_download_floor_so_no_hidden_default_applies():
    query = NEEDS.query()
    assert query["min_disk"] == 20                     # the disk the create asks for, not the server's 50
    assert query["min_inet_down"] == 0                 # stated: no floor unless one is asked for (server: 100)
    assert query["min_reliability"] == 0
    assert query["max_price"] == 1.0 and query["num_gpus"] == 1
    assert "gpu_name" not in query                     # two GPUs: filtered here, over one search
    one = OfferNeeds(gpus=("RTX A4000",), disk_gb=20, max_price=0.5, min_inet_down=200, min_reliability=0.95)
    assert one.query()["gpu_name"] == "RTX_A4000"
    assert (one.query()["min_inet_down"], one.query()["min_reliability"]) == (200, 0.95)


def run_with(tmp_path, offers, **config):
    """A run whose client answers ``offers`` to any search and remembers the queries it was sent."""
    sent = []

    def search(**query):
        sent.append(query)
        return offers

    settings = SimpleNamespace(**{"allowed_gpus": ("RTX 3060", "RTX A4000"), "max_price": 1.0,
                                  "keep_snapshots": False, "run_label": "acc-r1", "offer_min_inet_down": 0.0,
                                  "offer_min_reliability": 0.0, "offer_choice": "price", **config})
    run = SimpleNamespace(config=settings, clock=Clock(60), timeouts=Timeouts(), polling=None, kinds={},
                          ledger=Ledger(tmp_path / "ledger.jsonl", "r1", "t"), guard=None, spend_guard=None,
                          history=TimingHistory(tmp_path / "phase-history.jsonl", "sandbox", prior=None),
                          progress=Progress(Clock(60), stream=io.StringIO(), live=False),
                          client=SimpleNamespace(offers=search), journeys=[],
                          new_label=lambda slug: f"acc-r1-{slug}-1")
    return run, sent


def test_the_journey_searches_for_the_disk_its_create_asks_for(tmp_path):
    run, sent = run_with(tmp_path, [offer(1, price=0.09, disk=200), offer(2, price=0.045, disk=40, down=80)])
    journey = Journey(run, "a scenario", "features/instance.feature", [])
    chosen = instances.cheapest_offer(journey)
    [query] = sent
    assert query["min_disk"] == instances.DISK_GB == 20 and query["min_inet_down"] == 0
    assert chosen["id"] == 2 and journey.offer("x") is chosen
    choice = journey.metrics.extra["offer_choice"]
    assert choice["reason"] == "cheapest of 2 offers meeting RTX 3060 or RTX A4000, disk ≥ 20 GB, ≤ $1.000/h"
    assert choice["chosen"]["id"] == 2 and choice["runner_up"]["id"] == 1


def test_opt_in_floors_are_sent_and_applied(tmp_path):
    run, sent = run_with(tmp_path, [offer(1, price=0.09, down=1000), offer(2, price=0.045, down=80)],
                         offer_min_inet_down=100.0, offer_min_reliability=0.9)
    journey = Journey(run, "a scenario", "features/instance.feature", [])
    assert instances.cheapest_offer(journey)["id"] == 1     # the server may ignore a filter: applied here too
    assert sent[0]["min_inet_down"] == 100.0 and sent[0]["min_reliability"] == 0.9
    assert "download ≥ 100 Mbps" in journey.metrics.extra["offer_choice"]["reason"]


def test_one_gpu_asked_for_by_name(tmp_path):
    run, sent = run_with(tmp_path, [offer(1, gpu="RTX A4000", price=0.17)])
    journey = Journey(run, "a scenario", "features/snapshot.feature", [])
    instances.cheapest_offer(journey, "RTX A4000")
    assert sent[0]["gpu_name"] == "RTX_A4000"
    assert journey.metrics.extra["offer_choice"]["runner_up"] is None


def test_the_sandbox_applies_the_real_servers_hidden_defaults_unless_told():
    """The sandbox's search, as GET /instances/offers calls it: its defaults hide the cheap small host, the
    journey's stated needs find it (docs/dumont-api.md, "Verified": min_disk 50, min_inet_down 100)."""
    catalogue = Offers()
    defaults = [o["id"] for o in catalogue.search(max_price=1.0, limit=100)]
    stated = [o["id"] for o in catalogue.search(max_price=1.0, limit=100, **{
        k: v for k, v in NEEDS.query().items() if k not in ("max_price", "limit")})]
    assert 101017 not in defaults and 101017 in stated                 # RTX 3060, 40 GB, 80 Mbps, $0.045/h
    cheapest = choose_offer([o for o in catalogue.search(max_price=1.0, limit=100, min_disk=20, min_inet_down=0)],
                            NEEDS)
    assert (cheapest.offer["id"], cheapest.offer["dph_total"]) == (101017, 0.045)


# -- the choice, on made-up catalogues -----------------------------------------------------------------


def test_cheapest_meeting_every_need_with_the_runner_up():
    catalogue = [offer(1, gpu="RTX 4090", price=0.01), offer(2, price=0.03, disk=10),       # GPU, disk
                 offer(3, price=2.0), offer(4, gpu="RTX_A4000", price=0.08, reliability=0.95),
                 offer(5, price=0.08, reliability=0.99), offer(6, price=0.12)]
    choice = choose_offer(catalogue, NEEDS)
    assert choice.offer["id"] == 5 and choice.runner_up["id"] == 4    # a tie on price: the more reliable host
    assert (choice.meeting, choice.seen, choice.by) == (3, 6, BY_PRICE)
    assert choice.reason().startswith("cheapest of 3 offers meeting")


def test_a_full_answer_says_at_least():
    choice = choose_offer([offer(1), offer(2)], NEEDS, limit=2)
    assert not choice.complete and "cheapest of at least 2 offers" in choice.reason()
    assert choose_offer([offer(1)], NEEDS, limit=100).complete


@pytest.mark.parametrize("catalogue, said", [
    ([offer(1, gpu="H100")], "no offer for the allowed GPUs RTX 3060, RTX A4000 (offers seen: H100)"),
    ([offer(1, price=3.0)], "the cheapest allowed offer costs $3.000/h, above the price cap"),
    ([offer(1, disk=10)], "no allowed offer under the price cap meets disk ≥ 20 GB"),
    ([], "offers seen: none"),
])
def test_no_offer_fits_says_which_need(catalogue, said):
    with pytest.raises(SpendRefused) as refused:
        choose_offer(catalogue, NEEDS)
    assert said in str(refused.value)


def test_by_journey_cost_a_fast_host_can_cost_less_than_a_cheap_slow_one():
    slow = offer(1, price=0.05, down=50)          # 10 000 megabits at 50 Mbps: 200 s more
    fast = offer(2, price=0.06, down=2000)        # 5 s more
    hold = HoldEstimate(seconds=300, megabits=10_000)
    assert choose_offer([slow, fast], NEEDS).offer["id"] == 1                       # the default: per hour
    choice = choose_offer([slow, fast], NEEDS, by=BY_JOURNEY_COST, hold=hold)
    assert choice.offer["id"] == 2 and choice.runner_up["id"] == 1
    assert choice.expected(fast) == {"seconds": 305.0, "cost": pytest.approx(0.06 * 305 / 3600, abs=1e-6)}
    assert choice.expected(slow)["seconds"] == 500.0
    assert choice.reason().startswith("least expected journey cost of 2 offers")


def test_by_journey_cost_without_history_falls_back_to_the_price_and_says_so():
    choice = choose_offer([offer(1, price=0.05, down=50), offer(2, price=0.06)], NEEDS, by=BY_JOURNEY_COST)
    assert choice.by == BY_PRICE and choice.offer["id"] == 1 and "no hold time" in choice.note
    unknown = choose_offer([offer(1, price=0.05, down=0), offer(2, price=0.06)], NEEDS, by=BY_JOURNEY_COST,
                           hold=HoldEstimate(300, 1000))
    assert unknown.by == BY_PRICE and "bandwidth" in unknown.note


def test_the_hold_time_comes_from_the_history_of_that_journey_else_the_prior(tmp_path):
    prior = Prior({"sandbox": {"hold instance": {"low": 280, "high": 320, "typical": 300},
                               "download megabits instance": {"low": 900, "high": 1100, "typical": 1000}}})
    run = SimpleNamespace(history=TimingHistory(tmp_path / "h.jsonl", "sandbox", prior=prior))
    first = instances.hold_estimate(run, "instance")
    assert (first.seconds, first.megabits, first.source) == (300, 1000, "prior")
    assert instances.hold_estimate(run, "failover") is None
    for seconds in (400, 410, 420):
        run.history.add("hold instance", seconds)
    learnt = instances.hold_estimate(run, "instance")
    assert learnt.seconds == 410 and learnt.source == "history"


# -- the report's line ----------------------------------------------------------------------------------


def test_the_report_says_why_this_offer_and_the_runner_up():
    choice = choose_offer([offer(101001, price=0.09), offer(101017, price=0.045, disk=40)], NEEDS)
    journey = {"extra": {"offer_choice": choice.to_dict()}}
    assert offer_lines(journey, "en") == [
        "Offer: RTX 3060 $0.0450/h (101017), cheapest of 2 offers meeting RTX 3060 or RTX A4000, disk ≥ 20 GB, "
        "≤ $1.00/h; runner-up RTX 3060 $0.0900/h (101001)"]
    [pt] = offer_lines(journey, "pt")
    assert pt.startswith("Oferta: RTX 3060 US$ 0,0450/h (101017), a mais barata de 2 ofertas que atendem")
    assert offer_lines({"extra": {}}, "en") == []


def test_the_report_says_the_expected_cost_when_that_decided():
    choice = choose_offer([offer(1, price=0.05, down=50), offer(2, price=0.06, down=2000)], NEEDS,
                          by=BY_JOURNEY_COST, hold=HoldEstimate(300, 10_000))
    [line] = offer_lines({"extra": {"offer_choice": choice.to_dict()}}, "en")
    assert "least expected journey cost ($0.0051 over 305 s) of 2 offers" in line
