"""The CPU standby as one service: the jobs composed (configs, provisioning, syncs, health,
failover, failback, removal, the scripted simulation), the listener the cloud calls, and the
views the routes answer with.

Every duration is nominal and drawn from the sandbox's timings (names in TIMINGS, overridable
with --timings). State lives in SQLite (store.py), so a restarted sandbox picks up its pairs
where they were.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..clock import Clock, Timings
from ..cloud.events import EventLog
from ..cloud.lifecycle import Lifecycle
from ..cloud.listener import StandbyAttachment
from ..cloud.offers import Offers
from ..cloud.resource import Resource
from ..cloud.store import Store
from ..faults import Faults
from . import views
from .configs import Configs
from .failback import Failback
from .failover import Failover
from .health import HealthMonitor
from .pairs import Pair, Pairs
from .provisioning import Provisioner
from .removal import Removal
from .simulation import Simulator
from .store import StandbyStore
from .sync import Syncer

TIMINGS: Dict[str, Any] = {
    "standby_provision": [30, 90, 45],   # provision request -> standby running, association syncing
    "sync_base": 2,                       # every sync (and failback copy): base seconds
    "sync_per_gb": 10,                    # + seconds per nominal GB of changed bytes
    "health_interval": 10,                # seconds between two health checks of the GPU
    "failover_switch": 1,                 # failover decision -> standby serving
    "failback_search": 5,                 # auto recovery: failover -> failback starts ("searching_gpu")
}


class StandbyService:
    def __init__(self, *, store: Store, lifecycle: Lifecycle, offers: Offers, faults: Faults, timings: Timings,
                 clock: Clock, events: EventLog, data_dir: Path, size_scale: float, host: str):
        for name, spec in TIMINGS.items():
            timings.register_default(name, spec)
        self.host = host
        self.staging = Path(data_dir) / "standby-staging"
        self.store = StandbyStore(store)
        self.pairs = Pairs(store=self.store, lifecycle=lifecycle, events=events, clock=clock)
        self.configs = Configs(store=self.store, pairs=self.pairs, events=events)
        self.syncer = Syncer(pairs=self.pairs, timings=timings, faults=faults, size_scale=size_scale,
                             staging=self.staging)
        self.failback = Failback(pairs=self.pairs, syncer=self.syncer, lifecycle=lifecycle, offers=offers,
                                 faults=faults, staging=self.staging)
        self.failover = Failover(pairs=self.pairs, syncer=self.syncer, failback=self.failback, timings=timings)
        self.health = HealthMonitor(pairs=self.pairs, syncer=self.syncer, failover=self.failover, timings=timings)
        self.provisioner = Provisioner(pairs=self.pairs, syncer=self.syncer, health=self.health, lifecycle=lifecycle,
                                       timings=timings, configs=self.configs)
        self.removal = Removal(pairs=self.pairs, syncer=self.syncer, lifecycle=lifecycle)
        self.simulator = Simulator(clock, events)

    # -- what the cloud tells it (cloud/listener.py) -----------------------------------------
    def status_changed(self, res: Resource, frm: str, to: str, t: float) -> None:
        self.health.status_changed(res, frm, to, t)

    def instance_created(self, res: Resource, skip_standby: bool) -> None:
        cfg = self.configs.of(res.account)
        if cfg.enabled and cfg.configured and not skip_standby:
            self.provisioner.provision(res.account, res)

    async def instance_deleted(self, res: Resource, destroy_standby: bool, reason: str) -> Optional[str]:
        return await self.removal.gpu_deleted(res, destroy_standby, reason)

    def attachment(self, res: Resource) -> Optional[StandbyAttachment]:
        p = self.pairs.of_current_gpu(res.id)
        if p is None:
            return None
        return StandbyAttachment(self.instance_standby_view(p), p.record.dph)

    # -- views --------------------------------------------------------------------------------
    def association_view(self, p: Pair) -> Dict[str, Any]:
        return views.association_view(p, self.pairs.standby(p), self.host)

    def instance_standby_view(self, p: Pair) -> Dict[str, Any]:
        return views.instance_standby_view(p, self.pairs.standby(p), self.host)

    def truth(self, gpu_id: int) -> Optional[Dict[str, Any]]:
        """The ground truth of the pair this GPU was ever part of (also once deleted)."""
        p = self.pairs.by_gpu.get(gpu_id)
        rec = p.record if p is not None else self.store.find_assoc(gpu_id)
        if rec is None:
            return None
        return views.truth_view(rec, self.store.syncs(rec.id))

    def truth_all(self) -> List[Dict[str, Any]]:
        return [views.truth_brief_view(rec) for rec in self.store.assocs()]

    # -- process lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Re-arm every live pair of the data dir (once, inside the running loop)."""
        self.store.interrupt_in_flight()
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True)
        for rec in self.store.assocs(alive=True):
            p = Pair(rec)
            if self.pairs.standby(p) is None:
                rec.deleted_at, rec.state = self.pairs.now(), "disabled"
                self.pairs.save(p)
                continue
            self.pairs.register(p)
            self.provisioner.arm(p)
            if rec.pending_failover is not None:
                self.failover.resume(p)
            elif p.state == "recovering" and rec.failbacks:
                self.failback.resume(p)
            elif p.state == "failover_active" and rec.recovery_at:
                self.failover.resume_recovery(p)

    def shutdown(self) -> None:
        self.simulator.shutdown()
        for p in self.pairs.all():
            self.pairs.cancel_tasks(p)
            self.syncer.interrupt(p)
