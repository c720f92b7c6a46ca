"""The FastAPI application: the error shapes, and every router in the order it is matched."""
from __future__ import annotations

from fastapi import Depends, FastAPI

from ..core import VERSION, Core
from . import provider_api
from .admin import faults, ground_truth, machines, model_mirror, settings
from .context import require_admin
from .errors import install_error_handlers
from .routes import auth, balance, failover, health, instances, offers, snapshots, standby

API_PREFIXES = ("/api/v1", "/api")
# Order matters where paths overlap: /instances/offers and /instances/balance come before
# /instances/{instance_id}.
API_ROUTERS = (auth.router, offers.router, balance.router, instances.router, snapshots.router,
               standby.router, failover.router)
ADMIN_ROUTERS = (ground_truth.router, faults.router, machines.router, settings.router, standby.admin_router)


def create_app(core: Core) -> FastAPI:
    app = FastAPI(title="Dumont Cloud API", version=VERSION, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    app.state.core = core
    install_error_handlers(app)
    app.include_router(health.router)
    for prefix in API_PREFIXES:
        for router in API_ROUTERS:
            app.include_router(router, prefix=prefix)
    app.include_router(provider_api.router, prefix="/_provider")
    app.include_router(model_mirror.router, prefix="/_sandbox")
    for router in ADMIN_ROUTERS:
        app.include_router(router, prefix="/_sandbox", dependencies=[Depends(require_admin)])
    warm(app)
    return app


def warm(app: FastAPI) -> None:
    """Prepare every included route now, not on the first request matched against it.

    FastAPI (the pinned 0.16x) prepares an included router's routes lazily, the first time a request
    is matched against them: the first requests of a run then held the loop for tens of milliseconds
    (one to the model mirror, behind every API route, 40 ms), and with it every machine's SSH: at ×60,
    seconds of a machine's time the suite was charged for. Versions that prepare routes eagerly have
    nothing to walk here.
    """
    pending = list(app.router.routes)
    while pending:
        route = pending.pop()
        for prepare in ("effective_candidates", "effective_low_priority_routes"):
            method = getattr(route, prepare, None)
            if callable(method):
                pending.extend(method())
