"""The local model mirror under /_sandbox/models: public, no admin token (machines download
from it with $DUMONT_MODEL_MIRROR)."""
from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from ...cloud.errors import ApiError
from ...cloud.model_mirror import model_view
from ..context import core_of

router = APIRouter()


@router.get("/models")
async def list_models(request: Request):
    return {"models": [model_view(m) for m in core_of(request).models.list()]}


@router.get("/models/{name}/manifest.sha256")
async def manifest(name: str, request: Request):
    text = core_of(request).models.manifest(name)
    if text is None:
        raise ApiError(404, f"Model {name} not found")
    return PlainTextResponse(text)


@router.get("/models/{name}/{fname}")
async def model_file(name: str, fname: str, request: Request):
    core = core_of(request)
    path = core.models.file(name, fname)
    if path is None:
        raise ApiError(404, f"File {name}/{fname} not found")
    nominal_bps = core.timings.value("model_mb_per_s") * 1e6
    real_bps = nominal_bps * core.clock.scale / core.cfg.size_scale
    size = os.path.getsize(path)
    return StreamingResponse(core.models.stream(path, real_bps), media_type="application/octet-stream",
                             headers={"Content-Length": str(size)})
