"""Failover and failback of a CPU standby association (a mixin of StandbyManager).

Failover: the in-flight sync is discarded, the GPU's files are compared with the standby's
(lost files, RPO), and after ``failover_switch`` the association is ``failover_active``; with
auto_recovery a failback follows after ``failback_search``. Failback: resume the original GPU
if it is stopped, else create a new one from the same offer; copy the standby's workspace onto
it (sync duration) and return to ``syncing``.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from . import files as sf
from ..cloud.errors import ApiError
from ..cloud.lifecycle import DEFAULT_IMAGE

if TYPE_CHECKING:  # pragma: no cover
    from .manager import Assoc

log = logging.getLogger("sandbox.standby")

RECOVERY_TIMEOUT = 3600.0                 # nominal seconds a failback waits for its GPU to run


class RecoveryMixin:
    # -- failover ---------------------------------------------------------------------------
    def failover_refusal(self, a: Assoc) -> Optional[str]:
        gid = a.d["current_gpu_id"]
        if a.pending:
            return f"Cannot fail over GPU {gid}: a {a.pending} is already in progress"
        if a.state != "syncing":
            return f"Cannot fail over GPU {gid}: standby is {a.state} (failover needs syncing)"
        standby = self.standby(a)
        if standby is None or standby.actual_status != "running":
            return f"Cannot fail over GPU {gid}: the CPU standby is not running"
        return None

    def start_failover(self, a: Assoc, reason: str, explicit: bool, t: Optional[float] = None) -> None:
        t = self._now() if t is None else t
        a.pending = "failover"
        a.d["pending_failover"] = {"reason": reason, "explicit": explicit, "detected_at": t}
        self._save(a)
        self._task(a, "failover", self._failover(a))

    async def _failover(self, a: Assoc) -> None:
        d = a.d
        req = d["pending_failover"]
        detected_at = req["detected_at"]
        try:
            gpu = self.gpu(a)
            if gpu is not None and gpu.actual_status == "running":
                failed_at = detected_at
            else:
                failed_at = d["gpu_left_running_at"] or d["first_failure_at"] or detected_at
            dropped = self._drop_sync(a, "discarded")
            rec = {"failed_at": failed_at, "detected_at": detected_at, "completed_at": None,
                   "reason": req["reason"], "explicit": req["explicit"], "gpu_instance_id": d["current_gpu_id"],
                   "last_sync_started_at": d["last_sync_started_at"], "last_sync_completed_at": d["last_sync_at"],
                   "discarded_sync_started_at": dropped["started_at"] if dropped else None}
            loop = asyncio.get_running_loop()
            gpu_manifest_f = (loop.run_in_executor(None, sf.manifest_of, gpu.machine.workspace)
                              if gpu is not None else None)
            delay = detected_at + self._wall(self.core.timings.draw("failover_switch")) - self._now()
            if delay > 0:
                await asyncio.sleep(delay)
            gpu_manifest = await gpu_manifest_f if gpu_manifest_f is not None else {}
            standby = self.standby(a)
            standby_manifest = (await asyncio.to_thread(sf.manifest_of, standby.machine.workspace)
                                if standby is not None else {})
            lost = sf.lost_files(gpu_manifest, standby_manifest)
            t = self._now()
            rpo = failed_at - rec["last_sync_started_at"] if rec["last_sync_started_at"] is not None else None
            rec.update(completed_at=t, lost_files=lost, lost_bytes=sum(f["bytes"] for f in lost), rpo_seconds=rpo,
                       rpo_nominal_seconds=None if rpo is None else rpo * self.core.clock.scale,
                       standby_files=len(standby_manifest))
            frm = a.state
            d.update(state="failover_active", gpu_failed=True, failure_reason=req["reason"], failed_at=failed_at,
                     health_status="unhealthy", failures=0, first_failure_at=None, pending_failover=None)
            d["failovers"].append(rec)
            if d["auto_recovery"]:
                d["recovery_at"] = t + self._wall(self.core.timings.draw("failback_search"))
            with self.sstore.tx():
                self._save(a)
                self._event(a, "failover", {"reason": req["reason"], "explicit": req["explicit"],
                                            "failed_at": failed_at, "lost_bytes": rec["lost_bytes"],
                                            "rpo_seconds": rpo, "standby_ssh_port": standby.machine.port
                                            if standby is not None else None}, t=t, frm=frm, to="failover_active")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("failover of standby %s failed", a.id)
            d["pending_failover"] = None
            self._save(a)
            self._event(a, "failover_failed", {"error": str(exc)})
            return
        finally:
            if a.pending == "failover":
                a.pending = None
        if d["recovery_at"]:
            self._task(a, "recovery", self._recovery_later(a))

    async def _recovery_later(self, a: Assoc) -> None:
        await asyncio.sleep(max(0.0, (a.d["recovery_at"] or 0) - self._now()))
        if a.state == "failover_active" and not a.pending:
            self.start_failback(a, explicit=False)

    # -- failback ---------------------------------------------------------------------------
    def failback_refusal(self, a: Assoc) -> Optional[str]:
        gid = a.d["current_gpu_id"]
        if a.pending:
            return f"Cannot fail back GPU {gid}: a {a.pending} is already in progress"
        if a.state != "failover_active":
            return f"Cannot fail back GPU {gid}: standby is {a.state} (failback needs failover_active)"
        return None

    def start_failback(self, a: Assoc, explicit: bool) -> Dict[str, Any]:
        rec_task = a.tasks.pop("recovery", None)
        if rec_task is not None and rec_task is not asyncio.current_task():
            rec_task.cancel()
        t = self._now()
        rec = {"started_at": t, "completed_at": None, "gpu_instance_id": None, "new_gpu": False,
               "resumed": False, "explicit": explicit, "error": None}
        a.pending = "failback"
        a.d.update(state="recovering", recovery_at=None)
        a.d["failbacks"].append(rec)
        with self.sstore.tx():
            self._save(a)
            self._event(a, "failback_started", {"explicit": explicit}, t=t, frm="failover_active", to="recovering")
        self._task(a, "failback", self._failback(a, rec))
        return rec

    async def _failback(self, a: Assoc, rec: Dict[str, Any]) -> None:
        core, d = self.core, a.d
        staging = self.staging / f"failback-{a.id}-{uuid.uuid4().hex[:8]}"
        try:
            gpu, new = await self._failback_target(a, rec)
            await self._wait_running(gpu)
            standby = self.standby(a)
            if standby is None or standby.actual_status != "running":
                raise RuntimeError("the CPU standby is not running")
            manifest = await asyncio.to_thread(sf.copy_tree, standby.machine.workspace, staging)
            gpu_manifest = await asyncio.to_thread(sf.manifest_of, gpu.machine.workspace)
            changed = sf.changed_bytes(manifest, gpu_manifest)
            nominal = core.timings.draw("sync_base") + core.timings.value("sync_per_gb") * (
                changed * core.cfg.size_scale / 1e9)
            slow = core.faults.take("sync_slow", **self._fault_attrs(a))
            if slow is not None:
                nominal *= max(0.0, float(slow.spec.get("factor", 1.0)))
            copy_started = self._now()
            await asyncio.sleep(self._wall(nominal))
            if gpu.id not in core.lifecycle.live:
                raise RuntimeError(f"GPU {gpu.id} was deleted during the failback")
            await asyncio.to_thread(sf.apply_tree, staging, gpu.machine.workspace)
            t = self._now()
            if gpu.id not in d["gpu_ids"]:
                d["gpu_ids"].append(gpu.id)
            self.by_gpu[gpu.id] = a
            d.update(state="syncing", current_gpu_id=gpu.id, gpu_failed=False, health_status="healthy", failures=0,
                     first_failure_at=None, seen_running=True, gpu_left_running_at=None, pending_gpu_id=None,
                     manifest=manifest)
            if new:
                d["new_gpu_instance_id"] = gpu.id
            rec.update(completed_at=t, gpu_instance_id=gpu.id, bytes=sf.total_bytes(manifest),
                       changed_bytes=changed, nominal_s=nominal, copy_started_at=copy_started)
            standby.record.gpu_instance_id = gpu.id
            standby.record.gpu_instance_ids = list(d["gpu_ids"])
            with self.sstore.tx():
                core.store.save_machine(standby.record)
                self._save(a)
                self._event(a, "failback_completed", {"gpu_instance_id": gpu.id, "new_gpu": new,
                                                      "resumed": rec["resumed"], "bytes": rec["bytes"],
                                                      "nominal_s": nominal}, t=t, frm="recovering", to="syncing")
            a.pending = None
            self._maybe_start_sync(a)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("failback of standby %s failed: %s", a.id, exc)
            rec["error"] = str(exc)
            d["state"] = "failover_active"
            with self.sstore.tx():
                self._save(a)
                self._event(a, "failback_failed", {"error": str(exc)}, frm="recovering", to="failover_active")
        finally:
            if a.pending == "failback":
                a.pending = None
            if staging.exists():
                self._bg(sf.remove, staging)

    async def _failback_target(self, a: Assoc, rec: Dict[str, Any]) -> Tuple[Any, bool]:
        core, d = self.core, a.d
        pending = core.lifecycle.get(d["pending_gpu_id"]) if d["pending_gpu_id"] else None
        if pending is not None:           # a restart in the middle of a failback
            return pending, True
        gpu = self.gpu(a)
        if gpu is not None and gpu.actual_status not in ("offline", "exited"):
            if gpu.status == "stopped" or gpu.actual_status == "stopped":
                try:
                    async with gpu.lock:
                        await core.lifecycle.resume(gpu)
                    rec.update(resumed=True, gpu_instance_id=gpu.id)
                    self._save(a)
                    return gpu, False
                except ApiError as exc:
                    log.info("failback: cannot resume GPU %s (%s); creating a new one", gpu.id, exc.message)
            else:
                rec["gpu_instance_id"] = gpu.id
                return gpu, False
        return self._create_replacement(a, rec), True

    def _replacement_offer(self, row) -> Optional[Dict[str, Any]]:
        offers, hidden = self.core.offers, self.core.faults.hidden_offers()
        offer = offers.get(row.offer_id) if row.offer_id is not None else None
        if offer is not None and offer["id"] not in hidden:
            return offer
        old = row.offer or {}
        same = offers.search(gpu_name=old.get("gpu_name"), num_gpus=old.get("num_gpus", 1), max_price=1e9,
                             hidden=hidden, limit=1) if old.get("gpu_name") else []
        return same[0] if same else None

    def _create_replacement(self, a: Assoc, rec: Dict[str, Any]):
        core, d = self.core, a.d
        row = core.store.machine(d["current_gpu_id"])
        offer = self._replacement_offer(row)
        if offer is None:
            raise RuntimeError(f"no offer available to replace GPU {row.id}")
        n = sum(1 for f in d["failbacks"] if f.get("new_gpu")) + 1
        base = d.get("gpu_label") or f"gpu-{d['gpu_id']}"
        label = f"{base}-failback" if n == 1 else f"{base}-failback-{n}"
        res = core.lifecycle.create(account=a.account, offer=offer, label=label, ssh_key=row.ssh_key,
                                    disk_size=row.disk_size or 100.0, image=row.image or DEFAULT_IMAGE,
                                    ports=list(row.ports or []), skip_standby=True, failback_of=row.id,
                                    standby_id=a.id)
        rec.update(new_gpu=True, gpu_instance_id=res.id)
        d["pending_gpu_id"] = res.id
        self._save(a)
        self._event(a, "failback_gpu_created", {"new_gpu_instance_id": res.id, "offer_id": offer["id"],
                                                "label": label, "replaces": row.id})
        return res

    async def _wait_running(self, gpu) -> None:
        deadline = self._now() + self._wall(RECOVERY_TIMEOUT)
        step = min(0.05, max(0.005, self._wall(1.0)))
        while True:
            if gpu.id not in self.core.lifecycle.live:
                raise RuntimeError(f"GPU {gpu.id} was deleted during the failback")
            if gpu.actual_status == "running":
                return
            if gpu.actual_status == "offline":
                raise RuntimeError(f"GPU {gpu.id} went offline during the failback")
            if self._now() > deadline:
                raise RuntimeError(f"GPU {gpu.id} did not reach running")
            await asyncio.sleep(step)
