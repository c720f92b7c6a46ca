"""support.costs: metering, the cheapest allowed offer, and the spending guard."""

from __future__ import annotations

import pytest

from support.clock import Clock, Moment
from support.costs import Meter, OfferNeeds, SpendRefused, choose_offer

T0 = 1_800_000_000.0       # an epoch


def test_meter_running_stopped_running_stop():
    meter = Meter(price_per_hour=0.36, storage_per_hour=0.02, clock=Clock(1.0), started=Moment.of_epoch(T0))
    meter.change("stopped", at=Moment.of_epoch(T0 + 1800))           # 0.5 h running   → 0.18
    meter.change("running", at=Moment.of_epoch(T0 + 5400))           # 1 h stopped     → 0.02
    meter.stop(at=Moment.of_epoch(T0 + 7200))                        # 0.5 h running   → 0.18
    assert meter.cost() == pytest.approx(0.38)
    assert meter.stopped_at == pytest.approx(T0 + 7200)
    assert meter.cost(now=T0 + 99_999) == pytest.approx(0.38)      # nothing accrues after the stop


def test_meter_with_time_scale():
    # The sandbox runs 60× faster: one wall minute is one billed hour.
    meter = Meter(price_per_hour=0.36, storage_per_hour=0.02, clock=Clock(60), started=Moment.of_epoch(T0))
    meter.change("stopped", at=Moment.of_epoch(T0 + 30))
    meter.change("running", at=Moment.of_epoch(T0 + 90))
    meter.stop(at=Moment.of_epoch(T0 + 120))
    assert meter.cost() == pytest.approx(0.38)


def test_meter_running_cost_before_stop():
    meter = Meter(price_per_hour=1.0, storage_per_hour=0.1, clock=Clock(1), started=Moment.of_epoch(T0))
    assert meter.cost(now=T0 + 360) == pytest.approx(0.1)
    meter.change("stopped", at=Moment.of_epoch(T0 + 3600))
    assert meter.cost(now=T0 + 7200) == pytest.approx(1.1)


def test_meter_ignores_changes_after_stop_and_a_second_stop():
    meter = Meter(price_per_hour=1.0, storage_per_hour=0.0, clock=Clock(1), started=Moment.of_epoch(T0))
    meter.stop(at=Moment.of_epoch(T0 + 3600))
    meter.change("running", at=Moment.of_epoch(T0 + 7200))
    meter.stop(at=Moment.of_epoch(T0 + 10_800))
    assert meter.cost() == pytest.approx(1.0) and meter.stopped_at == pytest.approx(T0 + 3600)


OFFERS = [
    {"id": 1, "gpu_name": "RTX 4090", "dph_total": 0.05, "reliability": 0.99},
    {"id": 2, "gpu_name": "RTX 3060", "dph_total": 0.12, "reliability": 0.90},
    {"id": 3, "gpu_name": "RTX_A4000", "dph_total": 0.09, "reliability": 0.95},
    {"id": 4, "gpu_name": "RTX A4000", "dph_total": 0.09, "reliability": 0.99},
    {"id": 5, "gpu_name": "RTX 3060", "dph_total": 2.50, "reliability": 0.99},
]


def cheapest(offers, gpus, max_price) -> dict:
    """The offer the journey rents by default: the cheapest per hour among the allowed GPUs under the cap."""
    return choose_offer(offers, OfferNeeds(gpus, disk_gb=0, max_price=max_price)).offer


def test_choose_cheapest_allowed_under_cap():
    chosen = cheapest(OFFERS, ("RTX 3060", "RTX A4000"), 1.0)
    assert chosen["id"] == 4          # the 4090 is cheaper but not allowed; tie on price → more reliable


def test_choose_cheapest_respects_cap():
    chosen = cheapest(OFFERS, ("RTX 3060",), 1.0)
    assert chosen["id"] == 2


def test_no_allowed_gpu_says_so():
    with pytest.raises(SpendRefused) as caught:
        cheapest(OFFERS, ("H100",), 10)
    message = str(caught.value)
    assert "allowed GPUs H100" in message
    assert "RTX 4090" in message                     # what was on offer
    assert "price cap" not in message


def test_no_offers_at_all():
    with pytest.raises(SpendRefused, match="offers seen: none"):
        cheapest([], ("RTX 3060",), 1)


def test_over_the_price_cap_says_so_with_numbers():
    with pytest.raises(SpendRefused) as caught:
        cheapest(OFFERS, ("RTX 3060",), 0.10)
    message = str(caught.value)
    assert "price cap" in message
    assert "$0.120/h" in message and "DUMONT_MAX_PRICE=$0.100/h" in message


def test_spend_refused_is_an_assertion():
    assert issubclass(SpendRefused, AssertionError)


def test_the_cost_is_known_to_within_the_brackets_of_its_changes():
    # Made within a 2 s request, seen stopped to within ±1 s, deleted within a 4 s request (×1 clock).
    meter = Meter(price_per_hour=3.6, storage_per_hour=0.36, clock=Clock(1), started=Moment.of_epoch(T0, 1.0))
    meter.change("stopped", at=Moment.of_epoch(T0 + 100, 1.0))
    meter.stop(at=Moment.of_epoch(T0 + 200, 2.0))
    assert meter.cost() == pytest.approx(3.6 * 100 / 3600 + 0.36 * 100 / 3600)
    # $/h × s / 3600 at each change: 3.6 × 1 (made) + (3.6 − 0.36) × 1 (stopped) + 0.36 × 2 (deleted)
    assert meter.uncertainty == pytest.approx((3.6 * 1 + 3.24 * 1 + 0.36 * 2) / 3600)


def test_a_state_seen_again_changes_nothing_and_time_is_never_billed_twice():
    meter = Meter(price_per_hour=3.6, storage_per_hour=0.0, clock=Clock(1), started=Moment.of_epoch(T0))
    meter.change("stopped", at=Moment.of_epoch(T0 + 100))
    meter.change("stopped", at=Moment.of_epoch(T0 + 50, 40.0))       # seen stopped again, dated earlier
    meter.change("running", at=Moment.of_epoch(T0 + 90))             # a change seen late
    meter.stop(at=Moment.of_epoch(T0 + 200))
    assert meter.cost() == pytest.approx(3.6 * (100 + 100) / 3600)


def test_a_change_asked_for_but_never_seen_is_bracketed_by_its_request_and_the_end():
    """A pause sent, then an interrupt before it was seen stopped: whenever it happened between the request and
    the delete (or not at all), the truth lies within the stated uncertainty (found by the soak)."""
    def billed(stopped_after: float) -> float:          # the truth: running until the pause took effect
        return 3.6 * stopped_after / 3600 + 0.36 * (1000 - stopped_after) / 3600

    meter = Meter(price_per_hour=3.6, storage_per_hour=0.36, clock=Clock(1), started=Moment.of_epoch(T0))
    meter.expect("stopped", since=Moment.of_epoch(T0 + 400))
    meter.stop(at=Moment.of_epoch(T0 + 1000))
    for truth in (billed(400), billed(700), billed(1000)):
        assert abs(meter.cost() - truth) <= meter.uncertainty + 1e-12, (meter.cost(), meter.uncertainty, truth)


def test_a_change_seen_ends_what_was_expected():
    meter = Meter(price_per_hour=3.6, storage_per_hour=0.36, clock=Clock(1), started=Moment.of_epoch(T0))
    meter.expect("stopped", since=Moment.of_epoch(T0 + 400))
    meter.change("stopped", at=Moment.of_epoch(T0 + 500))
    meter.stop(at=Moment.of_epoch(T0 + 1000))
    assert meter.cost() == pytest.approx(3.6 * 500 / 3600 + 0.36 * 500 / 3600)
    assert meter.uncertainty == pytest.approx(0.0)


def test_an_expectation_withdrawn_changes_nothing():
    meter = Meter(price_per_hour=3.6, storage_per_hour=0.36, clock=Clock(1), started=Moment.of_epoch(T0))
    meter.expect("stopped", since=Moment.of_epoch(T0 + 400))
    meter.expect(None, since=Moment.of_epoch(T0 + 400))
    meter.stop(at=Moment.of_epoch(T0 + 1000))
    assert meter.cost() == pytest.approx(1.0)
