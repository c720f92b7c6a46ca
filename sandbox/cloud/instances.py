"""Customers' GPU instances: what creating, deleting and showing one does beyond the machine
lifecycle, including telling the instance listener (the CPU standby)."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence

from ..faults import Faults
from .events import EventLog
from .lifecycle import DEFAULT_IMAGE, Lifecycle
from .listener import InstanceListener
from .offers import normalise_gpu
from .records import Offer
from .resource import Resource
from .views import instance_view

log = logging.getLogger("sandbox.instances")


class Instances:
    def __init__(self, lifecycle: Lifecycle, faults: Faults, events: EventLog, listener: InstanceListener,
                 host: str):
        self.lifecycle = lifecycle
        self.faults = faults
        self.events = events
        self.listener = listener
        self.host = host

    def get(self, iid: int, account: str) -> Optional[Resource]:
        return self.lifecycle.get(iid, account)

    def of_account(self, account: str) -> List[Resource]:
        return self.lifecycle.of_account(account)

    def launch(self, account: str, offer: Offer, *, label: Optional[str] = None,
               authorized_keys: Sequence[str] = (), disk_size: float = 100.0, image: str = DEFAULT_IMAGE,
               ports: Sequence[int] = (), onstart_cmd: Optional[str] = None, skip_standby: bool = False,
               detail: Optional[Dict[str, Any]] = None) -> Resource:
        """A new instance, booting, that authorises `authorized_keys` (OpenSSH public keys: the
        account's registered keys, and the create's own key where that is honoured). A
        price_change fault makes it bill at a multiple of the offer's price. The listener may
        pair a standby with it at once."""
        listed = float(offer["dph_total"])
        change = self.faults.take("price_change", offer_id=offer["id"], predicate=_gpu_matches(offer))
        if change is not None:
            offer = {**offer, "dph_total": round(listed * float(change.spec["factor"]), 6)}
            detail = {**(detail or {}), "price_change": {"fault": change.id, "factor": change.spec["factor"],
                                                         "listed_dph_total": listed}}
        keys = list(dict.fromkeys(k.strip() for k in authorized_keys if k and k.strip()))
        res = self.lifecycle.create(account=account, offer=offer, label=label, ssh_key="\n".join(keys) or None,
                                    disk_size=disk_size, image=image, ports=list(ports), onstart_cmd=onstart_cmd,
                                    skip_standby=skip_standby,
                                    event_detail={"authorized_keys": len(keys), **(detail or {})})
        try:
            self.listener.instance_created(res, skip_standby)
        except Exception:   # the instance exists whatever the listener makes of it
            log.exception("instance created listener failed on %s", res.id)
        return res

    async def delete(self, res: Resource, *, destroy_standby: bool, reason: str) -> str:
        """Delete a live instance (under res.lock); returns the answer's message."""
        sticky = self.faults.take("sticky_delete", instance_id=res.id)
        self.events.record(res.kind, res.id, "delete_requested", None, None,
                           {"reason": reason, "destroy_standby": destroy_standby,
                            "sticky_fault": sticky.id if sticky else None})
        if sticky:
            return f"Instance {res.id} destroyed successfully"
        await self.lifecycle.destroy(res, reason)
        message = await self.listener.instance_deleted(res, destroy_standby, reason)
        return message or f"Instance {res.id} destroyed successfully"

    def view(self, res: Resource, form: str = "list", ext: bool = True) -> Dict[str, Any]:
        """The instance as the real server shows it in a list, a GET or a create answer."""
        standby = self.listener.attachment(res) if form == "list" else None
        return instance_view(res, self.host, standby, form=form, ext=ext)


def _gpu_matches(offer: Offer):
    """A price_change fault with a gpu_name applies to offers of that GPU only."""
    def check(fault) -> bool:
        want = fault.spec.get("gpu_name")
        return want is None or normalise_gpu(want) == normalise_gpu(offer.get("gpu_name", ""))
    return check
