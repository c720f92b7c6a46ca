"""The outermost ASGI callable handed to uvicorn.

- A server stall (stall.py) holds every request to the real server's routes before it is
  handled and every answer before it is sent; after a create's 201 the gateway tells
  `after_create`, which starts the one of the server's machine setup.
- Before FastAPI sees an /api request it answers request faults (http_error, rate_limit
  storms, connection_drop) and Dumont's own rate limiting (not real, off by default), and arms
  a lost_response fault. Requests to the provider's API (/_provider) only meet the faults that
  name that path.
- It logs every request (ground truth) but those under /_sandbox, with how the provider failed
  the server's call (routes leave it in the scope) and how long a stall held it."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Dict, List, Optional, Protocol

from ..cloud.accounts import Accounts
from ..cloud.records import RequestRecord
from ..faults import Fault, Faults
from .context import ACCOUNT_SCOPE_KEY, CREATED_SCOPE_KEY, FAULT_SCOPE_KEY, PROVIDER_ERROR_SCOPE_KEY
from .errors import default_message, error_body
from .ratelimit import Answer, limited_response
from .stall import ServerStall, gated

log = logging.getLogger("sandbox.gateway")
JSON = [(b"content-type", b"application/json")]


class Limiter(Protocol):
    """Rate limiting as the gateway uses it (ratelimit.RateLimiter is one)."""

    @property
    def enabled(self) -> bool: ...

    def admit(self, key: str) -> Optional[Answer]:
        """None to let the request through, else the answer to send instead."""


def _header(scope: Dict[str, Any], name: bytes) -> Optional[str]:
    for k, v in scope.get("headers") or []:
        if k.lower() == name:
            return v.decode("latin-1")
    return None


async def _send(send, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": answer.status,
                "headers": answer.headers + [(b"content-length", str(len(answer.body)).encode())]})
    await send({"type": "http.response.body", "body": answer.body})


def _abort_connection(send) -> bool:
    """Drop the TCP connection under this request without a response (uvicorn internals:
    `send` is a bound method of the request cycle, which holds the transport)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.abort()
    return True


def fault_answer(fault: Fault) -> Answer:
    """What an http_error or rate_limit fault answers instead of the app."""
    if fault.kind == "http_error":
        status = int(fault.spec.get("status", 500))
        return Answer(status, list(JSON), error_body(fault.spec.get("message") or default_message(status)))
    return limited_response(fault.spec.get("form", "500"), 1.0)


def _is_create(method: str, path: str) -> bool:
    return method == "POST" and path.rstrip("/") in ("/api/v1/instances", "/api/instances")


class Gateway:
    def __init__(self, app, *, accounts: Accounts, faults: Faults, limiter: Limiter,
                 request_log: Callable[[RequestRecord], None], stall: ServerStall,
                 after_create: Callable[[Optional[int]], None]):
        self.app = app
        self.accounts = accounts
        self.faults = faults
        self.limiter = limiter
        self.request_log = request_log
        self.stall = stall
        self.after_create = after_create     # starts the stall of the server's setup of a new machine

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.time()
        method, path = scope["method"], scope["path"]
        held = gated(path)
        stalled = [await self.stall.wait() if held else 0.0]
        account = None
        lost: Optional[Fault] = None
        api = path == "/api" or path.startswith("/api/")
        if api or path.startswith("/_provider"):
            if api:
                account = self.accounts.email_for_header(_header(scope, b"authorization"))
                if account:
                    scope[ACCOUNT_SCOPE_KEY] = account
            fault = self.faults.take("http_error", method, path) or self.faults.take("rate_limit", method, path)
            if fault is not None:
                answer = fault_answer(fault)
                await _send(send, answer)
                self._log(t0, method, path, answer.status, account, f"{fault.kind}:{fault.id}", stalled[0])
                return
            drop = self.faults.take("connection_drop", method, path)
            if drop is not None and _abort_connection(send):
                await asyncio.sleep(0)
                self._log(t0, method, path, None, account, f"connection_drop:{drop.id}", stalled[0])
                return
        if api:
            if self.limiter.enabled:
                client = scope.get("client") or ("?", 0)
                answer = self.limiter.admit(account or f"ip:{client[0]}")
                if answer is not None:
                    await _send(send, answer)
                    self._log(t0, method, path, answer.status, account, "rate_limit", stalled[0])
                    return
            lost = self.faults.take("lost_response", method, path)
        status = await self._run_app(scope, receive, send, swallow=lost is not None, stalled=stalled if held else None)
        if lost is not None and _abort_connection(send):
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        if status == 201 and _is_create(method, path):
            # The real server's machine setup runs after the answer and blocks its whole loop.
            try:
                self.after_create(scope.get(CREATED_SCOPE_KEY))
            except Exception:
                log.exception("the stall after create failed to start")
        if not path.startswith("/_sandbox"):
            fault = f"lost_response:{lost.id}" if lost is not None else scope.get(FAULT_SCOPE_KEY)
            self._log(t0, method, path, status, scope.get(ACCOUNT_SCOPE_KEY, account), fault, stalled[0],
                      scope.get(PROVIDER_ERROR_SCOPE_KEY))

    async def _run_app(self, scope, receive, send, swallow: bool,
                       stalled: Optional[List[float]] = None) -> Optional[int]:
        """Run the app; returns the status it answered. With `swallow` (a lost response) the
        handler runs but nothing it sends reaches the client. With `stalled` the answer waits
        for any server stall before it is sent (the wait is added to stalled[0])."""
        status: List[Optional[int]] = [None]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if stalled is not None:
                    stalled[0] += await self.stall.wait()
            if not swallow:
                await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status[0] is None and not swallow:
                status[0] = 500
                await _send(send, Answer(500, list(JSON), error_body("Internal server error", details="unhandled")))
        return status[0]

    def _log(self, t0: float, method: str, path: str, status: Optional[int], account: Optional[str],
             fault: Optional[str], stalled_s: float = 0.0, provider_error: Optional[str] = None) -> None:
        try:
            self.request_log(RequestRecord(t=t0, method=method, path=path, status=status,
                                           duration_s=time.time() - t0, account=account, fault=fault,
                                           provider_error=provider_error, stalled_s=stalled_s))
        except Exception:
            log.exception("request log failed")
