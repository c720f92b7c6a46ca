"""A live machine resource: its record, its Machine, and the timers armed for it."""
from __future__ import annotations

import asyncio
from typing import Dict, Optional

from .machines import Machine
from .records import MachineRecord


class Resource:
    """The record is kept in step with SQLite by the lifecycle; `lock` serialises the
    operations on one machine (API calls and timers)."""

    def __init__(self, record: MachineRecord, machine: Machine):
        self.record = record
        self.machine = machine
        self.tasks: Dict[str, asyncio.Task] = {}
        self.lock = asyncio.Lock()

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def account(self) -> str:
        return self.record.account

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def actual_status(self) -> str:
        return self.record.actual_status

    @property
    def label(self) -> Optional[str]:
        return self.record.label


def host(res: Resource) -> str:
    """Whose durations a machine's boot, pause, resume and snapshots are drawn as (clock.Timings): its offer's
    (a standby has no offer)."""
    offer = res.record.offer_id
    return f"offer {offer}" if offer is not None else res.kind
