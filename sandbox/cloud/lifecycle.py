"""The lifecycle of machine resources (GPU instances and CPU standbys): creation, the status
changes driven by timers, SSH on/off, billing intervals and ground-truth events.

Lifecycle (actual_status; `status` is the intended one):
    create  -> loading --boot--> running --ssh_ready--> SSH accepts
    pause   -> status stopped at once, SSH down at once, --pause--> actual stopped
    resume  -> status running and actual loading at once, --resume--> actual running --ssh_ready--> SSH
    preempt -> running -> exited (SSH down); resume restarts an exited instance
    kill    -> offline (admin only; SSH down; cannot be resumed)
    delete  -> gone at once (no more billing)

Timers are stored as wall-epoch deadlines in the record's `timers`, so a restarted sandbox
re-arms them (deadlines that passed while it was down fire at once, dated at the deadline).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from ..clock import Clock, Timings
from ..faults import Fault, Faults
from .billing import RUNNING_STATES, Billing, storage_dph
from .errors import ApiError
from .events import EventLog
from .listener import MachineListener, NoListener
from .machines import MachineFactory, port_in_use
from .ports import PortAllocator
from .records import MACHINE_KINDS, MachineRecord, Offer
from .resource import Resource, host
from .store import Store

log = logging.getLogger("sandbox.lifecycle")

DEFAULT_IMAGE = "pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime"
TARGETED_FAULTS = ("preempt", "ssh_refuse", "never_running")


class Lifecycle:
    def __init__(self, *, store: Store, clock: Clock, timings: Timings, billing: Billing, faults: Faults,
                 events: EventLog, ports: PortAllocator, factory: MachineFactory):
        self.store = store
        self.clock = clock
        self.timings = timings
        self.billing = billing
        self.faults = faults
        self.events = events
        self.ports = ports
        self.factory = factory
        self.live: Dict[int, Resource] = {}
        self.listener: MachineListener = NoListener()
        self._onstart_tasks: Set[asyncio.Task] = set()
        self._handlers: Dict[str, Callable[[Resource, float], Awaitable[None]]] = {
            "boot": self._on_boot, "ssh": self._on_ssh, "stop": self._on_stopped,
            "resume": self._on_resumed, "preempt": self._on_preempt,
        }

    def listen(self, listener: MachineListener) -> None:
        """The one party told of every status change; set once, while the Core is built."""
        self.listener = listener

    # -- lookups ------------------------------------------------------------------------
    def get(self, rid: int, account: Optional[str] = None, kind: Optional[str] = "instance") -> Optional[Resource]:
        res = self.live.get(int(rid))
        if res is None or (account is not None and res.account != account) or (kind and res.kind != kind):
            return None
        return res

    def of_account(self, account: str, kind: str = "instance") -> List[Resource]:
        return [r for r in self.live.values() if r.account == account and r.kind == kind]

    def record_of(self, rid: int) -> Optional[MachineRecord]:
        """The record of a machine, live or deleted."""
        res = self.live.get(int(rid))
        return res.record if res is not None else self.store.machine(rid)

    def save(self, res: Resource) -> None:
        """Persist a record a caller changed (a standby's GPU links)."""
        self._persist(res)

    def _persist(self, res: Resource) -> None:
        self.store.save_machine(res.record)

    # -- creation -----------------------------------------------------------------------
    def create(self, *, account: str, offer: Offer, kind: str = "instance", label: Optional[str] = None,
               ssh_key: Optional[str] = None, disk_size: float = 100.0, image: str = DEFAULT_IMAGE,
               boot: bool = True, event_detail: Optional[Dict[str, Any]] = None, **details: Any) -> Resource:
        """Create a machine in `loading` and (with `boot`) start its boot timer.

        `ssh_key` is the authorized_keys text (one OpenSSH public key per line); `details` are
        further MachineRecord fields (ports, onstart_cmd, gpu_instance_id, ...); `event_detail`
        goes into the `created` event.
        """
        t = self.clock.now()
        rid = self.store.next_machine_id()
        port = self.ports.allocate()
        storage = storage_dph(disk_size, offer.get("storage_cost", 0.15))
        rec = MachineRecord(
            id=rid, kind=kind, account=account, label=label, offer_id=offer["id"], offer=dict(offer),
            status="running", actual_status="loading", dph_total=float(offer["dph_total"]), storage_dph=storage,
            disk_size=float(disk_size), image=image, ssh_port=port, ssh_key=ssh_key,
            root_dir=str(self.factory.root_of(rid)), created_at=t, **details)
        if kind == "instance":
            self._take_creation_faults(rec)
        with self.store.tx():
            self.store.insert_machine(rec)
            self.billing.open(rid, "loading", rec.dph_total, t)
            self.events.record(kind, rid, "created", None, "loading",
                               {"label": label, "offer_id": offer["id"], "dph_total": rec.dph_total,
                                "storage_dph": storage, "ssh_port": port, "account": account,
                                **(event_detail or {})}, t=t)
        res = Resource(rec, self.factory.build(rec))
        self.live[rid] = res
        if boot:
            self.start_boot(res, t)
        return res

    def _take_creation_faults(self, rec: MachineRecord) -> None:
        """Faults bound to "the next N created instances"."""
        if self.faults.take("never_running", instance_id=rec.id):
            rec.never_running = True
        f = self.faults.take("preempt", instance_id=rec.id)
        if f:
            rec.preempt_after = float(f.spec.get("after", 0))
        f = self.faults.take("ssh_refuse", instance_id=rec.id)
        if f:
            rec.ssh_refuse_extra = float(f.spec.get("seconds", 0))

    def start_boot(self, res: Resource, t: Optional[float] = None) -> None:
        t = self.clock.now() if t is None else t
        if res.record.never_running:
            self.events.record(res.kind, res.id, "boot_scheduled", None, None, {"never_running": True}, t=t)
            return
        boot = self.timings.draw("boot", host(res))
        self.events.record(res.kind, res.id, "boot_scheduled", None, None,
                           {"boot_s": boot, "running_at": t + self.clock.wall(boot)}, t=t)
        self._arm(res, "boot", t + self.clock.wall(boot))

    # -- timers -------------------------------------------------------------------------
    def _arm(self, res: Resource, name: str, at: float) -> None:
        self._cancel(res, name, persist=False)
        res.record.timers[name] = at
        self._persist(res)
        res.tasks[name] = asyncio.get_running_loop().create_task(self._timer(res, name, at))

    def _cancel(self, res: Resource, name: str, persist: bool = True) -> None:
        task = res.tasks.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if res.record.timers.pop(name, None) is not None and persist:
            self._persist(res)

    def _cancel_all(self, res: Resource, *names: str) -> None:
        for name in (names or list(res.record.timers) + list(res.tasks)):
            self._cancel(res, name, persist=False)
        self._persist(res)

    async def _timer(self, res: Resource, name: str, at: float) -> None:
        delay = at - self.clock.now()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            async with res.lock:
                if res.tasks.get(name) is not asyncio.current_task() or res.id not in self.live:
                    return  # cancelled or superseded while waiting for the lock
                res.tasks.pop(name, None)
                res.record.timers.pop(name, None)
                now = self.clock.now()
                t = at if now - at > 1.0 else now   # catch-up after a restart keeps the planned time
                await self._handlers[name](res, t)
        except Exception:
            log.exception("timer %s of %s failed", name, res.id)

    # -- transitions --------------------------------------------------------------------
    def transition(self, res: Resource, to: str, t: Optional[float] = None, detail: Any = None) -> None:
        """Change actual_status: billing interval, event, persistence; then tell the listener."""
        t = self.clock.now() if t is None else t
        frm = res.actual_status
        if frm == to:
            return
        rate = res.record.dph_total if to in RUNNING_STATES else res.record.storage_dph
        with self.store.tx():
            self.billing.switch(res.id, to, rate, t)
            res.record.actual_status = to
            self._persist(res)
            self.events.record(res.kind, res.id, "status", frm, to, detail, t=t)
        try:
            self.listener.status_changed(res, frm, to, t)
        except Exception:   # the machine changed status whatever the listener makes of it
            log.exception("status change listener failed on %s", res.id)

    async def ssh_up(self, res: Resource, t: Optional[float] = None, detail: Any = None) -> None:
        m = res.machine
        if m.ssh_up:
            return
        m.on_first_connection = lambda at: self.events.record(res.kind, res.id, "ssh_first_connection", None, None,
                                                              None, t=at)
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
                self.ports.release(old)
                m.port = self.ports.allocate()
                res.record.ssh_port = m.port
                self._persist(res)
                self.events.record(res.kind, res.id, "ssh_port_changed", None, None,
                                   {"old": old, "new": m.port, "reason": str(exc)})
        res.record.ssh_up = True
        self._persist(res)
        self.events.record(res.kind, res.id, "ssh_ready", None, None, detail, t=self.clock.now())

    async def ssh_down(self, res: Resource, reason: str, t: Optional[float] = None) -> None:
        self._cancel(res, "ssh")
        m = res.machine
        was_up = m.ssh_up
        await m.stop_ssh()
        res.record.ssh_up = False
        self._persist(res)
        if was_up:
            self.events.record(res.kind, res.id, "ssh_down", None, None, {"reason": reason}, t=t)

    def _arm_ssh(self, res: Resource, t: float, extra_nominal: float = 0.0) -> None:
        delay = self.timings.draw("ssh_ready", host(res)) + extra_nominal
        refuse, res.record.ssh_refuse_extra = res.record.ssh_refuse_extra, None
        if refuse:
            delay += refuse
        self._arm(res, "ssh", t + self.clock.wall(delay))

    async def _on_boot(self, res: Resource, t: float) -> None:
        if res.actual_status != "loading":
            return
        self.transition(res, "running", t)
        self._arm_ssh(res, t)
        after, res.record.preempt_after = res.record.preempt_after, None
        if after is not None:
            self._arm(res, "preempt", t + self.clock.wall(after))
        self._persist(res)
        cmd = res.record.onstart_cmd
        if cmd and not res.record.onstart_done:
            res.record.onstart_done = True
            self._persist(res)
            # Kept until done: a task nobody references may be collected half-way.
            self._onstart_tasks.add(task := asyncio.ensure_future(self._onstart(res, cmd)))
            task.add_done_callback(self._onstart_tasks.discard)

    async def _onstart(self, res: Resource, cmd: str) -> None:
        self.events.record(res.kind, res.id, "onstart_started", None, None, {"cmd": cmd})
        try:
            rc = await res.machine.run_detached(cmd, "onstart.log")
        except Exception as exc:
            rc = None
            log.warning("onstart of %s failed: %s", res.id, exc)
        if res.id in self.live:
            self.events.record(res.kind, res.id, "onstart_finished", None, None, {"exit_status": rc})

    async def _on_ssh(self, res: Resource, t: float) -> None:
        if res.actual_status != "running" or res.status != "running":
            return
        await self.ssh_up(res, t)

    async def _on_stopped(self, res: Resource, t: float) -> None:
        if res.actual_status == "running":
            self.transition(res, "stopped", t)

    async def _on_resumed(self, res: Resource, t: float) -> None:
        if res.actual_status in ("loading", "stopped", "exited") and res.status == "running":
            self.transition(res, "running", t)
            self._arm_ssh(res, t)

    async def _on_preempt(self, res: Resource, t: float) -> None:
        if res.actual_status != "running":
            return
        await self.ssh_down(res, "preempted", t)
        self._cancel_all(res)
        self.transition(res, "exited", t, {"reason": "preempted"})

    # -- operations (called under res.lock) ---------------------------------------------
    async def pause(self, res: Resource) -> None:
        if res.status == "stopped":
            return  # already paused or pausing: idempotent, like the provider
        if res.actual_status != "running":
            raise ApiError(500, f"Failed to pause instance {res.id}: instance is {res.actual_status}, not running")
        t = self.clock.now()
        res.record.status = "stopped"
        self._persist(res)
        self.events.record(res.kind, res.id, "pause_requested", None, None, None, t=t)
        self._cancel_all(res, "ssh", "preempt")
        await self.ssh_down(res, "paused", t)
        pause = self.timings.draw("pause", host(res))
        self._arm(res, "stop", t + self.clock.wall(pause))

    async def resume(self, res: Resource) -> None:
        actual = res.actual_status
        if actual == "offline":
            raise ApiError(500, f"Failed to resume instance {res.id}: host is offline")
        if res.status == "running":
            if "resume" in res.record.timers:
                return  # already resuming
            if actual in ("loading", "running", "created"):
                raise ApiError(500, f"Failed to resume instance {res.id}: instance is already {actual}")
        t = self.clock.now()
        res.record.status = "running"
        self._persist(res)
        self.events.record(res.kind, res.id, "resume_requested", None, None, None, t=t)
        if actual == "running":           # still stopping: cancel the stop
            self._cancel(res, "stop")
            self._arm_ssh(res, t)
            return
        # The machine loads again from the request on, and loading bills the GPU's price, as after a create:
        # one rule for a state, whichever transition led to it.
        self.transition(res, "loading", t)
        resume = self.timings.draw("resume", host(res))
        self._arm(res, "resume", t + self.clock.wall(resume))

    async def kill(self, res: Resource, reason: str = "killed") -> None:
        t = self.clock.now()
        self._cancel_all(res)
        await self.ssh_down(res, reason, t)
        self.transition(res, "offline", t, {"reason": reason})

    async def preempt(self, res: Resource) -> None:
        if res.actual_status != "running":
            raise ApiError(400, f"Instance {res.id} is not running")
        await self._on_preempt(res, self.clock.now())

    async def destroy(self, res: Resource, reason: str = "user_request") -> None:
        """Gone at once: timers cancelled, SSH down, billing closed, files removed."""
        t = self.clock.now()
        self._cancel_all(res)
        await res.machine.stop_ssh()
        with self.store.tx():
            self.billing.close(res.id, t)
            res.record.deleted_at = t
            self._persist(res)
            if res.record.ssh_up:
                self.events.record(res.kind, res.id, "ssh_down", None, None, {"reason": "deleted"}, t=t)
            self.events.record(res.kind, res.id, "deleted", res.actual_status, None, {"reason": reason}, t=t)
        self.live.pop(res.id, None)
        self.ports.release(res.machine.port)
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, res.machine.destroy_files)

    # -- targeted faults posted while the instance lives -------------------------------
    async def apply_fault(self, fault: Fault) -> None:
        rid = fault.spec.get("instance_id")
        res = self.live.get(int(rid)) if rid is not None else None
        if res is None or fault.kind not in TARGETED_FAULTS:
            return
        rec = res.record
        async with res.lock:
            t = self.clock.now()
            if fault.kind == "never_running" and res.actual_status == "loading":
                if self.faults.take("never_running", instance_id=res.id):
                    self._cancel(res, "boot")
                    rec.never_running = True
                    self._persist(res)
            elif fault.kind == "preempt":
                if not self.faults.take("preempt", instance_id=res.id):
                    return
                after = float(fault.spec.get("after", 0))
                if res.actual_status == "running":
                    self._arm(res, "preempt", t + self.clock.wall(after))
                else:
                    rec.preempt_after = after
                    self._persist(res)
            elif fault.kind == "ssh_refuse":
                if not self.faults.take("ssh_refuse", instance_id=res.id):
                    return
                secs = float(fault.spec.get("seconds", 0))
                if res.machine.ssh_up:
                    await self.ssh_down(res, "ssh_refuse fault", t)
                    self._arm(res, "ssh", t + self.clock.wall(secs))
                elif "ssh" in rec.timers:
                    self._arm(res, "ssh", rec.timers["ssh"] + self.clock.wall(secs))
                else:
                    rec.ssh_refuse_extra = (rec.ssh_refuse_extra or 0) + secs
                    self._persist(res)

    # -- restart ------------------------------------------------------------------------
    async def restore(self) -> int:
        """Bring back every live machine of the data dir: SSH where it was up, timers re-armed."""
        n = 0
        for rec in self.store.machines(alive=True):
            if rec.kind not in MACHINE_KINDS:
                continue
            self.ports.reserve(rec.ssh_port)
            self.live[rec.id] = Resource(rec, self.factory.build(rec))
            n += 1
        await asyncio.to_thread(self._remove_dead_roots)
        for res in list(self.live.values()):
            if res.record.ssh_up and res.actual_status == "running":
                try:
                    await self._ssh_up_after_restart(res)
                except Exception:
                    log.exception("could not restart SSH of %s", res.id)
            timers = sorted(res.record.timers.items(), key=lambda kv: kv[1])
            res.record.timers = {}
            for name, at in timers:
                if name in self._handlers:
                    self._arm(res, name, at)
        return n

    def _remove_dead_roots(self) -> None:
        """Machine directories of deleted resources whose removal a crash cut short."""
        for d in self.factory.machines_dir.iterdir():
            if d.is_dir() and not (d.name.isdigit() and int(d.name) in self.live):
                shutil.rmtree(d, ignore_errors=True)

    async def _ssh_up_after_restart(self, res: Resource) -> None:
        res.record.ssh_up = False
        await self.ssh_up(res, detail={"after_restart": True})

    async def shutdown(self) -> None:
        for res in list(self.live.values()):
            for task in list(res.tasks.values()):
                task.cancel()
            res.tasks.clear()
            if res.machine.ssh_up:
                with contextlib.suppress(Exception):
                    await res.machine.stop_ssh()
                self.events.record(res.kind, res.id, "ssh_down", None, None, {"reason": "sandbox_shutdown"})
            res.machine.kill_processes()
