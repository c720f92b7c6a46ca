"""Before the first scenario starts: what the selected scenarios may rent, the spend opt-in, the budget.

Every runner settles these here, for every scenario it selected, before anything is rented: plain
behave in ``before_all``, ``support.parallel`` before it starts a worker. A refusal is one line per
problem and exit 2 (support.config.exit_with_problems); nothing has been created then.

The spend opt-in has three states against a real server. Unset: a run whose selection rents is
refused, saying what it would rent and how to allow it (a CI job must not go green having tested
nothing). ``0``: the scenarios that rent are skipped on purpose, and the verdict says how many and
why. ``1``: allowed, within the budget.

The budget: a scenario whose worst case alone exceeds the budget (or, on the real service, the
balance) can never run. Its worst case depends on the offer it will rent, which is known only at its
search; it is judged here at the cheapest price it could rent at, so that a refusal here is certain.
The price cap bounds it from above: when the worst case at the cap fits, no offer is asked for.
Scenarios that fit one at a time but not together still wait for each other's reservations, and the
guard at the point of spending (support.spending) still checks each call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from support.config import Config
from support.costs import choose_offer
from support.errors import ApiError, ConnectionProblem
from support.gherkin import plan_for
from support.instances import offer_needs
from support.spending import ANY_GPU, GPU, STANDBY, Plan, usd_text

#: The reason a scenario that rents is skipped with DUMONT_ALLOW_SPEND=0.
SKIPPED_ON_PURPOSE = "skipped on purpose: it rents paid machines and DUMONT_ALLOW_SPEND=0"


@dataclass(frozen=True)
class Selected:
    """A scenario the runner will run, and what its steps may rent."""

    name: str
    location: str
    tags: tuple[str, ...]
    plan: Plan

    @property
    def rents(self) -> bool:
        return "paid" in self.tags or self.plan.rents


def selected(features, behave_config, step_registry) -> list[Selected]:
    """The scenarios behave will run (by location, tags and name), each with its plan."""
    chosen = []
    for feature in features:
        for scenario in feature.walk_scenarios():
            if scenario.should_run(behave_config):
                chosen.append(Selected(scenario.name, f"{scenario.filename}:{scenario.line}",
                                       tuple(scenario.effective_tags), plan_for(scenario, step_registry)))
    return chosen


class Refused(Exception):
    """The server answered a question the pre-flight must have answered with an error (its words)."""


@dataclass
class Preflight:
    problems: list[str] = field(default_factory=list)     # each one line; any of them is exit 2
    skip_reason: str | None = None                        # why scenarios that rent are skipped

    def skips(self, tags, plan: Plan) -> str | None:
        """Why this scenario is skipped before it starts, or None."""
        if self.skip_reason and ("paid" in tags or plan.rents):
            return self.skip_reason
        return None


def check(config: Config, is_sandbox: bool, url: str, client, scenarios: list[Selected]) -> Preflight:
    renting = [s for s in scenarios if s.rents]
    if not renting:
        return Preflight()
    if not is_sandbox:
        if config.allow_spend is None:
            return Preflight([opt_in_missing(url, renting)])
        if config.allow_spend is False:
            return Preflight(skip_reason=SKIPPED_ON_PURPOSE)
    try:
        return Preflight(budget_problems(config, is_sandbox, client, renting))
    except Refused as refusal:
        return Preflight([str(refusal)])


def opt_in_missing(url: str, renting: list[Selected]) -> str:
    machines = sorted({_machines(s.plan) for s in renting})
    return (f"DUMONT_ALLOW_SPEND: not set, and {len(renting)} selected scenario(s) would rent paid machines on "
            f"{url} ({'; '.join(machines)}): set DUMONT_ALLOW_SPEND=1 to allow it within DUMONT_BUDGET_USD, "
            f"or DUMONT_ALLOW_SPEND=0 to skip them on purpose")


def _machines(plan: Plan) -> str:
    named = {GPU: ("GPU", "GPUs"), STANDBY: ("CPU standby", "CPU standbys"), ANY_GPU: ("more GPU", "more GPUs")}
    parts = [f"{plan.count(kind)} {named[kind][plan.count(kind) > 1]}" for kind in (GPU, STANDBY, ANY_GPU)
             if plan.count(kind)]
    return " + ".join(parts) or "paid machines"


def budget_problems(config: Config, is_sandbox: bool, client, renting: list[Selected]) -> list[str]:
    """One line per scenario whose worst case alone cannot fit the budget (or the balance)."""
    balance = None if is_sandbox else _balance(client)
    limit = config.budget_usd if balance is None else min(config.budget_usd, balance)
    at_cap = {GPU: config.max_price, ANY_GPU: config.max_price, STANDBY: config.max_price}
    over = [s for s in renting if s.plan.worst_case(config.timeouts, at_cap, config.max_price).usd > limit]
    if not over:
        return []
    prices, storage, offer = _cheapest_prices(config, client, over)
    if prices is None:
        return []       # nothing to rent: the scenario's own search says so, in its words
    problems = []
    for scenario in over:
        worst = scenario.plan.worst_case(config.timeouts, prices, storage)
        if worst.usd > config.budget_usd:
            problems.append(f"DUMONT_BUDGET_USD: scenario '{scenario.name}' may cost {usd_text(worst.usd)} in its "
                            f"worst case even on the cheapest allowed offer ({offer}), more than the budget "
                            f"{usd_text(config.budget_usd)}: raise the budget or shorten DUMONT_TIMEOUT_SCENARIO")
        elif balance is not None and worst.usd > balance:
            problems.append(f"balance: scenario '{scenario.name}' may cost {usd_text(worst.usd)} in its worst case "
                            f"even on the cheapest allowed offer ({offer}), more than the account's balance "
                            f"{usd_text(balance)}")
    return problems


def _balance(client) -> float:
    try:
        return float(client.balance().get("credit") or 0.0)
    except (ApiError, ConnectionProblem) as error:
        raise Refused(f"balance: {error}") from None


def _cheapest_prices(config: Config, client, scenarios: list[Selected]):
    """The least each machine kind could cost ($/h), the GPU's storage price and the offer, or Nones."""
    needs = offer_needs(config, config.allowed_gpus)     # the search the journeys make: their needs stated
    try:
        offer = choose_offer(client.offers(**needs.query()), needs).offer
    except (ApiError, ConnectionProblem, AssertionError):
        return None, None, None
    gpu = float(offer.get("dph_total") or 0.0)
    standby = 0.0
    if any(s.plan.count(STANDBY) for s in scenarios):
        try:
            standby = float(client.standby_pricing().get("estimated_hourly_usd") or 0.0)
        except (ApiError, ConnectionProblem):
            standby = 0.0       # unknown: the least it could be, so that a refusal stays certain
    described = f"{offer.get('gpu_name', '?')} at ${gpu:.3f}/h"
    return {GPU: gpu, ANY_GPU: gpu, STANDBY: standby}, float(offer.get("storage_dph") or 0.0), described
