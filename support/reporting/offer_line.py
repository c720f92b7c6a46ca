"""Why a journey rented the machine it rented, one line for the final text report (pt or en).

Read from metrics.json's journeys (``extra.offer_choice``, written by support/instances.py from
support/costs.py's :class:`~support.costs.OfferChoice`): plain data in, a line out. For example::

    Offer: RTX 3060 $0.0450/h (101017), cheapest of 6 offers meeting RTX 3060 or RTX A4000, disk ≥ 20 GB,
    ≤ $1.000/h; runner-up RTX 3060 $0.0900/h (101001)
"""

from __future__ import annotations

from support.reporting import numbers

WORDS = {
    "en": {"offer": "Offer", "runner_up": "runner-up", "none": "no runner-up",
           "cheapest": "cheapest of {count} offers meeting {needs}",
           "journey_cost": "least expected journey cost ({cost} over {seconds}) of {count} offers meeting {needs}",
           "at_least": "at least {count}", "or": " or ", "disk": "disk ≥ {gb} GB", "cap": "≤ {price}/h",
           "down": "download ≥ {mbps} Mbps", "reliability": "reliability ≥ {value}"},
    "pt": {"offer": "Oferta", "runner_up": "segunda colocada", "none": "sem segunda colocada",
           "cheapest": "a mais barata de {count} ofertas que atendem {needs}",
           "journey_cost": "menor custo esperado da jornada ({cost} em {seconds}) de {count} ofertas que atendem "
                           "{needs}",
           "at_least": "pelo menos {count}", "or": " ou ", "disk": "disco ≥ {gb} GB", "cap": "≤ {price}/h",
           "down": "download ≥ {mbps} Mbps", "reliability": "confiabilidade ≥ {value}"},
}


def offer_lines(journey: dict, language: str) -> list[str]:
    """The journey's offer line (none when it chose no offer)."""
    choice = (journey.get("extra") or {}).get("offer_choice")
    if not choice or not choice.get("chosen"):
        return []
    words = WORDS.get(language, WORDS["en"])
    count = numbers.integer(int(choice.get("offers_meeting") or 0), language)
    if not choice.get("complete", True):
        count = words["at_least"].format(count=count)
    needs = _needs(choice.get("needs") or {}, words, language)
    chosen = choice["chosen"]
    expected = chosen.get("expected") or {}
    if choice.get("by") == "journey_cost" and expected:
        why = words["journey_cost"].format(cost=numbers.money(float(expected["cost"]), language),
                                           seconds=f"{numbers.decimal(float(expected['seconds']), 0, language)} s",
                                           count=count, needs=needs)
    else:
        why = words["cheapest"].format(count=count, needs=needs)
    runner = choice.get("runner_up")
    second = f"{words['runner_up']} {_offer(runner, language)}" if runner else words["none"]
    note = f" ({choice['note']})" if choice.get("note") else ""
    return [f"{words['offer']}: {_offer(chosen, language)}, {why}{note}; {second}"]


def _offer(offer: dict, language: str) -> str:
    price = numbers.money(float(offer.get("dph_total") or 0.0), language)
    return f"{offer.get('gpu_name', '?')} {price}/h ({offer.get('id', '?')})"


def _needs(needs: dict, words: dict, language: str) -> str:
    said = [words["or"].join(needs.get("gpus") or ["?"]),
            words["disk"].format(gb=numbers.general(float(needs.get("disk_gb") or 0), language)),
            words["cap"].format(price=numbers.money(float(needs.get("max_price") or 0), language))]
    if needs.get("min_inet_down"):
        said.append(words["down"].format(mbps=numbers.general(float(needs["min_inet_down"]), language)))
    if needs.get("min_reliability"):
        said.append(words["reliability"].format(value=numbers.general(float(needs["min_reliability"]), language)))
    return ", ".join(said)
