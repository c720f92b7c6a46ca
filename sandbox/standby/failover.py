"""Failover of a pair: the in-flight sync is discarded, the GPU's files are compared with the
standby's (lost files, RPO), and after `failover_switch` the pair is `failover_active`; with
auto_recovery a failback follows after `failback_search`."""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

from ..clock import Timings
from . import files as sf
from .failback import Failback
from .pairs import Pair, Pairs
from .records import FailoverRecord, FailoverRequest
from .sync import Syncer

log = logging.getLogger("sandbox.standby")


class Failover:
    def __init__(self, *, pairs: Pairs, syncer: Syncer, failback: Failback, timings: Timings):
        self.pairs = pairs
        self.syncer = syncer
        self.failback = failback
        self.timings = timings

    def refusal(self, p: Pair) -> Optional[str]:
        """Why the pair cannot fail over now (None if it can)."""
        gid = p.record.current_gpu_id
        if p.pending:
            return f"Cannot fail over GPU {gid}: a {p.pending} is already in progress"
        if p.state != "syncing":
            return f"Cannot fail over GPU {gid}: standby is {p.state} (failover needs syncing)"
        standby = self.pairs.standby(p)
        if standby is None or standby.actual_status != "running":
            return f"Cannot fail over GPU {gid}: the CPU standby is not running"
        return None

    def start(self, p: Pair, reason: str, explicit: bool, t: Optional[float] = None) -> None:
        t = self.pairs.now() if t is None else t
        p.pending = "failover"
        p.record.pending_failover = FailoverRequest(reason=reason, explicit=explicit, detected_at=t)
        self.pairs.save(p)
        self.pairs.task(p, "failover", self._run(p))

    def resume(self, p: Pair) -> None:
        """After a restart: finish the failover that was under way."""
        p.pending = "failover"
        self.pairs.task(p, "failover", self._run(p))

    def resume_recovery(self, p: Pair) -> None:
        """After a restart: the automatic failback still to come."""
        self.pairs.task(p, "recovery", self._recover_later(p))

    async def _run(self, p: Pair) -> None:
        pairs, rec = self.pairs, p.record
        req = rec.pending_failover
        try:
            gpu = pairs.gpu(p)
            if gpu is not None and gpu.actual_status == "running":
                failed_at = req.detected_at
            else:
                failed_at = rec.gpu_left_running_at or rec.first_failure_at or req.detected_at
            dropped = self.syncer.drop(p, "discarded")
            fo = FailoverRecord(failed_at=failed_at, detected_at=req.detected_at, reason=req.reason,
                                explicit=req.explicit, gpu_instance_id=rec.current_gpu_id,
                                last_sync_started_at=rec.last_sync_started_at,
                                last_sync_completed_at=rec.last_sync_at,
                                discarded_sync_started_at=dropped.started_at if dropped else None)
            loop = asyncio.get_running_loop()
            gpu_manifest_f = (loop.run_in_executor(None, sf.manifest_of, gpu.machine.workspace)
                              if gpu is not None else None)
            delay = req.detected_at + pairs.wall(self.timings.draw("failover_switch")) - pairs.now()
            if delay > 0:
                await asyncio.sleep(delay)
            gpu_manifest = await gpu_manifest_f if gpu_manifest_f is not None else {}
            standby = pairs.standby(p)
            standby_manifest = (await asyncio.to_thread(sf.manifest_of, standby.machine.workspace)
                                if standby is not None else {})
            fo.lost_files = sf.lost_files(gpu_manifest, standby_manifest)
            t = pairs.now()
            rpo = failed_at - fo.last_sync_started_at if fo.last_sync_started_at is not None else None
            fo.completed_at = t
            fo.lost_bytes = sum(f.bytes for f in fo.lost_files)
            fo.rpo_seconds = rpo
            fo.rpo_nominal_seconds = None if rpo is None else pairs.clock.nominal(rpo)
            fo.standby_files = len(standby_manifest)
            frm = p.state
            rec.state, rec.gpu_failed = "failover_active", True
            rec.failure_reason, rec.failed_at = req.reason, failed_at
            rec.health_status, rec.failures, rec.first_failure_at = "unhealthy", 0, None
            rec.pending_failover = None
            rec.failovers.append(fo)
            if rec.auto_recovery:
                rec.recovery_at = t + pairs.wall(self.timings.draw("failback_search"))
            with pairs.store.tx():
                pairs.save(p)
                pairs.event(p, "failover", {"reason": req.reason, "explicit": req.explicit, "failed_at": failed_at,
                                            "lost_bytes": fo.lost_bytes, "rpo_seconds": rpo,
                                            "standby_ssh_port": standby.machine.port if standby is not None else None},
                            t=t, frm=frm, to="failover_active")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("failover of standby %s failed", p.id)
            rec.pending_failover = None
            pairs.save(p)
            pairs.event(p, "failover_failed", {"error": str(exc)})
            return
        finally:
            if p.pending == "failover":
                p.pending = None
        if rec.recovery_at:
            pairs.task(p, "recovery", self._recover_later(p))

    async def _recover_later(self, p: Pair) -> None:
        """auto_recovery: the failback starts `failback_search` after the failover."""
        await asyncio.sleep(max(0.0, (p.record.recovery_at or 0) - self.pairs.now()))
        if p.state == "failover_active" and not p.pending:
            self.failback.start(p, explicit=False)
