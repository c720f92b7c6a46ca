"""GET /instances/offers (public: no token; the server's own provider key), with the real
server's hidden defaults: min_disk 50, min_inet_down 100, min_cpu_cores 1, min_cpu_ram 1,
on-demand offers only unless machine_type (free text) says otherwise; num_gpus <= 8, limit <= 100."""
from __future__ import annotations

import json
from typing import Optional
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from ...cloud.provider import SERVER_IDENTITY, provider_url
from ...cloud.views import offer_view
from ..context import core_of
from ..upstream import provider_call, require_server_key, unreachable

router = APIRouter()


@router.get("/instances/offers")
async def search_offers(
        request: Request,
        gpu_name: Optional[str] = None,
        num_gpus: int = Query(1, ge=0, le=8),
        min_gpu_ram: float = 0,
        min_cpu_cores: int = 1,
        min_cpu_ram: float = 1,
        min_disk: float = 50,
        min_inet_down: float = 100,
        min_inet_up: float = 100,   # accepted; the real server never passes it on
        max_price: float = 10.0,
        min_reliability: float = Query(0.0, ge=0, le=1),
        region: Optional[str] = None,
        verified_only: bool = False,
        machine_type: Optional[str] = None,
        limit: int = Query(50, le=100)):
    core = core_of(request)
    require_server_key(request)
    query = urlencode({"q": json.dumps({"rentable": {"eq": True}, "num_gpus": {"eq": num_gpus}}),
                       "order": "dph_total", "type": machine_type or "on-demand", "limit": limit})
    failure = await provider_call(request, "GET /instances/offers", provider_url("bundles", query),
                                  identity=SERVER_IDENTITY)
    if failure is not None:
        raise unreachable(failure)
    offers = core.offers.search(
        gpu_name=gpu_name, num_gpus=num_gpus, min_gpu_ram=min_gpu_ram, min_cpu_cores=min_cpu_cores,
        min_cpu_ram=min_cpu_ram, min_disk=min_disk, min_inet_down=min_inet_down, max_price=max_price,
        min_reliability=min_reliability, region=region, verified_only=verified_only, machine_type=machine_type,
        limit=limit, hidden=core.faults.hidden_offers())
    views = [offer_view(o, ext=not core.real) for o in offers]
    return {"offers": views, "count": len(views)}
