"""Money: what a journey may cost before it starts, and what it did cost after.

Cost = price per hour × billed time, per state: the offer's price while
loading or running, the storage price while stopped, nothing once deleted.
Against the sandbox, time is compressed and billed in simulated seconds: the
run's clock turns the wall seconds measured here into those.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from support.clock import Clock
from support.config import normalize_gpu_name
from support.errors import SpendRefused


@dataclass
class Meter:
    """Billing of one machine as the suite observed it."""

    price_per_hour: float
    storage_per_hour: float
    clock: Clock
    started_at: float = field(default_factory=time.time)
    _state: str = "running"
    _since: float = 0.0
    _cost: float = 0.0
    stopped_at: float | None = None

    def __post_init__(self):
        self._since = self.started_at

    def _rate(self) -> float:
        return self.storage_per_hour if self._state == "stopped" else self.price_per_hour

    def _accrue(self, until: float) -> None:
        self._cost += self._rate() * self.clock.real(max(0.0, until - self._since)) / 3600
        self._since = until

    def change(self, state: str, at: float) -> None:
        """The machine was seen entering ``state`` (``running`` or ``stopped``) at epoch ``at``."""
        if self.stopped_at is not None:
            return
        self._accrue(at)
        self._state = state

    def stop(self, at: float) -> None:
        """Billing ended (delete accepted) at epoch ``at``."""
        if self.stopped_at is None:
            self._accrue(at)
            self.stopped_at = at

    def rate(self) -> float:
        """Dollars per wall second it bills now (nothing once billing stopped)."""
        if self.stopped_at is not None:
            return 0.0
        return self._rate() * self.clock.real(1.0) / 3600

    def cost(self, now: float | None = None) -> float:
        if self.stopped_at is not None:
            return self._cost
        return self._cost + self._rate() * self.clock.real(max(0.0, (now or time.time()) - self._since)) / 3600


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
