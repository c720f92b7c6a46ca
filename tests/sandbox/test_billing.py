"""Billing: per-state intervals priced in simulated time, checked against the event log."""
import time

import pytest

from tests.sandbox.helpers import new_account, wait_until

RUNNING = ("loading", "running")


def expected_cost_from_events(events, dph, storage, scale, now):
    """Recompute a resource's cost from its ground-truth events alone."""
    cost, state, since = 0.0, None, None
    for e in events:
        if e["event"] == "created":
            state, since = "loading", e["t"]
        elif e["event"] == "status":
            cost += (dph if state in RUNNING else storage) * (e["t"] - since) * scale / 3600
            state, since = e["to"], e["t"]
        elif e["event"] == "deleted":
            cost += (dph if state in RUNNING else storage) * (e["t"] - since) * scale / 3600
            return cost
    return cost + (dph if state in RUNNING else storage) * (now - since) * scale / 3600


def test_billing_matches_events_and_balance(fresh_sandbox):
    scale = 600.0
    box = fresh_sandbox(time_scale=scale, seed=5)
    api = new_account(box, balance=20.0)
    iid = api.create(101007, disk_size=200).json()["id"]   # RTX 4090 at $0.39/h
    api.wait_status(iid, "running")
    time.sleep(0.2)  # let some simulated time (~2 min) pass while running
    api.post(f"/instances/{iid}/pause")
    api.wait_status(iid, "stopped")
    time.sleep(0.2)
    api.delete(f"/instances/{iid}")
    bill = box.admin.billing()
    row = [r for r in bill["resources"] if r["id"] == iid][0]
    events = box.admin.events(iid)
    storage = 200 * 0.15 / 730
    expected = expected_cost_from_events(events, 0.39, storage, scale, bill["t"])
    assert row["cost"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert row["storage_dph"] == pytest.approx(storage)
    assert row["stopped_seconds"] > 0 and row["running_seconds"] > 0
    assert row["billed_seconds"] == pytest.approx(row["running_seconds"] + row["stopped_seconds"])
    # running seconds come from the status events
    t = {(e["event"], e.get("to")): e["t"] for e in events}
    running_wall = t[("status", "stopped")] - t[("created", "loading")]
    assert row["running_seconds"] == pytest.approx(running_wall * scale, rel=1e-6)
    # nothing after delete
    time.sleep(0.1)
    again = [r for r in box.admin.billing()["resources"] if r["id"] == iid][0]
    assert again["cost"] == row["cost"]
    # balance = start - spent, in the API and the admin view
    acct = box.admin.billing()["accounts"][api.email]
    assert acct["spent"] == pytest.approx(row["cost"])
    assert api.get("/balance").json()["credit"] == pytest.approx(20.0 - row["cost"], abs=1e-5)
    assert acct["balance"] == pytest.approx(20.0 - row["cost"])


def test_live_cost_grows_at_the_running_price(fresh_sandbox):
    scale = 3600.0   # one wall second = one simulated hour
    box = fresh_sandbox(time_scale=scale)
    api = new_account(box, balance=50.0)
    iid = api.create(101012).json()["id"]   # A100 SXM4, $1.20/h
    api.wait_status(iid, "running")
    c1 = [r for r in box.admin.billing()["resources"] if r["id"] == iid][0]
    time.sleep(0.5)
    c2 = [r for r in box.admin.billing()["resources"] if r["id"] == iid][0]
    dt = c2["billed_seconds"] - c1["billed_seconds"]
    assert c2["cost"] - c1["cost"] == pytest.approx(1.20 * dt / 3600, rel=1e-6)
    bal1 = api.get("/balance").json()["credit"]
    wait_until(lambda: api.get("/balance").json()["credit"] < bal1 - 0.1, timeout=5, what="balance going down")


def test_create_refused_when_balance_below_one_hour(fresh_sandbox):
    box = fresh_sandbox(time_scale=3600.0)
    api = new_account(box, balance=0.30)
    r = api.create(101007)   # $0.39/h
    assert r.status_code == 402
    assert api.create(101001).status_code == 201   # $0.09/h
    # spending the balance down makes the next create fail
    wait_until(lambda: api.get("/balance").json()["credit"] < 0.09, timeout=10, what="balance spent")
    r = api.create(101001)
    assert r.status_code == 402, r.text
    assert [x for x in box.admin.resources() if x["account"] == api.email].__len__() == 1


def test_a_resumed_instance_loads_at_the_gpu_price_from_the_request_on(fresh_sandbox):
    """One rule for a state, whatever led to it: loading bills the GPU's price after a resume as after a create."""
    box = fresh_sandbox(seed=5)
    api = new_account(box, balance=20.0)
    iid = api.create(101007, disk_size=200).json()["id"]
    api.wait_status(iid, "running")
    api.post(f"/instances/{iid}/pause")
    api.wait_status(iid, "stopped")
    assert api.post(f"/instances/{iid}/resume").status_code == 200
    assert api.get(f"/instances/{iid}").json()["actual_status"] in ("loading", "running")
    events = box.admin.events(iid)
    requested = next(e["t"] for e in events if e["event"] == "resume_requested")
    loading = next(e for e in events if e["event"] == "status" and e["from"] == "stopped")
    assert loading["to"] == "loading" and loading["t"] == requested
    api.wait_status(iid, "running")
    api.delete(f"/instances/{iid}")


def test_the_suite_and_the_sandbox_bill_the_same_states_at_the_same_price():
    from sandbox.cloud.billing import RUNNING_STATES
    from support.instances import BILLED_AS_STORAGE

    for state in ("loading", "created", "running", "stopped", "exited", "offline"):
        assert (state in RUNNING_STATES) == (state not in BILLED_AS_STORAGE), state
