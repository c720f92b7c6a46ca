"""The quick, free checks: nothing here creates or spends anything."""

from __future__ import annotations

from support import readiness as ready
from support.costs import offers_for
from support.journey import Journey


def healthy(journey: Journey) -> dict:
    with journey.phase("health"):
        health = journey.run.client.health()
    if health.get("status") != "healthy":
        raise AssertionError(f"/health answered {health}")
    return health


def logged_in(journey: Journey) -> None:
    with journey.phase("login"):
        journey.run.client.login()


def balance(journey: Journey) -> float:
    with journey.phase("balance"):
        body = journey.run.client.balance()
    credit = body.get("credit")
    if not isinstance(credit, (int, float)):
        raise AssertionError(f"the balance has no numeric credit: {body}")
    journey.metrics.extra["balance"] = credit
    return float(credit)


def readiness(journey: Journey) -> dict[str, dict]:
    """Which journeys this server can run, from what it says it has; a missing prerequisite is told, not failed."""
    run = journey.run
    with journey.phase("readiness"):
        found = ready.look(run.client, run.target.is_sandbox)
    journey.metrics.extra["readiness"] = told = ready.journeys(found, run.target.is_sandbox)
    return told


def gpu_offers(journey: Journey) -> list[dict]:
    config = journey.run.config
    with journey.phase("offer_search"):
        offers = journey.run.client.offers(num_gpus=1, max_price=config.max_price, limit=100)
    fitting = offers_for(offers, config.allowed_gpus)
    if not fitting:
        raise AssertionError(f"no offer for {', '.join(config.allowed_gpus)} under "
                             f"${config.max_price}/h among {len(offers)} offers")
    journey.metrics.extra["gpu_offers"] = len(fitting)
    return fitting


def cpu_offers(journey: Journey) -> list[dict]:
    with journey.phase("cpu_offer_search"):
        offers = journey.run.client.offers(num_gpus=0, limit=50)
    if not offers:
        raise AssertionError("no CPU-only offers (num_gpus=0)")
    journey.metrics.extra["cpu_offers"] = len(offers)
    return offers


def nothing_created(journey: Journey) -> None:
    run = journey.run
    mine = [i for i in run.client.list_instances() if str(i.get("label", "")).startswith(journey.label)]
    if journey.metrics.machines or mine:
        raise AssertionError(f"the quick checks created resources: {[i.get('id') for i in mine]}")


def phases_timed_and_costed(journey: Journey, required=("create", "running", "ssh", "model_install", "snapshot",
                                                        "pause", "resume", "delete")) -> None:
    """The journey timed each required phase and has a cost."""
    timed = {p.name for p in journey.metrics.phases if p.seconds > 0}
    missing = [name for name in required if name not in timed]
    if missing:
        raise AssertionError(f"phases without a time: {', '.join(missing)}")
    journey.settle_costs()
    if not sum(m.cost for m in journey.metrics.machines) > 0:
        raise AssertionError("the journey has no cost although it rented a machine")
