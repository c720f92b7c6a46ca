"""FastAPI application: routers, error shapes and the /health route.

Error bodies are always {"error": ...}; body validation is 422 {"error": "Validation error",
"details": [...]}; an unknown GET under /api/ without a trailing slash is redirected (307) to the
same path with "/" [quirk of the real server]; other unknown routes are 404 {"error": "Not Found"}.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, List

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import admin as admin_routes
from . import api as api_routes
from ..core import VERSION, Core
from ..cloud.errors import ApiError
from ..reaper import sandbox_id

log = logging.getLogger("sandbox.app")
API_PREFIXES = ("/api/v1", "/api")


def _details(errors: List[Any]) -> List[dict]:
    out = []
    for e in errors:
        item = {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        if "input" in e:
            try:
                import json
                json.dumps(e["input"])
                item["input"] = e["input"]
            except (TypeError, ValueError):
                item["input"] = repr(e["input"])
        out.append(item)
    return out


def load_extension(name: str):
    """Import sandbox.<name> if the module exists (None otherwise; its own errors propagate)."""
    try:
        return importlib.import_module(f"sandbox.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"sandbox.{name}":
            return None
        raise


def create_app(core: Core) -> FastAPI:
    app = FastAPI(title="Dumont Cloud API", version=VERSION, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    app.state.core = core

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return JSONResponse({"error": "Validation error", "details": _details(exc.errors())}, status_code=422)

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

    @app.get("/health")
    async def health():
        return {"status": "healthy", "version": VERSION, "service": "dumont-cloud",
                "sandbox": {"time_scale": core.clock.scale, "size_scale": core.cfg.size_scale,
                            "model_mirror": core.model_mirror_url,
                            # Which sandbox this is (stable for its data dir): ids restart at every new
                            # sandbox, so a client must not take another sandbox on the same port for it.
                            "id": sandbox_id(core.cfg.data_dir)}}

    # Extension hook: sandbox/standby.py (built separately) may define `router` (public,
    # bearer-protected routes such as /standby/* and /instances/{id}/failover), `admin_router`
    # (mounted under /_sandbox with the admin token) and `setup(core)` (register hooks).
    from . import standby

    for prefix in API_PREFIXES:
        app.include_router(api_routes.public, prefix=prefix)
        app.include_router(api_routes.router, prefix=prefix)
        if standby is not None and hasattr(standby, "router"):
            app.include_router(standby.router, prefix=prefix)
    app.include_router(admin_routes.models)
    app.include_router(admin_routes.admin)
    if standby is not None and hasattr(standby, "admin_router"):
        app.include_router(standby.admin_router, prefix="/_sandbox",
                           dependencies=[Depends(admin_routes.require_admin)])
    if standby is not None and hasattr(standby, "setup"):
        standby.setup(core)
    return app
