"""The facts of docs/dumont-api.md, "Verified", part "Past SSH": what the real server did once its
machines answered SSH. One test (or a few) per fact:

1. the stall after a create follows the machine's SSH (until it answers, at most ~120 s, plus
   the server's setup), deterministic from the seed;
2. the restore answers success whatever happened, counts restic's "restoring" line, echoes
   target_path and restores to where the snapshot was taken (and can restore nothing);
3. deleting a deleted snapshot answers 200;
4. five routes a client may call, with the real server's shapes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

import sandbox
from tests.sandbox.helpers import FAST, new_account, ssh_run, wait_ssh

# -- 1. the stall after a create -------------------------------------------------------------
# Scale 50 with a 25 s boot and SSH at once: the server's attempts at 0, 10, 20 s find no SSH,
# the one at 30 s does (5 s = 100 ms either side); with a 10 s setup the stall lasts 40 s nominal,
# 0.8 s wall.
BOOT, SETUP, SCALE = 25, 10, 50.0


@pytest.fixture(scope="module")
def slow():
    box = sandbox.start(time_scale=SCALE, seed=21,
                        extra_args=["--timings", json.dumps({"boot": BOOT, "ssh_ready": 0, "create_setup": SETUP})])
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _reset_slow(request):
    yield
    if "slow" in request.fixturenames:
        box = request.getfixturevalue("slow")
        box.admin.clear_faults()
        box.admin.settings(create_stall="ssh")


def create_stalls(box):
    return [s for s in box.admin.stalls() if s["reason"] == "create"]


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0


def test_the_stall_after_a_create_lasts_until_ssh_answers_plus_the_setup(slow):
    api = new_account(slow)
    r = api.create()
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    got, took = timed(lambda: api.instance(iid))
    assert got.status_code == 200
    assert took >= 0.7, f"a GET right after the create was held {took:.2f} s, not until SSH + setup (0.8 s)"
    stall = create_stalls(slow)[-1]
    detail = stall["detail"]
    assert detail["instance_id"] == iid and detail["outcome"] == "ssh_ready"
    assert detail["ssh_attempts"] == 4, detail              # at 0, 10, 20 and 30 s
    assert detail["setup_s"] == SETUP
    assert stall["nominal_s"] == pytest.approx(30 + SETUP)
    assert stall["end"] - stall["start"] == pytest.approx((30 + SETUP) / SCALE, abs=0.005)
    # the machine booted and its SSH came up during the stall, before the attempt that found it
    ready = [e for e in slow.admin.events(iid) if e["event"] == "ssh_ready"][0]
    assert stall["start"] < ready["t"] <= detail["ssh_answered_at"]
    assert stall["end"] == pytest.approx(detail["ssh_answered_at"] + SETUP / SCALE, abs=1e-6)
    # the ground truth has its start and its end
    events = [e for e in slow.admin.events(kind="sandbox") if e["detail"] and e["detail"].get("instance_id") == iid]
    assert [e["event"] for e in events] == ["server_stall_started", "server_stall"]
    assert events[0]["detail"]["start"] == stall["start"]
    assert events[1]["detail"]["start"] == stall["start"] and events[1]["detail"]["end"] == stall["end"]
    logged = [x for x in slow.admin.requests_log() if x["path"] == f"/api/v1/instances/{iid}"][-1]
    assert logged["stalled_s"] >= 0.6


def test_the_stall_gives_up_after_120_s_when_ssh_never_answers(slow):
    api = new_account(slow)
    slow.admin.add_fault(kind="ssh_refuse", seconds=100000, count=1)
    iid = api.create().json()["id"]
    got, took = timed(lambda: api.instance(iid))
    assert got.status_code == 200 and got.json()["actual_status"] == "running", "it booted meanwhile"
    assert took >= 2.2, f"held {took:.2f} s, not the server's 120 s SSH wait (2.4 s)"
    stall = create_stalls(slow)[-1]
    assert stall["detail"]["instance_id"] == iid and stall["detail"]["outcome"] == "ssh_timeout"
    assert stall["detail"]["ssh_attempts"] == 12 and stall["detail"]["ssh_answered_at"] is None
    assert stall["nominal_s"] == 120, "no setup when SSH never answered"
    assert stall["end"] - stall["start"] == pytest.approx(120 / SCALE, abs=0.005)


def test_the_stall_can_be_fixed_or_turned_off_not_real(slow):
    assert slow.admin.info()["create_stall"] == "ssh"
    api = new_account(slow)
    slow.admin.settings(create_stall=0)
    n = len(create_stalls(slow))
    assert api.create().status_code == 201
    assert len(create_stalls(slow)) == n, "0: no stall"
    slow.admin.settings(create_stall=20)
    api.create()
    api.get("/instances")
    stall = create_stalls(slow)[-1]
    assert stall["nominal_s"] == 20 and "outcome" not in stall["detail"], "a fixed stall ignores SSH"
    bad = requests.put(slow.url + "/_sandbox/settings", json={"create_stall": "soon"},
                       headers={"X-Sandbox-Admin-Token": slow.admin_token}, timeout=10)
    assert bad.status_code == 400
    assert slow.admin.settings(create_stall="ssh")["create_stall"] == "ssh"


def _setups(box, n=3):
    api = new_account(box)
    for _ in range(n):
        assert api.create().status_code == 201
    api.get("/instances")                       # after the last stall
    return [s["detail"]["setup_s"] for s in create_stalls(box)]


def test_the_setup_durations_are_drawn_from_the_seed(fresh_sandbox):
    timings = json.dumps({"boot": 5, "ssh_ready": 0})      # SSH answers at one of the first attempts
    one, two = (fresh_sandbox(time_scale=FAST, seed=8, extra_args=["--timings", timings]) for _ in range(2))
    first, second = _setups(one), _setups(two)
    assert first == second, "the same seed, the same setups"
    assert all(8 <= s <= 15 for s in first) and len(set(first)) == 3, first
    outcomes = [s["detail"]["outcome"] for s in create_stalls(one)]
    assert outcomes == ["ssh_ready"] * 3


# -- 2. the restore's answer -----------------------------------------------------------------
def _snapshot(api, key, tree="mkdir -p d && printf 'hello\\n' > d/a.txt && head -c 5000 /dev/urandom > b.bin",
              source_path="/workspace"):
    src = api.create_running(key)
    wait_ssh(src["ssh_port"], key)
    rc, _, err = ssh_run(src["ssh_port"], key, tree)
    assert rc == 0, err
    r = api.post("/snapshots", json={"instance_id": src["id"], "source_path": source_path})
    assert r.status_code == 201, r.text
    return r.json()["snapshot_id"]


def _target(api, key):
    dst = api.create_running(key)
    wait_ssh(dst["ssh_port"], key)
    return dst


def _restore(api, sid, dst, target_path="/workspace"):
    r = api.post("/snapshots/restore", params={"instance_id": dst["id"]},
                 json={"snapshot_id": sid, "target_path": target_path, "verify": True}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _events(sb, sid, name):
    return [e for e in sb.admin.events(sid) if e["event"] == name]


def test_a_restore_answers_success_and_restores_where_the_snapshot_was_taken(sb, api, key):
    sid = _snapshot(api, key)
    dst = _target(api, key)
    body = _restore(api, sid, dst, target_path="/workspace/elsewhere")
    assert body == {"success": True, "snapshot_id": sid, "target_path": "/workspace/elsewhere",
                    "files_restored": 1, "errors": []}, "restic's one 'restoring' line; target_path echoed"
    rc, out, _ = ssh_run(dst["ssh_port"], key, "cat d/a.txt; test -e elsewhere && echo used || echo ignored")
    assert out.decode().split() == ["hello", "ignored"]
    done = _events(sb, sid, "restore_completed")[-1]["detail"]
    assert done["restored_to"] == "/workspace" and done["files_written"] == 2 and done["target_path"].endswith("where")


def test_a_snapshot_of_a_subdirectory_goes_back_to_that_subdirectory(api, key):
    sid = _snapshot(api, key, tree="mkdir -p models/m && echo w > models/m/w.bin", source_path="/workspace/models")
    dst = _target(api, key)
    assert _restore(api, sid, dst)["files_restored"] == 1
    rc, out, _ = ssh_run(dst["ssh_port"], key, "cat models/m/w.bin; test -e m && echo top || echo no")
    assert out.decode().split() == ["w", "no"], "under /workspace/models, not where target_path says"


def test_the_restore_nothing_fault_restores_nothing_and_answers_success(sb, api, key):
    sid = _snapshot(api, key)
    dst = _target(api, key)
    fid = sb.admin.add_fault(kind="restore_nothing", count=1)
    body = _restore(api, sid, dst)
    assert body["success"] is True and body["files_restored"] == 0 and body["errors"] == []
    rc, out, _ = ssh_run(dst["ssh_port"], key, "ls -A")
    assert out.decode().split() == [], "nothing was restored"
    failed = _events(sb, sid, "restore_failed")[-1]["detail"]
    assert failed["restored"] is False and failed["files_written"] == 0 and failed["fault"] == fid
    assert "--no-owner" in failed["error"]
    assert not _events(sb, sid, "restore_completed")
    # the fault was used up: the next restore works
    assert _restore(api, sid, dst)["files_restored"] == 1
    assert ssh_run(dst["ssh_port"], key, "cat d/a.txt")[1] == b"hello\n"


def test_a_restore_of_an_unknown_snapshot_or_onto_a_machine_without_ssh_restores_nothing(sb, api, key):
    dst = _target(api, key)
    body = _restore(api, "f" * 64, dst)
    assert body["success"] is True and body["files_restored"] == 0 and body["errors"] == []
    assert _events(sb, "f" * 64, "restore_failed")[-1]["detail"]["error"] == "snapshot not found in the repository"
    sid = _snapshot(api, key)
    sb.admin.add_fault(kind="ssh_refuse", seconds=100000, instance_id=dst["id"])
    body = _restore(api, sid, dst)
    assert body["success"] is True and body["files_restored"] == 0
    assert _events(sb, sid, "restore_failed")[-1]["detail"]["error"] == "the instance's SSH did not answer"
    workspace = Path(sb.admin.machine(dst["id"])["workspace"])
    assert list(workspace.iterdir()) == [], "nothing was restored"


# -- 3. deleting a deleted snapshot ----------------------------------------------------------
def test_deleting_a_deleted_snapshot_answers_200(sb, api, key):
    sid = _snapshot(api, key)
    first, again = api.delete(f"/snapshots/{sid}"), api.delete(f"/snapshots/{sid}")
    assert first.status_code == again.status_code == 200
    assert again.json() == {"success": True, "message": f"Snapshot {sid} deleted successfully"}
    assert [e["event"] for e in sb.admin.events(sid)][-2:] == ["snapshot_deleted", "snapshot_delete_repeated"]
    # never known (or another account's): still the 500 of the contract
    assert api.delete("/snapshots/" + "0" * 64).status_code == 500
    other = new_account(sb)
    mine = _snapshot(api, key)
    assert other.delete(f"/snapshots/{mine}").status_code == 500
    assert mine in [s["id"] for s in api.get("/snapshots").json()["snapshots"]]


# -- 4. five routes a client may call --------------------------------------------------------
ROUTES = ("/failover/readiness/1", "/failover/strategies", "/failover/settings/global", "/warmpool/hosts",
          "/warmpool/status/1")
READINESS_KEYS = {"machine_id", "effective_strategy", "warm_pool_ready", "warm_pool_status", "cpu_standby_ready",
                  "cpu_standby_status", "overall_ready"}
WARM_POOL_STATUS = {"state": "disabled", "host_machine_id": None, "volume_id": None, "primary_gpu_id": None,
                    "standby_gpu_id": None, "standby_state": "none", "primary_ssh_host": None,
                    "primary_ssh_port": None, "last_health_check": None, "failover_count": 0,
                    "last_failover_at": None, "error_message": None}


@pytest.mark.parametrize("prefix", ["/api/v1", "/api"])
def test_the_five_routes_answer_and_need_a_token(sb, api, prefix):
    for path in ROUTES:
        assert requests.get(sb.url + prefix + path, timeout=10).status_code == 401, path
        r = api.s.get(sb.url + prefix + path, timeout=10)
        assert r.status_code == 200, (path, r.text)


def test_strategies_and_global_settings_have_the_servers_shapes(api):
    strategies = api.get("/failover/strategies").json()["strategies"]
    assert [s["id"] for s in strategies] == ["warm_pool", "cpu_standby", "both", "regional_volume", "all", "disabled"]
    assert all(set(s) == {"id", "name", "description", "recovery_time", "cost", "requirements"} for s in strategies)
    g = api.get("/failover/settings/global").json()
    assert set(g) == {"default_strategy", "warm_pool", "cpu_standby", "auto_apply_to_new_machines",
                      "notify_on_failover", "notify_channels", "summary"}
    assert g["default_strategy"] == "both"
    assert len(g["warm_pool"]) == 9 and g["warm_pool"]["failover_timeout_seconds"] == 120
    assert len(g["cpu_standby"]) == 11 and g["cpu_standby"]["failover_threshold"] == 3
    assert g["summary"] == {"warm_pool_enabled": True, "cpu_standby_enabled": True,
                            "description": "GPU Warm Pool (principal) + CPU Standby (fallback)"}


def test_readiness_says_whether_the_instance_has_a_cpu_standby(api, key):
    plain = api.create_running(key)
    r = api.get(f"/failover/readiness/{plain['id']}").json()
    assert set(r) == READINESS_KEYS and r["effective_strategy"] == "both"
    assert r["warm_pool_ready"] is False and r["warm_pool_status"] == {"machine_id": plain["id"], **WARM_POOL_STATUS}
    assert r["cpu_standby_ready"] is False and r["cpu_standby_status"] is None and r["overall_ready"] is False
    assert api.post("/standby/configure", json={"enabled": True, "auto_recovery": False}).status_code == 200
    paired = api.create_running(key)
    r = api.get(f"/failover/readiness/{paired['id']}").json()
    assert r["cpu_standby_ready"] is True and r["overall_ready"] is True
    assoc = api.get(f"/standby/associations/{paired['id']}").json()
    assert r["cpu_standby_status"]["gpu_instance_id"] == paired["id"]
    assert r["cpu_standby_status"]["cpu_standby"]["name"] == assoc["cpu_standby"]["name"]
    assert api.delete(f"/standby/associations/{paired['id']}").status_code == 200
    assert api.get(f"/failover/readiness/{paired['id']}").json()["cpu_standby_ready"] is False
    api.post("/standby/configure", json={"enabled": False})


def test_warm_pool_status_and_hosts(sb, api):
    assert api.get("/warmpool/status/42").json() == {"machine_id": 42, **WARM_POOL_STATUS}
    hosts = api.get("/warmpool/hosts").json()
    # the catalogue's hosts with 2 GPUs or more, verified, reliability >= 0.9, best reliability per dollar first
    assert [h["offers"][0]["offer_id"] for h in hosts["hosts"]] == [101009, 101013, 101016] and hosts["count"] == 3
    first = hosts["hosts"][0]
    assert first == {"machine_id": 1009, "total_gpus": 2, "available_gpus": 1, "gpu_name": "RTX 4090",
                     "avg_price_per_hour": 0.8, "reliability": 0.979, "verified": True, "geolocation": "Sweden, SE",
                     "can_create_warm_pool": False,
                     "offers": [{"offer_id": 101009, "machine_id": 1009, "gpu_name": "RTX 4090", "num_gpus": 2,
                                 "price_per_hour": 0.8, "reliability": 0.979, "verified": True,
                                 "geolocation": "Sweden, SE"}]}
    assert api.get("/warmpool/hosts", params={"gpu_name": "RTX_4090"}).json()["count"] == 0, "exact names only"
    assert api.get("/warmpool/hosts", params={"gpu_name": "RTX 4090"}).json()["count"] == 1
    assert api.get("/warmpool/hosts", params={"max_price": 1}).json()["count"] == 1
    singles = api.get("/warmpool/hosts", params={"min_gpus": 1}).json()["hosts"]
    assert 101001 in [h["offers"][0]["offer_id"] for h in singles] and 101003 not in [
        h["offers"][0]["offer_id"] for h in singles], "unverified offers are left out"
    assert api.get("/warmpool/hosts", params={"min_gpus": "two"}).status_code == 422
    # a failing provider call is no error there: no host, at once, no stall
    sb.admin.add_fault(kind="provider_error", error="down", path="/api/v1/warmpool/hosts")
    stalls_before = len(sb.admin.stalls())
    r = api.get("/warmpool/hosts")
    assert r.status_code == 200 and r.json() == {"hosts": [], "count": 0}
    logged = [x for x in sb.admin.requests_log() if x["path"] == "/api/v1/warmpool/hosts"][-1]
    assert logged["fault"].startswith("provider_error:") and logged["provider_error"] == "down"
    assert logged["stalled_s"] == 0 and len(sb.admin.stalls()) == stalls_before   # no retries held it


def test_warm_pool_hosts_group_offers_of_one_machine(fresh_sandbox, tmp_path):
    offers = tmp_path / "offers.json"
    offers.write_text(json.dumps([
        {"id": 1, "gpu_name": "RTX 4090", "num_gpus": 1, "dph_total": 0.4, "machine_id": "77", "reliability": 0.99},
        {"id": 2, "gpu_name": "RTX 4090", "num_gpus": 1, "dph_total": 0.5, "machine_id": "77", "reliability": 0.97},
        {"id": 3, "gpu_name": "RTX 4090", "num_gpus": 1, "dph_total": 0.3, "machine_id": "78"}]))
    box = fresh_sandbox(extra_args=["--offers-file", str(offers)])
    api = new_account(box)
    hosts = api.get("/warmpool/hosts").json()["hosts"]
    assert len(hosts) == 1
    h = hosts[0]
    assert h["machine_id"] == 77 and h["total_gpus"] == h["available_gpus"] == 2 and h["can_create_warm_pool"]
    assert h["avg_price_per_hour"] == pytest.approx(0.45) and h["reliability"] == pytest.approx(0.98)
    assert [o["offer_id"] for o in h["offers"]] == [1, 2]


def test_warm_pool_routes_need_the_servers_provider_key(sb, api):
    sb.admin.add_fault(kind="unconfigured", setting="server-provider-key")
    for path in ("/warmpool/status/1", "/warmpool/hosts"):
        r = api.get(path)
        assert r.status_code == 500 and r.json() == {"error": "500: VAST_API_KEY not configured"}, path
    assert api.get("/failover/readiness/1").status_code == 200, "readiness needs no key"
