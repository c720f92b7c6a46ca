"""What every route needs from a request: the Core, the account behind the bearer token, the
admin check, and a JSON object body read by hand (admin routes take free-form bodies)."""
from __future__ import annotations

import hmac
import json
from typing import Any, Dict, Optional

from fastapi import Request

from ..cloud.errors import ApiError
from ..core import Core

# The gateway resolves the account before FastAPI runs and leaves it here; login and register
# set it too, so the request log names the account.
ACCOUNT_SCOPE_KEY = "sandbox.account"
# A route tells the gateway's request log how the provider failed it, and which instance a
# create made (the gateway stalls the server after that answer).
FAULT_SCOPE_KEY = "sandbox.fault"
PROVIDER_ERROR_SCOPE_KEY = "sandbox.provider_error"
CREATED_SCOPE_KEY = "sandbox.created_instance"
ADMIN_HEADER = "X-Sandbox-Admin-Token"


def core_of(request: Request) -> Core:
    return request.app.state.core


def not_authenticated() -> ApiError:
    # No WWW-Authenticate header: the real server's error handler drops the one FastAPI sets.
    return ApiError(401, "Not authenticated")


def current_account(request: Request) -> str:
    """The account of the request's bearer token (a dependency of every authenticated route)."""
    email = request.scope.get(ACCOUNT_SCOPE_KEY)
    if email is None:
        email = core_of(request).accounts.email_for_header(request.headers.get("authorization"))
    if not email:
        raise not_authenticated()
    return email


def require_admin(request: Request) -> None:
    given = request.headers.get(ADMIN_HEADER, "")
    if not given or not hmac.compare_digest(given, core_of(request).cfg.admin_token or ""):
        raise ApiError(401, f"Admin token required ({ADMIN_HEADER} header)")


async def json_object(request: Request) -> Dict[str, Any]:
    """The body as a JSON object; an empty body is {}."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Malformed JSON: {exc}")
    if not isinstance(data, dict):
        raise ApiError(400, "Body must be a JSON object")
    return data


def query_bool(v: Optional[str]) -> Optional[bool]:
    if v is None or v == "":
        return None
    return v.lower() in ("1", "true", "yes", "on")
