"""CPU standby, failover and failback: the /standby/* routes of the contract, the instance
routes the real server stubs (/instances/{id}/failover|failback|standby), and the ground truth
under /_sandbox/standby (admin_router). The machinery is sandbox/standby/. (The real
/instances/{id}/sync/status is the backup service's: routes/snapshots.py.)"""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ...cloud.errors import ApiError
from ...standby import pricing
from ...standby.pairs import Pair
from ...standby.records import StandbyConfig
from ...standby.service import StandbyService
from ...standby.simulation import simulation_view
from ...standby.views import configured_view, status_config_view
from ..context import core_of, current_account
from ..upstream import GCP_MISSING

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


def _svc(request: Request) -> StandbyService:
    return core_of(request).standby


def _no_assoc(gpu_id: int) -> ApiError:
    return ApiError(404, f"No standby association for GPU {gpu_id}")


def _need(request: Request, account: str, gpu_id: int) -> Pair:
    p = _svc(request).pairs.find(account, gpu_id)
    if p is None:
        raise _no_assoc(gpu_id)
    return p


def _need_for_instance(request: Request, account: str, instance_id: int) -> Pair:
    """The pair an instance id belongs to (also a former GPU of the pair)."""
    p = _svc(request).pairs.find(account, instance_id)
    if p is not None:
        return p
    if core_of(request).instances.get(instance_id, account) is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    raise _no_assoc(instance_id)


def _check_machine_type(machine_type: str, field: str) -> None:
    if not pricing.known(machine_type):
        raise ApiError(400, f"Unknown {field} {machine_type!r}; one of {', '.join(pricing.MACHINE_TYPES)}")


# -- /standby -------------------------------------------------------------------------------
@router.post("/standby/configure")
async def configure(body: ConfigureBody, request: Request, account: str = Depends(current_account)):
    if body.enabled and core_of(request).unconfigured("gcp", account):
        raise ApiError(400, GCP_MISSING)
    _check_machine_type(body.gcp_machine_type, "gcp_machine_type")
    cfg = _svc(request).configs.configure(account, StandbyConfig(**body.model_dump()))
    if not body.enabled:   # like the real server: no config in this answer
        return {"success": True, "message": "Auto-standby disabled. Existing associations will remain active."}
    return {"success": True, "message": "Auto-standby enabled. New GPU instances will automatically have CPU backup.",
            "config": configured_view(cfg)}


@router.get("/standby/status")
async def status(request: Request, account: str = Depends(current_account)):
    svc = _svc(request)
    cfg = svc.configs.of(account)
    pairs = svc.pairs.of_account(account)
    return {"configured": bool(cfg.configured), "auto_standby_enabled": bool(cfg.enabled),
            "active_associations": len(pairs),
            "associations": {str(p.record.gpu_id): svc.association_view(p) for p in pairs},
            "config": status_config_view(cfg)}


@router.post("/standby/provision/{gpu_id}")
async def provision(gpu_id: int, request: Request, label: Optional[str] = Query(None, max_length=200),
                    account: str = Depends(current_account)):
    svc = _svc(request)
    p = svc.pairs.find(account, gpu_id)
    if p is not None:
        return {"success": True, "message": "CPU Standby already exists for this GPU",
                "association": svc.association_view(p)}
    gpu = core_of(request).instances.get(gpu_id, account)
    if gpu is None:
        raise ApiError(404, f"Instance {gpu_id} not found")
    if not svc.configs.of(account).configured:
        raise ApiError(400, "Standby manager not configured. Call POST /standby/configure first.")
    p = svc.provisioner.provision(account, gpu, label or None)
    return {"success": True, "message": "CPU Standby provisioned successfully", "association": svc.association_view(p)}


@router.get("/standby/associations")
async def list_associations(request: Request, account: str = Depends(current_account)):
    svc = _svc(request)
    pairs = svc.pairs.of_account(account)
    return {"associations": {str(p.record.gpu_id): svc.association_view(p) for p in pairs}, "count": len(pairs)}


@router.get("/standby/associations/{gpu_id}")
async def get_association(gpu_id: int, request: Request, account: str = Depends(current_account)):
    return _svc(request).association_view(_need(request, account, gpu_id))


@router.post("/standby/associations/{gpu_id}/start-sync")
async def start_sync(gpu_id: int, request: Request, account: str = Depends(current_account)):
    p = _need(request, account, gpu_id)
    _svc(request).syncer.set_enabled(p, True)
    return {"success": True, "message": f"Sync started for GPU {gpu_id}"}


@router.post("/standby/associations/{gpu_id}/stop-sync")
async def stop_sync(gpu_id: int, request: Request, account: str = Depends(current_account)):
    p = _need(request, account, gpu_id)
    _svc(request).syncer.set_enabled(p, False)
    return {"success": True, "message": f"Sync stopped for GPU {gpu_id}"}


@router.delete("/standby/associations/{gpu_id}")
async def delete_association(gpu_id: int, request: Request, keep_gpu: bool = True,
                             account: str = Depends(current_account)):
    """keep_gpu is accepted and ignored, as on the real server: only the standby is destroyed,
    the GPU stays (and keeps billing)."""
    p = _need(request, account, gpu_id)
    await _svc(request).removal.destroy(p, "user_request (standby delete)")
    return {"success": True, "message": f"CPU standby for GPU {gpu_id} destroyed"}


@router.get("/standby/pricing")
async def get_pricing(machine_type: str = "e2-medium", disk_gb: int = Query(100, ge=0, le=65536),
                      spot: bool = True):
    _check_machine_type(machine_type, "machine_type")
    return pricing.pricing(machine_type, disk_gb, spot)


@router.post("/standby/failover/simulate/{gpu_id}")
async def simulate_failover(gpu_id: int, request: Request, body: Optional[SimulateBody] = Body(None),
                            account: str = Depends(current_account)):
    body = body or SimulateBody()
    svc = _svc(request)
    if svc.pairs.find(account, gpu_id) is None:
        raise ApiError(404, f"No standby association for GPU {gpu_id}. Create one first.")
    sim = svc.simulator.start(account, gpu_id, body.reason, body.simulate_restore, body.simulate_new_gpu)
    return {"failover_id": sim.id, "gpu_instance_id": gpu_id,
            "message": "Failover simulation started. Use GET /standby/failover/status/{failover_id} to monitor.",
            "phase": sim.phase}


@router.get("/standby/failover/status/{failover_id}")
async def simulation_status(failover_id: str, request: Request, account: str = Depends(current_account)):
    core = core_of(request)
    sim = core.standby.simulator.get(account, failover_id)
    if sim is None:
        raise ApiError(404, f"Failover {failover_id} not found")
    return simulation_view(sim, core.clock.scale)


@router.get("/standby/failover/report")
async def failover_report(request: Request, days: int = Query(30, ge=1, le=3650),
                          account: str = Depends(current_account)):
    return _svc(request).simulator.report(account, days)


# -- /instances/{id}/... ----------------------------------------------------------------------
def _pair_of_instance(request: Request, account: str, instance_id: int) -> Optional[Pair]:
    """The instance's pair, None if it has none; 404 for an instance the account does not have."""
    p = _svc(request).pairs.find(account, instance_id)
    if p is None and core_of(request).instances.get(instance_id, account) is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    return p


@router.get("/instances/{instance_id}/standby")
async def instance_standby(instance_id: int, request: Request, account: str = Depends(current_account)):
    p = _pair_of_instance(request, account, instance_id)
    if p is None:
        return {"instance_id": instance_id, "standby_enabled": False, "state": None, "cpu_standby": None,
                "association": None, "message": f"No CPU standby for instance {instance_id}"}
    svc = _svc(request)
    return {"instance_id": instance_id, "standby_enabled": True, "state": p.state,
            "cpu_standby": svc.instance_standby_view(p), "association": svc.association_view(p)}


@router.post("/instances/{instance_id}/failover")
async def failover(instance_id: int, request: Request, body: Optional[FailoverBody] = Body(None),
                   account: str = Depends(current_account)):
    body = body or FailoverBody()
    svc = _svc(request)
    p = _need_for_instance(request, account, instance_id)
    refusal = svc.failover.refusal(p)
    if refusal:
        raise ApiError(400, refusal)
    svc.failover.start(p, body.reason, explicit=True)
    return {"instance_id": instance_id, "status": "initiated", "strategy": body.strategy, "reason": body.reason,
            "standby_instance_id": p.id, "cpu_standby": p.record.name,
            "message": f"Failover of GPU {instance_id} to CPU standby {p.record.name} initiated"}


@router.post("/instances/{instance_id}/failback")
async def failback(instance_id: int, request: Request, body: Optional[FailbackBody] = Body(None),
                   account: str = Depends(current_account)):
    svc = _svc(request)
    p = _need_for_instance(request, account, instance_id)
    refusal = svc.failback.refusal(p)
    if refusal:
        raise ApiError(400, refusal)
    svc.failback.start(p, explicit=True)
    out = {"instance_id": instance_id, "status": "initiated", "standby_instance_id": p.id,
           "message": f"Failback of GPU {instance_id} from CPU standby {p.record.name} initiated"}
    if body is not None and body.strategy:
        out["strategy"] = body.strategy
    return out


# -- /_sandbox (admin token) ------------------------------------------------------------------
@admin_router.get("/standby")
async def truth_all(request: Request):
    return {"associations": _svc(request).truth_all()}


@admin_router.get("/standby/{gpu_id}")
async def truth(gpu_id: int, request: Request):
    t = _svc(request).truth(gpu_id)
    if t is None:
        raise _no_assoc(gpu_id)
    return t
