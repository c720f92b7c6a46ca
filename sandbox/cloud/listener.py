"""What the cloud tells the one party that reacts to its machines (the CPU standby), as typed
protocols: the cloud calls these methods directly and never imports the standby."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Protocol

from .resource import Resource


@dataclass(frozen=True)
class StandbyAttachment:
    """What an instance's view shows of the CPU standby paired with it."""

    view: Dict[str, Any]     # the view's "cpu_standby" object
    dph: float               # the standby's $/h, added to the view's total_dph


class MachineListener(Protocol):
    def status_changed(self, res: Resource, frm: str, to: str, t: float) -> None:
        """After every actual_status change of a machine (instance or standby), at time t."""


class InstanceListener(Protocol):
    def instance_created(self, res: Resource, skip_standby: bool) -> None:
        """After POST /instances created `res` (already booting)."""

    async def instance_deleted(self, res: Resource, destroy_standby: bool, reason: str) -> Optional[str]:
        """After DELETE /instances destroyed `res`; a message replaces the answer's default one."""

    def attachment(self, res: Resource) -> Optional[StandbyAttachment]:
        """The standby an instance's view shows, if it has one."""


class NoListener:
    """Nobody reacts: the cloud alone."""

    def status_changed(self, res: Resource, frm: str, to: str, t: float) -> None:
        return None

    def instance_created(self, res: Resource, skip_standby: bool) -> None:
        return None

    async def instance_deleted(self, res: Resource, destroy_standby: bool, reason: str) -> Optional[str]:
        return None

    def attachment(self, res: Resource) -> Optional[StandbyAttachment]:
        return None
