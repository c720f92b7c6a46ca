"""Syncs of a pair: every sync_interval, the GPU's workspace is copied (as of that moment) into
a staging directory; after sync_base + sync_per_gb x nominal GB changed, the copy is published
into the standby's workspace. Syncs never overlap, and a failover or a deletion discards the
one in flight (its copy never reaches the standby)."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Optional

from ..clock import Timings
from ..faults import Faults
from . import files as sf
from .pairs import InFlightSync, Pair, Pairs

log = logging.getLogger("sandbox.standby")


class Syncer:
    def __init__(self, *, pairs: Pairs, timings: Timings, faults: Faults, size_scale: float, staging: Path):
        self.pairs = pairs
        self.timings = timings
        self.faults = faults
        self.size_scale = size_scale
        self.staging = staging

    async def loop(self, p: Pair) -> None:
        """The pair's sync ticks, for as long as it lives."""
        while True:
            await asyncio.sleep(self.pairs.wall(max(1.0, float(p.record.sync_interval))))
            try:
                self.maybe_start(p)
            except Exception:
                log.exception("sync tick of standby %s failed", p.id)

    def _stall_active(self, p: Pair) -> bool:
        return bool(self.faults.active("sync_stall", **self.pairs.fault_attrs(p)))

    def maybe_start(self, p: Pair) -> None:
        """Start a sync if the pair syncs, both machines run and none is in flight."""
        if p.state != "syncing" or not p.record.sync_enabled or p.pending:
            return
        gpu, standby = self.pairs.gpu(p), self.pairs.standby(p)
        if gpu is None or gpu.actual_status != "running" or standby is None or standby.actual_status != "running":
            return
        if p.sync is not None:
            if p.sync.stalled and not self._stall_active(p):
                self.drop(p, "abandoned")
            else:
                return
        t = self.pairs.now()
        seq = self.pairs.store.start_sync(p.id, gpu.id, t)
        s = InFlightSync(seq=seq, started_at=t, gpu_id=gpu.id, staging=self.staging / f"sync-{p.id}-{seq}")
        p.sync = s
        self.pairs.event(p, "sync_started", {"seq": seq}, t=t)
        s.task = asyncio.get_running_loop().create_task(self._run(p, s))

    async def _run(self, p: Pair, s: InFlightSync) -> None:
        try:
            await self._sync(p, s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sync %s of standby %s failed", s.seq, p.id)
            if p.sync is s:
                self.drop(p, "failed")

    async def _sync(self, p: Pair, s: InFlightSync) -> None:
        pairs = self.pairs
        gpu = pairs.lifecycle.get(s.gpu_id)
        if gpu is None:
            self.drop(p, "failed")
            return
        s.copy = asyncio.get_running_loop().run_in_executor(None, sf.copy_tree, gpu.machine.workspace, s.staging,
                                                            s.cancel)
        try:
            manifest = await asyncio.shield(s.copy)
        except sf.Cancelled:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sync %s of standby %s failed: %s", s.seq, p.id, exc)
            if p.sync is s:
                self.drop(p, "failed")
            return
        if p.sync is not s:
            return
        nbytes = sf.total_bytes(manifest)
        changed = sf.changed_bytes(manifest, p.record.manifest)
        nominal = self.copy_duration(p, changed)
        stall = self.faults.take("sync_stall", **pairs.fault_attrs(p))
        pairs.store.update_sync(s.seq, files=manifest, bytes=nbytes, changed_bytes=changed, nominal_s=nominal,
                                status="stalled" if stall else "in_flight")
        if stall is not None:
            s.stalled = True
            pairs.event(p, "sync_stalled", {"seq": s.seq, "fault": stall.id})
            await asyncio.Future()   # never completes: cancelled by failover, delete or a later tick
        delay = s.started_at + pairs.wall(nominal) - pairs.now()
        if delay > 0:
            await asyncio.sleep(delay)
        standby = pairs.standby(p)
        if p.sync is not s or standby is None:
            return
        # publication: no await from here on, so a failover cannot interleave
        sf.apply_tree(s.staging, standby.machine.workspace)
        t = pairs.now()
        p.sync = None
        rec = p.record
        rec.sync_count += 1
        rec.last_sync_at = t
        rec.last_sync_started_at = s.started_at
        rec.manifest = manifest
        with pairs.store.tx():
            pairs.store.update_sync(s.seq, status="completed", completed_at=t)
            pairs.save(p)
            pairs.event(p, "sync_completed", {"seq": s.seq, "bytes": nbytes, "changed_bytes": changed,
                                              "files": len(manifest), "nominal_s": nominal,
                                              "started_at": s.started_at}, t=t)

    def copy_duration(self, p: Pair, changed_bytes: int) -> float:
        """Nominal seconds to copy that many changed bytes (syncs and failback copies alike);
        a sync_slow fault stretches it."""
        gb = changed_bytes * self.size_scale / 1e9
        nominal = self.timings.draw("sync_base") + self.timings.value("sync_per_gb") * gb
        slow = self.faults.take("sync_slow", **self.pairs.fault_attrs(p))
        if slow is not None:
            nominal *= max(0.0, float(slow.spec.get("factor", 1.0)))
        return nominal

    def drop(self, p: Pair, status: str) -> Optional[InFlightSync]:
        """Forget the in-flight sync (its staging copy is removed, the standby is untouched)."""
        s = p.sync
        if s is None:
            return None
        p.sync = None
        s.cancel.set()
        if s.task is not None and s.task is not asyncio.current_task():
            s.task.cancel()
        self.pairs.store.update_sync(s.seq, status=status)
        self.pairs.event(p, f"sync_{status}", {"seq": s.seq, "started_at": s.started_at})
        staging, fut = s.staging, s.copy

        def cleanup(f=None) -> None:
            if f is not None and not f.cancelled():
                f.exception()   # retrieved: no "never retrieved" warning
            self.pairs.background(sf.remove, staging)
        if fut is not None and not fut.done():
            fut.add_done_callback(cleanup)
        else:
            cleanup(fut)
        return s

    def set_enabled(self, p: Pair, enabled: bool) -> None:
        p.record.sync_enabled = enabled
        self.pairs.save(p)
        self.pairs.event(p, "sync_enabled" if enabled else "sync_disabled")
        if enabled:
            self.maybe_start(p)

    def interrupt(self, p: Pair) -> None:
        """At shutdown: stop the sync in flight and log it `interrupted` (no event: the
        sandbox is stopping)."""
        s = p.sync
        if s is None:
            return
        s.cancel.set()
        if s.task is not None:
            s.task.cancel()
        self.pairs.store.update_sync(s.seq, status="interrupted")
        p.sync = None
