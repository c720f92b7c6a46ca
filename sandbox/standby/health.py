"""Watching a pair's two machines: periodic health checks of the GPU (an automatic failover
after HEALTH_FAILURES in a row), and the status changes of both machines as the lifecycle
reports them."""
from __future__ import annotations

import asyncio
import logging

from ..clock import Timings
from ..cloud.resource import Resource
from .failover import Failover
from .pairs import Pair, Pairs
from .sync import Syncer

log = logging.getLogger("sandbox.standby")

HEALTH_FAILURES = 3                       # consecutive failed checks before an automatic failover


class HealthMonitor:
    def __init__(self, *, pairs: Pairs, syncer: Syncer, failover: Failover, timings: Timings):
        self.pairs = pairs
        self.syncer = syncer
        self.failover = failover
        self.timings = timings

    async def loop(self, p: Pair) -> None:
        """The pair's health checks, for as long as it lives."""
        while True:
            await asyncio.sleep(self.pairs.wall(self.timings.draw("health_interval")))
            try:
                self.check(p)
            except Exception:
                log.exception("health check of standby %s failed", p.id)

    def check(self, p: Pair) -> None:
        rec = p.record
        if p.state != "syncing" or p.pending:
            if rec.failures:
                rec.failures, rec.first_failure_at = 0, None
                self.pairs.save(p)
            return
        gpu = self.pairs.gpu(p)
        status = gpu.actual_status if gpu is not None else "deleted"
        if status == "running":
            if rec.failures or rec.health_status != "healthy" or not rec.seen_running:
                rec.failures, rec.first_failure_at = 0, None
                rec.health_status, rec.seen_running = "healthy", True
                self.pairs.save(p)
            return
        if status in ("loading", "created") and not rec.seen_running:
            return   # still booting: not a failure
        t = self.pairs.now()
        rec.failures += 1
        rec.first_failure_at = rec.first_failure_at or t
        rec.health_status = "unhealthy"
        self.pairs.save(p)
        self.pairs.event(p, "health_failed", {"gpu_status": status, "consecutive": rec.failures}, t=t)
        if rec.failures >= HEALTH_FAILURES and rec.auto_failover:
            self.failover.start(p, f"GPU {rec.current_gpu_id} is {status} "
                                   f"({rec.failures} failed health checks)", explicit=False, t=t)

    def status_changed(self, res: Resource, frm: str, to: str, t: float) -> None:
        """A machine of some pair changed status: a dead standby puts its pair in error; the
        GPU's moves in and out of running date its failure."""
        if res.kind == "standby":
            p = self.pairs.by_standby.get(res.id)
            if p is not None and to in ("offline", "exited") and p.state != "error":
                self.mark_error(p, f"CPU standby is {to}")
            return
        p = self.pairs.of_current_gpu(res.id)
        if p is None:
            return
        if frm == "running" and to != "running":
            p.record.gpu_left_running_at = t
            self.pairs.save(p)
        elif to == "running":
            p.record.gpu_left_running_at, p.record.seen_running = None, True
            self.pairs.save(p)

    def mark_error(self, p: Pair, why: str) -> None:
        """The pair cannot serve any more; it can only be deleted."""
        self.syncer.drop(p, "discarded")
        frm = p.state
        p.record.state, p.record.error = "error", why
        self.pairs.save(p)
        self.pairs.event(p, "standby_error", {"error": why}, frm=frm, to="error")
