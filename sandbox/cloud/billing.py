"""Billing from state intervals (stored in SQLite, so it survives restarts).

Each live resource has exactly one open interval: (state, $/h, time_scale, start_t). A state
change closes it and opens the next. cost = dph x (end - start) x scale / 3600, i.e. price per
hour of *simulated* time. Running-like states bill dph_total, stopped-like ones the storage
price; a deleted resource has no open interval and costs nothing more.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..clock import Clock
from .store import Store

RUNNING_STATES = ("loading", "created", "running")
STOPPED_STATES = ("stopped", "exited", "offline")

STORAGE_USD_PER_GB_MONTH = 0.15
HOURS_PER_MONTH = 730.0


def storage_dph(disk_gb: float, usd_per_gb_month: float = STORAGE_USD_PER_GB_MONTH) -> float:
    return round(float(disk_gb) * usd_per_gb_month / HOURS_PER_MONTH, 8)


def interval_cost(dph: float, scale: float, start: float, end: float) -> float:
    return dph * max(0.0, end - start) * scale / 3600.0


class Billing:
    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def open(self, rid: int, state: str, dph: float, t: float) -> None:
        self.store.open_interval(rid, state, dph, self.clock.scale, t)

    def close(self, rid: int, t: float) -> None:
        for interval in self.store.open_intervals(rid):
            self.store.close_interval(interval.id, t)

    def switch(self, rid: int, state: str, dph: float, t: float) -> None:
        with self.store.tx():
            self.close(rid, t)
            self.open(rid, state, dph, t)

    def rescale_open_intervals(self, t: float) -> int:
        """After a restart with another time scale: split open intervals at t."""
        n = 0
        with self.store.tx():
            for old in self.store.open_intervals():
                if abs(old.scale - self.clock.scale) > 1e-12:
                    self.store.close_interval(old.id, t)
                    self.store.open_interval(old.resource_id, old.state, old.dph, self.clock.scale,
                                             max(t, old.start_t))
                    n += 1
        return n

    def resource_summary(self, rid: int, now: Optional[float] = None) -> Dict[str, Any]:
        """Simulated seconds and cost of one resource up to now, as /_sandbox/billing shows them."""
        now = self.clock.now() if now is None else now
        running = stopped = cost = 0.0
        intervals: List[Dict[str, Any]] = []
        for i in self.store.intervals(rid):
            end = i.end_t if i.end_t is not None else max(now, i.start_t)
            sim = max(0.0, end - i.start_t) * i.scale
            c = interval_cost(i.dph, i.scale, i.start_t, end)
            if i.state in RUNNING_STATES:
                running += sim
            else:
                stopped += sim
            cost += c
            intervals.append({"state": i.state, "dph": i.dph, "scale": i.scale, "start_t": i.start_t,
                              "end_t": i.end_t, "sim_seconds": sim, "cost": c})
        return {"running_seconds": running, "stopped_seconds": stopped,
                "billed_seconds": running + stopped, "cost": cost, "intervals": intervals}

    def account_spent(self, email: str, now: Optional[float] = None) -> float:
        return self.store.account_cost(email, self.clock.now() if now is None else now)
