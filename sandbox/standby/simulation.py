"""The real server's scripted failover simulation (POST /standby/failover/simulate/{gpu_id}):
a timeline of phases, no machine touched and no data moved. Phase delays are the real
server's (0.5, 2, 3, 3.5, 3, 4 s), taken as nominal seconds and scaled like everything else;
``phase_timings_ms`` and ``total_time_ms`` are nominal milliseconds. Kept in memory (the real
server keeps them in memory too)."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ..clock import Clock, iso
from ..cloud.events import EventLog

PHASES = ("detecting", "gpu_lost", "failover_to_cpu", "searching_gpu", "provisioning", "restoring",
          "complete", "failed")
# nominal seconds spent in each phase before the next one
STEP_DELAYS = {"detecting": 0.5, "gpu_lost": 2.0, "failover_to_cpu": 3.0, "searching_gpu": 3.5,
               "provisioning": 3.0, "restoring": 4.0}


@dataclass
class Simulation:
    id: str
    account: str
    gpu_id: int
    reason: str
    simulate_restore: bool
    simulate_new_gpu: bool
    started_at: float
    phase: str = "detecting"
    completed_at: Optional[float] = None
    success: bool = False
    new_gpu_id: Optional[int] = None
    data_restored: bool = False
    phase_timings: Dict[str, int] = field(default_factory=dict)   # nominal ms spent in each phase


def simulation_view(sim: Simulation, scale: float) -> Dict[str, Any]:
    """GET /standby/failover/status/{id}; times in nominal milliseconds."""
    total = None
    if sim.completed_at is not None:
        total = int(round((sim.completed_at - sim.started_at) * scale * 1000))
    return {"failover_id": sim.id, "gpu_instance_id": sim.gpu_id, "reason": sim.reason, "phase": sim.phase,
            "started_at": iso(sim.started_at), "completed_at": iso(sim.completed_at),
            "success": sim.success, "new_gpu_id": sim.new_gpu_id, "data_restored": sim.data_restored,
            "phase_timings_ms": dict(sim.phase_timings), "total_time_ms": total, "simulated": True}


class Simulator:
    def __init__(self, clock: Clock, events: EventLog):
        self.clock = clock
        self.events = events
        self.sims: Dict[str, Simulation] = {}
        self.tasks: Dict[str, asyncio.Task] = {}

    def start(self, account: str, gpu_id: int, reason: str, simulate_restore: bool,
              simulate_new_gpu: bool) -> Simulation:
        sim = Simulation(id=uuid.uuid4().hex[:8], account=account, gpu_id=gpu_id, reason=reason,
                         simulate_restore=simulate_restore, simulate_new_gpu=simulate_new_gpu,
                         started_at=self.clock.now())
        self.sims[sim.id] = sim
        self.tasks[sim.id] = asyncio.get_running_loop().create_task(self._run(sim))
        self.events.record("standby", None, "failover_simulation_started", None, None,
                           {"failover_id": sim.id, "gpu_instance_id": gpu_id, "reason": reason, "account": account})
        return sim

    async def _step(self, sim: Simulation, nxt: str) -> None:
        delay = STEP_DELAYS[sim.phase]
        await asyncio.sleep(self.clock.wall(delay))
        sim.phase_timings[sim.phase] = int(round(delay * 1000))
        sim.phase = nxt

    async def _run(self, sim: Simulation) -> None:
        try:
            await self._step(sim, "gpu_lost")
            await self._step(sim, "failover_to_cpu")
            await self._step(sim, "searching_gpu")
            if sim.simulate_new_gpu:
                await self._step(sim, "provisioning")
                sim.new_gpu_id = sim.gpu_id + 1000
                if sim.simulate_restore:
                    await self._step(sim, "restoring")
                    await asyncio.sleep(self.clock.wall(STEP_DELAYS["restoring"]))
                    sim.phase_timings["restoring"] = int(round(STEP_DELAYS["restoring"] * 1000))
                    sim.data_restored = True
            sim.phase_timings.setdefault(sim.phase, 0)
            sim.phase = "complete"
            sim.success = True
        except asyncio.CancelledError:
            sim.phase = "failed"
            raise
        finally:
            sim.completed_at = self.clock.now()
            self.tasks.pop(sim.id, None)

    def get(self, account: str, fid: str) -> Optional[Simulation]:
        sim = self.sims.get(fid)
        return sim if sim is not None and sim.account == account else None

    def report(self, account: str, days: int) -> Dict[str, Any]:
        """GET /standby/failover/report: the account's simulations of the last `days` days."""
        scale = self.clock.scale
        cutoff = self.clock.now() - days * 86400
        recent: List[Dict[str, Any]] = [simulation_view(s, scale) for s in self.sims.values()
                                        if s.account == account and s.completed_at is not None
                                        and s.started_at > cutoff]
        if not recent:
            return {"period_days": days, "total_failovers": 0, "successful_failovers": 0, "failed_failovers": 0,
                    "success_rate": 0.0, "mttr_ms": 0, "mttr_seconds": 0, "latency_by_phase_ms": {},
                    "history": [], "message": "No failover events in the specified period."}
        total = len(recent)
        ok = sum(1 for e in recent if e["success"])
        times = [e["total_time_ms"] for e in recent if e["total_time_ms"]]
        mttr = sum(times) / len(times) if times else 0
        per_phase: Dict[str, List[int]] = {}
        for e in recent:
            for phase, ms in e["phase_timings_ms"].items():
                per_phase.setdefault(phase, []).append(ms)
        reasons = [e["reason"] for e in recent]
        return {"period_days": days, "total_failovers": total, "successful_failovers": ok,
                "failed_failovers": total - ok, "success_rate": round(ok / total * 100, 1),
                "mttr_ms": round(mttr), "mttr_seconds": round(mttr / 1000, 2),
                "latency_by_phase_ms": {p: round(sum(v) / len(v)) for p, v in per_phase.items()},
                "data_restored_count": sum(1 for e in recent if e["data_restored"]),
                "gpus_provisioned_count": sum(1 for e in recent if e["new_gpu_id"]),
                "primary_cause": max(set(reasons), key=reasons.count), "history": recent[-10:]}

    def shutdown(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
