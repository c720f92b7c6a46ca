"""CPU standby, sync, failover and failback (sandbox/standby.py): real copies between real
machines, measured data loss, billing and ground truth. Every wait polls a condition with a
deadline."""
from __future__ import annotations

import hashlib
import os
import time

import pytest

import sandbox
from tests.sandbox.helpers import Api, new_account, refused, ssh_run, wait_ssh, wait_until

HEALTH_INTERVAL = 10.0      # nominal seconds between health checks (sandbox default)


def configure(api, **kw):
    body = {"enabled": True, "sync_interval": 120, "auto_failover": True, "auto_recovery": False,
            "gcp_machine_type": "e2-medium", "gcp_spot": True}
    body.update(kw)
    r = api.post("/standby/configure", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def assoc(api, gpu_id):
    r = api.get(f"/standby/associations/{gpu_id}")
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return r.json()


def wait_state(api, gpu_id, state, timeout=20.0):
    def check():
        a = assoc(api, gpu_id)
        return a if a is not None and a["state"] == state else None
    return wait_until(check, timeout, what=f"association of GPU {gpu_id} in state {state}")


def pair(api, key, label=None, **cfg):
    """Configure standby for the account, create a running GPU (its standby is made automatically)
    and wait until the pair syncs and both machines answer SSH."""
    configure(api, **cfg)
    gpu = api.create_running(key, label=label or f"sbt-{os.urandom(3).hex()}")
    a = wait_state(api, gpu["id"], "syncing")
    wait_ssh(gpu["ssh_port"], key)
    wait_ssh(a["cpu_standby"]["ssh_port"], key)
    return gpu, a


def write(port, key, path, data: bytes):
    rc, out, err = ssh_run(port, key, f"mkdir -p \"$(dirname '{path}')\" && cat > '{path}'", stdin=data)
    assert rc == 0, err
    return time.time()


def sha_on(port, key, path):
    rc, out, _ = ssh_run(port, key, f"sha256sum '{path}' 2>/dev/null || true")
    return out.split()[0].decode() if out.strip() else None


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_synced(sb, gpu_id, path, digest, after=None, timeout=20.0):
    """Wait for a completed sync (started after `after`) whose manifest has path with this sha256."""
    def check():
        for s in sb.admin.standby_truth(gpu_id)["syncs"]:
            f = s["files"].get(path)
            if (s["status"] == "completed" and f and f["sha256"] == digest
                    and (after is None or s["started_at"] > after)):
                return s
        return None
    return wait_until(check, timeout, what=f"a completed sync of {path}")


def listed(api, gpu_id):
    """The instance as the list shows it: only the list fills cpu_standby and total_dph."""
    return next((i for i in api.get("/instances").json()["instances"] if i["id"] == gpu_id), None)


def events(sb, rid, name=None):
    evs = sb.admin.events(resource_id=rid)
    return [e for e in evs if name is None or e["event"] == name]


def stop_sync(api, gpu_id):
    assert api.post(f"/standby/associations/{gpu_id}/stop-sync").status_code == 200
    wait_until(lambda: not assoc(api, gpu_id)["is_syncing"], 10, what="no sync in flight")


# ---------------------------------------------------------------------------------------------
def test_configure_then_provision_a_billed_standby(sb, api, key):
    body = configure(api, gcp_spot=False, auto_recovery=True)
    assert body["success"] is True and body["message"]
    cfg = body["config"]
    assert cfg["gcp_machine_type"] == "e2-medium" and cfg["gcp_spot"] is False and cfg["sync_interval"] == 120
    assert cfg["estimated_cost_monthly_usd"] == 25.0          # the real server's fixed on-demand figure
    assert "enabled" not in cfg
    st = api.get("/standby/status").json()
    assert st["configured"] is True and st["auto_standby_enabled"] is True and st["active_associations"] == 0
    assert st["config"]["auto_recovery"] is True

    gpu = api.create_running(key, label="prov-gpu", skip_standby=True)
    assert gpu["cpu_standby"] is None and listed(api, gpu["id"])["total_dph"] == gpu["dph_total"]
    r = api.post(f"/standby/provision/{gpu['id']}", params={"label": "prov-standby"})
    assert r.status_code == 200 and r.json()["message"] == "CPU Standby provisioned successfully"
    a = r.json()["association"]
    assert a["gpu_instance_id"] == gpu["id"] and a["state"] == "provisioning" and a["sync_enabled"] is True
    assert a["gpu_failed"] is False and a["sync_count"] == 0
    assert a["cpu_standby"]["ip"] == "127.0.0.1" and a["cpu_standby"]["zone"] == "europe-west1-b"
    sid = a["cpu_standby"]["instance_id"]
    view = listed(api, gpu["id"])["cpu_standby"]
    assert view["enabled"] is True and view["dph_total"] == 0.0335 and view["state"] in ("provisioning", "syncing")
    assert listed(api, gpu["id"])["total_dph"] == pytest.approx(gpu["dph_total"] + 0.0335)
    got = api.instance(gpu["id"]).json()            # a GET never shows the standby
    assert got["cpu_standby"] is None and got["total_dph"] is None

    a = wait_state(api, gpu["id"], "syncing")
    assert a["cpu_standby"]["status"] == "running"
    wait_ssh(a["cpu_standby"]["ssh_port"], key)          # the GPU's key opens the standby too
    created, ready = events(sb, sid, "standby_created")[0], events(sb, sid, "standby_ready")[0]
    assert 30 <= created["detail"]["provision_s"] <= 90
    assert ready["t"] - created["t"] >= created["detail"]["provision_s"] / sb.time_scale * 0.99

    again = api.post(f"/standby/provision/{gpu['id']}")
    assert again.status_code == 200 and again.json()["message"] == "CPU Standby already exists for this GPU"
    assert again.json()["association"]["cpu_standby"]["instance_id"] == sid

    res = [x for x in sb.admin.resources(kind="standby") if x["id"] == sid][0]
    assert res["gpu_instance_id"] == gpu["id"] and res["label"] == "prov-standby" and res["alive"]
    assert res["dph_total"] == 0.0335 and res["account"] == api.email
    bill = [x for x in sb.admin.billing()["resources"] if x["id"] == sid][0]
    assert bill["cost"] > 0 and {i["dph"] for i in bill["intervals"]} == {0.0335}
    assert bill["intervals"][0]["start_t"] == res["created_at"]       # billed from creation

    # standby made automatically after POST /instances (config enabled, skip_standby false)
    r = api.create(label="prov-auto")
    auto = r.json()
    assert r.status_code == 201 and auto["cpu_standby"] is None and auto["total_dph"] is None   # create answer
    auto = listed(api, auto["id"])          # after the create's stall: maybe already syncing
    assert auto["cpu_standby"]["state"] in ("provisioning", "syncing")
    assert auto["total_dph"] == pytest.approx(auto["dph_total"] + 0.0335)
    assert auto["cpu_standby"]["label"] == "prov-auto-standby"
    lst = api.get("/standby/associations").json()
    assert lst["count"] == 2 and set(lst["associations"]) == {str(gpu["id"]), str(auto["id"])}
    assert api.get("/standby/status").json()["active_associations"] == 2
    # auto-standby off: existing pairs stay, new instances get none
    off = api.post("/standby/configure", json={"enabled": False}).json()
    assert off["success"] and "config" not in off
    assert api.get("/standby/status").json()["auto_standby_enabled"] is False
    assert listed(api, api.create(label="prov-none").json()["id"])["cpu_standby"] is None
    assert api.get("/standby/status").json()["active_associations"] == 2


def test_sync_really_copies_the_workspace(sb, api, key):
    gpu, a = pair(api, key, sync_interval=60)
    gid, sport = gpu["id"], a["cpu_standby"]["ssh_port"]
    data = os.urandom(50_000)
    t = write(gpu["ssh_port"], key, "data/blob.bin", data)
    s = wait_synced(sb, gid, "data/blob.bin", sha(data), after=t)
    assert s["files"]["data/blob.bin"]["size"] == len(data)
    # 2 s + 10 s per nominal GB changed (1 real byte = 1000 nominal bytes)
    assert s["nominal_s"] == pytest.approx(2 + 10 * s["changed_bytes"] * 1000 / 1e9)
    assert s["completed_at"] - s["started_at"] >= s["nominal_s"] / sb.time_scale * 0.99
    rc, out, _ = ssh_run(sport, key, "cat data/blob.bin")
    assert rc == 0 and out == data
    a = assoc(api, gid)     # the standby's progress is the association's (sync/status is the backup's)
    assert a["sync_count"] >= 1 and a["last_sync_at"] and a["health_status"] == "healthy"
    assert api.get(f"/instances/{gid}/standby").json()["standby_enabled"] is True

    # the standby mirrors the GPU: a file removed there goes away here too
    assert ssh_run(gpu["ssh_port"], key, "rm data/blob.bin && echo x > other.txt")[0] == 0
    wait_synced(sb, gid, "other.txt", sha(b"x\n"), after=time.time())
    assert ssh_run(sport, key, "test -e data/blob.bin")[0] == 1
    names = {e["event"] for e in events(sb, a["cpu_standby"]["instance_id"])}
    assert {"sync_started", "sync_completed"} <= names

    # stop-sync / start-sync
    stop_sync(api, gid)
    paused = assoc(api, gid)
    assert paused["sync_enabled"] is False
    assert api.post(f"/standby/associations/{gid}/start-sync").json() == {
        "success": True, "message": f"Sync started for GPU {gid}"}
    wait_until(lambda: assoc(api, gid)["sync_count"] > paused["sync_count"], 10, what="a sync after start-sync")


def test_explicit_failover_serves_the_last_sync_and_loses_later_writes(sb, api, key):
    gpu, a = pair(api, key, sync_interval=60)
    gid, sport = gpu["id"], a["cpu_standby"]["ssh_port"]
    kept = os.urandom(20_000)
    t = write(gpu["ssh_port"], key, "kept.bin", kept)
    wait_synced(sb, gid, "kept.bin", sha(kept), after=t)
    stop_sync(api, gid)
    late1, late2 = os.urandom(7_000), os.urandom(3_333)
    write(gpu["ssh_port"], key, "late/one.bin", late1)
    write(gpu["ssh_port"], key, "late/two.bin", late2)

    r = api.post(f"/instances/{gid}/failover", json={"reason": "drill", "strategy": "cpu_standby"})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("instance_id", "status", "strategy")} == {
        "instance_id": gid, "status": "initiated", "strategy": "cpu_standby"}
    a = wait_state(api, gid, "failover_active", timeout=5)
    assert a["gpu_failed"] is True and a["failure_reason"] == "drill" and a["failed_at"]
    again = api.post(f"/instances/{gid}/failover")
    assert again.status_code == 400 and "failover_active" in again.json()["error"]

    # the standby serves exactly what the last completed sync copied
    assert ssh_run(sport, key, "cat kept.bin")[1] == kept
    assert ssh_run(sport, key, "test -e late/one.bin || test -e late/two.bin")[0] == 1
    truth = sb.admin.standby_truth(gid)
    fo = truth["failovers"][-1]
    assert fo["lost_files"] == [{"path": "late/one.bin", "bytes": len(late1)},
                                {"path": "late/two.bin", "bytes": len(late2)}]
    assert fo["lost_bytes"] == len(late1) + len(late2)
    last = [s for s in truth["syncs"] if s["status"] == "completed"][-1]
    assert fo["last_sync_started_at"] == last["started_at"] and fo["last_sync_completed_at"] == last["completed_at"]
    assert fo["rpo_seconds"] == pytest.approx(fo["failed_at"] - fo["last_sync_started_at"]) and fo["rpo_seconds"] > 0
    assert fo["failed_at"] == fo["detected_at"] <= fo["completed_at"]    # explicit: declared failed at once
    assert fo["completed_at"] - fo["detected_at"] >= 1 / sb.time_scale * 0.99   # the 1 nominal s switch

    # failback onto the same (healthy) GPU: it now holds the standby's data, the late files are gone
    r = api.post(f"/instances/{gid}/failback")
    assert r.status_code == 200 and r.json()["status"] == "initiated" and r.json()["instance_id"] == gid
    a = wait_state(api, gid, "syncing")
    assert a["gpu_failed"] is False and a["new_gpu_instance_id"] is None
    fb = sb.admin.standby_truth(gid)["failbacks"][-1]
    assert fb["gpu_instance_id"] == gid and not fb["new_gpu"] and not fb["resumed"] and fb["completed_at"]
    assert ssh_run(gpu["ssh_port"], key, "cat kept.bin")[1] == kept
    assert ssh_run(gpu["ssh_port"], key, "test -e late/one.bin")[0] == 1


def test_pause_fails_over_after_three_health_checks_then_fails_back_onto_the_resumed_gpu(sb, api, key):
    gpu, a = pair(api, key, sync_interval=60)
    gid, sid, sport = gpu["id"], a["cpu_standby"]["instance_id"], a["cpu_standby"]["ssh_port"]
    base = os.urandom(10_000)
    t = write(gpu["ssh_port"], key, "base.bin", base)
    wait_synced(sb, gid, "base.bin", sha(base), after=t)

    assert api.post(f"/instances/{gid}/pause").status_code == 200
    a = wait_state(api, gid, "failover_active", timeout=10)
    assert a["gpu_failed"] is True and "stopped" in a["failure_reason"] and a["health_status"] == "unhealthy"
    stopped = [e for e in events(sb, gid, "status") if e["from"] == "running" and e["to"] == "stopped"][-1]
    fo = sb.admin.standby_truth(gid)["failovers"][-1]
    assert fo["failed_at"] == stopped["t"]            # the GPU stopped being healthy
    checks = [e for e in events(sb, sid, "health_failed") if e["t"] >= stopped["t"]]
    assert [e["detail"]["consecutive"] for e in checks[:3]] == [1, 2, 3]
    assert fo["detected_at"] == checks[2]["t"]
    assert (fo["detected_at"] - fo["failed_at"]) * sb.time_scale >= 2 * HEALTH_INTERVAL * 0.95
    assert fo["lost_bytes"] == 0 and fo["rpo_seconds"] > 0 and not fo["explicit"]

    # the standby serves; what is written there comes back with the failback
    write(sport, key, "during-failover.txt", b"written on the standby\n")
    assert api.post(f"/instances/{gid}/failback", json={}).status_code == 200
    a = wait_state(api, gid, "syncing", timeout=20)
    assert a["gpu_failed"] is False and a["new_gpu_instance_id"] is None
    inst = api.wait_status(gid, "running")
    assert inst["status"] == "running"
    fb = sb.admin.standby_truth(gid)["failbacks"][-1]
    assert fb["resumed"] is True and fb["new_gpu"] is False and fb["gpu_instance_id"] == gid
    assert fb["started_at"] <= fb["completed_at"]
    wait_ssh(inst["ssh_port"], key)
    assert ssh_run(inst["ssh_port"], key, "cat during-failover.txt")[1] == b"written on the standby\n"
    assert ssh_run(inst["ssh_port"], key, "cat base.bin")[1] == base
    wanted = ("failover", "failback_started", "failback_completed")
    names = [e["event"] for e in events(sb, sid) if e["event"] in wanted]
    assert names[-3:] == ["failover", "failback_started", "failback_completed"]
    assert "resume_requested" in [e["event"] for e in events(sb, gid)]


def test_kill_fails_over_then_recovers_onto_a_new_billed_gpu(sb, api, key):
    gpu, a = pair(api, key, label="fbnew", sync_interval=60, auto_recovery=True)
    gid, sid = gpu["id"], a["cpu_standby"]["instance_id"]
    data = os.urandom(30_000)
    t = write(gpu["ssh_port"], key, "work/model.bin", data)
    wait_synced(sb, gid, "work/model.bin", sha(data), after=t)

    sb.admin.kill_instance(gid)

    def recovered():
        x = assoc(api, gid)
        return x if x is not None and x["state"] == "syncing" and x["new_gpu_instance_id"] else None
    a = wait_until(recovered, 30, what="automatic recovery onto a new GPU")
    new_id = a["new_gpu_instance_id"]
    assert new_id != gid and a["current_gpu_instance_id"] == new_id and a["gpu_failed"] is False
    assert assoc(api, new_id)["cpu_standby"]["instance_id"] == sid       # reachable by the new id too
    new = listed(api, new_id)
    assert new["actual_status"] == "running" and new["label"] == "fbnew-failback"
    assert new["offer_id"] == gpu["offer_id"] and new["cpu_standby"]["instance_id"] == sid
    assert new["total_dph"] == pytest.approx(new["dph_total"] + a["cpu_standby"]["dph_total"])
    old = listed(api, gid)
    assert old["actual_status"] == "offline" and old["cpu_standby"] is None
    wait_ssh(new["ssh_port"], key)                       # same key as the original
    assert ssh_run(new["ssh_port"], key, "cat work/model.bin")[1] == data

    truth = sb.admin.standby_truth(new_id)
    assert truth["gpu_instance_id"] == gid and truth["gpu_instance_ids"] == [gid, new_id]
    fo, fb = truth["failovers"][-1], truth["failbacks"][-1]
    killed = [e for e in events(sb, gid, "status") if e["to"] == "offline"][-1]
    assert fo["failed_at"] == killed["t"] and fo["lost_bytes"] == 0
    assert fb["new_gpu"] is True and fb["gpu_instance_id"] == new_id and fb["started_at"] >= fo["completed_at"]
    res = {x["id"]: x for x in sb.admin.resources(kind="instance")}
    assert res[new_id]["alive"] and res[new_id]["label"] == "fbnew-failback"
    assert [x["gpu_instance_id"] for x in sb.admin.resources(kind="standby") if x["id"] == sid] == [new_id]
    bill = {x["id"]: x for x in sb.admin.billing()["resources"]}
    assert bill[new_id]["cost"] > 0 and bill[new_id]["dph_total"] == gpu["dph_total"]
    assert bill[gid]["intervals"][-1]["state"] == "offline"     # the dead GPU pays storage until deleted

    # syncs now come from the new GPU
    t = write(new["ssh_port"], key, "after.txt", b"after\n")
    wait_synced(sb, new_id, "after.txt", sha(b"after\n"), after=t)
    # deleting the dead original leaves the pair alone; deleting the new GPU removes the standby
    r = api.delete(f"/instances/{gid}")
    assert r.status_code == 200 and "standby" not in r.json()["message"]
    assert assoc(api, new_id) is not None
    r = api.delete(f"/instances/{new_id}")
    assert "standby" in r.json()["message"].lower()
    assert assoc(api, new_id) is None and assoc(api, gid) is None


def test_sync_stall_starts_syncs_that_never_complete(sb, api, key):
    gpu, a = pair(api, key, sync_interval=30)
    gid = gpu["id"]
    wait_until(lambda: assoc(api, gid)["sync_count"] >= 1, 10, what="a first sync")
    stop_sync(api, gid)
    count = assoc(api, gid)["sync_count"]
    data = os.urandom(5_000)
    t = write(gpu["ssh_port"], key, "stuck.bin", data)
    fid = sb.admin.add_fault(kind="sync_stall", gpu_id=gid)
    api.post(f"/standby/associations/{gid}/start-sync")

    def stalled():
        return next((s for s in sb.admin.standby_truth(gid)["syncs"]
                     if s["status"] == "stalled" and "stuck.bin" in s["files"] and s["started_at"] > t), None)
    stuck = wait_until(stalled, 10, what="a stalled sync")
    st = assoc(api, gid)
    assert st["is_syncing"] is True and st["sync_error"] == "sync stalled"
    # watch it for ten sync intervals: it never completes, no other sync replaces it
    window_end = time.monotonic() + 10 * 30 / sb.time_scale
    while time.monotonic() < window_end:
        st = assoc(api, gid)
        assert st["sync_count"] == count and st["is_syncing"] is True
    assert [f for f in sb.admin.faults() if f["id"] == fid][0]["fired"] >= 1

    # a failover discards it: what it carried never reached the standby
    assert api.post(f"/instances/{gid}/failover").status_code == 200
    wait_state(api, gid, "failover_active", timeout=5)
    truth = sb.admin.standby_truth(gid)
    fo = truth["failovers"][-1]
    assert fo["discarded_sync_started_at"] == stuck["started_at"]
    assert {"path": "stuck.bin", "bytes": len(data)} in fo["lost_files"]
    assert [s["status"] for s in truth["syncs"] if s["seq"] == stuck["seq"]] == ["discarded"]
    assert ssh_run(a["cpu_standby"]["ssh_port"], key, "test -e stuck.bin")[0] == 1


def test_sync_slow_stretches_each_sync(sb, api, key):
    gpu, a = pair(api, key, sync_interval=30)
    gid = gpu["id"]
    sb.admin.add_fault(kind="sync_slow", factor=40, gpu_id=gid)
    data = os.urandom(2_000)
    t = write(gpu["ssh_port"], key, "slow.bin", data)
    s = wait_synced(sb, gid, "slow.bin", sha(data), after=t)
    assert s["nominal_s"] == pytest.approx(40 * (2 + 10 * s["changed_bytes"] * 1000 / 1e9))
    assert s["completed_at"] - s["started_at"] >= s["nominal_s"] / sb.time_scale * 0.99


def test_corrupting_a_file_on_the_standby(sb, api, key):
    gpu, a = pair(api, key, sync_interval=30)
    gid, sport = gpu["id"], a["cpu_standby"]["ssh_port"]
    data = os.urandom(4096)
    t = write(gpu["ssh_port"], key, "c/victim.bin", data)
    wait_synced(sb, gid, "c/victim.bin", sha(data), after=t)
    stop_sync(api, gid)
    assert sha_on(sport, key, "c/victim.bin") == sha(data)

    out = sb.admin.corrupt_file("c/victim.bin", standby_of=gid)
    assert out["success"] and out["machine_id"] == a["cpu_standby"]["instance_id"]
    assert sha_on(sport, key, "c/victim.bin") not in (None, sha(data))
    assert sha_on(gpu["ssh_port"], key, "c/victim.bin") == sha(data)         # only the standby's copy
    # the next sync makes the standby equal to the GPU again
    api.post(f"/standby/associations/{gid}/start-sync")
    wait_until(lambda: sha_on(sport, key, "c/victim.bin") == sha(data), 10, what="the repairing sync")

    # corrupted again and failed over before a sync: the file counts as lost
    stop_sync(api, gid)
    sb.admin.corrupt_file("/workspace/c/victim.bin", standby_of=gid)
    assert api.post(f"/instances/{gid}/failover").status_code == 200
    wait_state(api, gid, "failover_active", timeout=5)
    assert sb.admin.standby_truth(gid)["failovers"][-1]["lost_files"] == [{"path": "c/victim.bin", "bytes": 4096}]
    with pytest.raises(sandbox.SandboxError, match="404"):
        sb.admin.corrupt_file("c/victim.bin", standby_of=999999)
    with pytest.raises(sandbox.SandboxError, match="404"):
        sb.admin.corrupt_file("nope.bin", standby_of=gid)


def test_deleting_the_gpu_destroys_its_standby_and_leaves_nothing_alive(sb, api, key):
    gpu, a = pair(api, key)
    gid, sid, sport = gpu["id"], a["cpu_standby"]["instance_id"], a["cpu_standby"]["ssh_port"]
    r = api.delete(f"/instances/{gid}")
    assert r.status_code == 200 and r.json()["success"] is True
    assert r.json()["message"].startswith(f"Instance {gid} destroyed successfully") and "standby" in r.json()["message"]
    assert api.instance(gid).status_code == 404 and assoc(api, gid) is None
    res = {x["id"]: x for x in sb.admin.resources()}
    assert not res[gid]["alive"] and not res[sid]["alive"] and res[sid]["deleted_at"] is not None
    assert [x for x in sb.admin.resources(alive=True) if x["account"] == api.email] == []
    bill = {x["id"]: x for x in sb.admin.billing()["resources"]}
    assert all(i["end_t"] is not None for i in bill[sid]["intervals"])
    assert refused(sport)
    truth = sb.admin.standby_truth(gid)
    assert truth["alive"] is False and truth["deleted_at"] is not None
    assert "standby_deleted" in [e["event"] for e in events(sb, sid)]
    assert api.get("/standby/status").json()["active_associations"] == 0


def test_keeping_the_other_half_of_a_pair_and_keep_gpu_is_ignored(sb, api, key):
    gpu, a = pair(api, key)
    gid, sid = gpu["id"], a["cpu_standby"]["instance_id"]
    r = api.delete(f"/instances/{gid}", params={"destroy_standby": "false"})
    assert r.status_code == 200 and "kept" in r.json()["message"]
    kept = assoc(api, gid)
    assert kept["state"] == "disabled" and kept["cpu_standby"]["status"] == "running"
    assert api.post(f"/instances/{gid}/failover").status_code == 400
    r = api.delete(f"/standby/associations/{gid}", params={"keep_gpu": "true"})
    assert r.json() == {"success": True, "message": f"CPU standby for GPU {gid} destroyed"}
    assert not [x for x in sb.admin.resources(kind="standby") if x["id"] == sid][0]["alive"]

    gpu2 = api.create_running(key, label="takes-gpu")     # standby config still enabled: auto standby
    wait_state(api, gpu2["id"], "syncing")
    sid2 = assoc(api, gpu2["id"])["cpu_standby"]["instance_id"]
    r = api.delete(f"/standby/associations/{gpu2['id']}", params={"keep_gpu": "false"})
    # keep_gpu is accepted and ignored, as on the real server: only the standby goes
    assert r.json() == {"success": True, "message": f"CPU standby for GPU {gpu2['id']} destroyed"}
    assert api.instance(gpu2["id"]).json()["actual_status"] == "running"
    alive = {x["id"] for x in sb.admin.resources(alive=True) if x["account"] == api.email}
    assert gpu2["id"] in alive and sid2 not in alive
    assert assoc(api, gpu2["id"]) is None


def test_associations_and_sync_counters_survive_a_restart(tmp_path, key):
    ddir = tmp_path / "state"
    box = sandbox.start(data_dir=ddir, time_scale=600.0, seed=7)
    box2 = None
    try:
        api = new_account(box)
        token = api.s.headers["Authorization"].split()[1]
        gpu, a = pair(api, key, sync_interval=30)
        gid, sid, sport = gpu["id"], a["cpu_standby"]["instance_id"], a["cpu_standby"]["ssh_port"]
        data = os.urandom(8_000)
        t = write(gpu["ssh_port"], key, "p.bin", data)
        wait_synced(box, gid, "p.bin", sha(data), after=t)
        before = assoc(api, gid)
        box.kill()

        box2 = sandbox.start(data_dir=ddir, time_scale=600.0, seed=7)
        restarted = box2.admin.info()["started_at"]
        api2 = Api(box2.url, token)
        after = assoc(api2, gid)
        assert after["state"] == "syncing" and after["sync_count"] >= before["sync_count"]
        assert after["cpu_standby"]["instance_id"] == sid and after["cpu_standby"]["ssh_port"] == sport
        assert listed(api2, gid)["cpu_standby"]["instance_id"] == sid
        wait_ssh(sport, key)
        assert ssh_run(sport, key, "cat p.bin")[1] == data
        wait_until(lambda: assoc(api2, gid)["sync_count"] > after["sync_count"], 10, what="syncs after restart")
        truth = box2.admin.standby_truth(gid)
        assert all(s["status"] in ("completed", "interrupted", "discarded")
                   for s in truth["syncs"] if s["started_at"] < restarted)
        assert [x["alive"] for x in box2.admin.resources(kind="standby") if x["id"] == sid] == [True]
        # the pair can still fail over after the restart
        assert api2.post(f"/instances/{gid}/failover").status_code == 200
        wait_state(api2, gid, "failover_active", timeout=5)
    finally:
        if box2 is not None:
            box2.stop()
        box.stop()
