"""[ext] The provider's own API, as much of it as a client needs to see what it really rents:
GET /_provider/api/v0/instances/ with `Authorization: Bearer <provider key>` (or ?api_key=)
lists the live instances of the account that key belongs to, in the provider's shape.

It is the provider, not the Dumont server: a server stall never holds it, Dumont's own rate
limit never applies, its own limiter does (429 plain text, no Retry-After), and only faults that
name a /_provider path hit it (http_error with a status, connection_drop for unreachable)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from ..cloud.resource import Resource
from .context import ACCOUNT_SCOPE_KEY, FAULT_SCOPE_KEY, PROVIDER_ERROR_SCOPE_KEY, core_of

router = APIRouter()
MB_PER_GB = 1024


def _key(request: Request) -> Optional[str]:
    header = request.headers.get("authorization") or ""
    parts = header.split(None, 1)
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return parts[1].strip()
    return request.query_params.get("api_key")


def provider_instance_view(res: Resource, host: str) -> Dict[str, Any]:
    rec, offer = res.record, res.record.offer or {}
    return {"id": rec.id, "label": rec.label, "actual_status": rec.actual_status, "intended_status": rec.status,
            "cur_state": "running" if rec.actual_status in ("loading", "running") else "stopped",
            "next_state": rec.status, "gpu_name": offer.get("gpu_name"), "num_gpus": offer.get("num_gpus"),
            "gpu_ram": float(offer.get("gpu_ram") or 0) * MB_PER_GB, "cpu_cores": offer.get("cpu_cores"),
            "cpu_ram": float(offer.get("cpu_ram") or 0) * MB_PER_GB, "disk_space": rec.disk_size,
            "dph_total": rec.dph_total, "public_ipaddr": host, "ssh_host": host, "ssh_port": res.machine.port,
            "start_date": rec.created_at, "machine_id": offer.get("machine_id"), "image_uuid": rec.image}


@router.get("/api/v0/instances/")
async def list_instances(request: Request):
    core = core_of(request)
    email = core.accounts.email_for_provider_key(_key(request))
    if email is None:
        return JSONResponse({"success": False, "error": "invalid_user_key", "msg": "Invalid user key"},
                            status_code=401)
    request.scope[ACCOUNT_SCOPE_KEY] = email
    if not core.provider.limiter.admit("GET /api/v0/instances/", email):
        request.scope[FAULT_SCOPE_KEY] = "provider_rate_limit"
        request.scope[PROVIDER_ERROR_SCOPE_KEY] = "rate_limit"
        return PlainTextResponse("API requests too frequent", status_code=429)
    live = sorted(core.instances.of_account(email), key=lambda r: r.id)
    return {"instances": [provider_instance_view(r, core.cfg.host) for r in live]}
