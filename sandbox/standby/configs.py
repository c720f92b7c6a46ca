"""Per-account standby configs: what POST /standby/configure sets, and what a new config
changes on the account's live pairs."""
from __future__ import annotations

import dataclasses
from typing import Dict

from ..cloud.events import EventLog
from .pairs import Pairs
from .records import LIVE_SETTINGS, StandbyConfig
from .store import StandbyStore


class Configs:
    def __init__(self, *, store: StandbyStore, pairs: Pairs, events: EventLog):
        self.store = store
        self.pairs = pairs
        self.events = events
        self._configs: Dict[str, StandbyConfig] = store.configs()

    def of(self, account: str) -> StandbyConfig:
        """The account's config (a copy), or the defaults."""
        return dataclasses.replace(self._configs.get(account, StandbyConfig()))

    def configure(self, account: str, requested: StandbyConfig) -> StandbyConfig:
        if requested.enabled:
            cfg = dataclasses.replace(requested, configured=True)
        else:   # like the real server: disabling only turns auto-standby off
            cfg = dataclasses.replace(self.of(account), enabled=False)
        self._configs[account] = cfg
        with self.store.tx():
            self.store.put_config(account, cfg)
            if requested.enabled:
                for p in self.pairs.of_account(account):
                    for name in LIVE_SETTINGS:
                        setattr(p.record, name, getattr(cfg, name))
                    self.pairs.save(p)
        self.events.record("standby", None, "standby_configured", None, None,
                           {"account": account, **dataclasses.asdict(cfg)})
        return dataclasses.replace(cfg)
