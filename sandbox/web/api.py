"""The public Dumont Cloud API (mounted under /api/v1 and /api): auth, balance, offers,
instances, snapshots. Standby/failover routes come from sandbox/standby.py when present."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import asyncssh
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..cloud.accounts import valid_email
from ..cloud.errors import ApiError, not_authenticated
from ..cloud.instances import DEFAULT_IMAGE

ACCOUNT_SCOPE_KEY = "sandbox.account"


def core_of(request: Request):
    return request.app.state.core


def current_account(request: Request) -> str:
    email = request.scope.get(ACCOUNT_SCOPE_KEY)
    if email is None:
        email = core_of(request).accounts.email_for_header(request.headers.get("authorization"))
    if not email:
        raise not_authenticated()
    return email


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LoginBody(_Body):
    email: Optional[str] = None
    username: Optional[str] = None
    password: str = Field(..., min_length=1)

    @model_validator(mode="after")
    def _need_email(self):
        email = self.email or self.username
        if not email:
            raise ValueError("email (or username) is required")
        if not valid_email(email):
            raise ValueError("value is not a valid email address")
        self.email = email.strip().lower()
        return self


class RegisterBody(_Body):
    email: str
    password: str = Field(..., min_length=6)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not valid_email(v):
            raise ValueError("value is not a valid email address")
        return v.strip().lower()


class CreateInstanceBody(_Body):
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


class SnapshotBody(_Body):
    instance_id: int
    source_path: str = "/workspace"
    tags: Optional[List[str]] = None


class InstanceSnapshotBody(_Body):
    name: Optional[str] = None
    type: str = Field("full", pattern="^(full|incremental)$")
    source_path: str = "/workspace"
    tags: Optional[List[str]] = None


class RestoreBody(_Body):
    snapshot_id: str
    target_path: str = "/workspace"
    verify: bool = False


def _success(message: str) -> Dict[str, Any]:
    return {"success": True, "message": message}


# ---------------------------------------------------------------------------------------
public = APIRouter()
router = APIRouter(dependencies=[Depends(current_account)])


@public.post("/auth/login")
async def login(body: LoginBody, request: Request):
    core = core_of(request)
    if not core.accounts.check_password(body.email, body.password):
        raise ApiError(401, "Invalid credentials")
    request.scope[ACCOUNT_SCOPE_KEY] = body.email
    return {"success": True, "user": body.email, "token": core.accounts.issue_token(body.email)}


@public.post("/auth/register")
async def register(body: RegisterBody, request: Request):
    core = core_of(request)
    if core.accounts.exists(body.email):
        raise ApiError(400, "User already exists")
    core.accounts.create(body.email, body.password)
    request.scope[ACCOUNT_SCOPE_KEY] = body.email
    return {"success": True, "user": body.email, "token": core.accounts.issue_token(body.email)}


@public.get("/auth/me")
async def me(account: str = Depends(current_account)):
    return {"authenticated": True, "user": {"email": account, "username": account, "settings": {}}}


@public.get("/instances/offers")
async def search_offers(
        request: Request,
        gpu_name: Optional[str] = None,
        num_gpus: int = Query(1, ge=0, le=16),
        min_gpu_ram: float = Query(0, ge=0),
        min_cpu_cores: int = Query(0, ge=0),
        min_cpu_ram: float = Query(0, ge=0),
        min_disk: float = Query(0, ge=0),
        max_price: float = Query(10.0, ge=0),
        min_reliability: float = Query(0.0, ge=0, le=1),
        region: Optional[str] = None,
        verified_only: bool = False,
        machine_type: Optional[str] = Query(None, pattern="^(on-demand|interruptible)$"),
        limit: int = Query(50, ge=1, le=100)):
    core = core_of(request)
    offers = core.offers.search(
        gpu_name=gpu_name, num_gpus=num_gpus, min_gpu_ram=min_gpu_ram, min_cpu_cores=min_cpu_cores,
        min_cpu_ram=min_cpu_ram, min_disk=min_disk, max_price=max_price, min_reliability=min_reliability,
        region=region, verified_only=verified_only, machine_type=machine_type, limit=limit,
        hidden=core.faults.hidden_offers())
    return {"offers": offers, "count": len(offers)}


@router.get("/balance")
async def balance(request: Request, account: str = Depends(current_account)):
    bal = round(core_of(request).accounts.balance(account), 6)
    return {"credit": bal, "balance": bal, "balance_threshold": 0.0, "email": account}


@router.get("/instances/balance")
async def provider_balance(request: Request, account: str = Depends(current_account)):
    bal = round(core_of(request).accounts.balance(account), 6)
    return {"credit": bal, "balance": 0.0, "email": account}


@router.get("/instances")
async def list_instances(request: Request, status: Optional[str] = None,
                         account: str = Depends(current_account)):
    core = core_of(request)
    views = [core.instances.view(r) for r in sorted(core.instances.of_account(account), key=lambda r: r.id)]
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
    extra = {"ports": body.ports or [], "onstart_cmd": body.onstart_cmd, "skip_standby": body.skip_standby}
    res = core.instances.create(account=account, offer=offer, label=body.label, ssh_key=body.ssh_key,
                                disk_size=body.disk_size, image=body.image, extra=extra)
    core.call_hooks("on_instance_created", res, body.model_dump())
    return JSONResponse(core.instances.view(res), status_code=201)


def _instance(request: Request, instance_id: int, account: str):
    res = core_of(request).instances.get(instance_id, account)
    if res is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    return res


@router.get("/instances/{instance_id}")
async def get_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    return core_of(request).instances.view(_instance(request, instance_id, account))


@router.delete("/instances/{instance_id}")
async def delete_instance(instance_id: int, request: Request, destroy_standby: bool = True,
                          reason: str = "user_request", account: str = Depends(current_account)):
    core = core_of(request)
    res = core.instances.get(instance_id, account)
    if res is None:
        raise ApiError(500, f"Failed to destroy instance {instance_id}")
    async with res.lock:
        if res.id not in core.instances.live:
            raise ApiError(500, f"Failed to destroy instance {instance_id}")
        sticky = core.faults.take("sticky_delete", instance_id=res.id)
        core.event(res.kind, res.id, "delete_requested", None, None,
                   {"reason": reason, "destroy_standby": destroy_standby,
                    "sticky_fault": sticky.id if sticky else None})
        if sticky:
            return _success(f"Instance {instance_id} destroyed successfully")
        await core.instances.destroy(res, reason)
        messages = await core.acall_hooks("on_instance_deleted", res, destroy_standby, reason)
    message = next((m for m in messages if m), None) or f"Instance {instance_id} destroyed successfully"
    return _success(message)


@router.post("/instances/{instance_id}/pause")
async def pause_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    res = _instance(request, instance_id, account)
    async with res.lock:
        await core_of(request).instances.pause(res)
    return _success(f"Instance {instance_id} paused successfully")


@router.post("/instances/{instance_id}/resume")
async def resume_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    res = _instance(request, instance_id, account)
    async with res.lock:
        await core_of(request).instances.resume(res)
    return _success(f"Instance {instance_id} resumed successfully")


@router.post("/instances/{instance_id}/snapshots", status_code=201)
async def instance_snapshot(instance_id: int, request: Request,
                            body: Optional[InstanceSnapshotBody] = Body(None),
                            account: str = Depends(current_account)):
    body = body or InstanceSnapshotBody()
    res = _instance(request, instance_id, account)
    out = await core_of(request).snapshots.create(account, res, body.source_path, body.tags, body.name, body.type)
    return JSONResponse({"success": True, "snapshot_id": out["snapshot_id"], "instance_id": instance_id,
                         "type": body.type, "files_new": out["files_new"], "files_changed": out["files_changed"],
                         "data_added": out["data_added"]}, status_code=201)


@router.get("/snapshots")
async def list_snapshots(request: Request, account: str = Depends(current_account)):
    snaps = core_of(request).snapshots.list(account)
    return {"snapshots": snaps, "count": len(snaps)}


@router.post("/snapshots", status_code=201)
async def create_snapshot(body: SnapshotBody, request: Request, account: str = Depends(current_account)):
    res = _instance(request, body.instance_id, account)
    out = await core_of(request).snapshots.create(account, res, body.source_path, body.tags)
    return JSONResponse(out, status_code=201)


@router.post("/snapshots/restore")
async def restore_snapshot(body: RestoreBody, request: Request, instance_id: int = Query(...),
                           account: str = Depends(current_account)):
    res = _instance(request, instance_id, account)
    return await core_of(request).snapshots.restore(account, body.snapshot_id, res, body.target_path, body.verify)


@router.delete("/snapshots/{snapshot_id}")
async def delete_snapshot(snapshot_id: str, request: Request, account: str = Depends(current_account)):
    core_of(request).snapshots.delete(account, snapshot_id)
    return _success(f"Snapshot {snapshot_id} deleted successfully")
