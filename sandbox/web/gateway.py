"""The outermost ASGI callable handed to uvicorn. Before FastAPI sees an /api request it
answers request faults (http_error, rate_limit storms) and rate limiting itself, and arms a
lost_response fault; it logs every request (ground truth) but those under /_sandbox."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Dict, List, Optional, Protocol

from ..cloud.accounts import Accounts
from ..cloud.records import RequestRecord
from ..faults import Fault, Faults
from .context import ACCOUNT_SCOPE_KEY
from .errors import default_message, error_body
from .ratelimit import Answer, limited_response

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


class Gateway:
    def __init__(self, app, *, accounts: Accounts, faults: Faults, limiter: Limiter,
                 request_log: Callable[[RequestRecord], None]):
        self.app = app
        self.accounts = accounts
        self.faults = faults
        self.limiter = limiter
        self.request_log = request_log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.time()
        method, path = scope["method"], scope["path"]
        account = None
        lost: Optional[Fault] = None
        if path == "/api" or path.startswith("/api/"):
            account = self.accounts.email_for_header(_header(scope, b"authorization"))
            if account:
                scope[ACCOUNT_SCOPE_KEY] = account
            fault = self.faults.take("http_error", method, path) or self.faults.take("rate_limit", method, path)
            if fault is not None:
                answer = fault_answer(fault)
                await _send(send, answer)
                self._log(t0, method, path, answer.status, account, f"{fault.kind}:{fault.id}")
                return
            if self.limiter.enabled:
                client = scope.get("client") or ("?", 0)
                answer = self.limiter.admit(account or f"ip:{client[0]}")
                if answer is not None:
                    await _send(send, answer)
                    self._log(t0, method, path, answer.status, account, "rate_limit")
                    return
            lost = self.faults.take("lost_response", method, path)
        status = await self._run_app(scope, receive, send, swallow=lost is not None)
        if lost is not None and _abort_connection(send):
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        if not path.startswith("/_sandbox"):
            self._log(t0, method, path, status, scope.get(ACCOUNT_SCOPE_KEY, account),
                      f"lost_response:{lost.id}" if lost is not None else None)

    async def _run_app(self, scope, receive, send, swallow: bool) -> Optional[int]:
        """Run the app; returns the status it answered. With `swallow` (a lost response) the
        handler runs but nothing it sends reaches the client."""
        status: List[Optional[int]] = [None]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
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
             fault: Optional[str]) -> None:
        try:
            self.request_log(RequestRecord(t=t0, method=method, path=path, status=status,
                                           duration_s=time.time() - t0, account=account, fault=fault))
        except Exception:
            log.exception("request log failed")
