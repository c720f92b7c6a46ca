"""The outermost ASGI callable handed to uvicorn: request faults, rate limiting, lost responses
and the request log (ground truth). Runs before FastAPI sees the request."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Dict, List, Optional

from .api import ACCOUNT_SCOPE_KEY
from .ratelimit import limited_response

log = logging.getLogger("sandbox.gateway")


def _header(scope: Dict[str, Any], name: bytes) -> Optional[str]:
    for k, v in scope.get("headers") or []:
        if k.lower() == name:
            return v.decode("latin-1")
    return None


async def _send_plain(send, status: int, headers: List[tuple], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _abort_connection(send) -> bool:
    """Drop the TCP connection under this request without a response (uvicorn internals:
    `send` is a bound method of the request cycle, which holds the transport)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.abort()
    return True


class Gateway:
    def __init__(self, app, core):
        self.app = app
        self.core = core

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        core = self.core
        t0 = time.time()
        method, path = scope["method"], scope["path"]
        is_api = path == "/api" or path.startswith("/api/")
        account = None
        fault_name = None
        status_box = {"status": None}

        if is_api:
            account = core.accounts.email_for_header(_header(scope, b"authorization"))
            if account:
                scope[ACCOUNT_SCOPE_KEY] = account
            fault = core.faults.take("http_error", method, path) or core.faults.take("rate_limit", method, path)
            if fault is not None:
                if fault.kind == "http_error":
                    st = int(fault.spec.get("status", 500))
                    msg = fault.spec.get("message") or _default_message(st)
                    body = json.dumps({"error": msg}, ensure_ascii=False).encode()
                    await _send_plain(send, st, [(b"content-type", b"application/json")], body)
                else:
                    st, hdrs, body = limited_response(fault.spec.get("form", "500"), 1.0)
                    await _send_plain(send, st, hdrs, body)
                self._log(t0, method, path, st, account, f"{fault.kind}:{fault.id}")
                return
            if core.ratelimit.enabled:
                client = scope.get("client") or ("?", 0)
                key = account or f"ip:{client[0]}"
                ok, retry = core.ratelimit.check(key)
                if not ok:
                    st, hdrs, body = limited_response(core.ratelimit.mode, retry)
                    await _send_plain(send, st, hdrs, body)
                    self._log(t0, method, path, st, account, "rate_limit")
                    return
            lost = core.faults.take("lost_response", method, path)
            if lost is not None:
                fault_name = f"lost_response:{lost.id}"

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            if fault_name is None:
                await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error on %s %s", method, path)
            if status_box["status"] is None and fault_name is None:
                body = json.dumps({"error": "Internal server error", "details": "unhandled"}).encode()
                status_box["status"] = 500
                await _send_plain(send, 500, [(b"content-type", b"application/json")], body)
        if fault_name is not None:
            if _abort_connection(send):
                await asyncio.sleep(0)
                await asyncio.sleep(0)
        account = scope.get(ACCOUNT_SCOPE_KEY, account)
        if not path.startswith("/_sandbox"):
            self._log(t0, method, path, status_box["status"], account, fault_name)

    def _log(self, t0: float, method: str, path: str, status: Optional[int], account: Optional[str],
             fault: Optional[str]) -> None:
        try:
            self.core.store.add_requests([(t0, method, path, status, time.time() - t0, account, fault)])
        except Exception:
            log.exception("request log failed")


def _default_message(status: int) -> str:
    return {
        400: "Bad request", 401: "Not authenticated", 402: "Insufficient balance", 403: "Forbidden",
        404: "Not Found", 409: "Conflict", 429: "Too many requests", 500: "Internal server error",
        502: "Bad gateway", 503: "Service unavailable: provider unreachable", 504: "Gateway timeout",
    }.get(status, f"HTTP {status}")
