"""support.client: retries, re-login, reconciled creates and the call log, over a fake transport."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests
import tenacity

from support.backoff import ApiError, BackoffPolicy, ConnectionProblem
from support.client import API, CallLog, CallRecord, LoginFailed
from support.clock import Clock
from support.errors import SpendRefused

from .fakes import lose_response, rate_limited_500, reply

BALANCE = f"{API}/balance"
INSTANCES = f"{API}/instances"
LOGIN = f"{API}/auth/login"
NO_JITTER = BackoffPolicy(jitter=0.0)


def refused():
    return requests.ConnectionError("HTTPConnectionPool(host='fake'): Connection refused")


# -- basics --------------------------------------------------------------------------

def test_login_then_bearer_and_timeout_on_every_call(server, make_client):
    client = make_client(timeout=7.5)
    assert client.balance()["credit"] == 12.5
    login, balance = server.requests
    assert (login.method, login.path) == ("POST", LOGIN)
    assert login.json == {"email": server.user, "password": server.password}
    assert "Authorization" not in login.headers
    assert balance.headers["Authorization"] == f"Bearer {server.last_token}"
    assert all(r.timeout == 7.5 for r in server.requests)
    client.get(BALANCE, timeout=99)
    assert server.requests[-1].timeout == 99


def test_public_routes_send_no_token(server, make_client):
    client = make_client()
    assert client.health()["status"] == "healthy"
    assert client.offers(gpu_name="RTX_3060", max_price=None) == []
    assert server.seen("POST", LOGIN) == []
    assert server.requests[-1].query == {"gpu_name": "RTX_3060"}


# -- rate limits -------------------------------------------------------------------

def test_429_retry_after_honoured_exactly(server, make_client):
    server.fault("GET", BALANCE, reply(429, {"error": "slow down"}, {"Retry-After": "7"}),
                 reply(429, "Too Many Requests", {"Retry-After": "0.25"}))
    client = make_client()
    assert client.balance()["credit"] == 12.5
    assert client.sleeps == [7.0, 0.25]
    assert len(server.seen("GET", BALANCE)) == 3


def test_429_without_retry_after_backs_off_exponentially_with_jitter(server, make_client):
    server.fault("GET", BALANCE, *[reply(429, "Too Many Requests")] * 4)   # VAST style: plain text
    client = make_client()
    client.balance()
    assert len(client.sleeps) == 4
    for wait, base in zip(client.sleeps, [2, 3, 4.5, 6.75], strict=True):
        assert base * 0.8 - 1e-9 <= wait <= base * 1.2 + 1e-9
    assert client.sleeps == sorted(client.sleeps)


def test_429_waits_without_jitter_are_exact(server, make_client):
    server.fault("GET", BALANCE, *[reply(429, "Too Many Requests")] * 3)
    client = make_client(backoff=NO_JITTER)
    client.balance()
    assert client.sleeps == pytest.approx([2, 3, 4.5])


@pytest.mark.parametrize("method, path, call", [
    ("GET", BALANCE, lambda c: c.balance()),
    ("POST", INSTANCES, lambda c: c.create_instance(1, "x")),
])
def test_500_limite_de_requisicoes_is_a_rate_limit(server, make_client, method, path, call):
    server.fault(method, path, rate_limited_500(), rate_limited_500())
    client = make_client(backoff=NO_JITTER)
    call(client)
    assert len(server.seen(method, path)) == 3
    assert client.sleeps == pytest.approx([2, 3])
    assert client.call_log.summary()["rate_limited"] == 2


def test_429_on_post_is_retried(server, make_client):
    server.fault("POST", INSTANCES, reply(429, {"error": "Team quota exceeded"}))
    client = make_client(backoff=NO_JITTER)
    client.create_instance(1, "lbl")
    assert len(server.seen("POST", INSTANCES)) == 2
    assert len(server.instances) == 1


# -- other server errors and broken connections ----------------------------------------

def test_503_on_get_is_retried(server, make_client):
    server.fault("GET", BALANCE, reply(503, {"error": "Provider unreachable"}), reply(502, "Bad Gateway"))
    client = make_client(backoff=NO_JITTER)
    assert client.balance()["credit"] == 12.5
    assert client.sleeps == pytest.approx([2, 3])


def test_503_on_post_is_not_retried(server, make_client):
    server.fault("POST", f"{API}/snapshots", reply(503, {"error": "Provider unreachable"}))
    client = make_client()
    with pytest.raises(ApiError) as caught:
        client.post(f"{API}/snapshots", json={"instance_id": 1})
    assert caught.value.status == 503
    assert len(server.seen("POST", f"{API}/snapshots")) == 1
    assert client.sleeps == []


def test_connection_error_on_get_is_retried(server, make_client):
    server.fault("GET", BALANCE, refused(), requests.ReadTimeout("read timed out"))
    client = make_client(backoff=NO_JITTER)
    assert client.balance()["credit"] == 12.5
    assert len(server.seen("GET", BALANCE)) == 3


def test_connection_error_on_post_is_not_retried(server, make_client):
    server.fault("POST", f"{API}/snapshots", refused())
    client = make_client()
    with pytest.raises(ConnectionProblem) as caught:
        client.post(f"{API}/snapshots", json={"instance_id": 1})
    assert "Connection refused" in str(caught.value)
    assert len(server.seen("POST", f"{API}/snapshots")) == 1
    assert client.sleeps == []


def test_client_errors_are_not_retried(server, make_client):
    client = make_client()
    assert client.find_instance(424242) is None                 # 404 → None (no proof of anything)
    assert len(server.seen("GET", f"{INSTANCES}/424242")) == 1
    server.fault("GET", BALANCE, reply(400, {"error": "Bad request"}))
    with pytest.raises(ApiError) as caught:
        client.balance()
    assert caught.value.status == 400 and caught.value.error == "Bad request"
    assert client.sleeps == []


def test_idempotent_post_is_retried_on_5xx(server, make_client):
    path = f"{INSTANCES}/5/pause"
    server.fault("POST", path, reply(503, "unavailable"), reply(200, {"success": True}))
    client = make_client(backoff=NO_JITTER)
    assert client.pause_instance(5) == {"success": True}
    assert len(server.seen("POST", path)) == 2


# -- the overall deadline --------------------------------------------------------------

def test_retry_after_beyond_the_deadline_stops_at_once(server, make_client):
    server.fault("GET", BALANCE, reply(429, "slow", {"Retry-After": "400"}))
    client = make_client(backoff=BackoffPolicy(deadline=300))
    with pytest.raises(ApiError) as caught:
        client.balance()
    assert caught.value.status == 429 and caught.value.retry_after == 400
    assert client.sleeps == []


def test_deadline_counts_the_time_slept(server, make_client, clock, monkeypatch):
    # tenacity measures elapsed time with time.monotonic: give it the fake clock that sleep advances.
    monkeypatch.setattr(tenacity, "time", SimpleNamespace(monotonic=clock))
    server.fault("GET", BALANCE, *[reply(503, "unavailable")] * 50)
    client = make_client(backoff=BackoffPolicy(jitter=0.0, deadline=10), sleep=clock.sleep)
    with pytest.raises(ApiError) as caught:
        client.balance()
    assert caught.value.status == 503
    # 2 + 3 + 4.5 = 9.5 s slept; the next wait (6.75 s) would cross the 10 s deadline.
    assert clock.sleeps == pytest.approx([2, 3, 4.5])
    assert sum(clock.sleeps) <= 10
    assert len(server.seen("GET", BALANCE)) == 4


def test_deadline_is_scaled_by_time_scale(server, make_client, clock, monkeypatch):
    monkeypatch.setattr(tenacity, "time", SimpleNamespace(monotonic=clock))
    server.fault("GET", BALANCE, *[reply(429, "slow")] * 50)
    client = make_client(backoff=BackoffPolicy(jitter=0.0, deadline=600, clock=Clock(60)), sleep=clock.sleep)
    with pytest.raises(ApiError):
        client.balance()
    # 600 s / 60 = 10 s, raised to the 15 s floor; waits 2/60, 3/60, … up to the cap 60/60.
    assert clock.sleeps[:4] == pytest.approx([2 / 60, 3 / 60, 4.5 / 60, 6.75 / 60])
    assert clock.sleeps[-1] == pytest.approx(1.0)
    assert sum(clock.sleeps) <= 15 < sum(clock.sleeps) + 1.0


def test_time_scale_divides_computed_waits_not_retry_after(server, make_client):
    server.fault("GET", BALANCE, reply(429, "slow"), reply(429, "slow", {"Retry-After": "3"}),
                 rate_limited_500())
    client = make_client(backoff=BackoffPolicy(jitter=0.0, clock=Clock(60), deadline=3000))
    client.balance()
    assert client.sleeps == pytest.approx([2 / 60, 3.0, 4.5 / 60])


# -- authentication ----------------------------------------------------------------------

def test_401_relogs_in_once_then_succeeds(server, make_client):
    client = make_client()
    client.balance()
    first_token = server.last_token
    server.expire_tokens()
    assert client.balance()["credit"] == 12.5
    assert len(server.seen("POST", LOGIN)) == 2
    assert server.requests[-1].headers["Authorization"] == f"Bearer {server.last_token}"
    assert server.last_token != first_token


def test_second_401_is_an_error(server, make_client):
    client = make_client()
    client.balance()
    server.fault("GET", BALANCE, reply(401, {"error": "Not authenticated"}),
                 reply(401, {"error": "Not authenticated"}))
    with pytest.raises(ApiError) as caught:
        client.balance()
    assert caught.value.status == 401
    assert len(server.seen("POST", LOGIN)) == 2                 # one re-login, no loop
    assert client.sleeps == []


def test_only_one_relogin_across_retries(server, make_client):
    client = make_client(backoff=NO_JITTER)
    client.balance()
    server.fault("GET", BALANCE, reply(401, {"error": "Not authenticated"}), reply(503, "x"),
                 reply(401, {"error": "Not authenticated"}))
    with pytest.raises(ApiError) as caught:
        client.balance()
    assert caught.value.status == 401
    assert len(server.seen("POST", LOGIN)) == 2


def test_login_refused_names_user_never_password(server, make_client):
    client = make_client()
    server.password = "a-different-password"
    with pytest.raises(LoginFailed) as caught:
        client.balance()
    message = str(caught.value)
    assert server.user in message
    assert "pa55-Word-never-shown" not in message and "a-different-password" not in message
    assert "401" in message
    assert len(server.seen("POST", LOGIN)) == 1                 # a refusal is not retried


def test_login_malformed_email_is_refused_too(server, make_client):
    server.fault("POST", LOGIN, reply(422, {"error": "Validation error", "details": []}))
    with pytest.raises(LoginFailed, match="422"):
        make_client().login()


def test_login_without_token(server, make_client):
    server.fault("POST", LOGIN, reply(200, {"success": True}))
    with pytest.raises(LoginFailed, match=server.user):
        make_client().login()


def test_login_rate_limited_is_retried(server, make_client):
    server.fault("POST", LOGIN, rate_limited_500())
    client = make_client(backoff=NO_JITTER)
    client.login()
    assert len(server.seen("POST", LOGIN)) == 2


# -- create: never two machines ------------------------------------------------------------

def test_lost_create_response_is_reconciled_without_second_post(server, make_client):
    server.fault("POST", INSTANCES, lose_response)
    client = make_client()
    created = client.create_instance(77, "dumont-acc-run1-s1-r1", reconcile_wait=5.0)
    instance = created.instance
    assert len(server.seen("POST", INSTANCES)) == 1
    assert len(server.instances) == 1
    assert instance == next(iter(server.instances.values()))
    # Made by the request whose answer was lost: between its send and the failure.
    assert created.made.earliest <= created.made.latest
    assert instance["label"] == "dumont-acc-run1-s1-r1"
    assert len(server.seen("GET", INSTANCES)) == 1
    assert server.seen("POST", INSTANCES)[0].json["offer_id"] == 77


def test_lost_create_found_once_the_listing_catches_up(server, make_client):
    # The create went through but the listing shows it only on the third look.
    hidden = {}

    def create_and_hide(srv, seen):
        srv.route(seen)
        hidden.update(srv.instances)
        srv.instances.clear()
        return requests.ConnectionError("Connection aborted.")

    def reveal(srv, seen):
        srv.instances.update(hidden)

    server.fault("GET", INSTANCES, None, None, reveal)
    server.fault("POST", INSTANCES, create_and_hide)
    client = make_client()
    instance = client.create_instance(77, "late-label", reconcile_wait=5.0).instance
    assert instance["label"] == "late-label"
    assert len(server.seen("POST", INSTANCES)) == 1
    assert len(server.seen("GET", INSTANCES)) == 3
    assert client.sleeps == [0.5, 0.5]


def test_create_500_with_nothing_created_posts_again(server, make_client):
    server.fault("POST", INSTANCES, reply(500, {"error": "Failed to create instance: provider error"}))
    client = make_client()
    instance = client.create_instance(77, "lbl-2", reconcile_wait=0).instance
    assert len(server.seen("POST", INSTANCES)) == 2
    assert len(server.instances) == 1
    assert instance["label"] == "lbl-2"
    # The listing came between the two posts.
    kinds = [(r.method, r.path) for r in server.requests if r.path == INSTANCES]
    assert kinds == [("POST", INSTANCES), ("GET", INSTANCES), ("POST", INSTANCES)]


def test_create_500_after_creating_is_reconciled(server, make_client):
    def create_then_fail(srv, seen):
        srv.route(seen)
        return reply(500, {"error": "Failed to create instance: timeout reading provider"})

    server.fault("POST", INSTANCES, create_then_fail)
    client = make_client()
    client.create_instance(77, "lbl-3", reconcile_wait=0)
    assert len(server.seen("POST", INSTANCES)) == 1
    assert len(server.instances) == 1


def test_create_gives_up_after_three_posts(server, make_client):
    server.fault("POST", INSTANCES, *[reply(500, {"error": "Failed to create instance: x"})] * 3)
    client = make_client()
    with pytest.raises(ApiError) as caught:
        client.create_instance(77, "lbl-4", reconcile_wait=0)
    assert caught.value.status == 500
    assert len(server.seen("POST", INSTANCES)) == 3
    assert len(server.seen("GET", INSTANCES)) == 3
    assert server.instances == {}


@pytest.mark.parametrize("status, error", [(400, "Offer 77 unavailable"), (402, "Insufficient balance"),
                                           (422, "Validation error")])
def test_create_client_errors_raise_without_reconciling(server, make_client, status, error):
    server.fault("POST", INSTANCES, reply(status, {"error": error}))
    client = make_client()
    with pytest.raises(ApiError) as caught:
        client.create_instance(77, "lbl-5", reconcile_wait=0)
    assert caught.value.status == status and caught.value.error == error
    assert len(server.seen("POST", INSTANCES)) == 1
    assert server.seen("GET", INSTANCES) == []


def test_create_sends_label_and_options(server, make_client):
    client = make_client()
    client.create_instance(77, "lbl-6", ssh_key="ssh-ed25519 AAAA", disk_size=20)
    assert server.seen("POST", INSTANCES)[0].json == {"offer_id": 77, "label": "lbl-6",
                                                      "ssh_key": "ssh-ed25519 AAAA", "disk_size": 20}


def test_delete_instance_query(server, make_client):
    client = make_client()
    created = client.create_instance(1, "x").instance
    client.delete_instance(created["id"])
    assert server.requests[-1].query == {"destroy_standby": "true", "reason": "user_request"}


def test_delete_of_a_gone_resource_fails_fast(server, make_client):
    # The real server answers 500 to a delete of something already gone. Retrying that 500 would
    # stall cleanup for the whole backoff deadline; the caller confirms with GET → 404 instead.
    client = make_client()
    with pytest.raises(ApiError) as caught:
        client.delete_instance(424242)
    assert caught.value.status == 500
    assert len(server.seen("DELETE", f"{INSTANCES}/424242")) == 1
    server.fault("DELETE", f"{API}/snapshots/abc123", reply(500, {"error": "Failed to delete snapshot"}))
    with pytest.raises(ApiError):
        client.delete_snapshot("abc123")
    assert len(server.seen("DELETE", f"{API}/snapshots/abc123")) == 1
    assert client.sleeps == []


def test_delete_still_retries_rate_limits(server, make_client):
    client = make_client(backoff=NO_JITTER)
    created = client.create_instance(1, "x").instance
    server.fault("DELETE", f"{INSTANCES}/{created['id']}", rate_limited_500(), reply(429, "slow"))
    client.delete_instance(created["id"])
    assert server.instances == {}
    assert client.sleeps == pytest.approx([2, 3])


# -- the call log ---------------------------------------------------------------------------

def test_call_log_summary(server, make_client):
    server.fault("GET", BALANCE, reply(429, "slow", {"Retry-After": "1.5"}), rate_limited_500(),
                 reply(503, "unavailable"))
    server.fault("POST", f"{API}/snapshots", reply(503, "unavailable"))
    client = make_client(backoff=BackoffPolicy(jitter=0.0))
    client.balance()
    with pytest.raises(ApiError):
        client.post(f"{API}/snapshots", json={})
    calls = client.call_log.calls
    assert [(c.method, c.path, c.status, c.attempts, c.rate_limited) for c in calls] == [
        ("POST", LOGIN, 200, 1, 0),
        ("GET", BALANCE, 200, 4, 2),
        ("POST", f"{API}/snapshots", 503, 1, 0),
    ]
    assert calls[1].waited == pytest.approx(1.5 + 3 + 4.5)
    assert client.call_log.summary() == {"calls": 3, "attempts": 6, "retries": 3, "rate_limited": 2,
                                         "backoff_seconds": 9.0, "failed": 1}


def test_call_log_records_connection_failures():
    log = CallLog()
    log.add(CallRecord("GET", "/a", None, 0.1, 2, 0, 2.0))
    log.add(CallRecord("GET", "/b", 200, 0.1, 1, 0, 0.0))
    assert log.summary()["failed"] == 1 and log.summary()["retries"] == 1


# -- secrets stay out of errors -----------------------------------------------------------------

def test_errors_never_carry_token_or_password(server, make_client):
    client = make_client()
    client.balance()
    token = server.last_token
    messages = []
    for status, body in [(401, {"error": "Not authenticated"}), (404, {"error": "nope"}),
                         (500, {"error": "Internal server error", "details": "boom"})]:
        server.fault("POST", f"{API}/snapshots", *[reply(status, body)] * (2 if status == 401 else 1))
        with pytest.raises(ApiError) as caught:
            client.post(f"{API}/snapshots", json={"instance_id": 1, "password": server.password})
        messages += [str(caught.value), repr(caught.value)]
    server.fault("POST", f"{API}/snapshots", refused())
    with pytest.raises(ConnectionProblem) as caught:
        client.post(f"{API}/snapshots", json={})
    messages += [str(caught.value), repr(client)]
    assert server.faults == []
    for message in messages:
        assert token not in message and "secretpart" not in message
        assert server.password not in message
    assert set(client.secrets()) == {server.password, server.last_token}


# -- spending goes through the guard -------------------------------------------------------------------

@pytest.mark.parametrize("path", [INSTANCES, "/api/instances", f"{API}/standby/provision/5", f"{INSTANCES}/5/failback"])
def test_a_billing_route_is_never_sent_raw(server, make_client, path):
    client = make_client()
    with pytest.raises(SpendRefused, match="can start billing"):
        client.post(path, json={"offer_id": 1, "label": "x"})
    assert server.seen("POST", path) == []


def test_without_a_guard_nothing_that_bills_is_sent(server, make_client):
    client = make_client(spend_guard=None)
    with pytest.raises(SpendRefused, match="has no spend guard"):
        client.create_instance(1, "x")
    assert server.seen("POST", INSTANCES) == [] and server.instances == {}


def test_each_create_is_authorised_once_with_what_it_rents(server, make_client):
    client = make_client()
    server.fault("POST", INSTANCES, reply(500, {"error": "Failed to create instance: provider error"}))
    client.create_instance(77, "lbl", skip_standby=False, reconcile_wait=0)
    assert len(server.seen("POST", INSTANCES)) == 2                   # resent once after a 500 ...
    [call] = client.spend_guard.calls                                  # ... but authorised once
    assert call.offer_id == 77 and call.rents == ("gpu", "standby")


def test_requests_go_through_one_budget_per_endpoint_that_slows_down_on_a_rate_limit(server, make_client, tmp_path):
    from support.ratelimit import SharedRequestBudget, endpoint_of

    budget = SharedRequestBudget(tmp_path / "budget", rate=10, burst=2, sleep=lambda s: None)
    client = make_client(limiter=budget, backoff=NO_JITTER)
    server.fault("GET", BALANCE, reply(429, "API requests too frequent"))
    client.balance()
    assert budget.rate_of(endpoint_of("GET", BALANCE)) == pytest.approx(10 / 2 + 10 / 20)   # halved, then one back
    assert budget.rate_of(endpoint_of("GET", f"{INSTANCES}/7")) == 10                       # others untouched
    assert endpoint_of("GET", f"{INSTANCES}/31000001") == "GET /api/v1/instances/{id}"
    assert endpoint_of("DELETE", f"{API}/snapshots/d9f656691b9b4e7e") == "DELETE /api/v1/snapshots/{id}"


def test_proxies_and_ca_bundle_are_read_from_the_environment_once(monkeypatch):
    from support.client import _session_for

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "skip.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    session = _session_for("http://api.example")
    assert session.proxies.get("http") == "http://proxy.example:3128" and session.verify == "/etc/ssl/corp.pem"
    assert not session.trust_env                      # nothing looked up again per request, no ~/.netrc
    assert "http" not in _session_for("http://skip.example").proxies
