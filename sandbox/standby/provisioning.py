"""Bringing a pair up: a standby machine created for a GPU, `standby_provision` until it runs,
its SSH up and the pair `syncing`; and the pair's loops (syncs, health checks) started."""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

from ..clock import Timings
from ..cloud.lifecycle import Lifecycle
from ..cloud.resource import Resource
from . import pricing
from .configs import Configs
from .health import HealthMonitor
from .pairs import Pair, Pairs
from .records import Association
from .sync import Syncer

log = logging.getLogger("sandbox.standby")

STANDBY_IMAGE = "ubuntu-2204-lts"


class Provisioner:
    def __init__(self, *, pairs: Pairs, syncer: Syncer, health: HealthMonitor, lifecycle: Lifecycle,
                 timings: Timings, configs: Configs):
        self.pairs = pairs
        self.syncer = syncer
        self.health = health
        self.lifecycle = lifecycle
        self.timings = timings
        self.configs = configs

    def provision(self, account: str, gpu: Resource, label: Optional[str] = None) -> Pair:
        """A standby for this GPU, made with the account's config."""
        cfg = self.configs.of(account)
        mtype, spot, disk = cfg.gcp_machine_type, bool(cfg.gcp_spot), float(cfg.gcp_disk_size)
        label = label or f"{gpu.label or 'gpu-%d' % gpu.id}-standby"
        offer = pricing.offer(mtype, spot, disk, cfg.gcp_zone)
        res = self.lifecycle.create(
            account=account, offer=offer, kind="standby", label=label, ssh_key=gpu.record.ssh_key,
            disk_size=disk, image=STANDBY_IMAGE, boot=False, gpu_instance_id=gpu.id, gpu_instance_ids=[gpu.id],
            machine_type=mtype, zone=cfg.gcp_zone, spot=spot)
        t = res.record.created_at
        provision_s = self.timings.draw("standby_provision")
        rec = Association(
            id=res.id, account=account, gpu_id=gpu.id, current_gpu_id=gpu.id, gpu_ids=[gpu.id],
            gpu_label=gpu.label, label=label, name=f"standby-{gpu.id}", zone=cfg.gcp_zone, machine_type=mtype,
            spot=spot, dph=offer["dph_total"], disk_gb=disk, state="provisioning", sync_enabled=True,
            sync_interval=cfg.sync_interval, auto_failover=cfg.auto_failover, auto_recovery=cfg.auto_recovery,
            seen_running=gpu.actual_status == "running", provision_ready_at=t + self.pairs.wall(provision_s),
            created_at=t)
        p = Pair(rec)
        with self.pairs.store.tx():
            self.pairs.store.insert_assoc(rec)
            self.pairs.event(p, "standby_created", {"label": label, "machine_type": mtype, "spot": spot,
                                                    "dph_total": rec.dph, "provision_s": provision_s,
                                                    "ready_at": rec.provision_ready_at}, t=t)
        self.pairs.register(p)
        self.arm(p)
        return p

    def arm(self, p: Pair) -> None:
        """Start the pair's tasks: the end of its provisioning, its syncs, its health checks."""
        if p.state == "provisioning":
            self.pairs.task(p, "provision", self._ready(p))
        self.pairs.task(p, "sync_loop", self.syncer.loop(p))
        self.pairs.task(p, "health_loop", self.health.loop(p))

    async def _ready(self, p: Pair) -> None:
        pairs = self.pairs
        at = p.record.provision_ready_at or pairs.now()
        await asyncio.sleep(max(0.0, at - pairs.now()))
        res = pairs.standby(p)
        if res is None or p.state != "provisioning":
            return
        now = pairs.now()
        t = at if now - at > 1.0 else now
        try:
            async with res.lock:
                if res.actual_status == "loading":
                    self.lifecycle.transition(res, "running", t)
                await self.lifecycle.ssh_up(res, t)
        except Exception as exc:
            log.exception("standby %s could not start", p.id)
            self.health.mark_error(p, f"standby could not start: {exc}")
            return
        p.record.state, p.record.provision_ready_at = "syncing", None
        pairs.save(p)
        pairs.event(p, "standby_ready", {"ssh_port": res.machine.port}, frm="provisioning", to="syncing")
        self.syncer.maybe_start(p)
