"""Deleting a pair (with its standby machine, and the GPUs that go with it), and what
deleting its GPU does to it."""
from __future__ import annotations

from typing import Optional

from ..cloud.lifecycle import Lifecycle
from ..cloud.resource import Resource
from .pairs import Pair, Pairs
from .sync import Syncer

# The tasks that act on a pair's GPU; they stop when the GPU is deleted.
GPU_TASKS = ("failover", "failback", "recovery", "provision")


class Removal:
    def __init__(self, *, pairs: Pairs, syncer: Syncer, lifecycle: Lifecycle):
        self.pairs = pairs
        self.syncer = syncer
        self.lifecycle = lifecycle

    async def destroy(self, p: Pair, reason: str) -> None:
        """Delete the pair and its standby machine; a replacement GPU a failback was still
        bringing up goes with it (never half-made). The pair's current GPU stays."""
        pairs = self.pairs
        pairs.cancel_tasks(p)
        self.syncer.drop(p, "discarded")
        p.pending = None
        standby = pairs.standby(p)
        if standby is not None:
            async with standby.lock:
                if standby.id in self.lifecycle.live:
                    await self.lifecycle.destroy(standby, reason)
        t = pairs.now()
        p.record.deleted_at, p.record.state = t, "disabled"
        with pairs.store.tx():
            pairs.save(p)
            pairs.event(p, "standby_deleted", {"reason": reason}, t=t)
        pairs.unregister(p)
        gid = p.record.pending_gpu_id
        gpu = self.lifecycle.get(gid) if gid else None
        if gpu is not None:
            async with gpu.lock:
                if gpu.id in self.lifecycle.live:
                    pairs.events.record("instance", gpu.id, "delete_requested", None, None,
                                        {"reason": reason, "by": f"standby {p.id} deleted"})
                    await self.lifecycle.destroy(gpu, reason)

    async def gpu_deleted(self, res: Resource, destroy_standby: bool, reason: str) -> Optional[str]:
        """The customer deleted a GPU; returns the delete answer's message if a pair syncs from it."""
        p = self.pairs.of_current_gpu(res.id)
        if p is None:
            return None
        name = p.record.name
        if destroy_standby:
            await self.destroy(p, f"GPU {res.id} deleted ({reason})")
            return f"Instance {res.id} destroyed successfully (CPU standby {name} destroyed)"
        if p.state in ("failover_active", "recovering"):
            # the standby is serving: it stays so, and a failback will need a new GPU
            self.pairs.event(p, "gpu_deleted", {"gpu_instance_id": res.id, "reason": reason})
            return f"Instance {res.id} destroyed successfully (CPU standby {name} kept, serving)"
        self.pairs.cancel_tasks(p, *GPU_TASKS)
        self.syncer.drop(p, "discarded")
        p.pending = None
        frm = p.state
        p.record.state, p.record.sync_enabled, p.record.health_status = "disabled", False, "unknown"
        self.pairs.save(p)
        self.pairs.event(p, "gpu_deleted", {"gpu_instance_id": res.id, "reason": reason}, frm=frm, to="disabled")
        return f"Instance {res.id} destroyed successfully (CPU standby {name} kept)"
