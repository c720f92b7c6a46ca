"""Each fault kind, admin auth, determinism under the seed."""
import socket
import time

import pytest
import requests

from tests.sandbox.helpers import new_account, wait_ssh


def test_admin_requires_token(sb):
    for method, path in (("GET", "/_sandbox/info"), ("GET", "/_sandbox/resources"), ("POST", "/_sandbox/faults"),
                         ("GET", "/_sandbox/billing"), ("PUT", "/_sandbox/rate-limit")):
        r = requests.request(method, sb.url + path, json={})
        assert r.status_code == 401 and "error" in r.json()
        r = requests.request(method, sb.url + path, json={}, headers={"X-Sandbox-Admin-Token": "wrong"})
        assert r.status_code == 401
    info = sb.admin.info()
    assert info["time_scale"] == sb.time_scale and info["size_scale"] == 1000 and info["seed"] == 1234
    assert set(info) >= {"time_scale", "size_scale", "seed", "rate_limit", "data_dir", "version", "started_at"}


def test_bad_fault_specs(sb):
    for spec in ({"kind": "nope"}, {"kind": "http_error", "status": 200}, {"kind": "http_error", "count": 0},
                 {"kind": "rate_limit", "form": "418"}, {"kind": "offer_vanish"},
                 {"kind": "http_error", "probability": 3}):
        r = requests.post(sb.url + "/_sandbox/faults", json=spec, headers={"X-Sandbox-Admin-Token": sb.admin_token})
        assert r.status_code == 400 and "error" in r.json(), spec
    r = requests.post(sb.url + "/_sandbox/faults", data="{x", headers={"X-Sandbox-Admin-Token": sb.admin_token})
    assert r.status_code == 400


def test_http_error_count_skips_the_handler(sb, api):
    fid = sb.admin.add_fault(kind="http_error", method="POST", path="/api/v1/instances", status=503, count=2)
    r1, r2 = api.create(), api.create()
    assert r1.status_code == r2.status_code == 503 and "error" in r1.json()
    assert api.get("/instances").json()["count"] == 0, "the handler must not run"
    assert api.create().status_code == 201
    f = [x for x in sb.admin.faults() if x["id"] == fid][0]
    assert f["fired"] == 2 and f["remaining"] == 0
    log = [x for x in sb.admin.requests_log() if x["account"] == api.email and x["method"] == "POST"]
    assert [x["status"] for x in log[-3:]] == [503, 503, 201]
    assert log[-3]["fault"].startswith("http_error")


def test_http_error_glob_and_method(sb, api):
    sb.admin.add_fault(kind="http_error", method="GET", path="/api/v1/instances/*", status=502, count=1)
    assert api.get("/instances").status_code == 200        # not matched by the glob
    assert api.instance(5).status_code == 502
    assert api.instance(5).status_code == 404


def test_probability_is_deterministic_under_seed(fresh_sandbox):
    patterns = []
    for _ in range(2):
        box = fresh_sandbox(seed=42)
        api = new_account(box)
        box.admin.add_fault(kind="http_error", path="/api/v1/balance", status=500, probability=0.5)
        patterns.append([api.get("/balance").status_code for _ in range(20)])
    assert patterns[0] == patterns[1]
    assert 500 in patterns[0] and 200 in patterns[0]


def test_lost_response_creates_but_drops_connection(sb, api):
    sb.admin.add_fault(kind="lost_response", method="POST", path="/api/v1/instances")
    label = "lost-one"
    with pytest.raises(requests.ConnectionError):
        api.s.post(sb.url + "/api/v1/instances", json={"offer_id": 101001, "label": label}, timeout=10)
    listed = api.get("/instances").json()["instances"]
    assert [i["label"] for i in listed] == [label], "the handler ran: the instance exists"
    truth = [r for r in sb.admin.resources(label_prefix="lost-") if r["account"] == api.email]
    assert len(truth) == 1 and truth[0]["alive"]
    assert api.create().status_code == 201  # only once


def test_sticky_delete(sb, api):
    iid = api.create().json()["id"]
    sb.admin.add_fault(kind="sticky_delete", count=1)
    r = api.delete(f"/instances/{iid}")
    assert r.status_code == 200
    assert api.instance(iid).status_code == 200, "still alive after a 200 delete"
    assert api.delete(f"/instances/{iid}").status_code == 200
    assert api.instance(iid).status_code == 404


def test_never_running(sb, api):
    sb.admin.add_fault(kind="never_running", count=1)
    stuck = api.create().json()["id"]
    ok = api.create().json()["id"]
    api.wait_status(ok, "running")
    time.sleep(0.3)   # 6 nominal minutes at this scale: far beyond any boot
    assert api.instance(stuck).json()["actual_status"] == "loading"


def test_preempt_after_running(sb, api, key):
    sb.admin.add_fault(kind="preempt", after=60, count=1)
    iid = api.create(ssh_key=key.public).json()["id"]
    api.wait_status(iid, "exited", timeout=5)
    evs = sb.admin.events(iid)
    run = [e for e in evs if e["event"] == "status" and e["to"] == "running"][0]
    ex = [e for e in evs if e["event"] == "status" and e["to"] == "exited"][0]
    assert ex["t"] - run["t"] == pytest.approx(60 / sb.time_scale, abs=0.1)
    # targeted at a running instance
    other = api.create_running(key)["id"]
    sb.admin.add_fault(kind="preempt", after=0, instance_id=other)
    api.wait_status(other, "exited")


def test_ssh_refuse_for_a_while(fresh_sandbox, key):
    box = fresh_sandbox(time_scale=600.0)
    api = new_account(box)
    inst = api.create_running(key)
    wait_ssh(inst["ssh_port"], key)
    box.admin.add_fault(kind="ssh_refuse", seconds=600, instance_id=inst["id"])   # 1 s wall
    t0 = time.monotonic()
    s = socket.socket()
    with pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", inst["ssh_port"]))
    s.close()
    wait_ssh(inst["ssh_port"], key, timeout=5)
    assert time.monotonic() - t0 >= 0.9
    # for the next created instance: SSH comes later than running + its normal delay
    box.admin.add_fault(kind="ssh_refuse", seconds=600, count=1)
    nxt = api.create_running(key)
    t_run = time.monotonic()
    wait_ssh(nxt["ssh_port"], key, timeout=5)
    assert time.monotonic() - t_run >= 0.8
    kinds = [e["event"] for e in box.admin.events(inst["id"])]
    assert kinds.count("ssh_ready") == 2 and "ssh_down" in kinds


def test_snapshot_fail(sb, api, key):
    inst = api.create_running(key)
    sb.admin.add_fault(kind="snapshot_fail", count=1)
    r = api.post("/snapshots", json={"instance_id": inst["id"]})
    assert r.status_code == 500 and r.json()["error"].startswith("Failed to create snapshot")
    assert api.get("/snapshots").json()["count"] == 0
    failed = [e for e in sb.admin.events(kind="snapshot") if e["event"] == "snapshot_failed"]
    assert failed and not [r for r in sb.admin.resources(kind="snapshot") if r["id"] == failed[-1]["id"]]
    assert api.post("/snapshots", json={"instance_id": inst["id"]}).status_code == 201


def test_faults_list_and_clear(sb):
    sb.admin.add_fault(kind="sync_stall")
    sb.admin.add_fault(kind="sync_slow", factor=3)
    kinds = [f["kind"] for f in sb.admin.faults()]
    assert "sync_stall" in kinds and "sync_slow" in kinds
    assert sb.admin.clear_faults()["cleared"] >= 2
    assert sb.admin.faults() == []


def test_ground_truth_resources_and_requests(sb, api):
    a = api.create(label="gt-run1-a").json()["id"]
    b = api.create(label="gt-run1-b").json()["id"]
    api.delete(f"/instances/{b}")
    res = sb.admin.resources(label_prefix="gt-run1-")
    assert {r["id"] for r in res} == {a, b}
    assert {r["id"] for r in sb.admin.resources(label_prefix="gt-run1-", alive=True)} == {a}
    assert {r["id"] for r in sb.admin.resources(label_prefix="gt-run1-", alive=False)} == {b}
    one = [r for r in res if r["id"] == a][0]
    for field in ("kind", "label", "account", "created_at", "deleted_at", "alive", "status", "actual_status",
                  "gpu_name", "offer_id", "dph_total", "storage_dph", "tags"):
        assert field in one
    log = sb.admin.requests_log()
    mine = [x for x in log if x["account"] == api.email]
    assert any(x["method"] == "DELETE" and x["path"] == f"/api/v1/instances/{b}" and x["status"] == 200 for x in mine)
    assert all(set(x) >= {"t", "method", "path", "status", "duration_s", "account", "fault"} for x in mine)
    ev = sb.admin.events(resource_id=a)
    assert all(set(e) == {"t", "kind", "id", "event", "from", "to", "detail"} for e in ev)
