"""Money: one guard where money is spent, one budget for the whole run, and each journey's worst case.

Every API call that can start billing (create an instance, with or without a
standby; provision a standby; fail back onto a new GPU; restore onto a new
instance, which is a create) goes through :class:`SpendGuard.authorize`
before its request leaves — whatever the scenario's tags or steps, because
the client refuses to send a billing route without it (support.client).

Before a journey's first paid call, its worst case is *reserved* in the run's
:class:`Budget`, a small locked file shared by every process of the run
(parallel workers, and shards given the same ``DUMONT_BUDGET_RUN``). A journey
that does not fit waits for others to release theirs, up to a limit, and is
then refused with the numbers. When it ends, its reservation becomes what it
really spent. While it runs, a watch stops it if its machines bill past what
it reserved.

The worst case is the journey's own (:class:`Plan`): the steps of the scenario
say which machines they rent and which time limits they may use; every
machine it can hold at once is counted at its price for the time limits of
the steps it lives through (the storage price while paused), each machine
capped at the scenario's time limit plus its deletion.
"""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.config import normalize_gpu_name
from support.errors import ApiError, ConnectionProblem, SpendRefused
from support.shared_state import change_locked

GPU, STANDBY, ANY_GPU = "gpu", "standby", "any_gpu"
OVERRUN = "spending past the reservation"


# -- what a step may cost ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spends:
    """What one step may do to the bill: machines it rents, time limits it may use, what it changes after.

    ``limits`` name fields of :class:`support.config.Timeouts` (real seconds); ``then`` is what
    the step leaves behind: ``"paused"`` (the GPU bills storage from then on), ``"resumed"``,
    ``"deleted"`` (the GPU is gone).
    """

    rents: tuple[str, ...] = ()
    limits: tuple[str, ...] = ()
    then: str | None = None


@dataclass
class _Held:
    """A machine the journey may hold, and the real seconds it may bill at each price (capped)."""

    kind: str
    price: float
    storage: float
    running_seconds: float = 0.0
    paused_seconds: float = 0.0
    paused: bool = False

    def accrue(self, seconds: float, cap: float) -> None:
        seconds = min(seconds, max(0.0, cap - self.running_seconds - self.paused_seconds))
        if self.paused:
            self.paused_seconds += seconds
        else:
            self.running_seconds += seconds

    @property
    def usd(self) -> float:
        return (self.price * self.running_seconds + self.storage * self.paused_seconds) / 3600


@dataclass(frozen=True)
class Plan:
    """A journey's worst case, step by step, before any price is known."""

    steps: tuple[Spends, ...]

    @classmethod
    def of(cls, spends) -> "Plan":
        return cls(tuple(s for s in spends if s is not None))

    @property
    def rents(self) -> bool:
        return any(step.rents for step in self.steps)

    def count(self, kind: str) -> int:
        return sum(step.rents.count(kind) for step in self.steps)

    def worst_case(self, timeouts, prices: dict[str, float], storage: float = 0.0) -> "WorstCase":
        """Dollars at most, with ``prices`` per machine kind ($/h) and the GPUs' ``storage`` price."""
        cap = timeouts.scenario + timeouts.delete      # no machine outlives the scenario and its cleanup
        held: list[_Held] = []
        machines: list[_Held] = []
        for step in self.steps:
            for kind in step.rents:
                machine = _Held(kind, prices[kind], 0.0 if kind == STANDBY else storage)
                held.append(machine)
                machines.append(machine)
            for machine in held:
                machine.accrue(sum(getattr(timeouts, name) for name in step.limits), cap)
            gpus = [m for m in held if m.kind != STANDBY]
            if step.then == "paused" and gpus:
                gpus[-1].paused = True
            elif step.then == "resumed":
                for machine in gpus:
                    machine.paused = False
            elif step.then == "deleted" and gpus:
                held.remove(gpus[-1])
        for machine in held:                            # cleanup deletes what is left
            machine.accrue(timeouts.delete, cap)
        # Rounded up: a worst case is never reserved short.
        return WorstCase(math.ceil(sum(m.usd for m in machines) * 1e6) / 1e6,
                         [(m.kind, m.price, round(m.running_seconds + m.paused_seconds, 1)) for m in machines])


@dataclass(frozen=True)
class WorstCase:
    usd: float
    machines: list[tuple[str, float, float]]     # (kind, $/h, real seconds at that price)

    def describe(self) -> str:
        held = ", ".join(f"{kind} at ${price:.3f}/h for up to {seconds / 60:.0f} min"
                         for kind, price, seconds in self.machines)
        return f"worst case ${self.usd:.4f} ({held})"

    def to_dict(self) -> dict:
        return {"usd": self.usd, "machines": [{"kind": k, "price_per_hour": p, "seconds": s}
                                              for k, p, s in self.machines]}


# -- the run's budget, shared by its processes -------------------------------------------------------


@dataclass
class _Ledger:
    reserved: dict = field(default_factory=dict)    # journey key -> {"usd", "host", "pid"}
    spent: dict = field(default_factory=dict)       # journey key -> usd


class Budget:
    """``limit`` dollars for one run, across processes: reservations and what was spent, in a locked file."""

    def __init__(self, path: Path, limit: float, sleep=time.sleep, now=time.monotonic):
        self.path = Path(path)
        self.limit = limit
        self._sleep = sleep
        self._now = now
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _locked(self, change):
        def on_state(data: dict):
            state = _Ledger(dict(data.get("reserved", {})), dict(data.get("spent", {})))
            _drop_dead_owners(state)
            answer = change(state)
            data.clear()
            data.update(reserved=state.reserved, spent=state.spent)
            return answer
        return change_locked(self.path, on_state, durable=True)

    def committed(self, except_key: str | None = None) -> float:
        """Reserved by journeys still going on, plus spent by those that ended (dollars)."""
        return self._locked(lambda state: _committed(state, except_key))

    def reserve(self, key: str, usd: float, wait: float, what: str) -> None:
        """Hold ``usd`` for journey ``key``, waiting up to ``wait`` wall seconds for room; else refuse."""
        if usd > self.limit:
            raise SpendRefused(f"{what}: {usd_text(usd)} exceeds the budget DUMONT_BUDGET_USD={usd_text(self.limit)}")
        deadline = self._now() + wait
        while True:
            def attempt(state: _Ledger):
                others = _committed(state, key)
                if others + usd <= self.limit + 1e-9:
                    state.reserved[key] = {"usd": usd, "host": socket.gethostname(), "pid": os.getpid()}
                    return None
                return others

            others = self._locked(attempt)
            if others is None:
                return
            if self._now() >= deadline:
                raise SpendRefused(f"{what}: {usd_text(usd)} does not fit in what is left of the budget "
                                   f"DUMONT_BUDGET_USD={usd_text(self.limit)} ({usd_text(others)} reserved or spent "
                                   f"by this run, {usd_text(max(0.0, self.limit - others))} left)")
            self._sleep(min(1.0, max(0.01, deadline - self._now())))

    def settle(self, key: str, spent: float) -> None:
        """The journey ended: its reservation becomes what it spent."""
        def change(state: _Ledger):
            state.reserved.pop(key, None)
            state.spent[key] = round(spent, 6)
        self._locked(change)

    def reserved_for(self, key: str) -> float | None:
        return self._locked(lambda state: (state.reserved.get(key) or {}).get("usd"))


def _committed(state: _Ledger, except_key: str | None) -> float:
    reserved = sum(r["usd"] for k, r in state.reserved.items() if k != except_key)
    return reserved + sum(v for k, v in state.spent.items() if k != except_key)


def _drop_dead_owners(state: _Ledger) -> None:
    """A reservation whose process died (kill -9) counts as spent in full: it may have spent that much."""
    for key, held in list(state.reserved.items()):
        if held.get("host") == socket.gethostname() and not _alive(int(held.get("pid") or 0)):
            state.reserved.pop(key)
            state.spent[key] = held["usd"]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def usd_text(dollars: float) -> str:
    return f"${dollars:.4f}" if dollars < 1 else f"${dollars:.2f}"


# -- the guard at the point of spending ----------------------------------------------------------------


@dataclass(frozen=True)
class PaidCall:
    """A request that can start billing, as the client is about to send it."""

    what: str                         # "create an instance", "provision a CPU standby", "fail back to a GPU"
    rents: tuple[str, ...]            # machine kinds it may add: gpu, standby, any_gpu
    offer_id: int | None = None


class SpendGuard:
    """Authorises every billing request of one process; knows the journey that is running."""

    def __init__(self, config, target, clock, budget: Budget, interrupts=None):
        self.config = config
        self.target = target
        self.clock = clock
        self.budget = budget
        self.interrupts = interrupts    # support.interrupts.InterruptGuard: stops a journey that overruns
        self.journey = None             # support.journey.Journey while a scenario runs
        self.offers: dict[int, dict] = {}
        self._rented: dict[str, int] = {}
        self._worst: WorstCase | None = None

    # -- what the client tells it --------------------------------------------------------------

    def saw_offers(self, offers: list[dict]) -> None:
        """Offers from a search: the only place a GPU and a price are known before a create."""
        for offer in offers:
            if isinstance(offer.get("id"), int):
                self.offers[offer["id"]] = offer

    def authorize(self, call: PaidCall, client) -> None:
        """Refuse, before the request leaves, unless this call fits everything it must fit."""
        journey = self.journey
        if journey is None:
            raise SpendRefused(f"{call.what}: refused outside a journey (nothing would clean it up)")
        if not self.target.is_sandbox and not self.config.allow_spend:
            raise SpendRefused(f"{call.what}: renting paid machines on the real service needs DUMONT_ALLOW_SPEND=1 "
                               f"(scenario '{journey.metrics.test_name}')")
        if call.offer_id is not None:
            self._check_offer(call)
        plan = journey.plan
        for kind in call.rents:
            if self._rented.get(kind, 0) + 1 > plan.count(kind):
                raise SpendRefused(f"{call.what}: the scenario's steps do not rent a {kind} here, so its worst case "
                                   f"does not cover one (planned: {plan.count(kind)}, rented: "
                                   f"{self._rented.get(kind, 0)})")
        if self._worst is None:
            self._reserve(client)
        for kind in call.rents:
            self._rented[kind] = self._rented.get(kind, 0) + 1

    def _check_offer(self, call: PaidCall) -> None:
        offer = self.offers.get(call.offer_id)
        if offer is None:
            raise SpendRefused(f"{call.what}: offer {call.offer_id} was never seen in an offer search, so its GPU "
                               f"and price are unknown")
        gpu = str(offer.get("gpu_name", "?"))
        allowed = {normalize_gpu_name(g) for g in self.config.allowed_gpus}
        if normalize_gpu_name(gpu) not in allowed:
            raise SpendRefused(f"{call.what}: {gpu} is not among the allowed GPUs DUMONT_ALLOWED_GPUS="
                               f"{','.join(self.config.allowed_gpus)}")
        price = float(offer.get("dph_total") or 0.0)
        if price > self.config.max_price:
            raise SpendRefused(f"{call.what}: {gpu} at ${price:.3f}/h is above the price cap "
                               f"DUMONT_MAX_PRICE=${self.config.max_price:.3f}/h")

    def prices(self, client) -> tuple[dict[str, float], float]:
        """$/h per machine kind of the current journey, and its GPU's storage price."""
        offer = self.journey.offer("its worst case can be priced") if self.journey.plan.count(GPU) else {}
        gpu = float(offer.get("dph_total") or self.config.max_price)
        storage = float(offer.get("storage_dph") or 0.0)
        return {GPU: gpu, ANY_GPU: max(gpu, self.config.max_price), STANDBY: self._standby_price(client)}, storage

    def _standby_price(self, client) -> float:
        if not self.journey.plan.count(STANDBY):
            return 0.0
        try:
            return float(client.standby_pricing().get("estimated_hourly_usd") or self.config.max_price)
        except (ApiError, ConnectionProblem):
            return self.config.max_price     # unknown: the most a machine of this run may cost

    def worst_case(self, client) -> WorstCase:
        prices, storage = self.prices(client)
        return self.journey.plan.worst_case(self.config.timeouts, prices, storage)

    def _reserve(self, client) -> None:
        journey = self.journey
        worst = self.worst_case(client)
        what = f"scenario '{journey.metrics.test_name}': {worst.describe()}"
        journey.metrics.extra["worst_case"] = worst.to_dict()
        if not self.target.is_sandbox:
            self._check_balance(client, worst, what)
        self.budget.reserve(journey.label, worst.usd, self.clock.wall(self.config.budget_wait), what)
        self._worst = worst
        self.billing_changed()

    def _check_balance(self, client, worst: WorstCase, what: str) -> None:
        balance = float(client.balance().get("credit") or 0.0)
        # What other journeys of the run reserved is not spent yet, but will be taken from the same balance.
        others = self.budget.committed(except_key=self.journey.label)
        if balance - others < worst.usd:
            raise SpendRefused(f"{what}: the balance {usd_text(balance)}, less {usd_text(others)} reserved by "
                               f"other journeys of this run, is below it")

    # -- a journey's life ----------------------------------------------------------------------

    def begin(self, journey) -> None:
        self.journey = journey
        self._rented = {}
        self._worst = None

    def reserved(self) -> float | None:
        return None if self._worst is None else self._worst.usd

    def end(self, spent: float) -> None:
        if self.interrupts is not None:
            self.interrupts.unwatch(OVERRUN)
        if self.journey is not None and self._worst is not None:
            self.budget.settle(self.journey.label, spent)
        self.journey = None
        self._worst = None

    # -- the watch on what is billed -----------------------------------------------------------

    def billing_changed(self) -> None:
        """A machine started, changed state or stopped: when will the journey pass its reservation?"""
        if self.interrupts is None or self.journey is None or self._worst is None:
            return
        meters = list(self.journey.meters.values())
        rate = sum(meter.rate() for meter in meters)
        if rate <= 0:
            self.interrupts.unwatch(OVERRUN)
            return
        left = self._worst.usd - sum(meter.cost() for meter in meters)
        self.interrupts.watch(OVERRUN, time.monotonic() + max(0.0, left) / rate, self._overrun)

    def _overrun(self) -> BaseException | None:
        if self.journey is None or self._worst is None:
            return None
        spent = sum(meter.cost() for meter in self.journey.meters.values())
        if spent < self._worst.usd * (1 - 1e-6):
            self.billing_changed()          # not yet (a price or state changed since): look again later
            return None
        return SpendRefused(f"scenario '{self.journey.metrics.test_name}' has billed {usd_text(spent)}, past the "
                            f"{usd_text(self._worst.usd)} it reserved (its worst case): stopped, and its machines "
                            f"are deleted")


def early_check(journey, client) -> float:
    """The friendly step "the balance covers ...": the worst case against balance and budget, reserving nothing."""
    guard: SpendGuard = journey.run.spend_guard
    worst = guard.worst_case(client)
    what = f"scenario '{journey.metrics.test_name}': {worst.describe()}"
    left = guard.budget.limit - guard.budget.committed(except_key=journey.label)
    if worst.usd > left + 1e-9:
        raise SpendRefused(f"{what}: more than what is left of the budget DUMONT_BUDGET_USD="
                           f"{usd_text(guard.budget.limit)} ({usd_text(left)})")
    if not guard.target.is_sandbox:
        balance = float(client.balance().get("credit") or 0.0)
        if balance < worst.usd:
            raise SpendRefused(f"{what}: the balance {usd_text(balance)} is below it")
    journey.metrics.extra["worst_case"] = worst.to_dict()
    return worst.usd
