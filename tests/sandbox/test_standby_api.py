"""CPU standby routes: bad input on every route (the real server's error codes, {"error": ...}
bodies), authentication, account isolation, pricing and the scripted failover simulation."""
import pytest
import requests

import sandbox
from tests.sandbox.helpers import Api, new_account, wait_until
from tests.sandbox.test_standby import assoc, configure, pair

UNKNOWN = 999_999


def test_standby_routes_need_a_token(sb):
    anon = Api(sb.url)
    for method, path in (("POST", "/standby/configure"), ("GET", "/standby/status"),
                         ("POST", "/standby/provision/1"), ("GET", "/standby/associations"),
                         ("GET", "/standby/associations/1"), ("POST", "/standby/associations/1/start-sync"),
                         ("POST", "/standby/associations/1/stop-sync"), ("DELETE", "/standby/associations/1"),
                         ("GET", "/standby/pricing"), ("POST", "/standby/failover/simulate/1"),
                         ("GET", "/standby/failover/status/x"), ("GET", "/standby/failover/report"),
                         ("GET", "/instances/1/sync/status"), ("GET", "/instances/1/standby"),
                         ("POST", "/instances/1/sync"),
                         ("POST", "/instances/1/failover"), ("POST", "/instances/1/failback")):
        r = anon.req(method, path, json={})
        assert r.status_code == 401 and r.json() == {"error": "Not authenticated"}, (method, path)
        assert "www-authenticate" not in r.headers
    # the same routes under /api (no v1)
    assert Api(sb.url, prefix="/api").get("/standby/status").status_code == 401
    # ground truth needs the admin token
    assert requests.get(f"{sb.url}/_sandbox/standby/1").status_code == 401


def test_bad_input_on_every_standby_route(sb, api, key):
    nf = {"error": f"No standby association for GPU {UNKNOWN}"}
    # configure
    r = api.post("/standby/configure", json={"gcp_machine_type": "n1-huge"})
    assert r.status_code == 400 and "gcp_machine_type" in r.json()["error"]
    for body in ({"sync_interval": 0}, {"sync_interval": "often"}, {"enabled": "maybe"}, {"gcp_disk_size": -5}):
        r = api.post("/standby/configure", json=body)
        assert r.status_code == 422 and r.json()["error"] == "Validation error", body
    r = api.post("/standby/configure", data="{oops", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "error" in r.json()
    st = api.get("/standby/status").json()
    assert st["configured"] is False and st["auto_standby_enabled"] is False and st["associations"] == {}

    # provision before configure, unknown GPU, bad id
    gpu = api.create(label="bad-input", skip_standby=True).json()
    r = api.post(f"/standby/provision/{gpu['id']}")
    assert r.status_code == 400 and "POST /standby/configure" in r.json()["error"]
    configure(api)
    r = api.post(f"/standby/provision/{UNKNOWN}")
    assert r.status_code == 404 and r.json() == {"error": f"Instance {UNKNOWN} not found"}
    assert api.post("/standby/provision/abc").status_code == 422

    # association routes on a GPU without one
    for method, path in (("GET", f"/standby/associations/{UNKNOWN}"),
                         ("POST", f"/standby/associations/{UNKNOWN}/start-sync"),
                         ("POST", f"/standby/associations/{UNKNOWN}/stop-sync"),
                         ("DELETE", f"/standby/associations/{UNKNOWN}"),
                         ("DELETE", f"/standby/associations/{UNKNOWN}?keep_gpu=false")):
        r = api.req(method, path)
        assert r.status_code == 404 and r.json() == nf, (method, path)
    assert api.get("/standby/associations/x").status_code == 422
    assert api.delete(f"/standby/associations/{UNKNOWN}", params={"keep_gpu": "perhaps"}).status_code == 422

    # pricing
    for params in ({"machine_type": "z9-mega"},):
        r = api.get("/standby/pricing", params=params)
        assert r.status_code == 400 and "machine_type" in r.json()["error"]
    for params in ({"disk_gb": -1}, {"disk_gb": "big"}, {"spot": "maybe"}):
        assert api.get("/standby/pricing", params=params).status_code == 422, params

    # simulation
    r = api.post(f"/standby/failover/simulate/{UNKNOWN}")
    assert r.status_code == 404 and r.json()["error"].startswith(f"No standby association for GPU {UNKNOWN}")
    r = api.get("/standby/failover/status/nope")
    assert r.status_code == 404 and r.json() == {"error": "Failover nope not found"}
    assert api.get("/standby/failover/report", params={"days": 0}).status_code == 422

    # instance routes (sync/status is the backup service's: an unknown instance has never synced)
    for method, path in (("GET", f"/instances/{UNKNOWN}/standby"),
                         ("POST", f"/instances/{UNKNOWN}/failover"), ("POST", f"/instances/{UNKNOWN}/failback")):
        r = api.req(method, path)
        assert r.status_code == 404 and r.json() == {"error": f"Instance {UNKNOWN} not found"}, (method, path)
    for path in ("failover", "failback"):
        r = api.post(f"/instances/{gpu['id']}/{path}")
        assert r.status_code == 404 and r.json() == {"error": f"No standby association for GPU {gpu['id']}"}
    r = api.post(f"/instances/{gpu['id']}/failover", data="{bad", headers={"content-type": "application/json"})
    assert r.status_code == 422
    never = {"synced": False, "is_syncing": False, "last_sync": None, "last_sync_ago": "Never",
             "last_snapshot_id": None, "sync_count": 0, "last_stats": None, "error": None}
    for iid in (gpu["id"], UNKNOWN):
        assert api.get(f"/instances/{iid}/sync/status").json() == {"instance_id": iid, **never}
    assert api.get(f"/instances/{gpu['id']}/standby").json()["standby_enabled"] is False

    # illegal transitions of a real pair (auto_recovery off)
    g, a = pair(api, key)
    gid = g["id"]
    r = api.post(f"/instances/{gid}/failback")
    assert r.status_code == 400
    assert r.json() == {"error": f"Cannot fail back GPU {gid}: standby is syncing (failback needs failover_active)"}
    assert api.post(f"/instances/{gid}/failover", json={"reason": "x"}).status_code == 200
    r = api.post(f"/instances/{gid}/failover")
    assert r.status_code == 400 and r.json()["error"].startswith(f"Cannot fail over GPU {gid}")
    wait_until(lambda: assoc(api, gid)["state"] == "failover_active", 10, what="failover_active")
    assert api.post(f"/instances/{gid}/failback").status_code == 200
    r = api.post(f"/instances/{gid}/failback")
    assert r.status_code == 400 and r.json()["error"].startswith(f"Cannot fail back GPU {gid}")

    # another account sees none of it
    other = new_account(sb)
    assert other.get(f"/standby/associations/{gid}").json() == {"error": f"No standby association for GPU {gid}"}
    assert other.post(f"/instances/{gid}/failover").json() == {"error": f"Instance {gid} not found"}
    assert other.get("/standby/associations").json() == {"associations": {}, "count": 0}
    assert other.post(f"/standby/provision/{gid}").status_code == 404

    # admin ground truth of an unknown GPU
    with pytest.raises(sandbox.SandboxError, match="404"):
        sb.admin.standby_truth(UNKNOWN)


def test_pricing_follows_the_gcp_e2_table(api):
    spot = api.get("/standby/pricing").json()
    assert spot["machine_type"] == "e2-medium" and spot["spot"] is True and spot["disk_gb"] == 100
    assert spot["estimated_hourly_usd"] == 0.01
    assert spot["estimated_monthly_usd"] == pytest.approx(0.01 * 720 + 100 * 0.04)
    od = api.get("/standby/pricing", params={"spot": "false", "disk_gb": 50, "machine_type": "e2-standard-4"}).json()
    assert od["estimated_hourly_usd"] == 0.134 and od["breakdown"]["disk_monthly"] == 2.0
    assert api.get("/standby/pricing", params={"spot": "false"}).json()["estimated_hourly_usd"] == 0.0335


def test_failover_simulation_is_a_scripted_timeline(sb, api, key):
    g, a = pair(api, key)
    gid = g["id"]
    r = api.post(f"/standby/failover/simulate/{gid}", json={"reason": "spot_interruption"})
    assert r.status_code == 200
    body = r.json()
    assert body["phase"] == "detecting" and body["gpu_instance_id"] == gid and body["failover_id"]
    fid = body["failover_id"]

    def done():
        s = api.get(f"/standby/failover/status/{fid}").json()
        return s if s["phase"] == "complete" else None
    s = wait_until(done, 10, what="the simulation to complete")
    assert s["success"] is True and s["new_gpu_id"] == gid + 1000 and s["data_restored"] is True
    assert s["phase_timings_ms"] == {"detecting": 500, "gpu_lost": 2000, "failover_to_cpu": 3000,
                                     "searching_gpu": 3500, "provisioning": 3000, "restoring": 4000}
    assert s["total_time_ms"] >= 16_000 and s["completed_at"]
    # nothing real happened to the pair
    assert assoc(api, gid)["state"] == "syncing" and sb.admin.standby_truth(gid)["failovers"] == []
    rep = api.get("/standby/failover/report", params={"days": 30}).json()
    assert rep["total_failovers"] == 1 and rep["successful_failovers"] == 1 and rep["success_rate"] == 100.0
    assert rep["latency_by_phase_ms"]["gpu_lost"] == 2000 and rep["primary_cause"] == "spot_interruption"
    assert rep["mttr_seconds"] >= 16 and rep["history"][0]["failover_id"] == fid
    # without a body, and invisible to another account
    r = api.post(f"/standby/failover/simulate/{gid}")
    assert r.status_code == 200 and r.json()["phase"] == "detecting"
    other = new_account(sb)
    assert other.get(f"/standby/failover/status/{fid}").status_code == 404
    assert other.get("/standby/failover/report").json()["total_failovers"] == 0


def test_standby_timings_are_knobs_and_provisioning_cannot_fail_over(fresh_sandbox, key):
    box = fresh_sandbox(time_scale=600.0, seed=5,
                        extra_args=["--timings", '{"standby_provision": 100000, "sync_per_gb": 20}'])
    timings = box.admin.info()["timings"]
    assert timings["standby_provision"] == 100000 and timings["sync_per_gb"] == 20
    assert timings["health_interval"] == 10 and timings["failover_switch"] == 1
    api = new_account(box)
    configure(api)
    gpu = api.create_running(key, label="slow-prov")
    a = assoc(api, gpu["id"])
    assert a["state"] == "provisioning" and a["cpu_standby"]["status"] == "loading"
    r = api.post(f"/instances/{gpu['id']}/failover")
    assert r.status_code == 400
    assert r.json() == {"error": f"Cannot fail over GPU {gpu['id']}: standby is provisioning (failover needs syncing)"}
    # a loading standby is billed already, at its own price
    bill = [x for x in box.admin.billing()["resources"] if x["id"] == a["cpu_standby"]["instance_id"]][0]
    assert bill["intervals"][0]["state"] == "loading" and bill["dph_total"] == 0.01
