"""GET /instances/offers (public: no token needed)."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Query, Request

from ..context import core_of

router = APIRouter()


@router.get("/instances/offers")
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
