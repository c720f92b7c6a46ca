"""The sandbox's shared state: one object holding every service, created once per process.

Extensions (sandbox/standby.py) receive this object in ``setup(core)`` and may register hook
objects with ``core.add_hooks(obj)``; any of these optional methods are then called:
    on_startup(), on_shutdown()                       (may be async)
    on_instance_created(res, body)                    after POST /instances created `res`
    on_instance_deleted(res, destroy_standby, reason) (async or not) -> optional message override
    on_status_change(res, frm, to, t)                 after every actual_status change
    decorate_instance(res, view)                      fill view["cpu_standby"], view["total_dph"]
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from pathlib import Path
from typing import Any, List, Optional

from . import reaper
from .cloud.accounts import Accounts
from .cloud.billing import Billing
from .clock import Clock, Timings
from .config import DEFAULT_ACCOUNT, Config
from .faults import Faults
from .cloud.instances import Instances
from .cloud.machines import PortAllocator, load_or_create_host_key
from .cloud.model_mirror import ModelMirror
from .cloud.offers import Offers
from .web.ratelimit import RateLimiter
from .cloud.snapshots import Snapshots
from .cloud.store import Store

log = logging.getLogger("sandbox")
VERSION = "3.0.0"
SANDBOX_VERSION = "1.0"


class Core:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.machines_dir = cfg.data_dir / "machines"
        self.machines_dir.mkdir(exist_ok=True)
        self.clock = Clock(cfg.time_scale)
        self.timings = Timings(cfg.timings, cfg.seed)
        self.store = Store(cfg.data_dir / "sandbox.db")
        self.billing = Billing(self.store, self.clock)
        self.accounts = Accounts(self.store, self.billing, self.clock, cfg.start_balance)
        self.faults = Faults(cfg.seed)
        self.ratelimit = RateLimiter(cfg.rate, cfg.burst, cfg.rate_limit_mode, cfg.time_scale)
        self.offers = Offers(cfg.offers_file)
        self.ports = PortAllocator(cfg.host)
        self.host_key = load_or_create_host_key(cfg.data_dir / "ssh_host_ed25519_key")
        self.models = ModelMirror(cfg.data_dir / "models", cfg.size_scale, cfg.seed, cfg.models)
        self.instances = Instances(self)
        self.snapshots = Snapshots(self)
        self.hooks: List[Any] = []
        self.url = f"http://{cfg.host}:{cfg.port}"
        self.started_at = time.time()

    @property
    def model_mirror_url(self) -> str:
        return f"{self.url}/_sandbox/models"

    # -- ground truth -------------------------------------------------------------------
    def event(self, kind: str, rid: Any, event: str, frm: Optional[str] = None, to: Optional[str] = None,
              detail: Any = None, t: Optional[float] = None) -> None:
        self.store.add_event(self.clock.now() if t is None else t, kind, rid, event, frm, to, detail)

    # -- extension hooks ----------------------------------------------------------------
    def add_hooks(self, obj: Any) -> None:
        self.hooks.append(obj)

    def call_hooks(self, name: str, *args: Any) -> List[Any]:
        """Call a sync hook on every registered object (coroutines are scheduled)."""
        results = []
        for h in self.hooks:
            fn = getattr(h, name, None)
            if fn is None:
                continue
            try:
                r = fn(*args)
                if inspect.isawaitable(r):
                    asyncio.ensure_future(r)
                else:
                    results.append(r)
            except Exception:
                log.exception("hook %s failed", name)
        return results

    async def acall_hooks(self, name: str, *args: Any) -> List[Any]:
        results = []
        for h in self.hooks:
            fn = getattr(h, name, None)
            if fn is None:
                continue
            r = fn(*args)
            if inspect.isawaitable(r):
                r = await r
            results.append(r)
        return results

    # -- lifecycle ----------------------------------------------------------------------
    async def startup(self) -> None:
        leftovers = reaper.reap(self.cfg.data_dir)
        if leftovers:
            log.warning("killed %d leftover process(es) of a previous run", leftovers)
        self.accounts.ensure(*DEFAULT_ACCOUNT)
        await asyncio.to_thread(self.models.ensure)
        if self.store.meta_get("first_started_at") is None:
            self.store.meta_set("first_started_at", repr(self.started_at))
        self.billing.rescale_open_intervals(self.clock.now())
        n = await self.instances.restore()
        if n:
            log.warning("restored %d live machine(s) from %s", n, self.cfg.data_dir)
        self.event("sandbox", None, "sandbox_started", None, None,
                   {"url": self.url, "time_scale": self.clock.scale, "restored": n})
        await self.acall_hooks("on_startup")

    async def shutdown(self) -> None:
        try:
            await self.acall_hooks("on_shutdown")
        except Exception:
            log.exception("extension shutdown failed")
        await self.instances.shutdown()
        self.event("sandbox", None, "sandbox_stopped")
        self.store.close()

    def info(self) -> dict:
        return {"time_scale": self.clock.scale, "size_scale": self.cfg.size_scale, "seed": self.cfg.seed,
                "rate_limit": self.ratelimit.describe(), "data_dir": str(Path(self.cfg.data_dir).resolve()),
                "version": SANDBOX_VERSION, "api_version": VERSION, "started_at": self.started_at,
                "url": self.url, "model_mirror": self.model_mirror_url, "timings": self.timings.describe(),
                "max_instances": self.cfg.max_instances}
