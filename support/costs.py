"""Money: what a journey may cost before it starts, and what it did cost after.

Cost = price per hour × billed time, per state. The one rule, whatever transition led to a state:

- the offer's price while the machine loads or runs: from when it was made (create, a restore's new
  machine, a GPU made by failback) or asked to run again (resume, a failback that resumes it), since
  it loads from that request on;
- the storage price while it is stopped (paused, exited, offline);
- nothing once it is deleted.

The sandbox bills by the same rule (sandbox/cloud/billing.py). Against the sandbox, time is compressed
and billed in simulated seconds: the run's clock turns the wall seconds measured here into those.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from support.clock import Clock, Moment
from support.config import normalize_gpu_name
from support.errors import SpendRefused


class Meter:
    """Billing of one machine as the suite observed it, and how uncertain that is.

    Each moment billing changed (made, seen running or stopped, deleted) is known only to within its
    bracket (support.clock.Moment); the cost is therefore known to within the change of rate at each
    of those moments times its half-width: :attr:`uncertainty`.
    """

    def __init__(self, price_per_hour: float, storage_per_hour: float, clock: Clock, started: Moment):
        self.price_per_hour = price_per_hour
        self.storage_per_hour = storage_per_hour
        self.clock = clock
        self.started_at = started.epoch
        self.stopped_at: float | None = None
        self._state = "running"
        self._since = started.epoch
        self._cost = 0.0
        self._expected: tuple[str, Moment] | None = None
        self.uncertainty = self._dollars(self.price_per_hour, started.uncertainty)

    def _rate(self) -> float:
        return self.storage_per_hour if self._state == "stopped" else self.price_per_hour

    def _dollars(self, per_hour: float, wall_seconds: float) -> float:
        return per_hour * self.clock.real(max(0.0, wall_seconds)) / 3600

    def _accrue(self, until: float) -> None:
        until = max(until, self._since)        # a change seen late never bills the same time twice
        self._cost += self._dollars(self._rate(), until - self._since)
        self._since = until

    def expect(self, state: str | None, since: Moment) -> None:
        """A request that changes what it bills (a pause, a resume by failback) was sent at ``since``; until the
        change is seen, it is known only to come after that. ``None``: nothing is expected any more."""
        self._expected = None if state is None else (state, since)

    def change(self, state: str, at: Moment) -> None:
        """The machine was seen entering ``state`` (``running`` or ``stopped``) at ``at``."""
        if self._expected is not None and self._expected[0] == state:
            self._expected = None
        if self.stopped_at is not None or state == self._state:
            return
        before = self._rate()
        self._accrue(at.epoch)
        self._state = state
        self.uncertainty += self._dollars(abs(before - self._rate()), at.uncertainty)

    def stop(self, at: Moment) -> None:
        """Billing ended (the delete was carried out) at ``at``.

        A change that was asked for but never seen (an interrupt cut its wait short) happened at some moment
        between its request and the end, or not at all (the same as at the end): billed from the middle of
        that span, the cost's uncertainty covering the whole of it.
        """
        if self._expected is not None and self.stopped_at is None:
            state, since = self._expected
            self.change(state, Moment(since.earliest, max(since.earliest, at.latest)))
        if self.stopped_at is None:
            self._accrue(at.epoch)
            self.uncertainty += self._dollars(self._rate(), at.uncertainty)
            self.stopped_at = at.epoch

    def rate(self) -> float:
        """Dollars per wall second it bills now (nothing once billing stopped)."""
        if self.stopped_at is not None:
            return 0.0
        return self._dollars(self._rate(), 1.0)

    def cost(self, now: float | None = None) -> float:
        if self.stopped_at is not None:
            return self._cost
        return self._cost + self._dollars(self._rate(), (now or time.time()) - self._since)


def offers_for(offers: list[dict], gpus: tuple[str, ...]) -> list[dict]:
    """The offers whose GPU is one of ``gpus`` (however either spells the name)."""
    wanted = {normalize_gpu_name(g) for g in gpus}
    return [o for o in offers if normalize_gpu_name(str(o.get("gpu_name", ""))) in wanted]


# -- which offer -----------------------------------------------------------------------------------

#: How the choice is made (DUMONT_OFFER_CHOICE): the lowest price per hour, or the lowest expected cost
#: of the whole journey on that machine (price × the time it is expected to be held there).
BY_PRICE, BY_JOURNEY_COST = "price", "journey_cost"


@dataclass(frozen=True)
class OfferNeeds:
    """What a journey needs of a machine, stated in the search so that no hidden server default narrows it.

    The real server's search applies ``min_disk=50`` and ``min_inet_down=100`` unless told otherwise
    (docs/dumont-api.md, "Verified"): a journey that asks for a 20 GB disk would never see a cheaper host
    with 40 GB. So the disk the create will ask for is sent as ``min_disk``, and the download floor is sent
    too, zero unless a floor was asked for (``DUMONT_OFFER_MIN_INET_DOWN``: a slow host makes the model's
    download long, and a machine bills while it downloads). Reliability likewise
    (``DUMONT_OFFER_MIN_RELIABILITY``: a host that fails mid-journey fails the run). The GPUs and the price
    cap come from the spending settings. The server's other minimums (one CPU core, 1 GB of RAM) are met by
    any machine and are left to it.
    """

    gpus: tuple[str, ...]
    disk_gb: float
    max_price: float
    min_inet_down: float = 0.0
    min_reliability: float = 0.0

    def query(self, limit: int = 100) -> dict:
        """The search's query: every need stated. One GPU is asked for by name; several are filtered here."""
        query = {"num_gpus": 1, "max_price": self.max_price, "min_disk": self.disk_gb,
                 "min_inet_down": self.min_inet_down, "min_reliability": self.min_reliability, "limit": limit}
        if len(self.gpus) == 1:
            query["gpu_name"] = normalize_gpu_name(self.gpus[0]).replace(" ", "_")
        return query

    def unmet(self, offer: dict) -> str | None:
        """Why ``offer`` does not meet these needs (checked here too: a server may ignore a filter), or None."""
        if not offers_for([offer], self.gpus):
            return "GPU"
        if float(offer.get("dph_total") or 0.0) > self.max_price:
            return "price"
        if float(offer.get("disk_space") or 0.0) < self.disk_gb:
            return "disk"
        if self.min_inet_down and float(offer.get("inet_down") or 0.0) < self.min_inet_down:
            return "download"
        if self.min_reliability and float(offer.get("reliability") or 0.0) < self.min_reliability:
            return "reliability"
        return None

    def words(self) -> list[str]:
        """The needs, in the order the report says them."""
        said = [" or ".join(self.gpus), f"disk ≥ {self.disk_gb:g} GB", f"≤ ${self.max_price:.3f}/h"]
        if self.min_inet_down:
            said.append(f"download ≥ {self.min_inet_down:g} Mbps")
        if self.min_reliability:
            said.append(f"reliability ≥ {self.min_reliability:g}")
        return said

    def to_dict(self) -> dict:
        return {"gpus": list(self.gpus), "disk_gb": self.disk_gb, "max_price": self.max_price,
                "min_inet_down": self.min_inet_down, "min_reliability": self.min_reliability}


@dataclass(frozen=True)
class HoldEstimate:
    """How long a journey holds its machine, learnt from earlier runs of it (support.timings): ``seconds``
    that do not depend on the machine, and ``megabits`` it downloads, which take ``megabits / inet_down``."""

    seconds: float
    megabits: float = 0.0
    source: str = "history"

    def on(self, offer: dict) -> float | None:
        """Expected seconds held on ``offer``; None when its bandwidth is unknown and a download is expected."""
        if not self.megabits:
            return self.seconds
        down = float(offer.get("inet_down") or 0.0)
        return self.seconds + self.megabits / down if down > 0 else None


@dataclass(frozen=True)
class OfferChoice:
    """The offer chosen, the one that would have been next, and why."""

    offer: dict
    runner_up: dict | None
    meeting: int            # offers the search returned that meet every need
    seen: int               # offers the search returned
    complete: bool          # False when the search returned as many as it was allowed: more may exist
    needs: OfferNeeds
    by: str                 # BY_PRICE or BY_JOURNEY_COST (what was actually used)
    hold: HoldEstimate | None = None
    note: str = ""          # why the choice fell back to the price, when it was asked to do otherwise

    def expected(self, offer: dict | None) -> dict | None:
        if offer is None or self.hold is None:
            return None
        seconds = self.hold.on(offer)
        if seconds is None:
            return None
        return {"seconds": round(seconds, 1), "cost": round(float(offer["dph_total"]) * seconds / 3600, 6)}

    def reason(self) -> str:
        how = "cheapest" if self.by == BY_PRICE else "least expected journey cost"
        count = f"{self.meeting}" if self.complete else f"at least {self.meeting}"
        return f"{how} of {count} offers meeting {', '.join(self.needs.words())}"

    def to_dict(self) -> dict:
        def brief(offer: dict | None) -> dict | None:
            if offer is None:
                return None
            kept = {k: offer.get(k) for k in ("id", "gpu_name", "dph_total", "disk_space", "inet_down", "reliability",
                                               "geolocation")}
            expected = self.expected(offer)
            return {**kept, "expected": expected} if expected else kept
        return {"by": self.by, "reason": self.reason(), "needs": self.needs.to_dict(), "offers_seen": self.seen,
                "offers_meeting": self.meeting, "complete": self.complete, "chosen": brief(self.offer),
                "runner_up": brief(self.runner_up),
                "hold": None if self.hold is None else {"seconds": round(self.hold.seconds, 1),
                                                        "megabits": round(self.hold.megabits, 1),
                                                        "source": self.hold.source},
                "note": self.note or None}


def choose_offer(offers: list[dict], needs: OfferNeeds, by: str = BY_PRICE, hold: HoldEstimate | None = None,
                 limit: int | None = None) -> OfferChoice:
    """The offer to rent among ``offers`` (one search's answer), with the runner-up and the reason.

    By price: the lowest price per hour, the more reliable host on a tie. By journey cost: the lowest price
    × expected time held (``hold``), the lowest price on a tie; without an estimate for the journey, or for an
    offer that does not say its bandwidth, it falls back to the price and says so. ``limit`` is what the
    search was allowed to return: a full answer may have left offers out. SpendRefused says why none fits.
    """
    fitting = [o for o in offers if needs.unmet(o) is None]
    if not fitting:
        _refuse(offers, needs)
    note = ""
    if by == BY_JOURNEY_COST and hold is None:
        by, note = BY_PRICE, "no hold time known for this journey yet: chosen by price"
    if by == BY_JOURNEY_COST and any(hold.on(o) is None for o in fitting):
        by, note = BY_PRICE, "an offer does not say its bandwidth: chosen by price"

    def by_price(o: dict):
        return float(o["dph_total"]), -float(o.get("reliability") or 0), int(o.get("id") or 0)

    def by_cost(o: dict):
        return float(o["dph_total"]) * hold.on(o), *by_price(o)

    ranked = sorted(fitting, key=by_cost if by == BY_JOURNEY_COST else by_price)
    return OfferChoice(ranked[0], ranked[1] if len(ranked) > 1 else None, len(fitting), len(offers),
                       limit is None or len(offers) < limit, needs, by, hold,
                       note)


def _refuse(offers: list[dict], needs: OfferNeeds):
    """SpendRefused naming the need no offer met (the first one in the order the needs are checked)."""
    allowed = offers_for(offers, needs.gpus)
    if not allowed:
        seen = sorted({str(o.get("gpu_name")) for o in offers})
        raise SpendRefused(f"no offer for the allowed GPUs {', '.join(needs.gpus)} "
                           f"(offers seen: {', '.join(seen) or 'none'})")
    affordable = [o for o in allowed if float(o.get("dph_total") or 0) <= needs.max_price]
    if not affordable:
        cheapest = min(float(o["dph_total"]) for o in allowed)
        raise SpendRefused(f"the cheapest allowed offer costs ${cheapest:.3f}/h, above the price cap "
                           f"DUMONT_MAX_PRICE=${needs.max_price:.3f}/h")
    missing = sorted({needs.unmet(o) for o in affordable} - {None})
    raise SpendRefused(f"no allowed offer under the price cap meets {', '.join(needs.words()[1:])} "
                       f"({len(affordable)} seen; each short of: {', '.join(missing)})")
