"""support.spending: a journey's worst case, the run's shared budget, and the guard at the point of spending."""

from __future__ import annotations

import multiprocessing
import time
from types import SimpleNamespace

import pytest

from support.clock import Clock, Moment
from support.config import Timeouts
from support.costs import Meter
from support.errors import SpendRefused
from support.interrupts import InterruptGuard
from support.spending import ANY_GPU, GPU, STANDBY, Budget, PaidCall, Plan, SpendGuard, Spends

LIMITS = Timeouts(create=100, running=200, ssh=50, model_install=400, snapshot=100, restore=100, pause=60,
                  resume=120, delete=30, failover=300, scenario=3600)
CREATE = Spends(rents=(GPU,), limits=("create",))


def plan(*steps) -> Plan:
    return Plan.of(steps)


# -- the worst case ----------------------------------------------------------------------------------


def test_one_machine_for_the_limits_of_the_steps_it_lives_through_and_its_deletion():
    worst = plan(CREATE, Spends(limits=("running", "ssh"))).worst_case(LIMITS, {GPU: 0.36})
    seconds = 100 + 200 + 50 + 30
    assert worst.usd == pytest.approx(0.36 * seconds / 3600, abs=1e-6)
    assert worst.machines == [(GPU, 0.36, seconds)]


def test_paused_time_is_billed_at_the_storage_price():
    steps = plan(CREATE, Spends(limits=("pause",), then="paused"), Spends(limits=("snapshot",)),
                 Spends(then="resumed"), Spends(limits=("resume",)))
    worst = steps.worst_case(LIMITS, {GPU: 1.0}, storage=0.01)
    running = 100 + 60 + 120 + 30
    assert worst.usd == pytest.approx((1.0 * running + 0.01 * 100) / 3600, abs=1e-6)


def test_every_machine_it_can_hold_at_once_at_its_price():
    steps = plan(Spends(rents=(GPU, STANDBY), limits=("create",)), Spends(limits=("failover",)),
                 Spends(rents=(ANY_GPU,), limits=("ssh",)))
    worst = steps.worst_case(LIMITS, {GPU: 0.2, STANDBY: 0.03, ANY_GPU: 1.0})
    assert [kind for kind, _, _ in worst.machines] == [GPU, STANDBY, ANY_GPU]
    assert worst.usd == pytest.approx((0.2 * 480 + 0.03 * 480 + 1.0 * 80) / 3600, abs=1e-6)


def test_a_deleted_machine_stops_counting_and_the_restore_counts_a_second_one():
    steps = plan(CREATE, Spends(limits=("snapshot",)), Spends(limits=("delete",), then="deleted"),
                 Spends(rents=(GPU,), limits=("create", "restore")))
    worst = steps.worst_case(LIMITS, {GPU: 0.5})
    assert worst.machines == [(GPU, 0.5, 100 + 100 + 30), (GPU, 0.5, 100 + 100 + 30)]


def test_no_machine_outlives_the_scenario_limit_and_its_cleanup():
    long = plan(CREATE, *[Spends(limits=("model_install",))] * 20)
    worst = long.worst_case(LIMITS, {GPU: 1.0})
    assert worst.machines == [(GPU, 1.0, 3600 + 30)]


def test_a_plan_that_rents_nothing_costs_nothing():
    assert not plan(Spends(limits=("ssh",))).rents
    assert plan().worst_case(LIMITS, {GPU: 1.0}).usd == 0


# -- the run's budget ----------------------------------------------------------------------------------


def test_reservations_share_the_budget_and_settle_to_what_was_spent(tmp_path):
    budget = Budget(tmp_path / "budget.json", limit=1.0)
    budget.reserve("a", 0.6, wait=0, what="journey a")
    with pytest.raises(SpendRefused) as caught:
        budget.reserve("b", 0.6, wait=0, what="journey b")
    message = str(caught.value)
    assert "journey b: $0.6000 does not fit" in message and "$0.6000 reserved or spent" in message
    assert "$0.4000 left" in message
    budget.settle("a", 0.1)                     # a spent less than its worst case
    budget.reserve("b", 0.6, wait=0, what="journey b")
    assert budget.committed() == pytest.approx(0.7)


def test_a_worst_case_above_the_whole_budget_is_refused_at_once(tmp_path):
    budget = Budget(tmp_path / "budget.json", limit=0.5)
    with pytest.raises(SpendRefused, match=r"\$0.9000 exceeds the budget DUMONT_BUDGET_USD=\$0.5000"):
        budget.reserve("a", 0.9, wait=60, what="journey a")


def test_a_journey_waits_for_room_then_goes_on(tmp_path):
    sleeps = []
    budget = Budget(tmp_path / "budget.json", limit=1.0, sleep=lambda s: (sleeps.append(s), other.settle("a", 0.2)))
    other = Budget(tmp_path / "budget.json", limit=1.0)
    other.reserve("a", 0.9, wait=0, what="journey a")
    budget.reserve("b", 0.7, wait=30, what="journey b")
    assert len(sleeps) == 1 and budget.committed() == pytest.approx(0.9)


def _reserve_and_hold(path, key, results, release=None):
    """Reserve, say how it went, and hold the reservation until ``release`` is set (when given)."""
    budget = Budget(path, limit=1.0)
    try:
        budget.reserve(key, 0.6, wait=0, what=key)
    except SpendRefused:
        results.put((key, "refused"))
        return
    results.put((key, "reserved"))
    if release is not None:
        release.wait(30)
    budget.settle(key, 0.6)


def test_processes_of_one_run_share_one_budget(tmp_path):
    # Three workers, a budget for one: exactly one reserves, the others are refused (they do not wait).
    # The one that reserved holds its reservation until all three have tried, however slowly they start.
    results, everyone_tried = multiprocessing.Queue(), multiprocessing.Event()
    workers = [multiprocessing.Process(target=_reserve_and_hold,
                                       args=(tmp_path / "b.json", f"w{n}", results, everyone_tried))
               for n in range(3)]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=30)[1] for _ in workers)
    everyone_tried.set()
    for worker in workers:
        worker.join(30)
    assert outcomes == ["refused", "refused", "reserved"]


def test_a_reservation_of_a_dead_process_counts_as_spent(tmp_path):
    path = tmp_path / "budget.json"
    worker = multiprocessing.Process(target=_reserve_and_hold, args=(path, "dead", multiprocessing.Queue()))
    worker.start()
    worker.join(30)
    path.write_text('{"reserved": {"ghost": {"usd": 0.5, "host": "%s", "pid": %d}}, "spent": {}}'
                    % (__import__("socket").gethostname(), worker.pid))
    assert Budget(path, limit=1.0).committed() == pytest.approx(0.5)


# -- the guard -----------------------------------------------------------------------------------------


class Client:
    """What the guard may ask the server: the balance and the standby's price."""

    def __init__(self, credit=100.0):
        self.credit = credit
        self.asked = []

    def balance(self):
        self.asked.append("balance")
        return {"credit": self.credit}

    def standby_pricing(self):
        return {"estimated_hourly_usd": 0.03}


OFFERS = [{"id": 1, "gpu_name": "RTX 3060", "dph_total": 0.1}, {"id": 2, "gpu_name": "RTX 4090", "dph_total": 0.4},
          {"id": 3, "gpu_name": "RTX A4000", "dph_total": 2.5}]


def make_guard(tmp_path, *, sandbox=False, allow_spend=True, budget=5.0, steps=(CREATE,)):
    config = SimpleNamespace(allow_spend=allow_spend, allowed_gpus=("RTX 3060", "RTX A4000"), max_price=1.0,
                             timeouts=LIMITS, budget_wait=0)
    guard = SpendGuard(config, SimpleNamespace(is_sandbox=sandbox), Clock(), Budget(tmp_path / "b.json", budget))
    guard.saw_offers(OFFERS)
    journey = SimpleNamespace(label="acc-r1-j-1", plan=Plan.of(steps), metrics=SimpleNamespace(test_name="j", extra={}),
                              offer=lambda needed_for: OFFERS[0], meters={})
    guard.begin(journey)
    return guard, journey


def test_real_service_without_the_opt_in_rents_nothing(tmp_path):
    guard, _ = make_guard(tmp_path, allow_spend=False)
    with pytest.raises(SpendRefused, match="needs DUMONT_ALLOW_SPEND=1"):
        guard.authorize(PaidCall("create an instance", (GPU,), 1), Client())
    assert guard.budget.committed() == 0


@pytest.mark.parametrize("offer, message", [
    (2, "RTX 4090 is not among the allowed GPUs DUMONT_ALLOWED_GPUS=RTX 3060,RTX A4000"),
    (3, r"RTX A4000 at \$2.500/h is above the price cap DUMONT_MAX_PRICE=\$1.000/h"),
    (99, "offer 99 was never seen in an offer search"),
])
def test_a_gpu_not_allowed_or_over_the_cap_is_refused(tmp_path, offer, message):
    guard, _ = make_guard(tmp_path)
    with pytest.raises(SpendRefused, match=message):
        guard.authorize(PaidCall("create an instance", (GPU,), offer), Client())


def test_a_machine_the_steps_do_not_rent_is_refused(tmp_path):
    guard, _ = make_guard(tmp_path, steps=(Spends(limits=("ssh",)),))
    with pytest.raises(SpendRefused, match="the scenario's steps do not rent a gpu here"):
        guard.authorize(PaidCall("create an instance", (GPU,), 1), Client())
    guard, _ = make_guard(tmp_path, steps=(CREATE,))
    guard.authorize(PaidCall("create an instance", (GPU,), 1), Client())
    with pytest.raises(SpendRefused, match="planned: 1, rented: 1"):
        guard.authorize(PaidCall("create an instance", (GPU,), 1), Client())


def test_the_worst_case_is_reserved_once_with_the_numbers_in_the_metrics(tmp_path):
    guard, journey = make_guard(tmp_path)
    client = Client()
    guard.authorize(PaidCall("create an instance", (GPU,), 1), client)
    assert client.asked == ["balance"]
    expected = 0.1 * (100 + 30) / 3600
    assert guard.reserved() == pytest.approx(expected, abs=1e-6)
    assert journey.metrics.extra["worst_case"]["usd"] == pytest.approx(expected, abs=1e-6)
    assert guard.budget.committed() == pytest.approx(expected, abs=1e-6)
    guard.end(spent=0.001)
    assert guard.budget.committed() == pytest.approx(0.001)


def test_a_balance_below_the_worst_case_is_refused_with_the_numbers(tmp_path):
    guard, _ = make_guard(tmp_path)
    with pytest.raises(SpendRefused, match=r"the balance \$0.0001, less \$0.0000 reserved by other journeys"):
        guard.authorize(PaidCall("create an instance", (GPU,), 1), Client(credit=0.0001))


def test_the_sandbox_needs_no_opt_in_and_no_balance_but_keeps_every_other_rule(tmp_path):
    guard, _ = make_guard(tmp_path, sandbox=True, allow_spend=False)
    client = Client()
    guard.authorize(PaidCall("create an instance", (GPU,), 1), client)
    assert client.asked == []
    guard, _ = make_guard(tmp_path, sandbox=True, allow_spend=False)
    with pytest.raises(SpendRefused, match="not among the allowed GPUs"):
        guard.authorize(PaidCall("create an instance", (GPU,), 2), client)


def test_no_journey_no_spending(tmp_path):
    guard, _ = make_guard(tmp_path)
    guard.end(spent=0)
    with pytest.raises(SpendRefused, match="outside a journey"):
        guard.authorize(PaidCall("create an instance", (GPU,), 1), Client())


def test_billing_past_the_reservation_stops_the_journey(tmp_path):
    guard, journey = make_guard(tmp_path)
    raised = []
    interrupts = InterruptGuard(warn=lambda text: None)
    interrupts.watch = lambda name, at, check: raised.append((name, at, check))
    interrupts.unwatch = lambda name: None
    guard.interrupts = interrupts
    guard.authorize(PaidCall("create an instance", (GPU,), 1), Client())
    # The machine bills ten times the offer's price: the reservation runs out ten times sooner.
    clock = Clock(60)
    journey.meters[("instance", "7")] = Meter(1.0, 0.0, clock, Moment.of_epoch(time.time()))
    guard.billing_changed()
    name, at, check = raised[-1]
    left = guard.reserved()
    assert at - time.monotonic() == pytest.approx(left / (1.0 * 60 / 3600), abs=0.05)
    assert check() is None                       # not yet: it only looks again
    journey.meters[("instance", "7")] = Meter(1.0, 0.0, clock, Moment.of_epoch(time.time() - 60))
    stop = check()
    assert isinstance(stop, SpendRefused)
    assert "past the" in str(stop) and "it reserved" in str(stop) and "its machines are deleted" in str(stop)
