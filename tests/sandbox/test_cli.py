"""python -m sandbox run alone: start line, token file, env vars, offers file, handle basics."""
import json
import os
import signal
import stat
import subprocess
import sys

import requests

import sandbox


def run_cli(args, env_extra=None, timeout=20):
    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True, text=True)
    return proc


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_start_line_token_file_and_env(tmp_path):
    ddir = tmp_path / "d"
    proc = run_cli(["--port", "0", "--data-dir", str(ddir)], {"SANDBOX_TIME_SCALE": "250", "SANDBOX_SEED": "9"})
    try:
        line = proc.stdout.readline()
        assert line.startswith("Dumont Cloud sandbox serving on http://127.0.0.1:"), line
        url = line.split(" serving on ")[1].split()[0]
        token_file = ddir / "admin-token"
        assert "time scale 250" in line and str(token_file) in line
        token = token_file.read_text().strip()
        assert token and token not in line
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        info = requests.get(url + "/_sandbox/info", headers={"X-Sandbox-Admin-Token": token}).json()
        assert info["time_scale"] == 250 and info["seed"] == 9
        assert requests.get(url + "/health").json()["sandbox"]["time_scale"] == 250
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_offers_file_and_flags_override_env(tmp_path):
    offers = tmp_path / "offers.json"
    offers.write_text(json.dumps([{"id": 7, "gpu_name": "RTX 3060", "dph_total": 0.07},
                                  {"id": 8, "gpu_name": "CPU", "num_gpus": 0, "dph_total": 0.01}]))
    with sandbox.start(extra_args=["--offers-file", str(offers)], env={"SANDBOX_TIME_SCALE": "5"},
                       time_scale=77) as box:
        got = requests.get(box.url + "/api/v1/instances/offers").json()["offers"]
        assert [o["id"] for o in got] == [7] and got[0]["reliability_status"]
        assert box.admin.info()["time_scale"] == 77
    assert not box.data_dir.exists(), "a temp data dir made by start() is removed by stop()"


def test_bad_arguments_fail_fast(tmp_path):
    for args in (["--rate-limit", "fast"], ["--time-scale", "0"], ["--rate-limit-mode", "418"],
                 ["--timings", '{"boot": [5, 1, 2]}'], ["--provider-rate-limit", "0/5"], ["--profile", "fake"],
                 ["--create-stall", "-1"], ["--unconfigured", "dns"], ["--register", "maybe"]):
        proc = run_cli(["--port", "0", "--data-dir", str(tmp_path / "x"), *args])
        try:
            proc.wait(20)
        finally:
            stop(proc)
        assert proc.returncode != 0, args
    out = subprocess.run([sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True).stdout
    for flag in ("--host", "--port", "--data-dir", "--time-scale", "--size-scale", "--seed", "--rate-limit",
                 "--rate-limit-mode", "--start-balance", "--admin-token", "--offers-file", "--ssh-ready-delay",
                 "--ready-file", "--timings", "--profile", "--provider-rate-limit", "--provider-retry-delay",
                 "--create-stall", "--unconfigured", "--register"):
        assert flag in out


def test_timings_override_and_start_balance(tmp_path):
    with sandbox.start(time_scale=100, start_balance=12.5,
                       extra_args=["--timings", '{"boot": 50, "ssh_ready": 0}', "--admin-token", "tok-1",
                                   "--register", "ok"]) as box:
        assert box.admin_token == "tok-1"
        r = requests.post(box.url + "/api/v1/auth/register", json={"email": "n@example.com", "password": "abcdef"})
        tok = r.json()["token"]
        h = {"Authorization": f"Bearer {tok}"}
        assert requests.get(box.url + "/api/v1/balance", headers=h).json()["credit"] == 12.5
        iid = requests.post(box.url + "/api/v1/instances", headers=h, json={"offer_id": 101001}).json()["id"]
        ev = [e for e in box.admin.events(iid) if e["event"] == "boot_scheduled"][0]
        assert ev["detail"]["boot_s"] == 50
        assert box.admin.info()["timings"]["boot"] == 50
