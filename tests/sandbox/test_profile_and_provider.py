"""The "real" profile (nothing a client sees says sandbox), the stand-in `hf` command on the
machines, the provider-compatible listing for leak checks, and the price_change fault."""
from __future__ import annotations

import hashlib
import time

import paramiko
import pytest
import requests

import sandbox
from tests.sandbox.helpers import FAST, Api, Key, login, new_account, ssh_connect, ssh_run, wait_ssh

SUITE_COMMAND = ('hf version | grep -Eq \'huggingface_hub version: 1\\.\' || python3 -m pip install -q '
                 '"huggingface_hub>=1.0,<2"; hf download Qwen/Qwen3-0.6B --local-dir "$WS/models/qwen3-0.6b"')


@pytest.fixture(scope="module")
def real():
    box = sandbox.start(time_scale=FAST, seed=5, profile="real")
    yield box
    box.stop()


def registered_account(box, key):
    """An account whose provider account has `key` registered (the only way in, for real)."""
    api = new_account(box)
    box.admin.set_account(api.email, ssh_keys=[key.public])
    return api


# -- the real profile ------------------------------------------------------------------------
def test_real_profile_health_is_exactly_the_real_servers(real):
    assert requests.get(real.url + "/health", timeout=5).json() == {
        "status": "healthy", "version": "3.0.0", "service": "dumont-cloud"}


def test_real_profile_admin_api_still_works(real):
    info = real.admin.info()
    assert info["profile"] == "real" and info["time_scale"] == FAST
    assert real.admin.models() and real.admin.requests_log() is not None


def test_real_profile_ignores_the_creates_ssh_key_only_registered_keys_work(real, key):
    api = registered_account(real, key)
    stranger = Key()
    inst = api.create_running(stranger)
    wait_ssh(inst["ssh_port"], key)
    with pytest.raises(paramiko.AuthenticationException):
        ssh_connect(inst["ssh_port"], stranger)
    created = [e for e in real.admin.events(inst["id"]) if e["event"] == "created"][0]
    assert created["detail"]["ssh_key"] == "ignored (real profile)"


def test_real_profile_machines_have_no_mirror_and_answers_no_ext_fields(real, key):
    api = registered_account(real, key)
    inst = api.create_running()
    wait_ssh(inst["ssh_port"], key)
    rc, out, _ = ssh_run(inst["ssh_port"], key, 'env | grep -c "^DUMONT_MODEL_MIRROR=" || true')
    assert out.decode().strip() == "0"
    for view in (inst, api.get("/instances").json()["instances"][0]):
        assert not {"storage_dph", "offer_id", "image", "machine_id"} & set(view)
    offer = requests.get(real.url + "/api/v1/instances/offers").json()["offers"][0]
    assert "machine_type" not in offer and "storage_dph" not in offer and "reliability_status" in offer


# -- the stand-in hf -----------------------------------------------------------------------
def test_hf_version_prints_a_huggingface_hub_1x_line(real, key):
    api = registered_account(real, key)
    inst = api.create_running()
    wait_ssh(inst["ssh_port"], key)
    rc, out, _ = ssh_run(inst["ssh_port"], key, "hf version")
    assert rc == 0 and out.decode() == "huggingface_hub version: 1.3.1\n"


def test_hf_download_writes_the_models_files_with_the_suites_command(real, key):
    api = registered_account(real, key)
    inst = api.create_running()
    wait_ssh(inst["ssh_port"], key)
    rc, out, err = ssh_run(inst["ssh_port"], key, f'WS="$WORKSPACE"; {SUITE_COMMAND}', timeout=120)
    assert rc == 0, err
    target = out.decode().strip().splitlines()[-1]
    assert target.endswith("/workspace/models/qwen3-0.6b")
    model = [m for m in real.admin.models() if m["name"] == "qwen3-0.6b"][0]
    rc, out, _ = ssh_run(inst["ssh_port"], key, "cd models/qwen3-0.6b && sha256sum "
                         + " ".join(f["name"] for f in model["files"]))
    assert rc == 0
    got = {line.split()[1]: line.split()[0] for line in out.decode().splitlines()}
    assert got == {f["name"]: f["sha256"] for f in model["files"]}
    assert b"pip" not in err, "the version check passed: nothing installed"
    rc, out, _ = ssh_run(inst["ssh_port"], key, "ls -A models/qwen3-0.6b/.cache/huggingface")
    assert out.decode().split() == [".gitignore"]


def test_hf_download_of_an_unknown_repo_fails_clearly(real, key):
    api = registered_account(real, key)
    inst = api.create_running()
    wait_ssh(inst["ssh_port"], key)
    rc, out, err = ssh_run(inst["ssh_port"], key, "hf download nobody/no-such-model --local-dir x")
    assert rc == 1 and out == b""
    assert err.decode().startswith("Repository Not Found for url: https://huggingface.co/api/models/nobody/no-such")
    rc, _, _ = ssh_run(inst["ssh_port"], key, "test -e x/config.json")
    assert rc == 1


def test_hf_is_on_the_path_in_the_default_profile_too_and_downloads_at_the_mirrors_pace(fresh_sandbox, key):
    box = fresh_sandbox(time_scale=60, create_stall=0)
    api = new_account(box)
    inst = api.create_running(key)
    wait_ssh(inst["ssh_port"], key)
    t0 = time.monotonic()
    rc, out, err = ssh_run(inst["ssh_port"], key, "hf download Qwen/Qwen2.5-7B --local-dir m --quiet", timeout=120)
    took = time.monotonic() - t0
    assert rc == 0, err
    # 15 GB nominal at 200 MB/s = 75 s nominal = 1.25 s at scale 60
    assert took >= 1.25 * 0.8
    model = [m for m in box.admin.models() if m["name"] == "qwen2.5-7b"][0]
    rc, out, _ = ssh_run(inst["ssh_port"], key, "cat m/* | sha256sum")
    whole = hashlib.sha256()
    for f in sorted(model["files"], key=lambda f: f["name"]):
        whole.update(requests.get(f"{box.url}/_sandbox/models/qwen2.5-7b/{f['name']}").content)
    assert out.decode().split()[0] == whole.hexdigest()


# -- the provider-compatible listing -------------------------------------------------------
def test_provider_listing_shows_the_live_instances_of_the_keys_account(sb, api):
    sb.admin.set_provider_key(api.email, "pk-" + api.email)
    other = new_account(sb)
    sb.admin.set_account(other.email, provider_key="pk-" + other.email)
    a = api.create(label="leak-a").json()["id"]
    b = api.create(label="leak-b").json()["id"]
    other.create(label="not-mine")
    api.delete(f"/instances/{b}")
    r = requests.get(sb.url + "/_provider/api/v0/instances/", headers={"Authorization": f"Bearer pk-{api.email}"})
    assert r.status_code == 200
    listed = r.json()["instances"]
    assert [(i["id"], i["label"]) for i in listed] == [(a, "leak-a")]
    assert isinstance(listed[0]["id"], int) and listed[0]["actual_status"] in ("loading", "running")
    assert requests.get(sb.url + "/_provider/api/v0/instances/",
                        headers={"Authorization": "Bearer nope"}).status_code == 401
    assert requests.get(sb.url + "/_provider/api/v0/instances/").status_code == 401
    assert sb.admin.account(api.email)["provider_key"] == "pk-" + api.email
    with pytest.raises(sandbox.SandboxError, match="another account"):
        sb.admin.set_provider_key(other.email, "pk-" + api.email)


def test_provider_listing_faults_unreachable_and_500(sb, api):
    sb.admin.set_provider_key(api.email, "pk2-" + api.email)
    headers = {"Authorization": f"Bearer pk2-{api.email}"}
    url = sb.url + "/_provider/api/v0/instances/"
    sb.admin.add_fault(kind="connection_drop", path="/_provider/*")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=headers, timeout=5)
    sb.admin.add_fault(kind="http_error", path="/_provider/*", status=500)
    assert requests.get(url, headers=headers, timeout=5).status_code == 500
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    # a fault without a /_provider path never hits the provider's API
    sb.admin.add_fault(kind="http_error", status=502)
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    assert api.get("/balance").status_code == 502


def test_provider_listing_is_not_stalled_by_the_server(fresh_sandbox):
    box = fresh_sandbox(time_scale=100, create_stall=100)          # 1 s stall
    api = new_account(box)
    box.admin.set_provider_key(api.email, "pk-stall")
    assert api.create().status_code == 201
    t0 = time.monotonic()
    r = requests.get(box.url + "/_provider/api/v0/instances/", headers={"Authorization": "Bearer pk-stall"})
    assert r.status_code == 200 and len(r.json()["instances"]) == 1 and time.monotonic() - t0 < 0.5


# -- the price fault -------------------------------------------------------------------------
def test_price_change_fault_bills_at_a_multiple_of_the_offer_price(sb, api):
    sb.admin.add_fault(kind="price_change", factor=1.5, offer_id=101001)
    sb.admin.add_fault(kind="price_change", factor=2, gpu_name="RTX_A4000")
    changed = api.create(101001).json()
    assert changed["dph_total"] == pytest.approx(0.135)
    a4000 = api.create(101005).json()
    assert a4000["dph_total"] == pytest.approx(0.34)
    same = api.create(101007).json()
    assert same["dph_total"] == 0.39
    bill = {r["id"]: r for r in sb.admin.billing()["resources"]}
    assert all(i["dph"] == pytest.approx(0.135) for i in bill[changed["id"]]["intervals"])
    assert bill[changed["id"]]["dph_total"] == pytest.approx(0.135)
    created = [e for e in sb.admin.events(changed["id"]) if e["event"] == "created"][0]
    assert created["detail"]["price_change"]["listed_dph_total"] == 0.09
    assert api.create(101001).json()["dph_total"] == pytest.approx(0.135), "until cleared"
    sb.admin.clear_faults()
    assert api.create(101001).json()["dph_total"] == 0.09


def test_handle_starts_a_real_profile_sandbox_by_keyword(real):
    assert Api(real.url, login(real.url, "test@test.com", "test123")).get("/auth/me").status_code == 200
