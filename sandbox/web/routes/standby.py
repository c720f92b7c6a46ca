"""CPU standby, failover and failback: the /standby/* routes of the contract, the instance
routes the real server stubs (/instances/{id}/failover|failback|standby|sync/status), and the
ground truth GET /_sandbox/standby/{gpu_id}. Loaded by app.create_app as an extension.

The machinery lives in standby_manager (associations, syncs, health checks, failover,
failback), standby_files (staged copies, atomic publication), standby_store (SQLite),
standby_pricing (GCP e2 prices) and standby_sim (the scripted failover simulation).
"""
from __future__ import annotations

import logging
from typing import Optional

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ...cloud.errors import ApiError
from ...standby import pricing
from ...standby.manager import StandbyManager
from ..context import core_of, current_account

log = logging.getLogger("sandbox.standby")

router = APIRouter(dependencies=[Depends(current_account)])
admin_router = APIRouter()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ConfigureBody(_Body):
    enabled: bool = True
    gcp_zone: str = Field("europe-west1-b", min_length=1)
    gcp_machine_type: str = "e2-medium"
    gcp_disk_size: int = Field(100, ge=10, le=65536)
    gcp_spot: bool = True
    sync_interval: int = Field(30, ge=1, le=86400)
    auto_failover: bool = True
    auto_recovery: bool = True


class SimulateBody(_Body):
    reason: str = "spot_interruption"
    simulate_restore: bool = True
    simulate_new_gpu: bool = True


class FailoverBody(_Body):
    reason: str = "manual"
    strategy: str = "coldstart"


class FailbackBody(_Body):
    strategy: Optional[str] = None


def _mgr(request: Request) -> StandbyManager:
    return core_of(request).standby


def _no_assoc(gpu_id: int) -> ApiError:
    return ApiError(404, f"No standby association for GPU {gpu_id}")


def _need(request: Request, account: str, gpu_id: int):
    a = _mgr(request).find(account, gpu_id)
    if a is None:
        raise _no_assoc(gpu_id)
    return a


def _need_for_instance(request: Request, account: str, instance_id: int):
    """The association an instance id belongs to (also a former GPU of the pair)."""
    a = _mgr(request).find(account, instance_id)
    if a is not None:
        return a
    if core_of(request).instances.get(instance_id, account) is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    raise _no_assoc(instance_id)


def _check_machine_type(machine_type: str, field: str) -> None:
    if not pricing.known(machine_type):
        raise ApiError(400, f"Unknown {field} {machine_type!r}; one of {', '.join(pricing.MACHINE_TYPES)}")


# -- /standby -------------------------------------------------------------------------------
@router.post("/standby/configure")
async def configure(body: ConfigureBody, request: Request, account: str = Depends(current_account)):
    _check_machine_type(body.gcp_machine_type, "gcp_machine_type")
    m = _mgr(request)
    cfg = m.configure(account, body.model_dump())
    if body.enabled:
        message = "Auto-standby enabled. New GPU instances will automatically have CPU backup."
    else:
        message = "Auto-standby disabled. Existing associations will remain active."
    return {"success": True, "message": message, "config": m.public_config(cfg)}


@router.get("/standby/status")
async def status(request: Request, account: str = Depends(current_account)):
    m = _mgr(request)
    cfg = m.config(account)
    assocs = m.of_account(account)
    return {"configured": bool(cfg["configured"]), "auto_standby_enabled": bool(cfg["enabled"]),
            "active_associations": len(assocs),
            "associations": {str(a.d["gpu_id"]): m.assoc_view(a) for a in assocs},
            "config": m.public_config(cfg)}


@router.post("/standby/provision/{gpu_id}")
async def provision(gpu_id: int, request: Request, label: Optional[str] = Query(None, max_length=200),
                    account: str = Depends(current_account)):
    m = _mgr(request)
    a = m.find(account, gpu_id)
    if a is not None:
        return {"success": True, "message": "CPU Standby already exists for this GPU", "association": m.assoc_view(a)}
    gpu = core_of(request).instances.get(gpu_id, account)
    if gpu is None:
        raise ApiError(404, f"Instance {gpu_id} not found")
    if not m.config(account)["configured"]:
        raise ApiError(400, "Standby manager not configured. Call POST /standby/configure first.")
    a = m.provision(account, gpu, label or None)
    return {"success": True, "message": "CPU Standby provisioned successfully", "association": m.assoc_view(a)}


@router.get("/standby/associations")
async def list_associations(request: Request, account: str = Depends(current_account)):
    m = _mgr(request)
    assocs = m.of_account(account)
    return {"associations": {str(a.d["gpu_id"]): m.assoc_view(a) for a in assocs}, "count": len(assocs)}


@router.get("/standby/associations/{gpu_id}")
async def get_association(gpu_id: int, request: Request, account: str = Depends(current_account)):
    return _mgr(request).assoc_view(_need(request, account, gpu_id))


@router.post("/standby/associations/{gpu_id}/start-sync")
async def start_sync(gpu_id: int, request: Request, account: str = Depends(current_account)):
    a = _need(request, account, gpu_id)
    _mgr(request).set_sync_enabled(a, True)
    return {"success": True, "message": f"Sync started for GPU {gpu_id}"}


@router.post("/standby/associations/{gpu_id}/stop-sync")
async def stop_sync(gpu_id: int, request: Request, account: str = Depends(current_account)):
    a = _need(request, account, gpu_id)
    _mgr(request).set_sync_enabled(a, False)
    return {"success": True, "message": f"Sync stopped for GPU {gpu_id}"}


@router.delete("/standby/associations/{gpu_id}")
async def delete_association(gpu_id: int, request: Request, keep_gpu: bool = True,
                             account: str = Depends(current_account)):
    a = _need(request, account, gpu_id)
    await _mgr(request).destroy(a, "user_request (standby delete)", destroy_gpu=not keep_gpu)
    message = f"CPU standby for GPU {gpu_id} destroyed"
    if not keep_gpu:
        message += f" (GPU {a.d['current_gpu_id']} destroyed too)"
    return {"success": True, "message": message}


@router.get("/standby/pricing")
async def get_pricing(machine_type: str = "e2-medium", disk_gb: int = Query(100, ge=0, le=65536),
                      spot: bool = True):
    _check_machine_type(machine_type, "machine_type")
    return pricing.pricing(machine_type, disk_gb, spot)


@router.post("/standby/failover/simulate/{gpu_id}")
async def simulate_failover(gpu_id: int, request: Request, body: Optional[SimulateBody] = Body(None),
                            account: str = Depends(current_account)):
    body = body or SimulateBody()
    if _mgr(request).find(account, gpu_id) is None:
        raise ApiError(404, f"No standby association for GPU {gpu_id}. Create one first.")
    sim = core_of(request).standby.sim.start(account, gpu_id, body.reason, body.simulate_restore,
                                           body.simulate_new_gpu)
    return {"failover_id": sim.id, "gpu_instance_id": gpu_id,
            "message": "Failover simulation started. Use GET /standby/failover/status/{failover_id} to monitor.",
            "phase": sim.phase}


@router.get("/standby/failover/status/{failover_id}")
async def simulation_status(failover_id: str, request: Request, account: str = Depends(current_account)):
    core = core_of(request)
    sim = core.standby.sim.get(account, failover_id)
    if sim is None:
        raise ApiError(404, f"Failover {failover_id} not found")
    return sim.view(core.clock.scale)


@router.get("/standby/failover/report")
async def failover_report(request: Request, days: int = Query(30, ge=1, le=3650),
                          account: str = Depends(current_account)):
    return core_of(request).standby.sim.report(account, days)


# -- /instances/{id}/... ----------------------------------------------------------------------
@router.get("/instances/{instance_id}/sync/status")
async def sync_status(instance_id: int, request: Request, account: str = Depends(current_account)):
    m = _mgr(request)
    a = m.find(account, instance_id)
    if a is None and core_of(request).instances.get(instance_id, account) is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    return m.sync_status(instance_id, a)


@router.get("/instances/{instance_id}/standby")
async def instance_standby(instance_id: int, request: Request, account: str = Depends(current_account)):
    m = _mgr(request)
    a = m.find(account, instance_id)
    if a is None and core_of(request).instances.get(instance_id, account) is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    if a is None:
        return {"instance_id": instance_id, "standby_enabled": False, "state": None, "cpu_standby": None,
                "association": None, "message": f"No CPU standby for instance {instance_id}"}
    return {"instance_id": instance_id, "standby_enabled": True, "state": a.state,
            "cpu_standby": m.instance_standby_view(a), "association": m.assoc_view(a)}


@router.post("/instances/{instance_id}/failover")
async def failover(instance_id: int, request: Request, body: Optional[FailoverBody] = Body(None),
                   account: str = Depends(current_account)):
    body = body or FailoverBody()
    m = _mgr(request)
    a = _need_for_instance(request, account, instance_id)
    refusal = m.failover_refusal(a)
    if refusal:
        raise ApiError(400, refusal)
    m.start_failover(a, body.reason, explicit=True)
    return {"instance_id": instance_id, "status": "initiated", "strategy": body.strategy, "reason": body.reason,
            "standby_instance_id": a.id, "cpu_standby": a.d["name"],
            "message": f"Failover of GPU {instance_id} to CPU standby {a.d['name']} initiated"}


@router.post("/instances/{instance_id}/failback")
async def failback(instance_id: int, request: Request, body: Optional[FailbackBody] = Body(None),
                   account: str = Depends(current_account)):
    m = _mgr(request)
    a = _need_for_instance(request, account, instance_id)
    refusal = m.failback_refusal(a)
    if refusal:
        raise ApiError(400, refusal)
    m.start_failback(a, explicit=True)
    out = {"instance_id": instance_id, "status": "initiated", "standby_instance_id": a.id,
           "message": f"Failback of GPU {instance_id} from CPU standby {a.d['name']} initiated"}
    if body is not None and body.strategy:
        out["strategy"] = body.strategy
    return out


# -- /_sandbox (admin token) ------------------------------------------------------------------
@admin_router.get("/standby")
async def truth_all(request: Request):
    m = _mgr(request)
    out = []
    for d in m.sstore.assocs():
        out.append({"gpu_instance_id": d["gpu_id"], "standby_id": d["id"], "account": d["account"],
                    "gpu_instance_ids": d["gpu_ids"], "current_gpu_instance_id": d["current_gpu_id"],
                    "state": d["state"], "alive": d["deleted_at"] is None, "sync_count": d["sync_count"],
                    "failovers": len(d["failovers"]), "failbacks": len(d["failbacks"])})
    return {"associations": out}


@admin_router.get("/standby/{gpu_id}")
async def truth(gpu_id: int, request: Request):
    t = _mgr(request).truth(gpu_id)
    if t is None:
        raise _no_assoc(gpu_id)
    return t
