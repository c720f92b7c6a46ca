"""Failback of a pair: resume the GPU if it is stopped, use it if it runs, else create a new one
from the same offer; once it runs, make its workspace equal to the standby's (a sync's
duration) and return to `syncing`. A failback that cannot finish returns the pair to
`failover_active`."""
from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Optional, Tuple

from ..cloud.errors import ApiError
from ..cloud.lifecycle import DEFAULT_IMAGE, Lifecycle
from ..cloud.offers import Offers
from ..cloud.records import MachineRecord, Offer
from ..cloud.resource import Resource
from ..faults import Faults
from . import files as sf
from .pairs import Pair, Pairs
from .records import FailbackRecord
from .sync import Syncer

log = logging.getLogger("sandbox.standby")

RECOVERY_TIMEOUT = 3600.0                 # nominal seconds a failback waits for its GPU to run


class Failback:
    def __init__(self, *, pairs: Pairs, syncer: Syncer, lifecycle: Lifecycle, offers: Offers, faults: Faults,
                 staging: Path):
        self.pairs = pairs
        self.syncer = syncer
        self.lifecycle = lifecycle
        self.offers = offers
        self.faults = faults
        self.staging = staging

    def refusal(self, p: Pair) -> Optional[str]:
        """Why the pair cannot fail back now (None if it can)."""
        gid = p.record.current_gpu_id
        if p.pending:
            return f"Cannot fail back GPU {gid}: a {p.pending} is already in progress"
        if p.state != "failover_active":
            return f"Cannot fail back GPU {gid}: standby is {p.state} (failback needs failover_active)"
        return None

    def start(self, p: Pair, explicit: bool) -> FailbackRecord:
        self.pairs.cancel_tasks(p, "recovery")
        t = self.pairs.now()
        fb = FailbackRecord(started_at=t, explicit=explicit)
        p.pending = "failback"
        p.record.state, p.record.recovery_at = "recovering", None
        p.record.failbacks.append(fb)
        with self.pairs.store.tx():
            self.pairs.save(p)
            self.pairs.event(p, "failback_started", {"explicit": explicit}, t=t, frm="failover_active", to="recovering")
        self.pairs.task(p, "failback", self._run(p, fb))
        return fb

    def resume(self, p: Pair) -> None:
        """After a restart: go on with the failback that was under way."""
        p.pending = "failback"
        self.pairs.task(p, "failback", self._run(p, p.record.failbacks[-1]))

    async def _run(self, p: Pair, fb: FailbackRecord) -> None:
        pairs, rec = self.pairs, p.record
        staging = self.staging / f"failback-{p.id}-{uuid.uuid4().hex[:8]}"
        try:
            gpu, new = await self._target(p, fb)
            await self._wait_running(gpu)
            standby = pairs.standby(p)
            if standby is None or standby.actual_status != "running":
                raise RuntimeError("the CPU standby is not running")
            manifest = await asyncio.to_thread(sf.copy_tree, standby.machine.workspace, staging)
            gpu_manifest = await asyncio.to_thread(sf.manifest_of, gpu.machine.workspace)
            changed = sf.changed_bytes(manifest, gpu_manifest)
            nominal = self.syncer.copy_duration(p, changed)
            copy_started = pairs.now()
            await asyncio.sleep(pairs.wall(nominal))
            if gpu.id not in self.lifecycle.live:
                raise RuntimeError(f"GPU {gpu.id} was deleted during the failback")
            await asyncio.to_thread(sf.apply_tree, staging, gpu.machine.workspace)
            t = pairs.now()
            pairs.add_gpu(p, gpu.id)
            rec.state, rec.current_gpu_id, rec.gpu_failed, rec.health_status = "syncing", gpu.id, False, "healthy"
            rec.failures, rec.first_failure_at, rec.seen_running, rec.gpu_left_running_at = 0, None, True, None
            rec.pending_gpu_id, rec.manifest = None, manifest
            if new:
                rec.new_gpu_instance_id = gpu.id
            fb.completed_at, fb.gpu_instance_id = t, gpu.id
            fb.bytes, fb.changed_bytes, fb.nominal_s, fb.copy_started_at = (sf.total_bytes(manifest), changed,
                                                                            nominal, copy_started)
            standby.record.gpu_instance_id = gpu.id
            standby.record.gpu_instance_ids = list(rec.gpu_ids)
            with pairs.store.tx():
                self.lifecycle.save(standby)
                pairs.save(p)
                pairs.event(p, "failback_completed", {"gpu_instance_id": gpu.id, "new_gpu": new,
                                                      "resumed": fb.resumed, "bytes": fb.bytes,
                                                      "nominal_s": nominal}, t=t, frm="recovering", to="syncing")
            p.pending = None
            self.syncer.maybe_start(p)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("failback of standby %s failed: %s", p.id, exc)
            fb.error = str(exc)
            rec.state = "failover_active"
            with pairs.store.tx():
                pairs.save(p)
                pairs.event(p, "failback_failed", {"error": str(exc)}, frm="recovering", to="failover_active")
        finally:
            if p.pending == "failback":
                p.pending = None
            if staging.exists():
                pairs.background(sf.remove, staging)

    async def _target(self, p: Pair, fb: FailbackRecord) -> Tuple[Resource, bool]:
        """The GPU to fail back to, and whether it is new."""
        rec = p.record
        pending = self.lifecycle.get(rec.pending_gpu_id) if rec.pending_gpu_id else None
        if pending is not None:           # a restart in the middle of a failback
            return pending, True
        gpu = self.pairs.gpu(p)
        if gpu is not None and gpu.actual_status not in ("offline", "exited"):
            if gpu.status == "stopped" or gpu.actual_status == "stopped":
                try:
                    async with gpu.lock:
                        await self.lifecycle.resume(gpu)
                    fb.resumed, fb.gpu_instance_id = True, gpu.id
                    self.pairs.save(p)
                    return gpu, False
                except ApiError as exc:
                    log.info("failback: cannot resume GPU %s (%s); creating a new one", gpu.id, exc.message)
            else:
                fb.gpu_instance_id = gpu.id
                return gpu, False
        return self._create_replacement(p, fb), True

    def _replacement_offer(self, old: MachineRecord) -> Optional[Offer]:
        """The GPU's own offer, or if it vanished the cheapest one with the same GPU."""
        hidden = self.faults.hidden_offers()
        offer = self.offers.get(old.offer_id) if old.offer_id is not None else None
        if offer is not None and offer["id"] not in hidden:
            return offer
        was = old.offer or {}
        same = self.offers.search(gpu_name=was.get("gpu_name"), num_gpus=was.get("num_gpus", 1), max_price=1e9,
                                  hidden=hidden, limit=1) if was.get("gpu_name") else []
        return same[0] if same else None

    def _create_replacement(self, p: Pair, fb: FailbackRecord) -> Resource:
        rec = p.record
        old = self.lifecycle.record_of(rec.current_gpu_id)
        offer = self._replacement_offer(old)
        if offer is None:
            raise RuntimeError(f"no offer available to replace GPU {old.id}")
        n = sum(1 for f in rec.failbacks if f.new_gpu) + 1
        base = rec.gpu_label or f"gpu-{rec.gpu_id}"
        label = f"{base}-failback" if n == 1 else f"{base}-failback-{n}"
        res = self.lifecycle.create(account=p.account, offer=offer, label=label, ssh_key=old.ssh_key,
                                    disk_size=old.disk_size or 100.0, image=old.image or DEFAULT_IMAGE,
                                    ports=list(old.ports or []), skip_standby=True, failback_of=old.id,
                                    standby_id=p.id)
        fb.new_gpu, fb.gpu_instance_id = True, res.id
        rec.pending_gpu_id = res.id
        self.pairs.save(p)
        self.pairs.event(p, "failback_gpu_created", {"new_gpu_instance_id": res.id, "offer_id": offer["id"],
                                                     "label": label, "replaces": old.id})
        return res

    async def _wait_running(self, gpu: Resource) -> None:
        deadline = self.pairs.now() + self.pairs.wall(RECOVERY_TIMEOUT)
        step = min(0.05, max(0.005, self.pairs.wall(1.0)))
        while True:
            if gpu.id not in self.lifecycle.live:
                raise RuntimeError(f"GPU {gpu.id} was deleted during the failback")
            if gpu.actual_status == "running":
                return
            if gpu.actual_status == "offline":
                raise RuntimeError(f"GPU {gpu.id} went offline during the failback")
            if self.pairs.now() > deadline:
                raise RuntimeError(f"GPU {gpu.id} did not reach running")
            await asyncio.sleep(step)
