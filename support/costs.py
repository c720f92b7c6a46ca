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
        self.uncertainty = self._dollars(self.price_per_hour, started.uncertainty)

    def _rate(self) -> float:
        return self.storage_per_hour if self._state == "stopped" else self.price_per_hour

    def _dollars(self, per_hour: float, wall_seconds: float) -> float:
        return per_hour * self.clock.real(max(0.0, wall_seconds)) / 3600

    def _accrue(self, until: float) -> None:
        until = max(until, self._since)        # a change seen late never bills the same time twice
        self._cost += self._dollars(self._rate(), until - self._since)
        self._since = until

    def change(self, state: str, at: Moment) -> None:
        """The machine was seen entering ``state`` (``running`` or ``stopped``) at ``at``."""
        if self.stopped_at is not None or state == self._state:
            return
        before = self._rate()
        self._accrue(at.epoch)
        self._state = state
        self.uncertainty += self._dollars(abs(before - self._rate()), at.uncertainty)

    def stop(self, at: Moment) -> None:
        """Billing ended (the delete was carried out) at ``at``."""
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


def choose_cheapest(offers: list[dict], allowed_gpus: tuple[str, ...], max_price: float) -> dict:
    """The cheapest offer among the allowed GPUs under the price cap, or SpendRefused saying why."""
    fitting = offers_for(offers, allowed_gpus)
    if not fitting:
        seen = sorted({str(o.get("gpu_name")) for o in offers})
        raise SpendRefused(f"no offer for the allowed GPUs {', '.join(allowed_gpus)} "
                           f"(offers seen: {', '.join(seen) or 'none'})")
    affordable = [o for o in fitting if float(o.get("dph_total", 0)) <= max_price]
    if not affordable:
        cheapest = min(float(o["dph_total"]) for o in fitting)
        raise SpendRefused(f"the cheapest allowed offer costs ${cheapest:.3f}/h, above the price cap "
                           f"DUMONT_MAX_PRICE=${max_price:.3f}/h")
    return min(affordable, key=lambda o: (float(o["dph_total"]), -float(o.get("reliability") or 0)))
