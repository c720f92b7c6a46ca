"""What really happened: /_sandbox/info, resources, events, requests, billing and the server's
stalls."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Request

from ...cloud.views import billing_row, event_view, machine_resource_view, request_view, snapshot_resource_view
from ..context import core_of, query_bool

router = APIRouter()


@router.get("/info")
async def info(request: Request):
    return core_of(request).info()


@router.get("/resources")
async def resources(request: Request, kind: Optional[str] = None, label_prefix: Optional[str] = None,
                    alive: Optional[str] = None):
    core = core_of(request)
    living = query_bool(alive)
    out = []
    if kind in (None, "", "instance", "standby"):
        out += [machine_resource_view(r) for r in core.store.machines(kind=kind or None, alive=living)]
    if kind in (None, "", "snapshot"):
        out += [snapshot_resource_view(s, core.cfg.size_scale) for s in core.store.snapshots(alive=living)]
    if label_prefix:
        out = [r for r in out if (r["label"] or "").startswith(label_prefix)
               or any(str(t).startswith(label_prefix) for t in r.get("tags") or [])]
    return {"resources": out}


@router.get("/events")
async def events(request: Request, resource_id: Optional[str] = None, kind: Optional[str] = None):
    return {"events": [event_view(e) for e in core_of(request).events.list(resource_id, kind)]}


@router.get("/requests")
async def requests_log(request: Request):
    return {"requests": [request_view(r) for r in core_of(request).store.requests()]}


@router.get("/billing")
async def billing(request: Request):
    core = core_of(request)
    now = core.clock.now()
    rows = [billing_row(r, core.billing.resource_summary(r.id, now)) for r in core.store.machines()]
    return {"accounts": core.accounts.summary(), "resources": rows,
            "total_cost": sum(r["cost"] for r in rows), "t": now}


@router.get("/stalls")
async def stalls(request: Request):
    """Every time the server stopped answering: start, end (wall epoch), nominal_s, reason
    ("create" with its instance_id, or "provider_retries"), active."""
    return {"stalls": core_of(request).stall.describe()}
