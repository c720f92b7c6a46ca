"""The other facts of docs/dumont-api.md, "Verified against the upstream server", one test each:
instance views, refused offers, request bodies and registered SSH keys, the offers' hidden
defaults, the prerequisites, the standby settings, the backup service's sync status and an
absolute $WORKSPACE. (Provider errors, the limiter and the stall: test_provider_and_stall.py;
401 without WWW-Authenticate and registration: test_api_basics.py.)"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import paramiko
import pytest
import requests

import sandbox
from tests.sandbox.helpers import Api, Key, login, new_account, ssh_connect, ssh_run, wait_ssh, wait_until
from tests.sandbox.test_standby import configure, listed, wait_state


def offers(url, **params):
    r = requests.get(url + "/api/v1/instances/offers", params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["offers"]


# -- 4. the instance's three shapes --------------------------------------------------------
def test_get_instance_has_no_cpu_standby_and_null_total_dph_only_the_list_fills_them(sb, api, key):
    configure(api)
    created = api.create(label="shapes").json()
    assert created["start_date"] is None and created["status"] == "running"
    assert created["actual_status"] == "loading"
    assert created["cpu_standby"] is None and created["total_dph"] is None
    wait_state(api, created["id"], "syncing")
    got = api.instance(created["id"]).json()
    assert got["cpu_standby"] is None and got["total_dph"] is None and got["start_date"]
    row = listed(api, created["id"])
    assert row["cpu_standby"]["state"] == "syncing"
    assert row["total_dph"] == pytest.approx(row["dph_total"] + row["cpu_standby"]["dph_total"])


def test_instance_ram_is_in_mb_while_offers_give_gb(sb, api):
    offer = [o for o in offers(sb.url, gpu_name="RTX_3060") if o["id"] == 101001][0]
    assert offer["gpu_ram"] == 12 and offer["cpu_ram"] == 32
    iid = api.create(101001).json()["id"]
    for view in (api.instance(iid).json(), listed(api, iid)):
        assert view["gpu_ram"] == 12288.0 and view["cpu_ram"] == 32768.0
        assert view["gpu_util"] is None and view["ram_total"] is None   # metrics: never filled


# -- 5. an offer the provider refuses ------------------------------------------------------
def test_create_from_a_vanished_or_just_rented_offer_is_a_500_not_a_400(sb, api):
    sb.admin.add_fault(kind="offer_vanish", offer_id=101002)
    sb.admin.add_fault(kind="offer_vanish", offer_id=101006, reason="rented")
    for skip in (False, True):
        r = api.create(101002, skip_validation=skip)
        assert r.status_code == 500 and r.json()["error"].startswith("Parâmetros da oferta inválidos: ")
        r = api.create(101006, skip_validation=skip)
        assert r.status_code == 500
        assert r.json() == {"error": "Oferta 101006 indisponível: A máquina já foi alugada por outro usuário"}
    assert api.create(424242).json()["error"].startswith("Parâmetros da oferta inválidos: ")
    assert api.get("/instances").json()["count"] == 0


# -- 6. bodies, ssh_key and the account's registered keys ----------------------------------
def test_unknown_body_fields_are_ignored_and_a_bad_ssh_key_is_never_refused(sb, api):
    for body in ({"ssh_key": "ssh-ed25519 not-a-key"}, {"ssh_key": 42}, {"ssh_key": ""},
                 {"ssh_key": ["a", "b"]}, {"whatever": {"x": 1}, "skip-standby": True}):
        r = api.post("/instances", json={"offer_id": 101001, **body})
        assert r.status_code == 201, (body, r.text)
    notes = [e["detail"]["ssh_key"] for e in sb.admin.events(kind="instance")
             if e["event"] == "created" and e["detail"]["account"] == api.email]
    assert notes[0] == "ignored (not an OpenSSH public key)" and notes[-1] == "none"


def test_instances_authorise_the_accounts_registered_keys(sb, api, key):
    registered, given, late = Key(), Key(), Key()
    assert sb.admin.set_account(api.email, ssh_keys=[registered.public])["ssh_keys"] == [registered.public]
    bad = api.create_running(ssh_key="ssh-ed25519 garbage")
    both = api.create_running(given)
    sb.admin.add_ssh_key(api.email, late.public)
    assert sb.admin.account(api.email)["ssh_keys"] == [registered.public, late.public]
    wait_ssh(bad["ssh_port"], registered)
    wait_ssh(both["ssh_port"], registered)
    wait_ssh(both["ssh_port"], given)              # [ext] a valid ssh_key is authorised too
    for port, who in ((bad["ssh_port"], given), (both["ssh_port"], late)):
        with pytest.raises(paramiko.AuthenticationException):
            ssh_connect(port, who)               # keys are copied when the instance is created
    newer = api.create_running()
    wait_ssh(newer["ssh_port"], late)
    with pytest.raises(sandbox.SandboxError, match="400"):
        sb.admin.set_account(api.email, ssh_keys=["not a key"])


# -- 8. the offers' hidden defaults --------------------------------------------------------
def test_offers_apply_the_real_servers_hidden_defaults(sb):
    ids = {o["id"] for o in offers(sb.url, gpu_name="RTX_3060")}
    assert 101017 not in ids, "40 GB disk and 80 Mbps: under min_disk=50 and min_inet_down=100"
    assert 101017 in {o["id"] for o in offers(sb.url, gpu_name="RTX_3060", min_disk=0, min_inet_down=0)}
    assert 101018 not in {o["id"] for o in offers(sb.url, gpu_name="RTX_A4000")}
    assert 101018 in {o["id"] for o in offers(sb.url, gpu_name="RTX_A4000", min_inet_down=50)}
    # the journeys' GPUs pass the defaults
    for gpu in ("RTX_3060", "RTX_A4000"):
        found = offers(sb.url, gpu_name=gpu)
        assert found and all(o["disk_space"] >= 50 and o["inet_down"] >= 100 for o in found)
        assert all(o["cpu_cores"] >= 1 and o["cpu_ram"] >= 1 for o in found)
    # on-demand only, unless machine_type (free text) asks otherwise; then no hidden minimums
    assert all(o["machine_type"] == "on-demand" for o in offers(sb.url))
    inter = offers(sb.url, gpu_name="RTX_3060", machine_type="interruptible")
    assert [o["id"] for o in inter] == [101003]
    assert [o["id"] for o in offers(sb.url, gpu_name="RTX_3060", machine_type="bid")] == [101003]
    every = {o["id"] for o in offers(sb.url, gpu_name="RTX_3060", machine_type="all")}
    assert {101001, 101003, 101017} <= every
    assert offers(sb.url, machine_type="reserved") == []
    for params, status in (({"num_gpus": 8}, 200), ({"num_gpus": 9}, 422), ({"limit": 100}, 200),
                           ({"limit": 101}, 422)):
        assert requests.get(sb.url + "/api/v1/instances/offers", params=params).status_code == status, params


# -- 9. prerequisites that answer errors -----------------------------------------------------
def test_prerequisites_missing_on_the_server_answer_their_errors(fresh_sandbox):
    box = fresh_sandbox(extra_args=["--unconfigured", "server-provider-key,restic,gcp"])
    assert box.admin.info()["unconfigured"] == ["server-provider-key", "restic", "gcp"]
    r = requests.get(box.url + "/api/v1/instances/offers")
    assert r.status_code == 503 and r.json() == {"error": "Vast.ai API key not configured on server."}
    api = Api(box.url, login(box.url, "test@test.com", "test123"))
    key_missing = {"error": "Vast.ai API key not configured. Please update settings."}
    for method, path in (("GET", "/balance"), ("GET", "/instances"), ("GET", "/instances/5"),
                         ("DELETE", "/instances/5"), ("GET", "/instances/5/sync/status"),
                         ("POST", "/instances")):
        r = api.req(method, path, json={"offer_id": 101001})
        assert r.status_code == 400 and r.json() == key_missing, (method, path)
    restic = {"error": "Restic repository not configured. Please update settings."}
    assert api.get("/snapshots").json() == restic and api.get("/snapshots").status_code == 400
    assert api.post("/snapshots", json={"instance_id": 5}).json() == restic
    r = api.post("/standby/configure", json={})
    assert r.status_code == 400 and r.json()["error"].startswith("GCP credentials not configured.")
    assert api.post("/standby/configure", json={"enabled": False}).status_code == 200
    # the account's own provider key is enough for its routes
    box.admin.set_provider_key("test@test.com", "vast-key-of-test")
    assert api.get("/balance").status_code == 200 and api.get("/instances").status_code == 200
    assert requests.get(box.url + "/api/v1/instances/offers").status_code == 503
    box.admin.settings(unconfigured=[])
    assert requests.get(box.url + "/api/v1/instances/offers").status_code == 200


def test_prerequisites_as_faults(sb, api):
    sb.admin.add_fault(kind="unconfigured", setting="restic")
    assert api.get("/snapshots").status_code == 400
    assert api.post("/instances/1/sync").json()["error"] == "Restic repository not configured. Please update settings."
    sb.admin.add_fault(kind="unconfigured", setting="provider-key", account=api.email)
    assert api.get("/instances").status_code == 400
    assert new_account(sb).get("/instances").status_code == 200, "only that account"
    sb.admin.add_fault(kind="unconfigured", setting="gcp", count=1)
    assert api.post("/standby/configure", json={}).status_code == 400
    sb.admin.add_fault(kind="unconfigured", setting="server-provider-key")
    assert requests.get(sb.url + "/api/v1/instances/offers").status_code == 503
    sb.admin.clear_faults()
    assert api.get("/snapshots").status_code == 200 and api.get("/instances").status_code == 200
    assert api.post("/standby/configure", json={"enabled": False}).status_code == 200


# -- 10. standby settings --------------------------------------------------------------------
def test_standby_status_config_has_no_enabled_and_posting_it_back_enables_standby(sb, api):
    configure(api, sync_interval=45)
    assert api.post("/standby/configure", json={"enabled": False}).status_code == 200
    st = api.get("/standby/status").json()
    assert st["auto_standby_enabled"] is False
    assert set(st["config"]) == {"gcp_zone", "gcp_machine_type", "gcp_disk_size", "gcp_spot", "sync_interval",
                                 "auto_failover", "auto_recovery"}
    assert api.post("/standby/configure", json=st["config"]).status_code == 200   # "as is"
    assert api.get("/standby/status").json()["auto_standby_enabled"] is True
    assert api.post("/standby/configure", json={**st["config"], "enabled": False}).status_code == 200
    assert api.get("/standby/status").json()["auto_standby_enabled"] is False


# -- 11. sync/status is the backup service ---------------------------------------------------
def test_sync_status_reports_backup_runs_not_the_cpu_standby(sb, api, key):
    configure(api, sync_interval=30)
    gpu = api.create_running(key, label="backup-runs")
    wait_until(lambda: (api.get(f"/standby/associations/{gpu['id']}").json().get("sync_count") or 0) >= 2, 10,
               what="standby syncs")
    st = api.get(f"/instances/{gpu['id']}/sync/status").json()
    assert st["sync_count"] == 0 and st["synced"] is False and st["last_sync_ago"] == "Never"
    run = api.post(f"/instances/{gpu['id']}/sync").json()
    assert run["success"] is True and run["snapshot_id"] and run["error"] is None
    run2 = api.post(f"/instances/{gpu['id']}/sync", params={"force": "true"}).json()
    assert run2["success"] is True
    st = api.get(f"/instances/{gpu['id']}/sync/status").json()
    assert st["sync_count"] == 2 and st["synced"] is True and st["last_snapshot_id"] == run2["snapshot_id"]
    assert st["last_stats"]["files_new"] == 0 and st["last_sync_ago"].endswith("ago")
    snaps = {s["id"]: s for s in api.get("/snapshots").json()["snapshots"]}
    assert snaps[run["snapshot_id"]]["tags"] == [f"instance-{gpu['id']}", "auto-sync", "sync-1"]
    # a loading instance cannot be backed up: 200, success false
    sb.admin.add_fault(kind="never_running", count=1)   # loading still after the create's stall
    loading = api.create(skip_standby=True).json()["id"]
    bad = api.post(f"/instances/{loading}/sync").json()
    assert bad["success"] is False and bad["error"] == f"Instance {loading} is not running"


def test_backup_runs_closer_than_30_nominal_seconds_need_force(fresh_sandbox, key):
    box = fresh_sandbox(time_scale=1.0, create_stall=0, provider_rate_limit="off", extra_args=[
        "--timings", '{"boot": 0.2, "ssh_ready": 0, "snapshot_base": 0.1, "snapshot_per_gb": 0}'])
    api = new_account(box)
    inst = api.create_running(key)
    assert api.post(f"/instances/{inst['id']}/sync").json()["success"] is True
    again = api.post(f"/instances/{inst['id']}/sync").json()
    assert again["success"] is False and again["error"].startswith("Synced 0s ago. Wait ")
    assert again["error"].endswith("or use force=true")
    assert api.post(f"/instances/{inst['id']}/sync", params={"force": "true"}).json()["success"] is True


# -- 12. $WORKSPACE is absolute --------------------------------------------------------------
def test_workspace_is_an_absolute_path_whatever_the_data_dir(tmp_path, key):
    log = tmp_path / "out.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0", "--data-dir", "rel-data",
                                 "--time-scale", "1200", "--create-stall", "0"], cwd=tmp_path,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        line = wait_until(lambda: next((x for x in log.read_text().splitlines() if " serving on " in x), None),
                          20, what="the start line")
        url = line.split(" serving on ")[1].split()[0]
        admin = sandbox.AdminClient(url, (tmp_path / "rel-data" / "admin-token").read_text().strip())
        admin.set_account("ws@example.com", password="secret123", ssh_keys=[key.public])
        api = Api(url, login(url, "ws@example.com", "secret123"))
        inst = api.create_running()
        wait_ssh(inst["ssh_port"], key)
        rc, out, _ = ssh_run(inst["ssh_port"], key, 'echo "$WORKSPACE"; pwd')
        ws, pwd = out.decode().split()
        assert rc == 0 and ws.startswith("/") and ws == pwd
        assert ws == str((tmp_path / "rel-data" / "machines" / str(inst["id"]) / "workspace").resolve())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
