"""Real SSH endpoints and the model mirror downloaded from inside an instance."""
import time

import paramiko
import pytest
import requests

from tests.sandbox.helpers import Key, refused, ssh_connect, ssh_run, wait_ssh, wait_until


def test_ssh_runs_commands_in_the_workspace(sb, api, key):
    inst = api.create_running(key)
    port = inst["ssh_port"]
    wait_ssh(port, key)
    rc, out, err = ssh_run(port, key, 'echo "$WORKSPACE|$DUMONT_INSTANCE_ID|$DUMONT_MODEL_MIRROR"; pwd')
    assert rc == 0, err
    first, pwd = out.decode().splitlines()
    ws, iid, mirror = first.split("|")
    assert pwd == ws and ws.endswith("/workspace")
    assert iid == str(inst["id"]) and mirror == sb.url + "/_sandbox/models"
    # exit status, stderr and stdin are carried
    rc, out, err = ssh_run(port, key, "cat > in.bin; wc -c < in.bin; echo oops >&2; exit 7", stdin=b"x" * 100000)
    assert rc == 7 and out.strip() == b"100000" and err.strip() == b"oops"
    # the workspace persists between sessions; SFTP sees it under /workspace
    c = ssh_connect(port, key)
    try:
        sftp = c.open_sftp()
        assert "in.bin" in sftp.listdir("/workspace")
        with sftp.open("/workspace/hello.txt", "w") as fh:
            fh.write("hi")
    finally:
        c.close()
    assert ssh_run(port, key, "cat hello.txt")[1] == b"hi"
    assert sb.admin.machine(inst["id"])["workspace"] == ws


def test_the_first_connection_after_ssh_comes_up_is_stamped_before_its_handshake(sb, api, key):
    inst = api.create_running(key)
    wait_ssh(inst["ssh_port"], key)
    sent = time.time()
    ssh_run(inst["ssh_port"], key, "true")
    events = [e for e in sb.admin.events() if str(e["id"]) == str(inst["id"])]
    ready = next(e for e in events if e["event"] == "ssh_ready")
    firsts = [e for e in events if e["event"] == "ssh_first_connection"]
    assert len(firsts) == 1 and ready["t"] <= firsts[0]["t"] < sent      # once per time SSH came up


def test_ssh_refused_until_running_and_while_paused(sb, fresh_sandbox, key):
    from tests.sandbox.helpers import new_account
    # a fixed 120 s boot at scale 240: half a second to look at a loading instance
    box = fresh_sandbox(time_scale=240, extra_args=["--timings", '{"boot": 120}'])
    api = new_account(box)
    inst = api.create(ssh_key=key.public).json()
    assert inst["actual_status"] == "loading"
    assert refused(inst["ssh_port"])
    api.wait_status(inst["id"], "running", timeout=5)
    wait_ssh(inst["ssh_port"], key, timeout=5)
    assert api.post(f"/instances/{inst['id']}/pause").status_code == 200
    assert refused(inst["ssh_port"])  # down at the pause request
    api.delete(f"/instances/{inst['id']}")
    assert refused(inst["ssh_port"])


def test_ssh_rejects_other_keys_and_passwords(sb, api, key):
    inst = api.create_running(key)
    wait_ssh(inst["ssh_port"], key)
    with pytest.raises(paramiko.AuthenticationException):
        ssh_connect(inst["ssh_port"], Key())
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        c.connect("127.0.0.1", port=inst["ssh_port"], username="root", password="test123",
                  look_for_keys=False, allow_agent=False, timeout=5)
    c.close()


def test_model_mirror_listing_and_manifest(sb):
    models = requests.get(sb.url + "/_sandbox/models").json()["models"]
    by_name = {m["name"]: m for m in models}
    assert set(by_name) == {"qwen3-0.6b", "qwen2.5-7b"}
    assert by_name["qwen3-0.6b"]["nominal_bytes"] == 1_200_000_000
    assert by_name["qwen3-0.6b"]["bytes"] == 1_200_000
    assert by_name["qwen2.5-7b"]["bytes"] == 15_000_000
    manifest = requests.get(sb.url + "/_sandbox/models/qwen3-0.6b/manifest.sha256").text
    lines = manifest.strip().splitlines()
    assert len(lines) == len(by_name["qwen3-0.6b"]["files"])
    assert all(len(line.split("  ")[0]) == 64 for line in lines)
    assert requests.get(sb.url + "/_sandbox/models/nope/manifest.sha256").status_code == 404
    assert requests.get(sb.url + "/_sandbox/models/qwen3-0.6b/nope.bin").status_code == 404


def test_model_download_inside_instance_verifies(sb, api, key):
    inst = api.create_running(key)
    wait_ssh(inst["ssh_port"], key)
    script = (
        'set -e; mkdir -p models/qwen3-0.6b && cd models/qwen3-0.6b && '
        'curl -sf -o manifest.sha256 "$DUMONT_MODEL_MIRROR/qwen3-0.6b/manifest.sha256" && '
        'for f in $(awk \'{print $2}\' manifest.sha256); do '
        'curl -sf -o "$f" "$DUMONT_MODEL_MIRROR/qwen3-0.6b/$f"; done && sha256sum -c manifest.sha256'
    )
    rc, out, err = ssh_run(inst["ssh_port"], key, script, timeout=60)
    assert rc == 0, (out, err)
    assert out.decode().count(": OK") == 2
    # a corrupted file is caught by the same check
    sb.admin.corrupt_file("models/qwen3-0.6b/model.safetensors", instance_id=inst["id"])
    rc, out, _ = ssh_run(inst["ssh_port"], key, "cd models/qwen3-0.6b && sha256sum -c manifest.sha256")
    assert rc != 0 and b"FAILED" in out


def test_model_download_is_paced(fresh_sandbox):
    box = fresh_sandbox(time_scale=60)
    # 15 MB real = 15 GB nominal at 200 MB/s = 75 s nominal = 1.25 s wall at scale 60
    models = requests.get(box.url + "/_sandbox/models").json()["models"]
    files = [f for f in models if f["name"] == "qwen2.5-7b"][0]["files"]
    big = max(files, key=lambda f: f["bytes"])
    t0 = time.monotonic()
    data = requests.get(f"{box.url}/_sandbox/models/qwen2.5-7b/{big['name']}").content
    took = time.monotonic() - t0
    expected = big["bytes"] * 1000 / 200e6 / 60
    assert len(data) == big["bytes"]
    assert took == pytest.approx(expected, rel=0.35, abs=0.1)


def test_onstart_cmd_runs_in_the_workspace_when_running(sb, api, key):
    inst = api.create_running(key, onstart_cmd='echo started > onstart.txt; echo "$WORKSPACE"')
    wait_until(lambda: any(e["event"] == "onstart_finished" for e in sb.admin.events(inst["id"])), timeout=5,
               what="onstart finished")
    wait_ssh(inst["ssh_port"], key)
    assert ssh_run(inst["ssh_port"], key, "cat onstart.txt")[1] == b"started\n"
