"""Acting on live machines as the provider would: kill, preempt, corrupt a file; and [ext] a
machine's internals."""
from __future__ import annotations

from fastapi import APIRouter, Request

from ...cloud.errors import ApiError
from ...cloud.machines import map_path
from ...cloud.resource import Resource
from ...cloud.views import machine_view
from ...core import Core
from ..context import core_of, json_object

router = APIRouter()


def _live(core: Core, machine_id: int) -> Resource:
    res = core.lifecycle.live.get(machine_id)
    if res is None:
        raise ApiError(404, f"Instance {machine_id} not found")
    return res


@router.post("/instances/{instance_id}/kill")
async def kill_instance(instance_id: int, request: Request):
    core = core_of(request)
    res = _live(core, instance_id)
    async with res.lock:
        await core.lifecycle.kill(res, "killed by admin")
    return {"success": True, "id": instance_id, "actual_status": res.actual_status}


@router.post("/instances/{instance_id}/preempt")
async def preempt_instance(instance_id: int, request: Request):
    core = core_of(request)
    res = _live(core, instance_id)
    async with res.lock:
        await core.lifecycle.preempt(res)
    return {"success": True, "id": instance_id, "actual_status": res.actual_status}


@router.get("/machines/{machine_id}")
async def machine(machine_id: int, request: Request):
    """[ext] Internals of a live machine (instance or standby): workspace, SSH, timers."""
    return machine_view(_live(core_of(request), machine_id))


def _standby_of(core: Core, gpu: int) -> Resource:
    res = next((r for r in core.lifecycle.live.values()
                if r.kind == "standby" and (r.record.gpu_instance_id == gpu or gpu in r.record.gpu_instance_ids)),
               None)
    if res is None:
        raise ApiError(404, f"No live standby for GPU {gpu}")
    return res


@router.post("/files/corrupt")
async def corrupt_file(request: Request):
    core = core_of(request)
    body = await json_object(request)
    rel = body.get("path")
    if not rel or not isinstance(rel, str):
        raise ApiError(400, "path (relative to the workspace) is required")
    if body.get("instance_id") is not None:
        res = _live(core, int(body["instance_id"]))
    elif body.get("standby_of") is not None:
        res = _standby_of(core, int(body["standby_of"]))
    else:
        raise ApiError(400, "instance_id or standby_of is required")
    try:
        path = map_path(res.machine.root, rel if rel.startswith("/") else "/workspace/" + rel)
    except ValueError as exc:
        raise ApiError(400, str(exc))
    if not path.is_file():
        raise ApiError(404, f"File {rel} not found on machine {res.id}")
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        positions = sorted({0, size // 2, max(0, size - 1)}) if size else []
        for pos in positions:
            fh.seek(pos)
            b = fh.read(1)
            fh.seek(pos)
            fh.write(bytes([b[0] ^ 0xFF]))
    core.events.record(res.kind, res.id, "file_corrupted", None, None, {"path": rel, "bytes_flipped": len(positions)})
    return {"success": True, "machine_id": res.id, "path": rel, "bytes_flipped": len(positions)}
