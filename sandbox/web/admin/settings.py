"""Changing the sandbox while it runs: accounts and balances, the rate limit."""
from __future__ import annotations

from fastapi import APIRouter, Request

from ...cloud.errors import ApiError
from ...config import RATE_LIMIT_MODES
from ..context import core_of, json_object

router = APIRouter()


@router.put("/accounts/{email}")
async def set_account(email: str, request: Request):
    core = core_of(request)
    body = await json_object(request)
    password, balance = body.get("password"), body.get("balance")
    if password is not None and (not isinstance(password, str) or not password):
        raise ApiError(400, "password must be a non-empty string")
    if balance is not None and (not isinstance(balance, (int, float)) or isinstance(balance, bool)):
        raise ApiError(400, "balance must be a number")
    email = email.strip().lower()
    created = core.accounts.set(email, password, balance)
    core.events.record("account", email, "account_set", None, None,
                       {"created": created, "balance": balance, "password_changed": password is not None})
    return {"success": True, "email": email, "created": created, "balance": core.accounts.balance(email)}


@router.put("/rate-limit")
async def set_rate_limit(request: Request):
    core = core_of(request)
    body = await json_object(request)
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
    core.events.record("sandbox", None, "rate_limit_set", None, None, core.ratelimit.describe())
    return {"success": True, "rate_limit": core.ratelimit.describe()}
