"""What the real server does around its calls to the provider and its other prerequisites, for
the routes: the settings it may lack (400/503 before anything else), and a provider call that
fails after the server's retries (during which its whole loop is blocked: a server stall).

Each route turns a failed call into its own answer (docs/dumont-api.md, "Verified"):
GET /instances/{id} -> 404, the list and DELETE -> 503 "Vast.ai API unreachable: ...",
create -> 500 "Failed to create instance: ...", /balance -> zeros, and so on.
"""
from __future__ import annotations

from typing import Any, Optional

from fastapi import Request

from ..cloud.errors import ApiError
from ..cloud.provider import SERVER_IDENTITY, ProviderFailure
from .context import ACCOUNT_SCOPE_KEY, FAULT_SCOPE_KEY, PROVIDER_ERROR_SCOPE_KEY, core_of

PROVIDER_KEY_MISSING = "Vast.ai API key not configured. Please update settings."
SERVER_KEY_MISSING = "Vast.ai API key not configured on server."
RESTIC_MISSING = "Restic repository not configured. Please update settings."
GCP_MISSING = ("GCP credentials not configured. Set GOOGLE_APPLICATION_CREDENTIALS or add gcp_credentials "
               "to settings.")


def require_provider_key(request: Request, account: str) -> None:
    """The routes that use the account's provider key (its own, else the server's)."""
    if core_of(request).unconfigured("provider-key", account):
        raise ApiError(400, PROVIDER_KEY_MISSING)


def require_server_key(request: Request) -> None:
    """The public offer search uses only the server's own provider key."""
    if core_of(request).unconfigured("server-provider-key"):
        raise ApiError(503, SERVER_KEY_MISSING)


def require_restic(request: Request, account: str) -> None:
    if core_of(request).unconfigured("restic", account):
        raise ApiError(400, RESTIC_MISSING)


def unreachable(failure: ProviderFailure) -> ApiError:
    """The real server's 503 for a provider call that raised (ServiceUnavailableException)."""
    return ApiError(503, f"Vast.ai API unreachable: {failure.text}", details={})


async def provider_call(request: Request, endpoint: str, url: str, identity: Optional[str] = None,
                        **attrs: Any) -> Optional[ProviderFailure]:
    """The route's call to the provider; None when it succeeds. A failure is marked for the
    request log and answered only after the server's retries, which stall the whole server."""
    core = core_of(request)
    who = identity or request.scope.get(ACCOUNT_SCOPE_KEY) or SERVER_IDENTITY
    failure = core.provider.call(endpoint, who, url, method=request.method, path=request.url.path, **attrs)
    if failure is None:
        return None
    request.scope[FAULT_SCOPE_KEY] = failure.source
    request.scope[PROVIDER_ERROR_SCOPE_KEY] = failure.kind
    stall = core.stall.hold(failure.nominal_delay, "provider_retries",
                            {"endpoint": endpoint, "error": failure.kind, "account": who, "source": failure.source})
    if stall is not None:
        await core.stall.finished(stall)     # queued behind a create's setup, it ends after that
    return failure
