"""Machine resources (GPU instances, and standbys built on top by sandbox/standby.py): creation,
the status lifecycle driven by timers, SSH on/off, billing intervals and ground-truth events.

Lifecycle (actual_status; `status` is the intended one):
    create  -> loading --boot--> running --ssh_ready--> SSH accepts
    pause   -> status stopped at once, SSH down at once, --pause--> actual stopped
    resume  -> status running at once, --resume--> actual running --ssh_ready--> SSH
    preempt -> running -> exited (SSH down); resume restarts an exited instance
    kill    -> offline (admin only; SSH down; cannot be resumed)
    delete  -> gone at once (no more billing)

Timers are stored as wall-epoch deadlines in the resource's `extra.timers`, so a restarted
sandbox re-arms them (deadlines that passed while it was down fire at once, dated at the deadline).
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from .. import reaper
from .billing import RUNNING_STATES, storage_dph
from .errors import ApiError
from .machines import Machine, port_in_use

log = logging.getLogger("sandbox.instances")

MACHINE_KINDS = ("instance", "standby")
DEFAULT_IMAGE = "pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime"


def iso(t: Optional[float]) -> Optional[str]:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat()


class Resource:
    """A live machine resource: its DB row (kept in sync), its Machine and its timers."""

    def __init__(self, row: Dict[str, Any], machine: Machine):
        self.row = row
        self.machine = machine
        self.tasks: Dict[str, asyncio.Task] = {}
        self.lock = asyncio.Lock()

    id = property(lambda self: self.row["id"])
    kind = property(lambda self: self.row["kind"])
    account = property(lambda self: self.row["account"])
    status = property(lambda self: self.row["status"])
    actual_status = property(lambda self: self.row["actual_status"])
    extra = property(lambda self: self.row["extra"])
    label = property(lambda self: self.row.get("label"))


class Instances:
    def __init__(self, core):
        self.core = core
        self.live: Dict[int, Resource] = {}
        self._handlers: Dict[str, Callable] = {
            "boot": self._on_boot, "ssh": self._on_ssh, "stop": self._on_stopped,
            "resume": self._on_resumed, "preempt": self._on_preempt,
        }

    # -- helpers ------------------------------------------------------------------------
    @property
    def store(self):
        return self.core.store

    def _now(self) -> float:
        return self.core.clock.now()

    def _persist(self, res: Resource, **fields: Any) -> None:
        res.row.update(fields)
        if "extra" not in fields:
            fields["extra"] = res.row["extra"]
        self.store.update_resource(res.id, **fields)

    def get(self, rid: int, account: Optional[str] = None, kind: Optional[str] = "instance") -> Optional[Resource]:
        res = self.live.get(int(rid))
        if res is None or (account is not None and res.account != account) or (kind and res.kind != kind):
            return None
        return res

    def of_account(self, account: str, kind: str = "instance") -> List[Resource]:
        return [r for r in self.live.values() if r.account == account and r.kind == kind]

    def machine_env(self, rid: int) -> Dict[str, str]:
        return {"DUMONT_MODEL_MIRROR": self.core.model_mirror_url, "DUMONT_INSTANCE_ID": str(rid),
                reaper.MARKER: reaper.sandbox_id(self.core.cfg.data_dir)}

    def _make_machine(self, row: Dict[str, Any]) -> Machine:
        return Machine(row["id"], Path(row["root_dir"]), row["ssh_port"], self.core.cfg.host,
                       self.core.host_key, row.get("ssh_key"), self.machine_env(row["id"]))

    # -- creation -----------------------------------------------------------------------
    def create(self, *, account: str, offer: Dict[str, Any], kind: str = "instance",
               label: Optional[str] = None, ssh_key: Optional[str] = None, disk_size: float = 100.0,
               image: str = DEFAULT_IMAGE, extra: Optional[Dict[str, Any]] = None,
               boot: bool = True) -> Resource:
        """Create a machine resource in `loading` and start its boot timer.

        Reusable by extensions (kind="standby", extra={"gpu_instance_id": N}).
        """
        core = self.core
        t = self._now()
        rid = self.store.next_resource_id()
        port = core.ports.allocate()
        storage = storage_dph(disk_size, offer.get("storage_cost", 0.15))
        extra = dict(extra or {})
        extra.setdefault("timers", {})
        extra.setdefault("ports", [])
        row = {
            "id": rid, "kind": kind, "account": account, "label": label, "offer_id": offer["id"],
            "offer": offer, "status": "running", "actual_status": "loading",
            "dph_total": float(offer["dph_total"]), "storage_dph": storage, "disk_size": float(disk_size),
            "image": image, "ssh_port": port, "ssh_key": ssh_key,
            "root_dir": str(core.machines_dir / str(rid)), "created_at": t, "deleted_at": None,
            "extra": extra,
        }
        # faults bound to "the next N created instances"
        if kind == "instance":
            if core.faults.take("never_running", instance_id=rid):
                extra["never_running"] = True
            f = core.faults.take("preempt", instance_id=rid)
            if f:
                extra["preempt_after"] = float(f.spec.get("after", 0))
            f = core.faults.take("ssh_refuse", instance_id=rid)
            if f:
                extra["ssh_refuse_extra"] = float(f.spec.get("seconds", 0))
        with self.store.tx():
            self.store.insert_resource(row)
            core.billing.open(rid, "loading", row["dph_total"], t)
            core.event(kind, rid, "created", None, "loading",
                       {"label": label, "offer_id": offer["id"], "dph_total": row["dph_total"],
                        "storage_dph": storage, "ssh_port": port, "account": account}, t=t)
        row = self.store.resource(rid)
        res = Resource(row, self._make_machine(row))
        self.live[rid] = res
        if boot:
            self.start_boot(res, t)
        return res

    def start_boot(self, res: Resource, t: Optional[float] = None) -> None:
        t = self._now() if t is None else t
        if res.extra.get("never_running"):
            self.core.event(res.kind, res.id, "boot_scheduled", None, None, {"never_running": True}, t=t)
            return
        boot = self.core.timings.draw("boot")
        self.core.event(res.kind, res.id, "boot_scheduled", None, None,
                        {"boot_s": boot, "running_at": t + self.core.clock.wall(boot)}, t=t)
        self._arm(res, "boot", t + self.core.clock.wall(boot))

    # -- timers -------------------------------------------------------------------------
    def _arm(self, res: Resource, name: str, at: float) -> None:
        self._cancel(res, name, persist=False)
        res.extra.setdefault("timers", {})[name] = at
        self._persist(res)
        res.tasks[name] = asyncio.get_running_loop().create_task(self._timer(res, name, at))

    def _cancel(self, res: Resource, name: str, persist: bool = True) -> None:
        task = res.tasks.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if res.extra.get("timers", {}).pop(name, None) is not None and persist:
            self._persist(res)

    def _cancel_all(self, res: Resource, *names: str) -> None:
        for name in (names or list(res.extra.get("timers", {})) + list(res.tasks)):
            self._cancel(res, name, persist=False)
        self._persist(res)

    async def _timer(self, res: Resource, name: str, at: float) -> None:
        delay = at - self._now()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            async with res.lock:
                if res.tasks.get(name) is not asyncio.current_task() or res.id not in self.live:
                    return  # cancelled or superseded while waiting for the lock
                res.tasks.pop(name, None)
                res.extra.get("timers", {}).pop(name, None)
                now = self._now()
                t = at if now - at > 1.0 else now   # catch-up after a restart keeps the planned time
                await self._handlers[name](res, t)
        except Exception:
            log.exception("timer %s of %s failed", name, res.id)

    # -- transitions --------------------------------------------------------------------
    def transition(self, res: Resource, to: str, t: Optional[float] = None, detail: Any = None) -> None:
        """Change actual_status: billing interval, event, persistence, hooks."""
        t = self._now() if t is None else t
        frm = res.actual_status
        if frm == to:
            return
        rate = res.row["dph_total"] if to in RUNNING_STATES else res.row["storage_dph"]
        with self.store.tx():
            self.core.billing.switch(res.id, to, rate, t)
            self._persist(res, actual_status=to)
            self.core.event(res.kind, res.id, "status", frm, to, detail, t=t)
        self.core.call_hooks("on_status_change", res, frm, to, t)

    async def ssh_up(self, res: Resource, t: Optional[float] = None, detail: Any = None) -> None:
        m = res.machine
        if m.ssh_up:
            return
        for attempt in range(5):
            try:
                await m.start_ssh()
                break
            except OSError as exc:
                if attempt == 4:
                    raise
                if not port_in_use(exc):
                    raise
                old = m.port
                self.core.ports.release(old)
                m.port = self.core.ports.allocate()
                self._persist(res, ssh_port=m.port)
                self.core.event(res.kind, res.id, "ssh_port_changed", None, None,
                                {"old": old, "new": m.port, "reason": str(exc)})
        res.extra["ssh_up"] = True
        self._persist(res)
        self.core.event(res.kind, res.id, "ssh_ready", None, None, detail, t=self._now())

    async def ssh_down(self, res: Resource, reason: str, t: Optional[float] = None,
                       keep_flag: bool = False) -> None:
        self._cancel(res, "ssh")
        m = res.machine
        was_up = m.ssh_up
        await m.stop_ssh()
        if not keep_flag:
            res.extra["ssh_up"] = False
            self._persist(res)
        if was_up:
            self.core.event(res.kind, res.id, "ssh_down", None, None, {"reason": reason}, t=t)

    def _arm_ssh(self, res: Resource, t: float, extra_nominal: float = 0.0) -> None:
        delay = self.core.timings.draw("ssh_ready") + extra_nominal
        refuse = res.extra.pop("ssh_refuse_extra", None)
        if refuse:
            delay += refuse
        self._arm(res, "ssh", t + self.core.clock.wall(delay))

    async def _on_boot(self, res: Resource, t: float) -> None:
        if res.actual_status != "loading":
            return
        self.transition(res, "running", t)
        self._arm_ssh(res, t)
        after = res.extra.pop("preempt_after", None)
        if after is not None:
            self._arm(res, "preempt", t + self.core.clock.wall(after))
        self._persist(res)
        cmd = res.extra.get("onstart_cmd")
        if cmd and not res.extra.get("onstart_done"):
            res.extra["onstart_done"] = True
            self._persist(res)
            asyncio.ensure_future(self._onstart(res, cmd))

    async def _onstart(self, res: Resource, cmd: str) -> None:
        self.core.event(res.kind, res.id, "onstart_started", None, None, {"cmd": cmd})
        try:
            rc = await res.machine.run_detached(cmd, "onstart.log")
        except Exception as exc:
            rc = None
            log.warning("onstart of %s failed: %s", res.id, exc)
        if res.id in self.live:
            self.core.event(res.kind, res.id, "onstart_finished", None, None, {"exit_status": rc})

    async def _on_ssh(self, res: Resource, t: float) -> None:
        if res.actual_status != "running" or res.status != "running":
            return
        await self.ssh_up(res, t)

    async def _on_stopped(self, res: Resource, t: float) -> None:
        if res.actual_status == "running":
            self.transition(res, "stopped", t)

    async def _on_resumed(self, res: Resource, t: float) -> None:
        if res.actual_status in ("stopped", "exited") and res.status == "running":
            self.transition(res, "running", t)
            self._arm_ssh(res, t)

    async def _on_preempt(self, res: Resource, t: float) -> None:
        if res.actual_status != "running":
            return
        await self.ssh_down(res, "preempted", t)
        self._cancel_all(res)
        self.transition(res, "exited", t, {"reason": "preempted"})

    # -- operations (called by the API, under res.lock) ----------------------------------
    async def pause(self, res: Resource) -> None:
        if res.status == "stopped":
            return  # already paused or pausing: idempotent, like the provider
        if res.actual_status != "running":
            raise ApiError(500, f"Failed to pause instance {res.id}: instance is {res.actual_status}, not running")
        t = self._now()
        self._persist(res, status="stopped")
        self.core.event(res.kind, res.id, "pause_requested", None, None, None, t=t)
        self._cancel_all(res, "ssh", "preempt")
        await self.ssh_down(res, "paused", t)
        pause = self.core.timings.draw("pause")
        self._arm(res, "stop", t + self.core.clock.wall(pause))

    async def resume(self, res: Resource) -> None:
        actual = res.actual_status
        if actual == "offline":
            raise ApiError(500, f"Failed to resume instance {res.id}: host is offline")
        if res.status == "running":
            if "resume" in res.extra.get("timers", {}):
                return  # already resuming
            if actual in ("loading", "running", "created"):
                raise ApiError(500, f"Failed to resume instance {res.id}: instance is already {actual}")
        t = self._now()
        self._persist(res, status="running")
        self.core.event(res.kind, res.id, "resume_requested", None, None, None, t=t)
        if actual == "running":           # still stopping: cancel the stop
            self._cancel(res, "stop")
            self._arm_ssh(res, t)
            return
        resume = self.core.timings.draw("resume")
        self._arm(res, "resume", t + self.core.clock.wall(resume))

    async def kill(self, res: Resource, reason: str = "killed") -> None:
        t = self._now()
        self._cancel_all(res)
        await self.ssh_down(res, reason, t)
        self.transition(res, "offline", t, {"reason": reason})

    async def preempt(self, res: Resource) -> None:
        if res.actual_status != "running":
            raise ApiError(400, f"Instance {res.id} is not running")
        await self._on_preempt(res, self._now())

    async def destroy(self, res: Resource, reason: str = "user_request") -> None:
        """Gone at once: timers cancelled, SSH down, billing closed, files removed."""
        t = self._now()
        self._cancel_all(res)
        await res.machine.stop_ssh()
        with self.store.tx():
            self.core.billing.close(res.id, t)
            self._persist(res, deleted_at=t)
            if res.extra.get("ssh_up"):
                self.core.event(res.kind, res.id, "ssh_down", None, None, {"reason": "deleted"}, t=t)
            self.core.event(res.kind, res.id, "deleted", res.actual_status, None, {"reason": reason}, t=t)
        self.live.pop(res.id, None)
        self.core.ports.release(res.machine.port)
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, res.machine.destroy_files)

    # -- targeted faults posted while the instance lives -------------------------------
    async def apply_fault(self, fault) -> None:
        rid = fault.spec.get("instance_id")
        res = self.live.get(int(rid)) if rid is not None else None
        if res is None or fault.kind not in ("preempt", "ssh_refuse", "never_running"):
            return
        async with res.lock:
            t = self._now()
            if fault.kind == "never_running" and res.actual_status == "loading":
                if self.core.faults.take("never_running", instance_id=res.id):
                    self._cancel(res, "boot")
                    res.extra["never_running"] = True
                    self._persist(res)
            elif fault.kind == "preempt":
                if not self.core.faults.take("preempt", instance_id=res.id):
                    return
                after = float(fault.spec.get("after", 0))
                if res.actual_status == "running":
                    self._arm(res, "preempt", t + self.core.clock.wall(after))
                else:
                    res.extra["preempt_after"] = after
                    self._persist(res)
            elif fault.kind == "ssh_refuse":
                if not self.core.faults.take("ssh_refuse", instance_id=res.id):
                    return
                secs = float(fault.spec.get("seconds", 0))
                if res.machine.ssh_up:
                    await self.ssh_down(res, "ssh_refuse fault", t)
                    self._arm(res, "ssh", t + self.core.clock.wall(secs))
                elif "ssh" in res.extra.get("timers", {}):
                    self._arm(res, "ssh", res.extra["timers"]["ssh"] + self.core.clock.wall(secs))
                else:
                    res.extra["ssh_refuse_extra"] = res.extra.get("ssh_refuse_extra", 0) + secs
                    self._persist(res)

    # -- restart ------------------------------------------------------------------------
    async def restore(self) -> int:
        n = 0
        for row in self.store.resources(alive=True):
            if row["kind"] not in MACHINE_KINDS:
                continue
            self.core.ports.reserve(row["ssh_port"])
            res = Resource(row, self._make_machine(row))
            self.live[res.id] = res
            n += 1
        await asyncio.to_thread(self._remove_dead_roots)
        for res in list(self.live.values()):
            if res.extra.get("ssh_up") and res.actual_status == "running":
                try:
                    await self.ssh_up_after_restart(res)
                except Exception:
                    log.exception("could not restart SSH of %s", res.id)
            timers = sorted(res.extra.get("timers", {}).items(), key=lambda kv: kv[1])
            res.extra["timers"] = {}
            for name, at in timers:
                if name in self._handlers:
                    self._arm(res, name, at)
        return n

    def _remove_dead_roots(self) -> None:
        """Machine directories of deleted resources whose removal a crash cut short."""
        import shutil
        for d in self.core.machines_dir.iterdir():
            if d.is_dir() and not (d.name.isdigit() and int(d.name) in self.live):
                shutil.rmtree(d, ignore_errors=True)

    async def ssh_up_after_restart(self, res: Resource) -> None:
        res.extra["ssh_up"] = False
        await self.ssh_up(res, detail={"after_restart": True})

    async def shutdown(self) -> None:
        for res in list(self.live.values()):
            for task in list(res.tasks.values()):
                task.cancel()
            res.tasks.clear()
            if res.machine.ssh_up:
                with contextlib.suppress(Exception):
                    await res.machine.stop_ssh()
                self.core.event(res.kind, res.id, "ssh_down", None, None, {"reason": "sandbox_shutdown"})
            res.machine.kill_processes()

    # -- views --------------------------------------------------------------------------
    def view(self, res: Resource) -> Dict[str, Any]:
        row, offer = res.row, res.row.get("offer") or {}
        host = self.core.cfg.host
        ports = {"22": res.machine.port}
        for p in res.extra.get("ports") or []:
            ports[str(p)] = p
        view = {
            "id": res.id, "status": row["status"], "actual_status": row["actual_status"],
            "gpu_name": offer.get("gpu_name"), "num_gpus": offer.get("num_gpus"),
            "gpu_ram": offer.get("gpu_ram"), "cpu_cores": offer.get("cpu_cores"),
            "cpu_ram": offer.get("cpu_ram"), "disk_space": row["disk_size"],
            "dph_total": row["dph_total"], "public_ipaddr": host, "ssh_host": host,
            "ssh_port": res.machine.port, "start_date": iso(row["created_at"]), "label": row.get("label"),
            "ports": ports, "gpu_util": 0.0, "gpu_temp": 0.0, "cpu_util": 0.0, "ram_used": 0.0,
            "ram_total": offer.get("cpu_ram"), "provider": "vast.ai", "cpu_standby": None,
            "total_dph": row["dph_total"],
            # [ext] sandbox additions
            "storage_dph": row["storage_dph"], "offer_id": row["offer_id"], "image": row.get("image"),
            "geolocation": offer.get("geolocation"), "machine_id": offer.get("machine_id"),
        }
        self.core.call_hooks("decorate_instance", res, view)
        return view
