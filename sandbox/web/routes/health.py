"""GET /health, with the sandbox extension the suite detects the sandbox by (not in the real
profile, which answers exactly as the real server does)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from ...core import VERSION
from ...reaper import sandbox_id
from ..context import core_of

router = APIRouter()


@router.get("/health")
async def health(request: Request):
    core = core_of(request)
    body = {"status": "healthy", "version": VERSION, "service": "dumont-cloud"}
    if core.real:
        return body
    body["sandbox"] = {"time_scale": core.clock.scale, "size_scale": core.cfg.size_scale,
                       "model_mirror": core.model_mirror_url,
                       # Which sandbox this is (stable for its data dir): ids restart at every new
                       # sandbox, so a client must not take another sandbox on the same port for it.
                       "id": sandbox_id(core.cfg.data_dir)}
    return body
