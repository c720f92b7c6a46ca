"""The sandbox-only admin API under /_sandbox/ (header X-Sandbox-Admin-Token), plus the public
model mirror under /_sandbox/models."""
from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Any, Dict, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from ..config import RATE_LIMIT_MODES
from ..cloud.errors import ApiError
from ..faults import FaultError
from ..cloud.machines import map_path

ADMIN_HEADER = "X-Sandbox-Admin-Token"


def core_of(request: Request):
    return request.app.state.core


def require_admin(request: Request) -> None:
    given = request.headers.get(ADMIN_HEADER, "")
    if not given or not hmac.compare_digest(given, core_of(request).cfg.admin_token or ""):
        raise ApiError(401, f"Admin token required ({ADMIN_HEADER} header)")


admin = APIRouter(prefix="/_sandbox", dependencies=[Depends(require_admin)])
models = APIRouter(prefix="/_sandbox")


async def _json(request: Request) -> Dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        import json
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Malformed JSON: {exc}")
    if not isinstance(data, dict):
        raise ApiError(400, "Body must be a JSON object")
    return data


def _bool(v: Optional[str]) -> Optional[bool]:
    if v is None or v == "":
        return None
    return v.lower() in ("1", "true", "yes", "on")


@admin.get("/info")
async def info(request: Request):
    return core_of(request).info()


def resource_views(core, kind: Optional[str] = None, label_prefix: Optional[str] = None,
                   alive: Optional[bool] = None):
    out = []
    if kind in (None, "", "instance", "standby"):
        for r in core.store.resources(kind=kind or None, alive=alive):
            offer = r.get("offer") or {}
            out.append({
                "kind": r["kind"], "id": r["id"], "label": r["label"], "account": r["account"],
                "created_at": r["created_at"], "deleted_at": r["deleted_at"], "alive": r["deleted_at"] is None,
                "status": r["status"], "actual_status": r["actual_status"], "gpu_name": offer.get("gpu_name"),
                "offer_id": r["offer_id"], "dph_total": r["dph_total"], "storage_dph": r["storage_dph"],
                "tags": [], "gpu_instance_id": r["extra"].get("gpu_instance_id"), "ssh_port": r["ssh_port"],
                "disk_size": r["disk_size"],
            })
    if kind in (None, "", "snapshot"):
        for s in core.store.snapshots(alive=alive):
            out.append({
                "kind": "snapshot", "id": s["id"], "label": s["label"], "account": s["account"],
                "created_at": s["created_at"], "deleted_at": s["deleted_at"], "alive": s["deleted_at"] is None,
                "status": "ready" if s["deleted_at"] is None else "deleted",
                "actual_status": "ready" if s["deleted_at"] is None else "deleted",
                "gpu_name": None, "offer_id": None, "dph_total": 0.0, "storage_dph": 0.0, "tags": s["tags"],
                "instance_id": s["instance_id"], "bytes": s["bytes"], "archive_bytes": s["archive_bytes"],
                "nominal_bytes": int(s["bytes"] * core.cfg.size_scale), "duration_s": s["duration_s"],
                "source_path": s["source_path"],
            })
    if label_prefix:
        out = [r for r in out if (r["label"] or "").startswith(label_prefix)
               or any(str(t).startswith(label_prefix) for t in r.get("tags") or [])]
    return out


@admin.get("/resources")
async def resources(request: Request, kind: Optional[str] = None, label_prefix: Optional[str] = None,
                    alive: Optional[str] = None):
    return {"resources": resource_views(core_of(request), kind, label_prefix, _bool(alive))}


@admin.get("/events")
async def events(request: Request, resource_id: Optional[str] = None, kind: Optional[str] = None):
    return {"events": core_of(request).store.events(resource_id, kind)}


@admin.get("/requests")
async def requests_log(request: Request):
    return {"requests": core_of(request).store.requests()}


@admin.get("/billing")
async def billing(request: Request):
    core = core_of(request)
    now = core.clock.now()
    rows = []
    for r in core.store.resources():
        s = core.billing.resource_summary(r["id"], now)
        rows.append({"kind": r["kind"], "id": r["id"], "label": r["label"], "account": r["account"],
                     "alive": r["deleted_at"] is None, "dph_total": r["dph_total"], "storage_dph": r["storage_dph"],
                     **s})
    return {"accounts": core.accounts.summary(), "resources": rows,
            "total_cost": sum(r["cost"] for r in rows), "t": now}


@admin.post("/faults")
async def add_fault(request: Request):
    core = core_of(request)
    spec = await _json(request)
    try:
        fault = core.faults.add(spec)
    except FaultError as exc:
        raise ApiError(400, str(exc))
    await core.instances.apply_fault(fault)
    core.event("fault", fault.id, "fault_added", None, None, spec)
    return {"id": fault.id}


@admin.get("/faults")
async def list_faults(request: Request):
    return {"faults": core_of(request).faults.list()}


@admin.delete("/faults")
async def clear_faults(request: Request):
    n = core_of(request).faults.clear()
    core_of(request).event("fault", None, "faults_cleared", None, None, {"count": n})
    return {"success": True, "cleared": n}


def _live(core, instance_id: int):
    res = core.instances.live.get(instance_id)
    if res is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    return res


@admin.post("/instances/{instance_id}/kill")
async def kill_instance(instance_id: int, request: Request):
    core = core_of(request)
    res = _live(core, instance_id)
    async with res.lock:
        await core.instances.kill(res, "killed by admin")
    return {"success": True, "id": instance_id, "actual_status": res.actual_status}


@admin.post("/instances/{instance_id}/preempt")
async def preempt_instance(instance_id: int, request: Request):
    core = core_of(request)
    res = _live(core, instance_id)
    async with res.lock:
        await core.instances.preempt(res)
    return {"success": True, "id": instance_id, "actual_status": res.actual_status}


@admin.get("/machines/{machine_id}")
async def machine(machine_id: int, request: Request):
    """[ext] Internals of a live machine (instance or standby): workspace, SSH, timers."""
    core = core_of(request)
    res = _live(core, machine_id)
    return {"id": res.id, "kind": res.kind, "workspace": str(res.machine.workspace), "root": str(res.machine.root),
            "ssh_port": res.machine.port, "ssh_up": res.machine.ssh_up, "timers": res.extra.get("timers", {}),
            "status": res.status, "actual_status": res.actual_status}


@admin.post("/files/corrupt")
async def corrupt_file(request: Request):
    core = core_of(request)
    body = await _json(request)
    rel = body.get("path")
    if not rel or not isinstance(rel, str):
        raise ApiError(400, "path (relative to the workspace) is required")
    if body.get("instance_id") is not None:
        res = _live(core, int(body["instance_id"]))
    elif body.get("standby_of") is not None:
        gpu = int(body["standby_of"])
        res = next((r for r in core.instances.live.values()
                    if r.kind == "standby" and (r.extra.get("gpu_instance_id") == gpu
                                                or gpu in (r.extra.get("gpu_instance_ids") or []))), None)
        if res is None:
            raise ApiError(404, f"No live standby for GPU {gpu}")
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
    core.event(res.kind, res.id, "file_corrupted", None, None, {"path": rel, "bytes_flipped": len(positions)})
    return {"success": True, "machine_id": res.id, "path": rel, "bytes_flipped": len(positions)}


@admin.put("/accounts/{email}")
async def set_account(email: str, request: Request):
    core = core_of(request)
    body = await _json(request)
    password, balance = body.get("password"), body.get("balance")
    if password is not None and (not isinstance(password, str) or not password):
        raise ApiError(400, "password must be a non-empty string")
    if balance is not None and (not isinstance(balance, (int, float)) or isinstance(balance, bool)):
        raise ApiError(400, "balance must be a number")
    email = email.strip().lower()
    created = core.accounts.set(email, password, balance)
    core.event("account", email, "account_set", None, None,
               {"created": created, "balance": balance, "password_changed": password is not None})
    return {"success": True, "email": email, "created": created, "balance": core.accounts.balance(email)}


@admin.put("/rate-limit")
async def set_rate_limit(request: Request):
    core = core_of(request)
    body = await _json(request)
    kwargs = {}
    if "rate" in body:
        if body["rate"] is not None and (not isinstance(body["rate"], (int, float)) or body["rate"] < 0):
            raise ApiError(400, "rate must be a number >= 0 or null")
        kwargs["rate"] = body["rate"]
    if "burst" in body and body["burst"] is not None:
        if not isinstance(body["burst"], int) or body["burst"] < 1:
            raise ApiError(400, "burst must be an integer >= 1")
        kwargs["burst"] = body["burst"]
    if "mode" in body and body["mode"] is not None:
        if body["mode"] not in RATE_LIMIT_MODES:
            raise ApiError(400, f"mode must be one of {', '.join(RATE_LIMIT_MODES)}")
        kwargs["mode"] = body["mode"]
    core.ratelimit.configure(**kwargs)
    core.event("sandbox", None, "rate_limit_set", None, None, core.ratelimit.describe())
    return {"success": True, "rate_limit": core.ratelimit.describe()}


# -- public model mirror ----------------------------------------------------------------
@models.get("/models")
async def list_models(request: Request):
    return {"models": core_of(request).models.list()}


@models.get("/models/{name}/manifest.sha256")
async def manifest(name: str, request: Request):
    text = core_of(request).models.manifest(name)
    if text is None:
        raise ApiError(404, f"Model {name} not found")
    return PlainTextResponse(text)


@models.get("/models/{name}/{fname}")
async def model_file(name: str, fname: str, request: Request):
    core = core_of(request)
    path: Optional[Path] = core.models.file(name, fname)
    if path is None:
        raise ApiError(404, f"File {name}/{fname} not found")
    nominal_bps = core.timings.value("model_mb_per_s") * 1e6
    real_bps = nominal_bps * core.clock.scale / core.cfg.size_scale
    size = os.path.getsize(path)
    return StreamingResponse(core.models.stream(path, real_bps), media_type="application/octet-stream",
                             headers={"Content-Length": str(size)})
