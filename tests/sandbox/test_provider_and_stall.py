"""The provider's failures as the real server shows them, the provider-shaped rate limiter, and
the whole-server stall after each create (docs/dumont-api.md, "Verified against the upstream
server"). Timing tests use a dedicated sandbox at a time scale where the delays are measurable."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.sandbox.helpers import new_account, ssh_run, wait_ssh, wait_until

URL_429 = "429 Client Error: Too Many Requests for url: https://console.vast.ai/api/v0"


@pytest.fixture(scope="module")
def slow(request):
    """Scale 100: the 14 s retry delay is 0.14 s; the create stall is off or fixed per test."""
    import sandbox
    box = sandbox.start(time_scale=100.0, seed=11, create_stall=0,
                        extra_args=["--timings", '{"boot": 5, "ssh_ready": 0}'])
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def _reset_slow(request):
    yield
    if "slow" in request.fixturenames:
        box = request.getfixturevalue("slow")
        box.admin.clear_faults()
        box.admin.settings(create_stall=0, provider_retry_delay=14, provider_rate_limit="0.2/5")


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def last_request(box, method, path):
    return [x for x in box.admin.requests_log() if x["method"] == method and x["path"] == path][-1]


# -- 1. provider errors ----------------------------------------------------------------------
def test_provider_error_on_get_instance_is_a_404_after_the_servers_retries(slow):
    api = new_account(slow)
    iid = api.create().json()["id"]
    slow.admin.add_fault(kind="provider_error", error="rate_limit", method="GET", path="/api/v1/instances/*")
    r, took = timed(lambda: api.instance(iid))
    assert r.status_code == 404 and r.json() == {"error": f"Instance {iid} not found"}
    assert "Retry-After" not in r.headers
    assert took >= 14 / 100 * 0.9                     # 2 + 4 + 8 s nominal, scaled
    assert api.instance(iid).status_code == 200, "the instance was there all along"
    log = last_request(slow, "GET", f"/api/v1/instances/{iid}")   # the successful one
    failed = [x for x in slow.admin.requests_log() if x["path"] == f"/api/v1/instances/{iid}"][-2]
    assert failed["status"] == 404 and failed["fault"].startswith("provider_error:")
    assert failed["provider_error"] == "rate_limit" and log["provider_error"] is None
    stall = [s for s in slow.admin.stalls() if s["reason"] == "provider_retries"][-1]
    assert stall["nominal_s"] == 14 and stall["detail"]["endpoint"] == "GET /instances/{id}"


def test_provider_error_on_list_and_delete_is_a_503_unreachable(slow):
    api = new_account(slow)
    iid = api.create().json()["id"]
    slow.admin.add_fault(kind="provider_error", method="GET", path="/api/v1/instances")
    r = api.get("/instances")
    assert r.status_code == 503
    assert r.json() == {"error": f"Vast.ai API unreachable: {URL_429}/instances/?owner=me", "details": {}}
    slow.admin.add_fault(kind="provider_error", method="DELETE", path="/api/v1/instances/*")
    r = api.delete(f"/instances/{iid}")
    assert r.status_code == 503 and r.json()["error"] == f"Vast.ai API unreachable: {URL_429}/instances/{iid}/"
    assert api.instance(iid).status_code == 200, "a failed delete deletes nothing"
    for error, text in (("timeout", "Read timed out. (read timeout=30)"), ("down", "Connection refused"),
                        ("server_error", "503 Server Error: Service Unavailable")):
        slow.admin.add_fault(kind="provider_error", error=error, method="GET", path="/api/v1/instances")
        if error == "timeout":
            slow.admin.settings(provider_retry_delay=0)   # 4 x 30 s of timeouts remain: 1.2 s
        r, took = timed(lambda: api.get("/instances"))
        assert r.status_code == 503 and r.json()["error"].startswith("Vast.ai API unreachable: ")
        assert text in r.json()["error"], error
        if error == "timeout":
            assert took >= 120 / 100 * 0.9
            slow.admin.settings(provider_retry_delay=14)


def test_provider_error_on_create_is_a_500_failed_to_create_instance(slow):
    api = new_account(slow, balance=0.5)
    for error, status, start in (
            ("rate_limit", 500, "Failed to create instance: Falha ao criar instância na VAST.ai.\n\nPossíveis causas:"),
            ("server_error", 500, "Failed to create instance: Falha ao criar instância na VAST.ai."),
            ("timeout", 500, "Failed to create instance: Timeout ao conectar com VAST.ai."),
            ("down", 503, "Não foi possível conectar à API VAST.ai")):
        slow.admin.add_fault(kind="provider_error", error=error, method="POST", path="/api/v1/instances")
        r = api.create()
        assert r.status_code == status and r.json()["error"].startswith(start), (error, r.text)
    slow.admin.add_fault(kind="provider_error", method="POST", path="/api/v1/instances")
    assert api.create().json()["error"].endswith("Possíveis causas:\n• ⚠️ Saldo baixo: $0.50")
    slow.admin.add_fault(kind="provider_error", error="down", method="POST", path="/api/v1/instances")
    r = api.create(skip_validation=True)
    assert r.status_code == 500 and r.json()["error"].startswith(
        "Failed to create instance: Não foi possível conectar à API VAST.ai. Verifique")
    assert api.get("/instances").json()["count"] == 0, "no instance behind a failed create"


def test_provider_error_on_the_other_routes_takes_their_real_form(slow):
    api = new_account(slow)
    iid = api.create().json()["id"]
    cases = [("GET", "/balance", 200, {"credit": 0.0, "balance": 0.0, "balance_threshold": 0.0, "email": api.email}),
             ("GET", "/instances/balance", 200, None),
             ("POST", f"/instances/{iid}/pause", 404, {"error": f"Instance {iid} not found"}),
             ("POST", f"/instances/{iid}/resume", 404, {"error": f"Instance {iid} not found"}),
             ("POST", "/snapshots", 404, {"error": f"Instance {iid} not found"})]
    for method, path, status, body in cases:
        slow.admin.add_fault(kind="provider_error", method=method, path="/api/v1" + path)
        r = api.req(method, path, json={"instance_id": iid})
        assert r.status_code == status, (path, r.text)
        if body is not None:
            assert r.json() == body, path
    raw = [x for x in slow.admin.requests_log() if x["path"] == "/api/v1/instances/balance"][-1]
    assert raw["provider_error"] == "rate_limit"
    slow.admin.add_fault(kind="provider_error", error="rate_limit", path="/api/v1/instances/offers")
    r = requests.get(slow.url + "/api/v1/instances/offers", timeout=10)
    assert r.status_code == 503 and r.json()["error"].startswith(f"Vast.ai API unreachable: {URL_429}/bundles?")
    assert api.get("/balance").json()["credit"] > 0, "one failure each"


def test_provider_retries_block_the_whole_server(slow):
    api = new_account(slow)
    slow.admin.settings(provider_retry_delay=60)      # 0.6 s wall
    fault = slow.admin.add_fault(kind="provider_error", method="GET", path="/api/v1/instances")
    done = {}
    t = threading.Thread(target=lambda: done.setdefault("r", api.get("/instances")))
    t.start()
    wait_until(lambda: any(f["id"] == fault and f["fired"] for f in slow.admin.faults()),
               what="the server's provider call failing (its retries under way)")
    # The admin API is not the real server's: it answers during the stall, and says so.
    [stall] = [s for s in slow.admin.stalls() if s["detail"].get("source") == f"provider_error:{fault}"]
    assert stall["active"], stall
    r = requests.get(slow.url + "/health", timeout=10)
    answered = time.time()
    assert r.status_code == 200 and answered >= stall["end"], "/health was not held until the retries ended"
    t.join(10)
    assert done["r"].status_code == 503


# -- 2. the provider's rate limiter -----------------------------------------------------------
def test_provider_rate_limiter_is_on_by_default(sb):
    assert sb.admin.info()["provider_rate_limit"]["interval"] == 0.2
    assert sb.admin.info()["provider_rate_limit"]["burst"] == 5


def test_provider_rate_limiter_refuses_per_endpoint_and_account_in_the_real_servers_forms(fresh_sandbox):
    box = fresh_sandbox(time_scale=1.0, provider_rate_limit="2/3", create_stall=0,
                        extra_args=["--provider-retry-delay", "0.05"])
    assert box.admin.info()["provider_rate_limit"]["interval"] == 2.0
    api = new_account(box)
    statuses = [api.get("/balance").json()["credit"] for _ in range(5)]
    assert statuses[:3] == [100.0] * 3 and statuses[3:] == [0.0, 0.0], "zeros once limited"
    # another endpoint, another account: their own buckets
    assert api.get("/instances").status_code == 200
    other = new_account(box)
    assert other.get("/balance").json()["credit"] == 100.0
    for _ in range(3):
        api.get("/instances")
    limited = api.get("/instances")
    assert limited.status_code == 503 and limited.json()["error"].startswith(f"Vast.ai API unreachable: {URL_429}")
    assert "Retry-After" not in limited.headers
    log = [x for x in box.admin.requests_log() if x["account"] == api.email]
    assert [x["fault"] for x in log if x["path"] == "/api/v1/balance"][3:] == ["provider_rate_limit"] * 2
    assert all(x["status"] != 429 for x in box.admin.requests_log())
    # one interval later the bucket has a token again
    time.sleep(2.1)
    assert api.get("/balance").json()["credit"] == 100.0


def test_provider_rate_limit_scales_with_time_and_can_be_turned_off(fresh_sandbox):
    box = fresh_sandbox(time_scale=10.0, provider_rate_limit=(1, 1), create_stall=0,
                        extra_args=["--provider-retry-delay", "0"])
    api = new_account(box)
    assert api.get("/balance").json()["credit"] == 100.0
    assert api.get("/balance").json()["credit"] == 0.0        # within 0.1 s wall (1 s nominal)
    time.sleep(0.12)
    assert api.get("/balance").json()["credit"] == 100.0
    box.admin.settings(provider_rate_limit="off")
    assert all(api.get("/balance").json()["credit"] == 100.0 for _ in range(10))
    off = fresh_sandbox(provider_rate_limit="off")
    assert off.admin.info()["provider_rate_limit"]["interval"] is None


def test_dumont_own_rate_limiter_is_off_by_default(sb):
    assert sb.admin.info()["rate_limit"]["rate"] is None


# -- 3. the whole-server stall after each create ------------------------------------------
def test_every_route_stalls_after_a_create_while_the_machine_keeps_booting(slow):
    api = new_account(slow)
    slow.admin.settings(create_stall=60)              # 0.6 s wall
    t_sent = time.time()
    r = api.create()
    t_answer = time.time()
    assert r.status_code == 201
    iid = r.json()["id"]
    results = {}

    def call(name, fn):
        t0 = time.time()
        results[name] = (fn(), time.time() - t0)
    threads = [threading.Thread(target=call, args=("health", lambda: requests.get(slow.url + "/health", timeout=10))),
               threading.Thread(target=call, args=("get", lambda: api.instance(iid))),
               threading.Thread(target=call, args=("unknown", lambda: api.get("/nothing/here/")))]
    for t in threads:
        t.start()
    # The admin routes answer while the stall is still on: their own answer says it is.
    during = [s for s in slow.admin.stalls() if s["reason"] == "create"][-1]
    assert during["active"], ("admin routes do not stall", during)
    for t in threads:
        t.join(10)
    assert results["health"][0].status_code == 200 and results["get"][0].status_code == 200
    assert results["unknown"][0].status_code == 404
    assert all(took >= 0.4 for _, took in results.values()), results
    stall = [s for s in slow.admin.stalls() if s["reason"] == "create"][-1]
    assert stall["detail"]["instance_id"] == iid and stall["nominal_s"] == 60
    assert t_sent <= stall["start"] <= t_answer and stall["end"] - stall["start"] == pytest.approx(0.6, abs=0.01)
    # the provider went on: the machine booted (5 s nominal) during the stall
    ran = [e for e in slow.admin.events(iid) if e["event"] == "status" and e["to"] == "running"][0]
    assert ran["t"] < stall["end"]
    logged = last_request(slow, "GET", f"/api/v1/instances/{iid}")
    assert logged["stalled_s"] >= 0.4 and logged["t"] < stall["end"] - 0.3   # stamped when it arrived
    ev = [e for e in slow.admin.events(kind="sandbox") if e["event"] == "server_stall"][-1]
    assert ev["detail"]["start"] == stall["start"] and ev["detail"]["end"] == stall["end"]


def test_an_answer_in_flight_when_the_stall_begins_waits_for_its_end(slow, key):
    api = new_account(slow)
    inst = api.create_running(key)
    wait_ssh(inst["ssh_port"], key)
    # 1.5 MB real = 1.5 GB nominal: the snapshot takes 5 + 45 s nominal, 0.5 s wall
    assert ssh_run(inst["ssh_port"], key, "head -c 1500000 /dev/urandom > big.bin")[0] == 0
    slow.admin.settings(create_stall=80)              # 0.8 s wall
    out = {}

    def snap():
        t0 = time.time()
        out["r"] = api.post(f"/instances/{inst['id']}/snapshots", json={"name": "inflight"})
        out["t0"], out["t1"] = t0, time.time()
    t = threading.Thread(target=snap)
    t.start()
    wait_until(lambda: [e for e in slow.admin.events(kind="snapshot") if e["event"] == "snapshot_started"],
               what="the snapshot under way")
    assert api.create().status_code == 201          # answered while the snapshot is still running
    t.join(10)
    stall = [s for s in slow.admin.stalls() if s["reason"] == "create"][-1]
    done = [e for e in slow.admin.events(kind="snapshot") if e["event"] == "snapshot_completed"][-1]
    assert out["r"].status_code == 201
    assert done["t"] < stall["end"] - 0.1, "the snapshot itself finished during the stall"
    assert out["t1"] >= stall["end"] - 0.05, "its answer was held until the stall ended"


def test_stalls_queue_and_the_flag_turns_them_off(slow):
    api = new_account(slow)
    slow.admin.settings(create_stall=30)
    assert api.create().status_code == 201
    assert api.create().status_code == 201          # answered once the first stall ended
    creates = [s for s in slow.admin.stalls() if s["reason"] == "create"][-2:]
    assert creates[1]["start"] >= creates[0]["end"] - 1e-6
    slow.admin.settings(create_stall=0)
    n = len(slow.admin.stalls())
    assert api.create().status_code == 201
    assert len(slow.admin.stalls()) == n


def test_create_stall_default_follows_the_machines_ssh(sb):
    # the stall itself is tested in test_past_ssh_facts.py
    assert sb.admin.info()["create_stall"] == "ssh"
