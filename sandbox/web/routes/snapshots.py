"""/snapshots (create, list, restore, delete), POST /instances/{id}/snapshots, and the backup
(restic) service's POST /instances/{id}/sync and GET /instances/{id}/sync/status.

Every route needs a restic repository (400 without one); create and restore read the instance
from the provider first (a provider failure reads as 404 "Instance N not found")."""
from __future__ import annotations

from typing import List, Optional

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ...cloud.provider import provider_url
from ...cloud.views import instance_snapshot_view, restore_view, snapshot_created_view, snapshot_view
from ..context import core_of, current_account
from ..upstream import RESTIC_MISSING, provider_call, require_provider_key, require_restic
from .instances import get_from_provider, success

router = APIRouter(dependencies=[Depends(current_account)])


class SnapshotBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    instance_id: int
    source_path: str = "/workspace"
    tags: Optional[List[str]] = None


class InstanceSnapshotBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Optional[str] = None
    type: str = Field("full", pattern="^(full|incremental)$")
    source_path: str = "/workspace"
    tags: Optional[List[str]] = None


class RestoreBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    snapshot_id: str
    target_path: str = "/workspace"
    verify: bool = False


@router.post("/instances/{instance_id}/snapshots", status_code=201)
async def instance_snapshot(instance_id: int, request: Request,
                            body: Optional[InstanceSnapshotBody] = Body(None),
                            account: str = Depends(current_account)):
    body = body or InstanceSnapshotBody()
    require_restic(request, account)
    require_provider_key(request, account)
    res = await get_from_provider(request, instance_id, account)
    result = await core_of(request).snapshots.create(account, res, body.source_path, body.tags, body.name,
                                                     body.type)
    return JSONResponse(instance_snapshot_view(result, instance_id, body.type), status_code=201)


@router.get("/snapshots")
async def list_snapshots(request: Request, account: str = Depends(current_account)):
    require_restic(request, account)
    core = core_of(request)
    snaps = [snapshot_view(s, ext=not core.real) for s in core.snapshots.of_account(account)]
    return {"snapshots": snaps, "count": len(snaps)}


@router.post("/snapshots", status_code=201)
async def create_snapshot(body: SnapshotBody, request: Request, account: str = Depends(current_account)):
    require_restic(request, account)
    require_provider_key(request, account)
    res = await get_from_provider(request, body.instance_id, account)
    result = await core_of(request).snapshots.create(account, res, body.source_path, body.tags)
    return JSONResponse(snapshot_created_view(result), status_code=201)


@router.post("/snapshots/restore")
async def restore_snapshot(body: RestoreBody, request: Request, instance_id: int = Query(...),
                           account: str = Depends(current_account)):
    require_restic(request, account)
    require_provider_key(request, account)
    res = await get_from_provider(request, instance_id, account)
    result = await core_of(request).snapshots.restore(account, body.snapshot_id, res, body.target_path, body.verify)
    return restore_view(result)


@router.delete("/snapshots/{snapshot_id}")
async def delete_snapshot(snapshot_id: str, request: Request, account: str = Depends(current_account)):
    require_restic(request, account)
    core_of(request).snapshots.delete(account, snapshot_id)
    return success(f"Snapshot {snapshot_id} deleted successfully")


# -- the backup service ----------------------------------------------------------------------
@router.post("/instances/{instance_id}/sync")
async def sync_instance(instance_id: int, request: Request, force: bool = False,
                        source_path: str = "/workspace", account: str = Depends(current_account)):
    """One backup run: a restic snapshot of the instance; 200 with success false when it fails."""
    core = core_of(request)
    require_provider_key(request, account)
    refusal = RESTIC_MISSING if core.unconfigured("restic", account) else None
    res = None
    if refusal is None:
        failure = await provider_call(request, "POST /instances/{id}/sync",
                                      provider_url(f"instances/{instance_id}/"), instance_id=instance_id)
        res = None if failure is not None else core.instances.get(instance_id, account)
    return await core.backups.run(account, instance_id, res, source_path, force, refusal)


@router.get("/instances/{instance_id}/sync/status")
async def sync_status(instance_id: int, request: Request, account: str = Depends(current_account)):
    """The backup service's runs for this instance (not the CPU standby's syncs)."""
    require_provider_key(request, account)
    return core_of(request).backups.status(account, instance_id)
