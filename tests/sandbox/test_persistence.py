"""Restart persistence: kill -9, start again on the same data dir; everything alive comes back."""

import pytest

import sandbox
from sandbox import reaper
from tests.sandbox.helpers import Api, login, new_account, refused, ssh_run, wait_ssh, wait_until


def test_kill_9_then_restart_on_same_data_dir(tmp_path, key):
    ddir = tmp_path / "state"
    box = sandbox.start(data_dir=ddir, time_scale=600.0, seed=3)
    box2 = None
    try:
        api = new_account(box, balance=30.0)
        token = api.s.headers["Authorization"].split()[1]
        a = api.create_running(key, label="persist-a")
        wait_ssh(a["ssh_port"], key)
        assert ssh_run(a["ssh_port"], key, "echo keep-me > note.txt")[0] == 0
        # a background job inside the machine: it must not outlive the sandbox process
        assert ssh_run(a["ssh_port"], key, "nohup sleep 4242 >/dev/null 2>&1 &")[0] == 0
        assert wait_until(lambda: reaper.find(ddir), timeout=3, what="marked process")
        c = api.create_running(key, label="persist-c")
        api.post(f"/instances/{c['id']}/pause")
        api.wait_status(c["id"], "stopped")
        gone = api.create(label="persist-gone").json()["id"]
        api.delete(f"/instances/{gone}")
        b = api.create(label="persist-b", ssh_key=key.public).json()   # still loading when killed
        sid = api.post("/snapshots", json={"instance_id": a["id"], "tags": ["persist-snap"]}).json()["snapshot_id"]
        cost_before = {r["id"]: r["cost"] for r in box.admin.billing()["resources"]}
        box.kill()
        assert refused(a["ssh_port"])
        assert reaper.find(ddir) == []

        box2 = sandbox.start(data_dir=ddir, time_scale=600.0, seed=3)
        api2 = Api(box2.url, token)   # the old token still works
        assert api2.get("/auth/me").status_code == 200
        ids = {i["id"]: i for i in api2.get("/instances").json()["instances"]}
        assert set(ids) == {a["id"], b["id"], c["id"]}
        assert ids[a["id"]]["actual_status"] == "running" and ids[a["id"]]["ssh_port"] == a["ssh_port"]
        assert ids[c["id"]]["actual_status"] == "stopped" and ids[c["id"]]["status"] == "stopped"
        api2.wait_status(b["id"], "running")   # its boot timer was re-armed (and had expired)
        wait_ssh(a["ssh_port"], key)
        assert ssh_run(a["ssh_port"], key, "cat note.txt")[1] == b"keep-me\n"
        assert api2.instance(gone).status_code == 404
        assert sid in [s["id"] for s in api2.get("/snapshots").json()["snapshots"]]
        # billing went on (the machines kept running while the control plane was down)
        after = {r["id"]: r["cost"] for r in box2.admin.billing()["resources"]}
        assert after[a["id"]] > cost_before[a["id"]]
        assert after[gone] == cost_before[gone]
        # the planned boot time is kept in the ground truth even though it passed during the outage
        boot = [e for e in box2.admin.events(b["id"]) if e["event"] == "boot_scheduled"][0]["detail"]
        ran = [e for e in box2.admin.events(b["id"]) if e["event"] == "status" and e["to"] == "running"][0]
        assert ran["t"] == pytest.approx(boot["running_at"], abs=1.0)
        # resume of the paused one still works, and so does delete
        assert api2.post(f"/instances/{c['id']}/resume").status_code == 200
        api2.wait_status(c["id"], "running")
        for iid in ids:
            assert api2.delete(f"/instances/{iid}").status_code == 200
        # graceful stop and start again: nothing alive, everything in the ground truth
        box2.stop()
        box2 = sandbox.start(data_dir=ddir, time_scale=600.0)
        assert Api(box2.url, login(box2.url, api.email, "secret123")).get("/instances").json()["count"] == 0
        assert len(box2.admin.resources(label_prefix="persist-")) == 5
    finally:
        box.stop()
        if box2 is not None:
            box2.stop()


def running(data_dir, argv: bytes) -> list[int]:
    """The sandbox's processes (by the reaper's marker) whose command line starts with ``argv``."""
    found = []
    for pid in reaper.find(data_dir):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if fh.read().startswith(argv):
                    found.append(pid)
        except OSError:
            continue
    return found


def test_a_command_running_in_a_machine_dies_with_the_sandbox_itself(tmp_path, key):
    """Killed with the sandbox process alone (no reaper, no process group kill): the command goes too."""
    import os
    import signal
    import threading

    ddir = tmp_path / "state"
    box = sandbox.start(data_dir=ddir, time_scale=600.0, seed=3)
    try:
        api = new_account(box)
        a = api.create_running(key)
        wait_ssh(a["ssh_port"], key)
        # held in the foreground of its SSH channel, so that only the death signal can end it
        threading.Thread(target=ssh_run, args=(a["ssh_port"], key, "exec sleep 4343"), daemon=True).start()
        # The command itself, not the setpriv that starts it: until setpriv has set the death signal and
        # exec'd the command, a SIGKILL of the sandbox is not passed on (that instant is the reaper's to cover).
        assert wait_until(lambda: running(ddir, b"sleep\x004343"), timeout=30, what="the machine's command")
        os.kill(box.proc.pid, signal.SIGKILL)
        assert wait_until(lambda: not reaper.find(ddir), timeout=5, what="the command to die with the sandbox")
    finally:
        box.kill()
