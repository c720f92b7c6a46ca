"""Snapshots: real archives, byte-for-byte round trip, quirks and errors."""

import pytest

from tests.sandbox.helpers import ssh_run, wait_ssh

WRITE_TREE = (
    "mkdir -p data/sub && head -c 300000 /dev/urandom > data/blob.bin && "
    "printf 'hello\\n' > data/sub/hello.txt && head -c 70000 /dev/urandom > top.bin && "
    "find . -type f ! -name '*.sha' | sort | xargs sha256sum"
)


def tree_hashes(port, key):
    rc, out, err = ssh_run(port, key, "find . -type f | sort | xargs sha256sum")
    assert rc == 0, err
    return out.decode()


def test_snapshot_round_trip_byte_for_byte(sb, api, key):
    src = api.create_running(key, label="snap-src")
    wait_ssh(src["ssh_port"], key)
    rc, out, err = ssh_run(src["ssh_port"], key, WRITE_TREE)
    assert rc == 0, err
    before = out.decode()
    r = api.post("/snapshots", json={"instance_id": src["id"], "tags": ["run-abc", "x"]}, timeout=120)
    assert r.status_code == 201, r.text
    snap = r.json()
    assert snap["success"] is True and isinstance(snap["snapshot_id"], str) and len(snap["snapshot_id"]) == 64
    assert snap["files_new"] == 3 and snap["files_changed"] == 0 and snap["total_files_processed"] == 3
    assert snap["data_added"] == snap["total_bytes_processed"] == 300000 + 6 + 70000
    listed = api.get("/snapshots").json()
    entry = [s for s in listed["snapshots"] if s["id"] == snap["snapshot_id"]][0]
    assert entry["short_id"] == snap["snapshot_id"][:8] and entry["tags"] == ["run-abc", "x"]
    assert entry["paths"] == ["/workspace"] and entry["time"] and entry["hostname"]
    # restore onto a new instance, the "real" way: create, wait running, restore into it
    dst = api.create_running(key, label="snap-dst")
    wait_ssh(dst["ssh_port"], key)          # the server runs restic on the instance over SSH
    r = api.post("/snapshots/restore", params={"instance_id": dst["id"]},
                 json={"snapshot_id": snap["snapshot_id"], "verify": True}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    # as the real server counts: one "restoring" line of restic's output (test_past_ssh_facts.py)
    assert body["success"] is True and body["files_restored"] == 1 and body["errors"] == []
    assert body["target_path"] == "/workspace"
    assert tree_hashes(dst["ssh_port"], key) == before
    # archive on disk is a real tar.gz; ground truth knows the snapshot
    res = [x for x in sb.admin.resources(kind="snapshot") if x["id"] == snap["snapshot_id"]][0]
    assert res["bytes"] == snap["total_bytes_processed"] and res["instance_id"] == src["id"] and res["alive"]
    events = [e["event"] for e in sb.admin.events(snap["snapshot_id"])]
    assert events == ["snapshot_started", "snapshot_completed", "restore_started", "restore_completed"]
    # incremental accounting: change one file, add one
    ssh_run(src["ssh_port"], key, "printf 'changed\\n' > data/sub/hello.txt && echo new > new.txt")
    r2 = api.post(f"/instances/{src['id']}/snapshots", json={"name": "second", "type": "incremental"})
    assert r2.status_code == 201, r2.text
    b2 = r2.json()
    assert b2["instance_id"] == src["id"] and b2["type"] == "incremental"
    assert b2["files_new"] == 1 and b2["files_changed"] == 1 and b2["data_added"] == 8 + 4


def test_snapshot_errors(sb, api, key):
    sb.admin.add_fault(kind="never_running", count=1)   # loading still after the create's stall
    loading = api.create().json()["id"]
    r = api.post("/snapshots", json={"instance_id": loading})
    assert r.status_code == 400 and r.json() == {"error": f"Instance {loading} is not running"}
    r = api.post("/snapshots", json={"instance_id": 77})
    assert r.status_code == 404
    assert api.post("/snapshots", json={}).status_code == 422
    inst = api.create_running(key)
    api.delete(f"/instances/{inst['id']}")
    r = api.post("/snapshots", json={"instance_id": inst["id"]})
    assert r.status_code == 404 and "not found" in r.json()["error"]
    # restore: instance_id must be in the query
    r = api.post("/snapshots/restore", json={"snapshot_id": "abc", "instance_id": loading})
    assert r.status_code == 422
    live = api.create_running(key)
    r = api.post("/snapshots", json={"instance_id": live["id"], "source_path": "/workspace/../../etc"})
    assert r.status_code == 400 and "escapes" in r.json()["error"]
    r = api.post("/snapshots", json={"instance_id": live["id"], "source_path": "/workspace/missing"})
    assert r.status_code == 500 and r.json()["error"].startswith("Failed to create snapshot")
    r = api.post("/snapshots/restore", params={"instance_id": live["id"]}, json={"snapshot_id": "deadbeef"})
    assert r.status_code == 200 and r.json()["files_restored"] == 0, "a success that restored nothing"
    # delete unknown -> 500 quirk; delete known -> 200, then gone from the list
    r = api.delete("/snapshots/deadbeef")
    assert r.status_code == 500 and r.json() == {"error": "Failed to delete snapshot deadbeef"}
    sid = api.post("/snapshots", json={"instance_id": live["id"]}).json()["snapshot_id"]
    assert api.delete(f"/snapshots/{sid}").json()["success"] is True
    assert sid not in [s["id"] for s in api.get("/snapshots").json()["snapshots"]]
    assert api.delete(f"/snapshots/{sid}").status_code == 200, "deleting it again: 200, as the real server"
    # restore onto a stopped instance is refused
    api.post(f"/instances/{live['id']}/pause")
    api.wait_status(live["id"], "stopped")
    sid2 = api.post("/snapshots", json={"instance_id": api.create_running()["id"]}).json()["snapshot_id"]
    r = api.post("/snapshots/restore", params={"instance_id": live["id"]}, json={"snapshot_id": sid2})
    assert r.status_code == 400


def test_snapshot_duration_scales_with_size(fresh_sandbox, key):
    from tests.sandbox.helpers import new_account
    scale = 300.0
    box = fresh_sandbox(time_scale=scale)
    api = new_account(box)
    inst = api.create_running(key)
    wait_ssh(inst["ssh_port"], key, timeout=5)
    ssh_run(inst["ssh_port"], key, "head -c 2000000 /dev/urandom > big.bin")  # 2 GB nominal
    sid = api.post("/snapshots", json={"instance_id": inst["id"]}).json()["snapshot_id"]
    done = [e for e in box.admin.events(sid) if e["event"] == "snapshot_completed"][0]["detail"]
    expected = (5 + 30 * 2.0) / scale
    assert done["nominal_s"] == pytest.approx(5 + 30 * 2.0, rel=0.01)
    assert done["duration_s"] == pytest.approx(expected, abs=0.15)
