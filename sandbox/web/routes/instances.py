"""/instances: list, create (with the real server's pre-validation), get, delete, pause, resume."""
from __future__ import annotations

from typing import List, Optional

import asyncssh
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...cloud.errors import ApiError
from ...cloud.lifecycle import DEFAULT_IMAGE
from ...cloud.resource import Resource
from ..context import core_of, current_account

router = APIRouter(dependencies=[Depends(current_account)])


class CreateInstanceBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    offer_id: int
    image: str = DEFAULT_IMAGE
    disk_size: float = Field(100, ge=10)
    label: Optional[str] = None
    ports: Optional[List[int]] = None
    onstart_cmd: Optional[str] = None
    skip_standby: bool = False
    skip_validation: bool = False
    ssh_key: Optional[str] = None   # [ext]

    @field_validator("ssh_key")
    @classmethod
    def _key(cls, v: Optional[str]) -> Optional[str]:
        if v is None or not v.strip():
            return None
        try:
            asyncssh.import_authorized_keys(v)
        except Exception as exc:
            raise ValueError(f"not an OpenSSH public key: {exc}")
        return v.strip()


def success(message: str):
    return {"success": True, "message": message}


def instance_of(request: Request, instance_id: int, account: str) -> Resource:
    """The account's live instance, or 404 as the real server answers GET, pause and resume."""
    res = core_of(request).instances.get(instance_id, account)
    if res is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    return res


@router.get("/instances")
async def list_instances(request: Request, status: Optional[str] = None,
                         account: str = Depends(current_account)):
    instances = core_of(request).instances
    views = [instances.view(r) for r in sorted(instances.of_account(account), key=lambda r: r.id)]
    if status:
        s = status.lower()
        views = [v for v in views if v["status"] == s or v["actual_status"] == s]
    return {"instances": views, "count": len(views)}


@router.post("/instances", status_code=201)
async def create_instance(body: CreateInstanceBody, request: Request, account: str = Depends(current_account)):
    core = core_of(request)

    def refuse(status: int, message: str) -> ApiError:
        if body.skip_validation:   # the provider refuses instead of the pre-validation
            return ApiError(500, f"Failed to create instance: {message}")
        return ApiError(status, message)

    offer = core.offers.get(body.offer_id)
    if offer is None or offer["id"] in core.faults.hidden_offers():
        raise refuse(400, f"Offer {body.offer_id} is not available (it may have been rented by someone else)")
    if body.disk_size > offer["disk_space"]:
        raise refuse(400, f"Pré-validação falhou: disk_size {body.disk_size:g} GB exceeds the "
                          f"{offer['disk_space']:g} GB available on offer {offer['id']}")
    live = len(core.instances.of_account(account))
    if live >= core.cfg.max_instances:
        raise ApiError(429, f"Team quota exceeded: {live} live instances (limit {core.cfg.max_instances})")
    bal = core.accounts.balance(account)
    need = offer["dph_total"] * 1.0
    if bal < need:
        raise refuse(402, f"Insufficient balance: ${bal:.2f} available, at least ${need:.2f} "
                          f"(one hour of offer {offer['id']}) required")
    res = core.instances.launch(account, offer, label=body.label, ssh_key=body.ssh_key, disk_size=body.disk_size,
                                image=body.image, ports=body.ports or [], onstart_cmd=body.onstart_cmd,
                                skip_standby=body.skip_standby)
    return JSONResponse(core.instances.view(res), status_code=201)


@router.get("/instances/{instance_id}")
async def get_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    return core_of(request).instances.view(instance_of(request, instance_id, account))


@router.delete("/instances/{instance_id}")
async def delete_instance(instance_id: int, request: Request, destroy_standby: bool = True,
                          reason: str = "user_request", account: str = Depends(current_account)):
    core = core_of(request)
    res = core.instances.get(instance_id, account)
    if res is None:
        raise ApiError(500, f"Failed to destroy instance {instance_id}")   # [quirk] not 404
    async with res.lock:
        if res.id not in core.lifecycle.live:
            raise ApiError(500, f"Failed to destroy instance {instance_id}")
        message = await core.instances.delete(res, destroy_standby=destroy_standby, reason=reason)
    return success(message)


@router.post("/instances/{instance_id}/pause")
async def pause_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    res = instance_of(request, instance_id, account)
    async with res.lock:
        await core_of(request).lifecycle.pause(res)
    return success(f"Instance {instance_id} paused successfully")


@router.post("/instances/{instance_id}/resume")
async def resume_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    res = instance_of(request, instance_id, account)
    async with res.lock:
        await core_of(request).lifecycle.resume(res)
    return success(f"Instance {instance_id} resumed successfully")
