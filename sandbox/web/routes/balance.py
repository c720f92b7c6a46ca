"""GET /balance and GET /instances/balance (the provider's view of the same balance)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..context import core_of, current_account

router = APIRouter(dependencies=[Depends(current_account)])


@router.get("/balance")
async def balance(request: Request, account: str = Depends(current_account)):
    bal = round(core_of(request).accounts.balance(account), 6)
    return {"credit": bal, "balance": bal, "balance_threshold": 0.0, "email": account}


@router.get("/instances/balance")
async def provider_balance(request: Request, account: str = Depends(current_account)):
    bal = round(core_of(request).accounts.balance(account), 6)
    return {"credit": bal, "balance": 0.0, "email": account}
