"""Changing the sandbox while it runs: accounts (balance, registered SSH keys, provider key),
Dumont's own rate limit (not real), and the settings of PUT /_sandbox/settings (the provider's
limiter, the retry delay, the create stall, the missing settings, registration)."""
from __future__ import annotations

from typing import Any, Dict, List

import asyncssh
from fastapi import APIRouter, Request

from ...cloud.errors import ApiError
from ...config import (
    RATE_LIMIT_MODES,
    REGISTER_MODES,
    parse_create_stall,
    parse_provider_rate_limit,
    parse_unconfigured,
)
from ..context import core_of, json_object

router = APIRouter()


def _ssh_keys(value: Any) -> List[str]:
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ApiError(400, "ssh_keys must be a list of OpenSSH public keys")
    keys = []
    for key in value:
        try:
            if "\n" in key.strip():
                raise ValueError("one key per entry")
            asyncssh.import_public_key(key.strip())
        except Exception as exc:
            raise ApiError(400, f"not an OpenSSH public key: {key[:40]!r} ({exc})")
        keys.append(key.strip())
    return keys


def _account_view(core, email: str) -> Dict[str, Any]:
    return {"email": email, "balance": core.accounts.balance(email), "ssh_keys": core.accounts.ssh_keys(email),
            "provider_key": core.accounts.provider_key(email)}


@router.put("/accounts/{email}")
async def set_account(email: str, request: Request):
    core = core_of(request)
    body = await json_object(request)
    password, balance = body.get("password"), body.get("balance")
    if password is not None and (not isinstance(password, str) or not password):
        raise ApiError(400, "password must be a non-empty string")
    if balance is not None and (not isinstance(balance, (int, float)) or isinstance(balance, bool)):
        raise ApiError(400, "balance must be a number")
    keys = _ssh_keys(body["ssh_keys"]) if body.get("ssh_keys") is not None else None
    provider_key: Any = ...
    if "provider_key" in body:
        provider_key = body["provider_key"]
        if provider_key is not None and (not isinstance(provider_key, str) or not provider_key.strip()):
            raise ApiError(400, "provider_key must be a non-empty string or null")
        owner = core.accounts.email_for_provider_key(provider_key)
        if provider_key is not None and owner not in (None, email.strip().lower()):
            raise ApiError(400, "that provider key belongs to another account")
    email = email.strip().lower()
    created = core.accounts.set(email, password, balance, ssh_keys=keys, provider_key=provider_key)
    core.events.record("account", email, "account_set", None, None,
                       {"created": created, "balance": balance, "password_changed": password is not None,
                        "ssh_keys": None if keys is None else len(keys),
                        "provider_key_set": None if provider_key is ... else provider_key is not None})
    return {"success": True, "created": created, **_account_view(core, email)}


@router.get("/accounts/{email}")
async def get_account(email: str, request: Request):
    core = core_of(request)
    email = email.strip().lower()
    if not core.accounts.exists(email):
        raise ApiError(404, f"Account {email} not found")
    return _account_view(core, email)


@router.post("/accounts/{email}/ssh-keys")
async def add_ssh_key(email: str, request: Request):
    """Register one more SSH public key on the account (as on the provider's account page):
    instances created from now on authorise it."""
    core = core_of(request)
    email = email.strip().lower()
    if not core.accounts.exists(email):
        raise ApiError(404, f"Account {email} not found")
    body = await json_object(request)
    key = _ssh_keys([body.get("key")] if isinstance(body.get("key"), str) else None)[0]
    keys = core.accounts.add_ssh_key(email, key)
    core.events.record("account", email, "ssh_key_added", None, None, {"ssh_keys": len(keys)})
    return _account_view(core, email)


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


def _seconds(body: Dict[str, Any], name: str) -> float:
    v = body[name]
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
        raise ApiError(400, f"{name} must be a number of nominal seconds >= 0")
    return float(v)


@router.put("/settings")
async def set_settings(request: Request):
    """Any of: provider_rate_limit ("INTERVAL/BURST" or "off"), provider_retry_delay,
    create_stall ("ssh" or nominal seconds), unconfigured (list or comma list), register ("500"|"ok")."""
    core = core_of(request)
    body = await json_object(request)
    unknown = set(body) - {"provider_rate_limit", "provider_retry_delay", "create_stall", "unconfigured", "register"}
    if unknown:
        raise ApiError(400, f"unknown setting(s): {', '.join(sorted(unknown))}")
    if "provider_rate_limit" in body:
        try:
            interval, burst = parse_provider_rate_limit(str(body["provider_rate_limit"]))
        except ValueError as exc:
            raise ApiError(400, f"provider_rate_limit: {exc}")
        core.provider.limiter.configure(interval, burst if burst is not None else ...)
    if "provider_retry_delay" in body:
        core.provider.retry_delay = _seconds(body, "provider_retry_delay")
    if "create_stall" in body:
        try:
            core.cfg.create_stall = parse_create_stall(body["create_stall"])
        except ValueError as exc:
            raise ApiError(400, f"create_stall: {exc}")
    if "unconfigured" in body:
        raw = body["unconfigured"]
        try:
            core.cfg.unconfigured = parse_unconfigured(",".join(raw) if isinstance(raw, list) else str(raw or ""))
        except ValueError as exc:
            raise ApiError(400, f"unconfigured: {exc}")
    if "register" in body:
        if body["register"] not in REGISTER_MODES:
            raise ApiError(400, f"register must be one of {', '.join(REGISTER_MODES)}")
        core.cfg.register = body["register"]
    core.events.record("sandbox", None, "settings_set", None, None, core.settings())
    return {"success": True, **core.settings()}
