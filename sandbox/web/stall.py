"""The real server's blocked event loop, without blocking ours.

The real server does synchronous work on its event loop: after every create, a machine setup
(SSH attempts and sleeps, up to ~2 minutes), and for a failing provider call, its retries'
sleeps. Meanwhile it answers nothing, on any route. Here a stall is a gate: requests that arrive
wait at it before they are handled, and answers already on their way wait at it before they are
sent; once it ends they are all served. The sandbox's own loop keeps running (timers, SSH
servers, syncs: the provider's machines do not stop). Admin routes (/_sandbox) and the
provider's API (/_provider) are not the real server's and never wait.

Stalls queue: one asked for while another lasts starts when that one ends (the real loop does
one blocking job after another). Each stall is recorded in the ground truth (event
`server_stall`, and GET /_sandbox/stalls).
"""
from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from ..clock import Clock
from ..cloud.events import EventLog

UNGATED_PREFIXES = ("/_sandbox", "/_provider")


def gated(path: str) -> bool:
    """Does a stall hold requests to this path?"""
    return not path.startswith(UNGATED_PREFIXES)


@dataclass
class StallRecord:
    start: float                    # wall epoch
    end: float
    nominal_s: float
    reason: str                     # "create" or "provider_retries"
    detail: Dict[str, Any] = field(default_factory=dict)


class ServerStall:
    def __init__(self, clock: Clock, events: EventLog):
        self.clock = clock
        self.events = events
        self.until = 0.0
        self.records: List[StallRecord] = []

    @property
    def active(self) -> bool:
        return self.clock.now() < self.until

    def hold(self, nominal_s: float, reason: str, detail: Optional[Dict[str, Any]] = None) -> Optional[StallRecord]:
        """Stop answering for nominal_s (scaled), from now or from the end of the stall under
        way; returns the stall (None for a zero duration)."""
        if nominal_s <= 0:
            return None
        start = max(self.clock.now(), self.until)
        rec = StallRecord(start=start, end=start + self.clock.wall(nominal_s), nominal_s=float(nominal_s),
                          reason=reason, detail=dict(detail or {}))
        self.until = rec.end
        self.records.append(rec)
        self.events.record("sandbox", None, "server_stall", None, None,
                           {"start": rec.start, "end": rec.end, "nominal_s": rec.nominal_s, "reason": reason,
                            **rec.detail}, t=rec.start)
        return rec

    async def wait(self) -> float:
        """Wait until no stall is under way; returns the wall seconds waited."""
        waited = 0.0
        while True:
            now = self.clock.now()
            left = self.until - now
            if left <= 0:
                return waited
            await asyncio.sleep(left)
            waited += self.clock.now() - now

    def describe(self) -> List[Dict[str, Any]]:
        now = self.clock.now()
        return [{**asdict(r), "active": r.start <= now < r.end} for r in self.records]
