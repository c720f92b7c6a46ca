"""The real server's blocked event loop, without blocking ours.

The real server does synchronous work on its event loop: after every create, a machine setup
(it tries the new machine's SSH every 10 s for up to 120 s, and once SSH answered runs a setup
over SSH, ~10 s), and for a failing provider call, its retries' sleeps. Meanwhile it answers
nothing, on any route. Here a stall is a gate: requests that arrive wait at it before they are
handled, and answers already on their way wait at it before they are sent; once it ends they are
all served. The sandbox's own loop keeps running (timers, SSH servers, syncs: the provider's
machines do not stop, and the new machine boots while the server waits for its SSH). Admin
routes (/_sandbox) and the provider's API (/_provider) are not the real server's and never wait.

Stalls queue: one asked for while another lasts starts when that one ends (the real loop does
one blocking job after another), so a create's setup that starts late may find SSH already up
and last only its setup. A stall of fixed length knows its end when it starts; the create's
setup knows it only when the machine's SSH answers or the server gives up. Each stall is
recorded in the ground truth once its end is known (event `server_stall`, dated at its start;
the setup also records `server_stall_started`), and in GET /_sandbox/stalls at once.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Tuple

from ..clock import Clock
from ..cloud.events import EventLog

log = logging.getLogger("sandbox.stall")

UNGATED_PREFIXES = ("/_sandbox", "/_provider")
MIN_SSH_INTERVAL = 1.0      # nominal seconds: an attempt interval of 0 would never give up


def gated(path: str) -> bool:
    """Does a stall hold requests to this path?"""
    return not path.startswith(UNGATED_PREFIXES)


@dataclass
class StallRecord:
    reason: str                     # "create" or "provider_retries"
    asked_at: float                 # wall epoch: when it was asked for
    detail: Dict[str, Any] = field(default_factory=dict)
    nominal_s: Optional[float] = None   # a fixed stall's at once; the create setup's once it ends
    start: Optional[float] = None       # None while queued behind another stall
    end: Optional[float] = None         # None until known
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    def view(self, now: float) -> Dict[str, Any]:
        active = self.start is not None and self.start <= now and (self.end is None or now < self.end)
        return {"start": self.start, "end": self.end, "nominal_s": self.nominal_s, "reason": self.reason,
                "detail": dict(self.detail), "active": active}


@dataclass(frozen=True)
class SetupProbe:
    """What the stall after a create knows of the new machine, as the real server's setup does."""

    ssh_answers: Callable[[], bool]     # does the machine's SSH answer now?
    wait_s: float                       # nominal: the server gives up on SSH after this much waiting
    interval_s: float                   # nominal: its sleep between two SSH attempts
    setup_s: float                      # nominal: its setup over SSH, once SSH answered


Runner = Callable[[StallRecord], Awaitable[None]]


class ServerStall:
    def __init__(self, clock: Clock, events: EventLog):
        self.clock = clock
        self.events = events
        self.records: List[StallRecord] = []
        self._queue: Deque[Tuple[StallRecord, Runner]] = deque()
        self._worker: Optional[asyncio.Task] = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_end = 0.0

    @property
    def active(self) -> bool:
        """Is a stall under way or queued?"""
        return not self._idle.is_set()

    def hold(self, nominal_s: float, reason: str, detail: Optional[Dict[str, Any]] = None) -> Optional[StallRecord]:
        """Stop answering for nominal_s (scaled), from now or from the end of the stalls queued
        before; returns the stall (None for a zero duration). `await finished(stall)` waits for it."""
        if nominal_s <= 0:
            return None
        rec = StallRecord(reason=reason, asked_at=self.clock.now(), detail=dict(detail or {}),
                          nominal_s=float(nominal_s))
        return self._enqueue(rec, self._fixed)

    def hold_for_setup(self, probe: SetupProbe, detail: Optional[Dict[str, Any]] = None) -> StallRecord:
        """The real server's machine setup after a create: stop answering until the machine's
        SSH answers (tried every interval, given up after wait), plus the setup once it did."""
        rec = StallRecord(reason="create", asked_at=self.clock.now(), detail=dict(detail or {}))

        async def run(r: StallRecord) -> None:
            await self._setup(r, probe)
        return self._enqueue(rec, run)

    async def finished(self, rec: StallRecord) -> None:
        await rec.done.wait()

    async def wait(self) -> float:
        """Wait until no stall is under way or queued; returns the wall seconds waited."""
        if self._idle.is_set():
            return 0.0
        t0 = self.clock.now()
        while not self._idle.is_set():
            await self._idle.wait()
        return self.clock.now() - t0

    def describe(self) -> List[Dict[str, Any]]:
        now = self.clock.now()
        return [r.view(now) for r in self.records]

    def shutdown(self) -> None:
        """Stop the stall under way and drop those queued: nothing may wait at the gate forever."""
        if self._worker is not None:
            self._worker.cancel()
        self._queue.clear()
        self._idle.set()

    # -- the queue ------------------------------------------------------------------------------
    def _enqueue(self, rec: StallRecord, runner: Runner) -> StallRecord:
        self.records.append(rec)
        self._queue.append((rec, runner))
        self._idle.clear()      # at once: a request arriving before the worker runs must wait too
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        return rec

    async def _work(self) -> None:
        try:
            while self._queue:
                rec, runner = self._queue[0]
                # The planned time, not when this task woke up: back-to-back stalls stay contiguous.
                rec.start = max(rec.asked_at, self._last_end)
                try:
                    await runner(rec)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("server stall %s failed; ending it", rec.reason)
                    if rec.end is None:
                        rec.end = self.clock.now()
                        rec.nominal_s = self.clock.nominal(rec.end - rec.start)
                self._last_end = rec.end if rec.end is not None else self.clock.now()
                self._queue.popleft()
                rec.done.set()
        finally:
            self._worker = None
            if not self._queue:
                self._idle.set()

    async def _sleep_until(self, t: float) -> None:
        left = t - self.clock.now()
        if left > 0:
            await asyncio.sleep(left)

    def _record(self, rec: StallRecord) -> None:
        self.events.record("sandbox", None, "server_stall", None, None,
                           {"start": rec.start, "end": rec.end, "nominal_s": rec.nominal_s, "reason": rec.reason,
                            **rec.detail}, t=rec.start)

    async def _fixed(self, rec: StallRecord) -> None:
        assert rec.start is not None and rec.nominal_s is not None
        rec.end = rec.start + self.clock.wall(rec.nominal_s)
        self._record(rec)
        await self._sleep_until(rec.end)

    async def _setup(self, rec: StallRecord, probe: SetupProbe) -> None:
        """The server's loop: try SSH; if it answered, set up and stop; else sleep an interval,
        and give up once the sleeps add up to the wait (so ~wait when SSH never answers)."""
        assert rec.start is not None
        self.events.record("sandbox", None, "server_stall_started", None, None,
                           {"start": rec.start, "reason": rec.reason, **rec.detail}, t=rec.start)
        interval = max(float(probe.interval_s), MIN_SSH_INTERVAL)
        waited, attempts, answered_at = 0.0, 0, None
        while waited < probe.wait_s:
            attempt_at = rec.start + self.clock.wall(waited)
            await self._sleep_until(attempt_at)
            attempts += 1
            if probe.ssh_answers():
                answered_at = attempt_at
                break
            waited += interval
        if answered_at is not None:
            rec.nominal_s = waited + probe.setup_s
            rec.detail.update({"outcome": "ssh_ready", "ssh_answered_at": answered_at, "setup_s": probe.setup_s})
        else:   # no setup: the server gives up
            rec.nominal_s = waited
            rec.detail.update({"outcome": "ssh_timeout", "ssh_answered_at": None, "setup_s": 0.0})
        rec.detail["ssh_attempts"] = attempts
        rec.end = rec.start + self.clock.wall(rec.nominal_s)
        self._record(rec)
        await self._sleep_until(rec.end)
