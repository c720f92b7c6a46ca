"""/_sandbox/faults: post, list and clear faults."""
from __future__ import annotations

from fastapi import APIRouter, Request

from ...cloud.errors import ApiError
from ...faults import FaultError
from ..context import core_of, json_object

router = APIRouter()


@router.post("/faults")
async def add_fault(request: Request):
    core = core_of(request)
    spec = await json_object(request)
    try:
        fault = core.faults.add(spec)
    except FaultError as exc:
        raise ApiError(400, str(exc))
    await core.lifecycle.apply_fault(fault)
    core.events.record("fault", fault.id, "fault_added", None, None, spec)
    return {"id": fault.id}


@router.get("/faults")
async def list_faults(request: Request):
    return {"faults": core_of(request).faults.list()}


@router.delete("/faults")
async def clear_faults(request: Request):
    core = core_of(request)
    n = core.faults.clear()
    core.events.record("fault", None, "faults_cleared", None, None, {"count": n})
    return {"success": True, "cleared": n}
