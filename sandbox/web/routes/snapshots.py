"""/snapshots (create, list, restore, delete) and POST /instances/{id}/snapshots."""
from __future__ import annotations

from typing import List, Optional

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ...cloud.views import instance_snapshot_view, restore_view, snapshot_created_view, snapshot_view
from ..context import core_of, current_account
from .instances import instance_of, success

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
    res = instance_of(request, instance_id, account)
    result = await core_of(request).snapshots.create(account, res, body.source_path, body.tags, body.name,
                                                     body.type)
    return JSONResponse(instance_snapshot_view(result, instance_id, body.type), status_code=201)


@router.get("/snapshots")
async def list_snapshots(request: Request, account: str = Depends(current_account)):
    snaps = [snapshot_view(s) for s in core_of(request).snapshots.of_account(account)]
    return {"snapshots": snaps, "count": len(snaps)}


@router.post("/snapshots", status_code=201)
async def create_snapshot(body: SnapshotBody, request: Request, account: str = Depends(current_account)):
    res = instance_of(request, body.instance_id, account)
    result = await core_of(request).snapshots.create(account, res, body.source_path, body.tags)
    return JSONResponse(snapshot_created_view(result), status_code=201)


@router.post("/snapshots/restore")
async def restore_snapshot(body: RestoreBody, request: Request, instance_id: int = Query(...),
                           account: str = Depends(current_account)):
    res = instance_of(request, instance_id, account)
    result = await core_of(request).snapshots.restore(account, body.snapshot_id, res, body.target_path, body.verify)
    return restore_view(result)


@router.delete("/snapshots/{snapshot_id}")
async def delete_snapshot(snapshot_id: str, request: Request, account: str = Depends(current_account)):
    core_of(request).snapshots.delete(account, snapshot_id)
    return success(f"Snapshot {snapshot_id} deleted successfully")
