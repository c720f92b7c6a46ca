"""CPU standby: associations GPU <-> CPU standby machine, periodic syncs, health checks,
failover and failback. One StandbyManager per sandbox process (``core.standby``).

Every duration is nominal and drawn from ``core.timings`` (names in TIMINGS, overridable with
--timings); the manager sleeps nominal / time_scale wall seconds. State lives in SQLite
(standby_store), so a restarted sandbox picks up its associations where they were.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from typing import Any, Dict, List, Optional

from . import files as sf
from . import pricing
from .recovery import RecoveryMixin
from .store import StandbyStore
from .simulation import Simulator
from .views import ViewsMixin
from ..cloud.listener import StandbyAttachment

log = logging.getLogger("sandbox.standby")

TIMINGS: Dict[str, Any] = {
    "standby_provision": [30, 90, 45],   # provision request -> standby running, association syncing
    "sync_base": 2,                       # every sync (and failback copy): base seconds
    "sync_per_gb": 10,                    # + seconds per nominal GB of changed bytes
    "health_interval": 10,                # seconds between two health checks of the GPU
    "failover_switch": 1,                 # failover decision -> standby serving
    "failback_search": 5,                 # auto recovery: failover -> failback starts ("searching_gpu")
}
HEALTH_FAILURES = 3                       # consecutive failed checks before an automatic failover
DEFAULT_CONFIG: Dict[str, Any] = {
    "enabled": False, "gcp_zone": "europe-west1-b", "gcp_machine_type": "e2-medium", "gcp_disk_size": 100,
    "gcp_spot": True, "sync_interval": 30, "auto_failover": True, "auto_recovery": True, "configured": False,
}
LIVE_SETTINGS = ("sync_interval", "auto_failover", "auto_recovery")


class Assoc:
    """A live association: its persisted document `d` plus runtime tasks and the in-flight sync."""

    def __init__(self, d: Dict[str, Any]):
        self.d = d
        self.tasks: Dict[str, asyncio.Task] = {}
        self.sync: Optional[Dict[str, Any]] = None
        self.pending: Optional[str] = None          # "failover" | "failback" while one runs

    id = property(lambda self: self.d["id"])
    account = property(lambda self: self.d["account"])
    state = property(lambda self: self.d["state"])


class StandbyManager(RecoveryMixin, ViewsMixin):
    def __init__(self, core):
        self.core = core
        self.sstore = StandbyStore(core.store)
        self.assocs: Dict[int, Assoc] = {}      # by standby id
        self.by_gpu: Dict[int, Assoc] = {}      # every GPU id an association has paired with
        self.configs: Dict[str, Dict[str, Any]] = self.sstore.configs()
        self.staging = core.cfg.data_dir / "standby-staging"
        self.started = False
        self.sim = Simulator(core)
        for name, spec in TIMINGS.items():
            core.timings.register_default(name, spec)

    # -- small helpers ----------------------------------------------------------------------
    def _now(self) -> float:
        return self.core.clock.now()

    def _wall(self, nominal: float) -> float:
        return self.core.clock.wall(nominal)

    def _task(self, a: Assoc, name: str, coro) -> None:
        old = a.tasks.get(name)
        if old is not None and old is not asyncio.current_task() and not old.done():
            old.cancel()
        a.tasks[name] = asyncio.get_running_loop().create_task(coro)

    def _bg(self, fn, *args) -> None:
        asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def _save(self, a: Assoc) -> None:
        self.sstore.save_assoc(a.d)

    def _event(self, a: Assoc, event: str, detail: Any = None, t: Optional[float] = None, **kw) -> None:
        det = {"gpu_instance_id": a.d["current_gpu_id"]}
        det.update(detail or {})
        self.core.events.record("standby", a.id, event, kw.get("frm"), kw.get("to"), det, t=t)

    def gpu(self, a: Assoc):
        return self.core.lifecycle.get(a.d["current_gpu_id"])

    def standby(self, a: Assoc):
        return self.core.lifecycle.get(a.id, kind="standby")

    def _fault_attrs(self, a: Assoc) -> Dict[str, int]:
        gid = a.d["current_gpu_id"]
        return {"gpu_id": gid, "instance_id": gid}

    def _register(self, a: Assoc) -> None:
        self.assocs[a.id] = a
        for gid in a.d["gpu_ids"]:
            self.by_gpu[gid] = a

    def _unregister(self, a: Assoc) -> None:
        self.assocs.pop(a.id, None)
        for gid, other in list(self.by_gpu.items()):
            if other is a:
                del self.by_gpu[gid]

    def find(self, account: str, gpu_id: int) -> Optional[Assoc]:
        a = self.by_gpu.get(int(gpu_id))
        return a if a is not None and a.account == account else None

    def of_account(self, account: str) -> List[Assoc]:
        return sorted((a for a in self.assocs.values() if a.account == account), key=lambda a: a.d["gpu_id"])

    # -- configs ----------------------------------------------------------------------------
    def config(self, account: str) -> Dict[str, Any]:
        cfg = dict(DEFAULT_CONFIG)
        cfg.update(self.configs.get(account, {}))
        return cfg

    @staticmethod
    def public_config(cfg: Dict[str, Any]) -> Dict[str, Any]:
        out = {k: cfg[k] for k in ("enabled", "gcp_zone", "gcp_machine_type", "gcp_disk_size", "gcp_spot",
                                   "sync_interval", "auto_failover", "auto_recovery")}
        out["estimated_hourly_usd"] = pricing.hourly(cfg["gcp_machine_type"], cfg["gcp_spot"])
        out["estimated_cost_monthly_usd"] = pricing.monthly_vm(cfg["gcp_machine_type"], cfg["gcp_spot"])
        return out

    def configure(self, account: str, body: Dict[str, Any]) -> Dict[str, Any]:
        cfg = self.config(account)
        if body["enabled"]:
            cfg.update(body)
            cfg["configured"] = True
        else:   # like the real server: disabling only turns auto-standby off
            cfg["enabled"] = False
        self.configs[account] = cfg
        with self.sstore.tx():
            self.sstore.put_config(account, cfg)
            for a in self.of_account(account):
                if body["enabled"]:
                    a.d.update({k: cfg[k] for k in LIVE_SETTINGS})
                    self._save(a)
        self.core.events.record("standby", None, "standby_configured", None, None, {"account": account, **cfg})
        return cfg

    # -- provisioning -----------------------------------------------------------------------
    def provision(self, account: str, gpu, label: Optional[str] = None) -> Assoc:
        cfg = self.config(account)
        mtype, spot, disk = cfg["gcp_machine_type"], bool(cfg["gcp_spot"]), float(cfg["gcp_disk_size"])
        label = label or f"{gpu.label or 'gpu-%d' % gpu.id}-standby"
        offer = pricing.offer(mtype, spot, disk, cfg["gcp_zone"])
        res = self.core.lifecycle.create(
            account=account, offer=offer, kind="standby", label=label, ssh_key=gpu.record.ssh_key,
            disk_size=disk, image="ubuntu-2204-lts", boot=False,
            gpu_instance_id=gpu.id, gpu_instance_ids=[gpu.id], machine_type=mtype, zone=cfg["gcp_zone"], spot=spot)
        t = res.record.created_at
        provision_s = self.core.timings.draw("standby_provision")
        d = {
            "id": res.id, "account": account, "gpu_id": gpu.id, "current_gpu_id": gpu.id, "gpu_ids": [gpu.id],
            "gpu_label": gpu.label, "label": label, "name": f"standby-{gpu.id}", "zone": cfg["gcp_zone"],
            "machine_type": mtype, "spot": spot, "dph": offer["dph_total"], "disk_gb": disk,
            "state": "provisioning", "sync_enabled": True,
            **{k: cfg[k] for k in LIVE_SETTINGS},
            "sync_count": 0, "last_sync_at": None, "last_sync_started_at": None, "manifest": {},
            "gpu_failed": False, "failure_reason": None, "failed_at": None, "health_status": "unknown",
            "failures": 0, "first_failure_at": None, "seen_running": gpu.actual_status == "running",
            "gpu_left_running_at": None, "provision_ready_at": t + self._wall(provision_s),
            "pending_failover": None, "recovery_at": None, "pending_gpu_id": None, "new_gpu_instance_id": None,
            "failovers": [], "failbacks": [], "created_at": t, "deleted_at": None,
        }
        a = Assoc(d)
        with self.sstore.tx():
            self.sstore.insert_assoc(d)
            self._event(a, "standby_created", {"label": label, "machine_type": mtype, "spot": spot,
                                                "dph_total": d["dph"], "provision_s": provision_s,
                                                "ready_at": d["provision_ready_at"]}, t=t)
        self._register(a)
        self._start_tasks(a)
        return a

    def _start_tasks(self, a: Assoc) -> None:
        if a.state == "provisioning":
            self._task(a, "provision", self._provision_done(a))
        self._task(a, "sync_loop", self._sync_loop(a))
        self._task(a, "health_loop", self._health_loop(a))

    async def _provision_done(self, a: Assoc) -> None:
        at = a.d["provision_ready_at"] or self._now()
        await asyncio.sleep(max(0.0, at - self._now()))
        res = self.standby(a)
        if res is None or a.state != "provisioning":
            return
        now = self._now()
        t = at if now - at > 1.0 else now
        try:
            async with res.lock:
                if res.actual_status == "loading":
                    self.core.lifecycle.transition(res, "running", t)
                await self.core.lifecycle.ssh_up(res, t)
        except Exception as exc:
            log.exception("standby %s could not start", a.id)
            self._set_error(a, f"standby could not start: {exc}")
            return
        a.d.update(state="syncing", provision_ready_at=None)
        self._save(a)
        self._event(a, "standby_ready", {"ssh_port": res.machine.port}, frm="provisioning", to="syncing")
        self._maybe_start_sync(a)

    def _set_error(self, a: Assoc, why: str) -> None:
        self._drop_sync(a, "discarded")
        frm = a.state
        a.d.update(state="error", error=why)
        self._save(a)
        self._event(a, "standby_error", {"error": why}, frm=frm, to="error")

    # -- sync -------------------------------------------------------------------------------
    async def _sync_loop(self, a: Assoc) -> None:
        while True:
            await asyncio.sleep(self._wall(max(1.0, float(a.d["sync_interval"]))))
            try:
                self._maybe_start_sync(a)
            except Exception:
                log.exception("sync tick of standby %s failed", a.id)

    def _stall_active(self, a: Assoc) -> bool:
        return bool(self.core.faults.active("sync_stall", **self._fault_attrs(a)))

    def _maybe_start_sync(self, a: Assoc) -> None:
        if a.state != "syncing" or not a.d["sync_enabled"] or a.pending:
            return
        gpu, standby = self.gpu(a), self.standby(a)
        if gpu is None or gpu.actual_status != "running" or standby is None or standby.actual_status != "running":
            return
        if a.sync is not None:
            if a.sync["stalled"] and not self._stall_active(a):
                self._drop_sync(a, "abandoned")
            else:
                return
        t = self._now()
        seq = self.sstore.start_sync(a.id, gpu.id, t)
        s = {"seq": seq, "started_at": t, "gpu_id": gpu.id, "stalled": False, "cancel": threading.Event(),
             "staging": self.staging / f"sync-{a.id}-{seq}", "copy": None}
        a.sync = s
        self._event(a, "sync_started", {"seq": seq}, t=t)
        s["task"] = asyncio.get_running_loop().create_task(self._run_sync(a, s))

    async def _run_sync(self, a: Assoc, s: Dict[str, Any]) -> None:
        try:
            await self._sync(a, s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sync %s of standby %s failed", s["seq"], a.id)
            if a.sync is s:
                self._drop_sync(a, "failed")

    async def _sync(self, a: Assoc, s: Dict[str, Any]) -> None:
        core = self.core
        gpu = core.lifecycle.get(s["gpu_id"])
        loop = asyncio.get_running_loop()
        if gpu is None:
            self._drop_sync(a, "failed")
            return
        s["copy"] = loop.run_in_executor(None, sf.copy_tree, gpu.machine.workspace, s["staging"], s["cancel"])
        try:
            manifest = await asyncio.shield(s["copy"])
        except sf.Cancelled:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sync %s of standby %s failed: %s", s["seq"], a.id, exc)
            if a.sync is s:
                self._drop_sync(a, "failed")
            return
        if a.sync is not s:
            return
        nbytes = sf.total_bytes(manifest)
        changed = sf.changed_bytes(manifest, a.d["manifest"])
        gb = changed * core.cfg.size_scale / 1e9
        nominal = core.timings.draw("sync_base") + core.timings.value("sync_per_gb") * gb
        slow = core.faults.take("sync_slow", **self._fault_attrs(a))
        if slow is not None:
            nominal *= max(0.0, float(slow.spec.get("factor", 1.0)))
        stall = core.faults.take("sync_stall", **self._fault_attrs(a))
        self.sstore.update_sync(s["seq"], files=manifest, bytes=nbytes, changed_bytes=changed, nominal_s=nominal,
                                status="stalled" if stall else "in_flight")
        if stall is not None:
            s["stalled"] = True
            self._event(a, "sync_stalled", {"seq": s["seq"], "fault": stall.id})
            await asyncio.Future()   # never completes: cancelled by failover, delete or a later tick
        delay = s["started_at"] + self._wall(nominal) - self._now()
        if delay > 0:
            await asyncio.sleep(delay)
        standby = self.standby(a)
        if a.sync is not s or standby is None:
            return
        # publication: no await from here on, so a failover cannot interleave
        sf.apply_tree(s["staging"], standby.machine.workspace)
        t = self._now()
        a.sync = None
        a.d.update(sync_count=a.d["sync_count"] + 1, last_sync_at=t, last_sync_started_at=s["started_at"],
                   manifest=manifest)
        with self.sstore.tx():
            self.sstore.update_sync(s["seq"], status="completed", completed_at=t)
            self._save(a)
            self._event(a, "sync_completed", {"seq": s["seq"], "bytes": nbytes, "changed_bytes": changed,
                                              "files": len(manifest), "nominal_s": nominal,
                                              "started_at": s["started_at"]}, t=t)

    def _drop_sync(self, a: Assoc, status: str) -> Optional[Dict[str, Any]]:
        """Forget the in-flight sync (its staging copy is removed, the standby is untouched)."""
        s = a.sync
        if s is None:
            return None
        a.sync = None
        s["cancel"].set()
        task = s.get("task")
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self.sstore.update_sync(s["seq"], status=status)
        self._event(a, f"sync_{status}", {"seq": s["seq"], "started_at": s["started_at"]})
        staging, fut = s["staging"], s.get("copy")

        def cleanup(f=None) -> None:
            if f is not None and not f.cancelled():
                f.exception()   # retrieved: no "never retrieved" warning
            self._bg(sf.remove, staging)
        if fut is not None and not fut.done():
            fut.add_done_callback(cleanup)
        else:
            cleanup(fut)
        return s

    def set_sync_enabled(self, a: Assoc, enabled: bool) -> None:
        a.d["sync_enabled"] = enabled
        self._save(a)
        self._event(a, "sync_enabled" if enabled else "sync_disabled")
        if enabled:
            self._maybe_start_sync(a)

    # -- health -----------------------------------------------------------------------------
    async def _health_loop(self, a: Assoc) -> None:
        while True:
            await asyncio.sleep(self._wall(self.core.timings.draw("health_interval")))
            try:
                self._health_check(a)
            except Exception:
                log.exception("health check of standby %s failed", a.id)

    def _health_check(self, a: Assoc) -> None:
        d = a.d
        if a.state != "syncing" or a.pending:
            if d["failures"]:
                d.update(failures=0, first_failure_at=None)
                self._save(a)
            return
        gpu = self.gpu(a)
        status = gpu.actual_status if gpu is not None else "deleted"
        if status == "running":
            if d["failures"] or d["health_status"] != "healthy" or not d["seen_running"]:
                d.update(failures=0, first_failure_at=None, health_status="healthy", seen_running=True)
                self._save(a)
            return
        if status in ("loading", "created") and not d["seen_running"]:
            return   # still booting: not a failure
        t = self._now()
        d["failures"] += 1
        d["first_failure_at"] = d["first_failure_at"] or t
        d["health_status"] = "unhealthy"
        self._save(a)
        self._event(a, "health_failed", {"gpu_status": status, "consecutive": d["failures"]}, t=t)
        if d["failures"] >= HEALTH_FAILURES and d["auto_failover"]:
            self.start_failover(a, f"GPU {d['current_gpu_id']} is {status} "
                                   f"({d['failures']} failed health checks)", explicit=False, t=t)

    # -- deletion ---------------------------------------------------------------------------
    async def destroy(self, a: Assoc, reason: str, destroy_gpu: bool = False) -> None:
        for name, task in list(a.tasks.items()):
            if task is not asyncio.current_task():
                task.cancel()
        a.tasks.clear()
        self._drop_sync(a, "discarded")
        a.pending = None
        standby = self.standby(a)
        if standby is not None:
            async with standby.lock:
                if standby.id in self.core.lifecycle.live:
                    await self.core.lifecycle.destroy(standby, reason)
        t = self._now()
        a.d.update(deleted_at=t, state="disabled")
        with self.sstore.tx():
            self._save(a)
            self._event(a, "standby_deleted", {"reason": reason, "destroy_gpu": destroy_gpu}, t=t)
        self._unregister(a)
        # a replacement GPU a failback was still bringing up goes with the pair (never half-made)
        doomed = [a.d["pending_gpu_id"]] + ([a.d["current_gpu_id"]] if destroy_gpu else [])
        for gid in dict.fromkeys(doomed):
            gpu = self.core.lifecycle.get(gid) if gid else None
            if gpu is None:
                continue
            async with gpu.lock:
                if gpu.id in self.core.lifecycle.live:
                    self.core.events.record("instance", gpu.id, "delete_requested", None, None,
                                    {"reason": reason, "by": f"standby {a.id} deleted"})
                    await self.core.lifecycle.destroy(gpu, reason)

    # -- reactions to the cloud (cloud/listener.py) -----------------------------------------
    def instance_created(self, res, skip_standby: bool) -> None:
        cfg = self.config(res.account)
        if cfg["enabled"] and cfg["configured"] and not skip_standby:
            self.provision(res.account, res)

    async def instance_deleted(self, res, destroy_standby: bool, reason: str) -> Optional[str]:
        a = self.by_gpu.get(res.id)
        if a is None or a.d["current_gpu_id"] != res.id:
            return None
        if destroy_standby:
            await self.destroy(a, f"GPU {res.id} deleted ({reason})")
            return f"Instance {res.id} destroyed successfully (CPU standby {a.d['name']} destroyed)"
        if a.state in ("failover_active", "recovering"):
            # the standby is serving: it stays so, and a failback will need a new GPU
            self._event(a, "gpu_deleted", {"gpu_instance_id": res.id, "reason": reason})
            return f"Instance {res.id} destroyed successfully (CPU standby {a.d['name']} kept, serving)"
        for name in ("failover", "failback", "recovery", "provision"):
            task = a.tasks.pop(name, None)
            if task is not None:
                task.cancel()
        self._drop_sync(a, "discarded")
        a.pending = None
        frm = a.state
        a.d.update(state="disabled", sync_enabled=False, health_status="unknown")
        self._save(a)
        self._event(a, "gpu_deleted", {"gpu_instance_id": res.id, "reason": reason}, frm=frm, to="disabled")
        return f"Instance {res.id} destroyed successfully (CPU standby {a.d['name']} kept)"

    def status_changed(self, res, frm: str, to: str, t: float) -> None:
        if res.kind == "standby":
            a = self.assocs.get(res.id)
            if a is not None and to in ("offline", "exited") and a.state != "error":
                self._set_error(a, f"CPU standby is {to}")
            return
        a = self.by_gpu.get(res.id)
        if a is None or a.d["current_gpu_id"] != res.id:
            return
        if frm == "running" and to != "running":
            a.d["gpu_left_running_at"] = t
            self._save(a)
        elif to == "running":
            a.d.update(gpu_left_running_at=None, seen_running=True)
            self._save(a)

    def attachment(self, res) -> Optional[StandbyAttachment]:
        a = self.by_gpu.get(res.id)
        if a is None or a.d["current_gpu_id"] != res.id:
            return None
        return StandbyAttachment(self.instance_standby_view(a), a.d["dph"])

    def shutdown(self) -> None:
        self.sim.shutdown()
        for a in list(self.assocs.values()):
            for task in list(a.tasks.values()):
                task.cancel()
            a.tasks.clear()
            s = a.sync
            if s is not None:
                s["cancel"].set()
                if s.get("task") is not None:
                    s["task"].cancel()
                self.sstore.update_sync(s["seq"], status="interrupted")
                a.sync = None

    # -- restart ----------------------------------------------------------------------------
    def start(self) -> None:
        """Re-arm every live association (called once, inside the running loop)."""
        if self.started:
            return
        self.started = True
        self.sstore.interrupt_in_flight()
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True)
        for d in self.sstore.assocs(alive=True):
            a = Assoc(d)
            if self.standby(a) is None:
                d.update(deleted_at=self._now(), state="disabled")
                self._save(a)
                continue
            self._register(a)
            self._start_tasks(a)
            if d.get("pending_failover"):
                a.pending = "failover"
                self._task(a, "failover", self._failover(a))
            elif a.state == "recovering" and d["failbacks"]:
                a.pending = "failback"
                self._task(a, "failback", self._failback(a, d["failbacks"][-1]))
            elif a.state == "failover_active" and d.get("recovery_at"):
                self._task(a, "recovery", self._recovery_later(a))
