"""Instances: create/list/get/delete/pause/resume, bad input, quirks, lifecycle under the time scale."""
import time

import pytest

from tests.sandbox.helpers import new_account, wait_until

INSTANCE_FIELDS = {"id", "status", "actual_status", "gpu_name", "num_gpus", "gpu_ram", "cpu_cores", "cpu_ram",
                   "disk_space", "dph_total", "public_ipaddr", "ssh_host", "ssh_port", "start_date", "label",
                   "ports", "provider", "cpu_standby", "total_dph"}


def test_create_answers_201_loading(sb, api, key):
    """The create answer: status the intended one (running), actual_status loading, start_date
    null, RAM in MB, no cpu_standby and total_dph null (only the list fills them)."""
    r = api.create(101005, label="create-test", disk_size=50, ssh_key=key.public)
    assert r.status_code == 201, r.text
    inst = r.json()
    assert INSTANCE_FIELDS <= set(inst)
    assert isinstance(inst["id"], int)
    assert inst["status"] == "running" and inst["actual_status"] == "loading"
    assert inst["start_date"] is None
    assert inst["gpu_ram"] == 16 * 1024.0 and inst["cpu_ram"] == 32 * 1024.0
    assert inst["gpu_name"] == "RTX A4000" and inst["dph_total"] == 0.17 and inst["total_dph"] is None
    assert inst["provider"] == "vast.ai" and inst["cpu_standby"] is None
    assert inst["label"] == "create-test" and inst["disk_space"] == 50
    assert inst["ssh_host"] == inst["public_ipaddr"] == "127.0.0.1" and inst["ssh_port"] > 0
    assert inst["storage_dph"] == pytest.approx(50 * 0.15 / 730, rel=1e-6)
    listed = api.get("/instances").json()
    assert listed["count"] == 1 and listed["instances"][0]["id"] == inst["id"]
    assert listed["instances"][0]["total_dph"] == 0.17 and listed["instances"][0]["start_date"]
    got = api.instance(inst["id"]).json()
    assert got["id"] == inst["id"] and got["start_date"] and got["total_dph"] is None


def test_create_bad_input(sb, api):
    """422 for a bad body; an offer the provider refuses (unknown, or a disk it does not have)
    is a 500 with or without skip_validation: the pre-validation never looks at the offer."""
    cases = [
        ({"offer_id": 999999}, 500),
        ({"offer_id": 101001, "disk_size": -5}, 422),
        ({"offer_id": 101001, "disk_size": 5}, 422),
        ({}, 422),
        ({"offer_id": "abc"}, 422),
        ({"offer_id": 101001, "disk_size": 100000}, 500),
        ({"offer_id": 999999, "skip_validation": True}, 500),
    ]
    for body, status in cases:
        r = api.post("/instances", json=body)
        assert r.status_code == status, (body, r.text)
        assert "error" in r.json()
        if status == 422:
            assert r.json()["error"] == "Validation error" and r.json()["details"]
    r = api.post("/instances", data="{oops", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert api.get("/instances").json()["count"] == 0, "no half-created resource"
    assert not [x for x in sb.admin.resources() if x["account"] == api.email]


def test_insufficient_balance_402(sb):
    poor = new_account(sb, balance=1.0)
    r = poor.create(101012)  # $1.20/h > $1.00
    assert r.status_code == 402 and "balance" in r.json()["error"].lower()
    assert poor.create(101001).status_code == 201  # $0.09/h is fine


def test_get_unknown_and_bad_ids(sb, api):
    r = api.instance(123)
    assert r.status_code == 404 and r.json() == {"error": "Instance 123 not found"}
    assert api.get("/instances/abc").status_code == 422
    assert api.post("/instances/123/pause").status_code == 404
    assert api.post("/instances/123/resume").status_code == 404


def test_delete_quirks(sb, api):
    iid = api.create().json()["id"]
    r = api.delete(f"/instances/{iid}", params={"destroy_standby": "true", "reason": "user_request"})
    assert r.status_code == 200
    assert r.json() == {"success": True, "message": f"Instance {iid} destroyed successfully"}
    assert api.instance(iid).status_code == 404
    assert all(i["id"] != iid for i in api.get("/instances").json()["instances"])
    again = api.delete(f"/instances/{iid}")
    assert again.status_code == 500 and again.json() == {"error": f"Failed to destroy instance {iid}"}
    unknown = api.delete("/instances/42")
    assert unknown.status_code == 500 and unknown.json() == {"error": "Failed to destroy instance 42"}
    events = [e["event"] for e in sb.admin.events(iid)]
    assert events[0] == "created" and events[-1] == "deleted"
    res = [r for r in sb.admin.resources(kind="instance") if r["id"] == iid][0]
    assert res["alive"] is False and res["deleted_at"] is not None


def test_list_status_filter(sb, api):
    a = api.create_running()
    b = api.create().json()
    running = api.get("/instances", params={"status": "running"}).json()
    # status matches status OR actual_status: a loading instance has status "running"
    assert {i["id"] for i in running["instances"]} >= {a["id"], b["id"]}
    assert api.post(f"/instances/{a['id']}/pause").status_code == 200
    stopped = api.get("/instances", params={"status": "stopped"}).json()
    assert [i["id"] for i in stopped["instances"]] == [a["id"]]


def test_lifecycle_timing_follows_drawn_durations(fresh_sandbox):
    scale = 120.0
    box = fresh_sandbox(time_scale=scale, seed=99)
    api = new_account(box)
    iid = api.create().json()["id"]
    t_created = time.time()
    api.wait_status(iid, "running", timeout=5)
    t_running = time.time()
    ev = {e["event"]: e for e in box.admin.events(iid)}
    boot_s = ev["boot_scheduled"]["detail"]["boot_s"]
    assert 60 <= boot_s <= 240
    expected = boot_s / scale
    observed_truth = ev["status"]["t"] - ev["created"]["t"]
    assert observed_truth == pytest.approx(expected, abs=0.1)
    assert t_running - t_created == pytest.approx(expected, abs=0.25)
    # pause: status "stopped" at once, actual stopped after the pause duration
    assert api.post(f"/instances/{iid}/pause").status_code == 200
    inst = api.instance(iid).json()
    assert inst["status"] == "stopped"
    api.wait_status(iid, "stopped", timeout=5)
    evs = box.admin.events(iid)
    req = [e for e in evs if e["event"] == "pause_requested"][0]
    stop = [e for e in evs if e["event"] == "status" and e["to"] == "stopped"][0]
    assert 5 / scale - 0.02 <= stop["t"] - req["t"] <= 20 / scale + 0.05
    # resume
    assert api.post(f"/instances/{iid}/resume").status_code == 200
    assert api.instance(iid).json()["status"] == "running"
    api.wait_status(iid, "running", timeout=5)
    evs = box.admin.events(iid)
    req = [e for e in evs if e["event"] == "resume_requested"][0]
    # It loads from the request on (billed like a create's loading), and runs after the resume duration.
    loading = [e for e in evs if e["event"] == "status" and e["from"] == "stopped"][0]
    back = [e for e in evs if e["event"] == "status" and e["from"] == "loading" and e["t"] >= req["t"]][0]
    assert loading["to"] == "loading" and loading["t"] == req["t"]
    assert 20 / scale - 0.02 <= back["t"] - req["t"] <= 90 / scale + 0.05
    wait_until(lambda: any(e["event"] == "ssh_ready" and e["t"] > back["t"] for e in box.admin.events(iid)),
               timeout=5, what="ssh_ready after resume")


def test_illegal_transitions(sb, api):
    sb.admin.add_fault(kind="never_running", count=1)   # loading still after the create's stall
    loading = api.create().json()["id"]
    r = api.post(f"/instances/{loading}/pause")
    assert r.status_code == 500 and r.json()["error"].startswith(f"Failed to pause instance {loading}")
    running = api.create_running()["id"]
    r = api.post(f"/instances/{running}/resume")
    assert r.status_code == 500 and r.json()["error"].startswith(f"Failed to resume instance {running}")
    assert api.post(f"/instances/{running}/pause").status_code == 200
    assert api.post(f"/instances/{running}/pause").status_code == 200  # idempotent
    api.wait_status(running, "stopped")
    assert api.post(f"/instances/{running}/resume").status_code == 200
    again = api.post(f"/instances/{running}/resume")
    if again.status_code != 200:  # the resume may already have completed at this time scale
        assert again.status_code == 500 and api.instance(running).json()["actual_status"] == "running"
    api.wait_status(running, "running")


def test_admin_preempt_and_kill(sb, api, key):
    a = api.create_running(key)["id"]
    sb.admin.preempt_instance(a)
    inst = api.instance(a).json()
    assert inst["actual_status"] == "exited" and inst["status"] == "running"
    # an exited instance can be restarted
    assert api.post(f"/instances/{a}/resume").status_code == 200
    api.wait_status(a, "running")
    b = api.create_running(key)["id"]
    sb.admin.kill_instance(b)
    assert api.instance(b).json()["actual_status"] == "offline"
    r = api.post(f"/instances/{b}/resume")
    assert r.status_code == 500 and "offline" in r.json()["error"]
    assert api.delete(f"/instances/{b}").status_code == 200


def test_team_quota_429(fresh_sandbox):
    box = fresh_sandbox(extra_args=["--max-instances", "2"])
    api = new_account(box)
    assert api.create().status_code == 201
    assert api.create().status_code == 201
    r = api.create()
    assert r.status_code == 429 and "quota" in r.json()["error"].lower()
    assert "Retry-After" not in r.headers
