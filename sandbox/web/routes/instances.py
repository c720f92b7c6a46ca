"""/instances: list, create, get, delete, pause, resume, with the real server's answers when the
provider fails (web/upstream.py) and its create quirks: the pre-validation looks at the balance
only, the provider refuses a bad offer (500), a create's own ssh_key is not what the real server
authorises (the account's registered keys are)."""
from __future__ import annotations

from typing import Any, List, Optional

import asyncssh
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ...cloud.errors import ApiError
from ...cloud.lifecycle import DEFAULT_IMAGE
from ...cloud.provider import ProviderFailure, provider_url
from ...cloud.resource import Resource
from ..context import CREATED_SCOPE_KEY, core_of, current_account
from ..upstream import provider_call, require_provider_key, unreachable

router = APIRouter(dependencies=[Depends(current_account)])


class CreateInstanceBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)   # unknown fields are ignored
    offer_id: int
    image: str = DEFAULT_IMAGE
    disk_size: float = Field(100, ge=10)
    label: Optional[str] = None
    ports: Optional[List[int]] = None
    onstart_cmd: Optional[str] = None
    skip_standby: bool = Field(False, alias="skip-standby")
    skip_validation: bool = False
    ssh_key: Any = None   # [ext] never a reason to refuse: a malformed key is ignored


def usable_key(value: Any) -> Optional[str]:
    """The create's ssh_key when it is one OpenSSH public key, else None."""
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
        return None
    try:
        asyncssh.import_public_key(value.strip())
    except Exception:
        return None
    return value.strip()


def success(message: str):
    return {"success": True, "message": message}


def instance_of(request: Request, instance_id: int, account: str) -> Resource:
    """The account's live instance, or 404 as the real server answers GET, pause and resume."""
    res = core_of(request).instances.get(instance_id, account)
    if res is None:
        raise ApiError(404, f"Instance {instance_id} not found")
    return res


async def get_from_provider(request: Request, instance_id: int, account: str) -> Resource:
    """The real server's get_instance: any provider failure reads as "not found" (404)."""
    failure = await provider_call(request, "GET /instances/{id}", provider_url(f"instances/{instance_id}/"),
                                  instance_id=instance_id)
    if failure is not None:
        raise ApiError(404, f"Instance {instance_id} not found")
    return instance_of(request, instance_id, account)


@router.get("/instances")
async def list_instances(request: Request, status: Optional[str] = None,
                         account: str = Depends(current_account)):
    core = core_of(request)
    require_provider_key(request, account)
    failure = await provider_call(request, "GET /instances", provider_url("instances/", "owner=me"))
    if failure is not None:
        raise unreachable(failure)
    instances = core.instances
    views = [instances.view(r, "list", ext=not core.real)
             for r in sorted(instances.of_account(account), key=lambda r: r.id)]
    if status:
        s = status.lower()
        views = [v for v in views if v["status"] == s or v["actual_status"] == s]
    return {"instances": views, "count": len(views)}


def create_failure(failure: ProviderFailure, skip_validation: bool, balance: float) -> ApiError:
    """How a create answers when its provider calls fail (the real server's exception paths)."""
    if failure.kind == "down":
        if not skip_validation:   # the pre-validation's balance call fails first
            return ApiError(503, "Não foi possível conectar à API VAST.ai")
        return ApiError(500, "Failed to create instance: Não foi possível conectar à API VAST.ai. "
                             "Verifique sua conexão com a internet.")
    if failure.kind == "timeout":
        return ApiError(500, "Failed to create instance: Timeout ao conectar com VAST.ai. "
                             "A API pode estar lenta ou indisponível.")
    causes = [f"• Saldo disponível: ${balance:.2f}"] if balance >= 1 else [f"• ⚠️ Saldo baixo: ${balance:.2f}"]
    return ApiError(500, "Failed to create instance: Falha ao criar instância na VAST.ai.\n\n"
                         "Possíveis causas:\n" + "\n".join(causes))


@router.post("/instances", status_code=201)
async def create_instance(body: CreateInstanceBody, request: Request, account: str = Depends(current_account)):
    core = core_of(request)
    require_provider_key(request, account)
    live = len(core.instances.of_account(account))
    if live >= core.cfg.max_instances:
        raise ApiError(429, f"Team quota exceeded: {live} live instances (limit {core.cfg.max_instances})")
    failure = await provider_call(request, "POST /instances", provider_url(f"asks/{body.offer_id}/"),
                                  offer_id=body.offer_id)
    bal = core.accounts.balance(account)
    if failure is not None:
        raise create_failure(failure, body.skip_validation, bal)
    offer = core.offers.get(body.offer_id)
    need = offer["dph_total"] if offer is not None else 0.0
    if bal < need:
        message = (f"Insufficient balance: ${bal:.2f} available, at least ${need:.2f} "
                   f"(one hour of offer {body.offer_id}) required")
        if body.skip_validation:   # the provider refuses instead of the pre-validation
            raise ApiError(500, f"Failed to create instance: {message}")
        raise ApiError(402, message)
    # The pre-validation never looks at the offer: the provider refuses it, and the real server
    # answers that refusal with a 500 (its OfferUnavailable/InvalidOffer exceptions).
    vanished = core.faults.vanished(body.offer_id)
    if vanished is not None and vanished.spec.get("reason") == "rented":
        raise ApiError(500, f"Oferta {body.offer_id} indisponível: A máquina já foi alugada por outro usuário")
    if offer is None or vanished is not None:
        raise ApiError(500, f"Parâmetros da oferta inválidos: invalid_args: offer {body.offer_id} "
                            "does not exist or is no longer available")
    if body.disk_size > offer["disk_space"]:
        raise ApiError(500, f"Parâmetros da oferta inválidos: invalid_args: disk {body.disk_size:g} GB exceeds "
                            f"the {offer['disk_space']:g} GB of offer {offer['id']}")
    given = usable_key(body.ssh_key)
    keys = core.accounts.ssh_keys(account)
    if given is not None and not core.real:   # [ext] the real server ignores it
        keys = keys + [given]
    note = ("none" if body.ssh_key is None else "ignored (real profile)" if core.real and given
            else "authorised" if given else "ignored (not an OpenSSH public key)")
    res = core.instances.launch(account, offer, label=body.label, authorized_keys=keys, disk_size=body.disk_size,
                                image=body.image, ports=body.ports or [], onstart_cmd=body.onstart_cmd,
                                skip_standby=body.skip_standby, detail={"ssh_key": note})
    request.scope[CREATED_SCOPE_KEY] = res.id
    return JSONResponse(core.instances.view(res, "create", ext=not core.real), status_code=201)


@router.get("/instances/{instance_id}")
async def get_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    core = core_of(request)
    require_provider_key(request, account)
    res = await get_from_provider(request, instance_id, account)
    return core.instances.view(res, "get", ext=not core.real)


@router.delete("/instances/{instance_id}")
async def delete_instance(instance_id: int, request: Request, destroy_standby: bool = True,
                          reason: str = "user_request", account: str = Depends(current_account)):
    core = core_of(request)
    require_provider_key(request, account)
    failure = await provider_call(request, "DELETE /instances/{id}", provider_url(f"instances/{instance_id}/"),
                                  instance_id=instance_id)
    if failure is not None:
        raise unreachable(failure)
    res = core.instances.get(instance_id, account)
    if res is None:
        raise ApiError(500, f"Failed to destroy instance {instance_id}")   # [quirk] not 404
    async with res.lock:
        if res.id not in core.lifecycle.live:
            raise ApiError(500, f"Failed to destroy instance {instance_id}")
        message = await core.instances.delete(res, destroy_standby=destroy_standby, reason=reason)
    return success(message)


@router.post("/instances/{instance_id}/pause")
async def pause_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    require_provider_key(request, account)
    res = await get_from_provider(request, instance_id, account)
    async with res.lock:
        await core_of(request).lifecycle.pause(res)
    return success(f"Instance {instance_id} paused successfully")


@router.post("/instances/{instance_id}/resume")
async def resume_instance(instance_id: int, request: Request, account: str = Depends(current_account)):
    require_provider_key(request, account)
    res = await get_from_provider(request, instance_id, account)
    async with res.lock:
        await core_of(request).lifecycle.resume(res)
    return success(f"Instance {instance_id} resumed successfully")
