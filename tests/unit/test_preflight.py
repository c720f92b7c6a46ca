"""Settled before the first scenario: the spend opt-in and the budget, for every scenario selected."""

from __future__ import annotations

import pytest

from support import config as cfg
from support.errors import ApiError
from support.preflight import SKIPPED_ON_PURPOSE, Selected, check
from support.spending import GPU, STANDBY, Plan, Spends

URL = "https://dumont.example"
RENTS_A_GPU = Plan((Spends(rents=(GPU,), limits=("create", "running")),))
RENTS_A_PAIR = Plan((Spends(rents=(GPU, STANDBY), limits=("create", "running")),))
FREE = Plan(())


class Client:
    """What the pre-flight may ask the server: offers, the standby's price, the balance. Counts each call."""

    def __init__(self, offers=(), standby=0.05, balance=100.0, balance_error=None):
        self._offers, self._standby, self._balance, self._balance_error = list(offers), standby, balance, balance_error
        self.calls: list[str] = []

    def offers(self, **filters):
        self.calls.append("offers")
        return self._offers

    def standby_pricing(self):
        self.calls.append("standby_pricing")
        return {"estimated_hourly_usd": self._standby}

    def balance(self):
        self.calls.append("balance")
        if self._balance_error:
            raise self._balance_error
        return {"credit": self._balance}


def config(**env) -> cfg.Config:
    environ = {"LANG": "C.UTF-8", "DUMONT_TIMEOUT_SCENARIO": "3600", **env}
    return cfg.load(userdata=None, environ=environ, dotenv_path=None)


def scenario(name="Rent", plan=RENTS_A_GPU, tags=()) -> Selected:
    return Selected(name, f"features/x.feature:{len(name)}", tuple(tags), plan)


OFFERS = [{"id": 1, "gpu_name": "RTX 3060", "dph_total": 0.09, "storage_dph": 0.01, "disk_space": 40},
          {"id": 2, "gpu_name": "RTX A4000", "dph_total": 0.20, "storage_dph": 0.02, "disk_space": 40},
          {"id": 3, "gpu_name": "RTX 4090", "dph_total": 0.05, "storage_dph": 0.01, "disk_space": 40},  # not allowed
          {"id": 4, "gpu_name": "RTX 3060", "dph_total": 0.02, "storage_dph": 0.01, "disk_space": 10}]  # disk too small


def test_nothing_that_rents_is_settled_without_a_call():
    client = Client()
    settled = check(config(), False, URL, client, [scenario("Quick", FREE)])
    assert settled.problems == [] and settled.skip_reason is None and client.calls == []


def test_without_the_opt_in_a_real_run_that_rents_is_refused_in_one_line_before_any_call():
    client = Client(OFFERS)
    settled = check(config(), False, URL, client, [scenario("A"), scenario("B", RENTS_A_PAIR), scenario("Q", FREE)])
    [line] = settled.problems
    assert line.startswith("DUMONT_ALLOW_SPEND: not set, and 2 selected scenario(s) would rent paid machines on "
                           "https://dumont.example (1 GPU; 1 GPU + 1 CPU standby)")
    assert "DUMONT_ALLOW_SPEND=1" in line and "DUMONT_ALLOW_SPEND=0" in line
    assert client.calls == []


def test_a_paid_tag_counts_as_renting_even_when_the_steps_do_not_say_so():
    settled = check(config(), False, URL, Client(), [scenario("Tagged", FREE, tags=("paid",))])
    assert settled.problems and "1 selected scenario(s)" in settled.problems[0]


def test_with_the_opt_in_at_0_what_rents_is_skipped_on_purpose_and_the_rest_runs():
    settled = check(config(DUMONT_ALLOW_SPEND="0"), False, URL, Client(), [scenario("A"), scenario("Q", FREE)])
    assert settled.problems == []
    assert settled.skips((), RENTS_A_GPU) == SKIPPED_ON_PURPOSE
    assert settled.skips(("paid",), FREE) == SKIPPED_ON_PURPOSE
    assert settled.skips(("quick",), FREE) is None


def test_the_sandbox_needs_no_opt_in():
    settled = check(config(), True, URL, Client(OFFERS), [scenario("A")])
    assert settled.problems == [] and settled.skip_reason is None


def test_a_budget_that_fits_at_the_price_cap_asks_for_no_offer():
    client = Client(OFFERS)
    settled = check(config(DUMONT_BUDGET_USD="5"), True, URL, client, [scenario("A")])
    assert settled.problems == [] and client.calls == []


def test_a_budget_too_small_at_the_cap_but_enough_at_the_cheapest_offer_is_not_refused():
    # Create 300 s + running 600 s + delete 120 s: $1/h at the cap is $0.2834, $0.09/h is $0.0255.
    client = Client(OFFERS)
    settled = check(config(DUMONT_BUDGET_USD="0.1"), True, URL, client, [scenario("A")])
    assert settled.problems == [] and client.calls == ["offers"]


def test_a_budget_too_small_even_at_the_cheapest_offer_is_refused_with_the_numbers():
    settled = check(config(DUMONT_BUDGET_USD="0.01"), True, URL, Client(OFFERS), [scenario("Tiny")])
    assert settled.problems == [
        "DUMONT_BUDGET_USD: scenario 'Tiny' may cost $0.0255 in its worst case even on the cheapest allowed offer "
        "(RTX 3060 at $0.090/h), more than the budget $0.0100: raise the budget or shorten DUMONT_TIMEOUT_SCENARIO"]


def test_the_standby_is_priced_when_a_scenario_holds_one():
    client = Client(OFFERS, standby=0.9)
    settled = check(config(DUMONT_BUDGET_USD="0.2"), True, URL, client, [scenario("Pair", RENTS_A_PAIR)])
    # GPU $0.0255 + standby 1020 s at $0.90/h = $0.2805 > $0.20
    assert client.calls == ["offers", "standby_pricing"]
    assert len(settled.problems) == 1 and "may cost $0.2805" in settled.problems[0]


def test_on_the_real_service_the_balance_bounds_it_too():
    settled = check(config(DUMONT_ALLOW_SPEND="1", DUMONT_SSH_KEY=__file__, DUMONT_API_URL=URL), False, URL,
                    Client(OFFERS, balance=0.02), [scenario("A")])
    assert settled.problems == ["balance: scenario 'A' may cost $0.0255 in its worst case even on the cheapest "
                                "allowed offer (RTX 3060 at $0.090/h), more than the account's balance $0.0200"]


def test_a_balance_the_server_refuses_to_tell_is_reported_in_its_words():
    error = ApiError("GET", "/api/v1/balance", 400, "Vast.ai API key not configured. Please update settings.")
    settled = check(config(DUMONT_ALLOW_SPEND="1", DUMONT_SSH_KEY=__file__, DUMONT_API_URL=URL), False, URL,
                    Client(OFFERS, balance_error=error), [scenario("A")])
    assert settled.problems == ["balance: GET /api/v1/balance → 400: Vast.ai API key not configured. "
                                "Please update settings."]


@pytest.mark.parametrize("offers", [[], [{"id": 9, "gpu_name": "RTX 4090", "dph_total": 0.01}]])
def test_with_no_allowed_offer_the_scenario_is_left_to_say_so_itself(offers):
    settled = check(config(DUMONT_BUDGET_USD="0.01"), True, URL, Client(offers), [scenario("A")])
    assert settled.problems == []
