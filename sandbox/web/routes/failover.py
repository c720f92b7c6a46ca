"""Five routes of the real server's failover orchestrator and GPU warm pool that a client may call
to look (docs/dumont-api.md, "Past SSH"): GET /failover/readiness/{id}, /failover/strategies,
/failover/settings/global, /warmpool/hosts and /warmpool/status/{id}. Their answers are built in
sandbox/standby/orchestration.py.

The real server checks no token on these; here they need one like every other /api route
(choice: a client that works here then works there, not the other way round), and readiness
looks at the caller's own standby associations. The warm pool routes need the server's own
provider key (its VAST_API_KEY): without one they answer the real server's 500, whose message
is an HTTPException turned into text ("500: VAST_API_KEY not configured")."""
from __future__ import annotations

from typing import Optional
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from ...cloud.errors import ApiError
from ...cloud.provider import SERVER_IDENTITY, provider_url
from ...standby import orchestration
from ..context import FAULT_SCOPE_KEY, PROVIDER_ERROR_SCOPE_KEY, core_of, current_account

router = APIRouter(dependencies=[Depends(current_account)])

VAST_KEY_MISSING = "500: VAST_API_KEY not configured"


def _require_vast_key(request: Request) -> None:
    if core_of(request).unconfigured("server-provider-key"):
        raise ApiError(500, VAST_KEY_MISSING)


@router.get("/failover/readiness/{machine_id}")
async def readiness(machine_id: int, request: Request, account: str = Depends(current_account)):
    """Any id answers (the real server looks nothing up first); ready when the machine has a CPU
    standby association, whatever its state."""
    svc = core_of(request).standby
    p = svc.pairs.find(account, machine_id)
    return orchestration.readiness_view(machine_id, svc.association_view(p) if p is not None else None)


@router.get("/failover/strategies")
async def strategies():
    return orchestration.strategies_view()


@router.get("/failover/settings/global")
async def global_settings():
    return orchestration.global_settings_view()


@router.get("/warmpool/status/{machine_id}")
async def warm_pool_status(machine_id: int, request: Request):
    _require_vast_key(request)
    return orchestration.warm_pool_status_view(machine_id)


@router.get("/warmpool/hosts")
async def warm_pool_hosts(request: Request, gpu_name: Optional[str] = None, min_gpus: int = 2,
                          max_price: Optional[float] = None, verified: bool = True):
    """The provider's offers (one call with the server's key) grouped by machine. A failed call
    is no error on the real server: its host finder logs it and finds no host, at once (it
    does not retry, so the server does not stall)."""
    core = core_of(request)
    _require_vast_key(request)
    query = urlencode({"order": "dph_total", "type": "on-demand", "verified": str(verified).lower(),
                       "rentable": "true"})
    failure = core.provider.call("GET /warmpool/hosts", SERVER_IDENTITY, provider_url("bundles/", query),
                                 method=request.method, path=request.url.path)
    if failure is not None:
        request.scope[FAULT_SCOPE_KEY] = failure.source
        request.scope[PROVIDER_ERROR_SCOPE_KEY] = failure.kind
        return {"hosts": [], "count": 0}
    hidden = set(core.faults.hidden_offers())
    offers = [o for o in core.offers.offers if o["id"] not in hidden]
    hosts = orchestration.warm_pool_hosts(offers, gpu_name=gpu_name, min_gpus=min_gpus, max_price=max_price,
                                          verified=verified)
    return {"hosts": hosts, "count": len(hosts)}
