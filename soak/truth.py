"""The sandbox's ground truth of a run, read once nothing more can change.

A request a server stall holds is carried out when the stall ends, even when its client has gone (a
create sent just before a ``kill -9`` still makes its machine). So the truth is read only once no
stall is active: after that, with behave and its sweep ended, nothing in the sandbox moves on its own
except clocks and syncs.
"""

from __future__ import annotations

import time


def wait_quiet(admin, limit: float) -> bool:
    """Wait (bounded) until the sandbox holds no request in a stall; False when it still did at the limit."""
    deadline = time.monotonic() + limit
    while True:
        try:
            if not any(s.get("active") for s in admin.stalls()):
                return True
        except Exception:
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)        # a poll of the condition, not a pause to make anything pass


def collect(admin) -> dict:
    """Everything the judge reads, in one dict (the shapes of docs/sandbox-interface.md)."""
    resources = admin.resources()
    standby = {}
    for r in resources:
        if r.get("kind") == "standby" and r.get("gpu_instance_id") is not None:
            standby[str(r["gpu_instance_id"])] = admin.standby_truth(r["gpu_instance_id"])
    return {"info": admin.info(), "resources": resources, "events": admin.events(), "billing": admin.billing(),
            "requests": admin.requests_log(), "stalls": admin.stalls(), "faults": admin.faults(),
            "standby": standby}
