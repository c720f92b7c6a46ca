"""GET /balance and GET /instances/balance (the provider's view of the same balance). When the
provider fails, the real server answers zeros (and the raw route the error text), not an error."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ...cloud.provider import provider_url
from ..context import core_of, current_account
from ..upstream import provider_call, require_provider_key

router = APIRouter(dependencies=[Depends(current_account)])


@router.get("/balance")
async def balance(request: Request, account: str = Depends(current_account)):
    require_provider_key(request, account)
    if await provider_call(request, "GET /balance", provider_url("users/current/")) is not None:
        return {"credit": 0.0, "balance": 0.0, "balance_threshold": 0.0, "email": account}   # [quirk]
    bal = round(core_of(request).accounts.balance(account), 6)
    return {"credit": bal, "balance": bal, "balance_threshold": 0.0, "email": account}


@router.get("/instances/balance")
async def provider_balance(request: Request, account: str = Depends(current_account)):
    require_provider_key(request, account)
    failure = await provider_call(request, "GET /instances/balance", provider_url("users/current/"))
    if failure is not None:
        return {"error": failure.text, "credit": 0}   # [quirk] 200 with the error inside
    bal = round(core_of(request).accounts.balance(account), 6)
    return {"credit": bal, "balance": 0.0, "email": account}
