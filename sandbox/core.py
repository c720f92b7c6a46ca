"""The sandbox's services, built once per process and wired together here.

The HTTP layer reaches every service through this object. The CPU standby is one of them: the
cloud calls it directly, through the listener protocols of cloud/listener.py, when a machine
changes status and when a customer's instance is created, deleted or shown.
"""
from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

from . import reaper
from .clock import Clock, Timings
from .cloud.accounts import Accounts
from .cloud.backups import Backups
from .cloud.billing import Billing
from .cloud.events import EventLog
from .cloud.gpu_standin import GpuStandins
from .cloud.instances import Instances
from .cloud.lifecycle import Lifecycle
from .cloud.machines import MachineFactory, load_or_create_host_key
from .cloud.model_mirror import ModelMirror
from .cloud.offers import Offers
from .cloud.ports import PortAllocator
from .cloud.provider import Provider, ProviderLimiter
from .cloud.resource import host
from .cloud.snapshots import Snapshots
from .cloud.store import Store
from .config import CREATE_STALL_SSH, DEFAULT_ACCOUNT, Config
from .faults import Faults
from .standby.service import StandbyService
from .web.ratelimit import RateLimiter
from .web.stall import ServerStall, SetupProbe

log = logging.getLogger("sandbox")
VERSION = "3.0.0"
SANDBOX_VERSION = "1.0"


class Core:
    def __init__(self, cfg: Config, url: str):
        self.cfg = cfg
        self.url = url
        self.started_at = time.time()
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        cfg.data_dir = Path(cfg.data_dir).resolve()
        machines_dir = cfg.data_dir / "machines"
        machines_dir.mkdir(exist_ok=True)
        self.clock = Clock(cfg.time_scale)
        self.timings = Timings(cfg.timings, cfg.seed)
        self.store = Store(cfg.data_dir / "sandbox.db")
        self.events = EventLog(self.store, self.clock)
        self.billing = Billing(self.store, self.clock)
        self.accounts = Accounts(self.store, self.billing, self.clock, cfg.start_balance)
        self.faults = Faults(cfg.seed)
        self.ratelimit = RateLimiter(cfg.rate, cfg.burst, cfg.rate_limit_mode, cfg.time_scale)
        limiter = ProviderLimiter(cfg.provider_interval, cfg.provider_burst, cfg.time_scale)
        self.provider = Provider(self.faults, limiter, cfg.provider_retry_delay)
        self.stall = ServerStall(self.clock, self.events)
        self.offers = Offers(cfg.offers_file)
        self.models = ModelMirror(cfg.data_dir / "models", cfg.size_scale, cfg.seed, cfg.models)
        machine_env = {reaper.MARKER: reaper.sandbox_id(cfg.data_dir)}
        if not self.real:   # the real profile does not advertise the mirror
            machine_env["DUMONT_MODEL_MIRROR"] = self.model_mirror_url
        # Every instance gets a stand-in GPU (nvidia-smi, and torch/transformers on its PYTHONPATH).
        self.gpus = GpuStandins(cfg.data_dir, self.faults, self.events, cfg.time_scale, cfg.size_scale)
        machine_env["PYTHONPATH"] = self.gpus.python_path
        factory = MachineFactory(machines_dir, cfg.host, load_or_create_host_key(cfg.data_dir / "ssh_host_ed25519_key"),
                                 machine_env, path_prefix=str(self.bin_dir), prepare=self.gpus.prepare,
                                 ran=self.gpus.command_ran)
        self.lifecycle = Lifecycle(store=self.store, clock=self.clock, timings=self.timings, billing=self.billing,
                                   faults=self.faults, events=self.events, ports=PortAllocator(cfg.host),
                                   factory=factory)
        self.snapshots = Snapshots(root=cfg.data_dir / "snapshots", store=self.store, clock=self.clock,
                                   timings=self.timings, faults=self.faults, events=self.events,
                                   size_scale=cfg.size_scale)
        self.backups = Backups(self.snapshots, self.clock)
        self.standby = StandbyService(store=self.store, lifecycle=self.lifecycle, offers=self.offers,
                                      faults=self.faults, timings=self.timings, clock=self.clock, events=self.events,
                                      data_dir=cfg.data_dir, size_scale=cfg.size_scale, host=cfg.host)
        self.lifecycle.listen(self.standby)
        self.instances = Instances(self.lifecycle, self.faults, self.events, listener=self.standby, host=cfg.host)

    @property
    def model_mirror_url(self) -> str:
        return f"{self.url}/_sandbox/models"

    @property
    def real(self) -> bool:
        """The "real" profile: nothing a client sees says this is a sandbox."""
        return self.cfg.profile == "real"

    @property
    def bin_dir(self) -> Path:
        """Stand-in commands, first on every machine's PATH (hf)."""
        return self.cfg.data_dir / "bin"

    def _install_commands(self) -> None:
        """The `hf` wrapper: runs the stand-in with the mirror's URL in its own environment only."""
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        script = Path(__file__).resolve().parent / "cloud" / "hf_standin.py"
        hf = self.bin_dir / "hf"
        hf.write_text("#!/bin/sh\n"
                      f"SANDBOX_HF_MIRROR={shlex.quote(self.model_mirror_url)} "
                      f"exec {shlex.quote(sys.executable)} {shlex.quote(str(script))} \"$@\"\n")
        os.chmod(hf, 0o755)
        self.gpus.install(self.bin_dir)

    def unconfigured(self, setting: str, account: Any = None) -> bool:
        """Does the server lack this setting (--unconfigured, or an `unconfigured` fault)?

        "provider-key" is the account's own provider key: the server falls back to its own key,
        so it is missing only when the account has none and the server's is missing too.
        """
        if setting == "provider-key":
            if self.faults.unconfigured("provider-key", account) is not None:
                return True
            has_own = bool(account and self.accounts.provider_key(account))
            return not has_own and self.unconfigured("server-provider-key")
        return setting in self.cfg.unconfigured or self.faults.unconfigured(setting, account) is not None

    def stall_after_create(self, instance_id: Optional[int]) -> None:
        """After a create's 201 the real server sets the new machine up on its own event loop, so
        it answers nothing meanwhile: until the machine's SSH answers (or it gives up), plus its
        setup (--create-stall ssh). A number is a fixed stall instead (not real), 0 none."""
        detail = {"instance_id": instance_id}
        if self.cfg.create_stall != CREATE_STALL_SSH:
            self.stall.hold(float(self.cfg.create_stall), "create", detail)
            return
        res = self.lifecycle.get(instance_id) if instance_id is not None else None
        subject = host(res) if res is not None else None
        # Drawn now, one per create, from the offer's own stream: the same seed gives the same setups.
        setup_s = self.timings.draw("create_setup", subject)

        def ssh_answers() -> bool:
            live = self.lifecycle.get(instance_id) if instance_id is not None else None
            return live is not None and live.machine.ssh_up

        probe = SetupProbe(ssh_answers=ssh_answers, wait_s=self.timings.draw("create_ssh_wait", subject),
                           interval_s=self.timings.draw("create_ssh_interval", subject), setup_s=setup_s)
        self.stall.hold_for_setup(probe, detail)

    # -- lifecycle ----------------------------------------------------------------------
    async def startup(self) -> None:
        leftovers = reaper.reap(self.cfg.data_dir)
        if leftovers:
            log.warning("killed %d leftover process(es) of a previous run", leftovers)
        self.accounts.ensure(*DEFAULT_ACCOUNT)
        self._install_commands()
        await asyncio.to_thread(self.models.ensure)
        if self.store.meta_get("first_started_at") is None:
            self.store.meta_set("first_started_at", repr(self.started_at))
        self.billing.rescale_open_intervals(self.clock.now())
        n = await self.lifecycle.restore()
        if n:
            log.warning("restored %d live machine(s) from %s", n, self.cfg.data_dir)
        self.events.record("sandbox", None, "sandbox_started", None, None,
                           {"url": self.url, "time_scale": self.clock.scale, "restored": n})
        self.standby.start()

    async def shutdown(self) -> None:
        self.stall.shutdown()
        try:
            self.standby.shutdown()
        except Exception:
            log.exception("standby shutdown failed")
        await self.lifecycle.shutdown()
        self.events.record("sandbox", None, "sandbox_stopped")
        self.store.close()

    def info(self) -> Dict[str, Any]:
        return {"time_scale": self.clock.scale, "size_scale": self.cfg.size_scale, "seed": self.cfg.seed,
                "rate_limit": self.ratelimit.describe(), "data_dir": str(Path(self.cfg.data_dir).resolve()),
                "version": SANDBOX_VERSION, "api_version": VERSION, "started_at": self.started_at,
                "url": self.url, "model_mirror": self.model_mirror_url, "timings": self.timings.describe(),
                "max_instances": self.cfg.max_instances, **self.settings()}

    def settings(self) -> Dict[str, Any]:
        """What PUT /_sandbox/settings changes while the sandbox runs."""
        return {"profile": self.cfg.profile, "provider_rate_limit": self.provider.limiter.describe(),
                "provider_retry_delay": self.provider.retry_delay, "create_stall": self.cfg.create_stall,
                "unconfigured": list(self.cfg.unconfigured), "register": self.cfg.register}
