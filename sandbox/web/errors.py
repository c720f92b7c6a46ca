"""The real server's error shapes: every error body is {"error": ...}; body validation is 422
{"error": "Validation error", "details": [...]}; an unknown GET under /api/ without a trailing
slash is redirected (307) to the same path with "/" [quirk]; other unknown routes are 404
{"error": "Not Found"} and a wrong method 405 {"error": "Method Not Allowed"}."""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, List

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..cloud.errors import ApiError

log = logging.getLogger("sandbox.web")

DEFAULT_MESSAGES = {
    400: "Bad request", 401: "Not authenticated", 402: "Insufficient balance", 403: "Forbidden",
    404: "Not Found", 409: "Conflict", 429: "Too many requests", 500: "Internal server error",
    502: "Bad gateway", 503: "Service unavailable: provider unreachable", 504: "Gateway timeout",
}


def default_message(status: int) -> str:
    """The message of an error answered with no message of its own (an http_error fault)."""
    return DEFAULT_MESSAGES.get(status, f"HTTP {status}")


def error_body(message: str, **extra: Any) -> bytes:
    return json.dumps({"error": message, **extra}, ensure_ascii=False).encode()


def validation_details(errors: List[Any]) -> List[Dict[str, Any]]:
    out = []
    for e in errors:
        item = {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        if "input" in e:
            try:
                json.dumps(e["input"])
                item["input"] = e["input"]
            except (TypeError, ValueError):
                item["input"] = repr(e["input"])
        out.append(item)
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return JSONResponse({"error": "Validation error", "details": validation_details(exc.errors())},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        path = request.url.path
        if (exc.status_code == 404 and request.method == "GET" and path.startswith("/api/")
                and not path.endswith("/")):
            url = request.url.replace(path=path + "/")
            return RedirectResponse(str(url), status_code=307)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "Internal server error", "details": str(exc)}, status_code=500)
