"""Rate limiting in each form, per account, plus /health and /_sandbox exemptions."""
import time

import pytest
import requests

from tests.sandbox.helpers import new_account

MESSAGE = "Limite de requisições excedido. Tente novamente em alguns segundos."


@pytest.fixture(scope="module")
def slow_box():
    import sandbox
    # time scale 1: the nominal rate is the wall rate (0.5 req/s, burst 3)
    box = sandbox.start(time_scale=1.0, rate_limit="0.5/3")
    yield box
    box.stop()


def burst(api, n):
    return [api.get("/balance") for _ in range(n)]


def test_default_form_is_500_portuguese(slow_box):
    slow_box.admin.set_rate_limit(rate=0.5, burst=3, mode="500")
    api = new_account(slow_box)
    rs = burst(api, 5)
    assert [r.status_code for r in rs[:3]] == [200, 200, 200]
    limited = rs[3]
    assert limited.status_code == 500
    assert limited.json() == {"error": MESSAGE}
    assert "Retry-After" not in limited.headers
    # another account has its own bucket
    assert new_account(slow_box).get("/balance").status_code == 200
    # health and admin are never limited
    assert all(requests.get(slow_box.url + "/health").status_code == 200 for _ in range(5))
    log = slow_box.admin.requests_log()
    assert any(x["status"] == 500 and x["fault"] == "rate_limit" and x["account"] == api.email for x in log)


def test_429_plain_text_without_retry_after(slow_box):
    slow_box.admin.set_rate_limit(mode="429")
    api = new_account(slow_box)
    limited = burst(api, 4)[3]
    assert limited.status_code == 429
    assert limited.text == "Too Many Requests" and limited.headers["content-type"].startswith("text/plain")
    assert "Retry-After" not in limited.headers


def test_429_with_retry_after(slow_box):
    slow_box.admin.set_rate_limit(mode="429-retry-after")
    api = new_account(slow_box)
    limited = burst(api, 4)[3]
    assert limited.status_code == 429 and limited.json() == {"error": "Rate limit exceeded"}
    assert int(limited.headers["Retry-After"]) >= 1


def test_rate_scales_with_time_scale_and_can_be_turned_off(fresh_sandbox):
    box = fresh_sandbox(time_scale=10.0, rate_limit="1/2")  # 10 req/s wall
    api = new_account(box)
    assert box.admin.info()["rate_limit"] == {"rate": 1.0, "burst": 2, "mode": "500"}
    t0 = time.monotonic()
    statuses = [r.status_code for r in burst(api, 40)]
    elapsed = time.monotonic() - t0
    assert 500 in statuses and statuses[:2] == [200, 200]
    allowed = statuses.count(200)
    assert allowed <= 2 + elapsed * 10 + 1.5   # burst + wall rate x elapsed
    box.admin.set_rate_limit(rate=None)
    assert all(r.status_code == 200 for r in burst(api, 30))
    off = fresh_sandbox(rate_limit="off")
    assert off.admin.info()["rate_limit"]["rate"] is None


def test_unauthenticated_requests_are_limited_per_address(slow_box):
    slow_box.admin.set_rate_limit(rate=0.5, burst=3, mode="429")
    statuses = [requests.get(slow_box.url + "/api/v1/instances/offers").status_code for _ in range(6)]
    assert 429 in statuses


@pytest.mark.parametrize("form,status", [("500", 500), ("429", 429), ("429-retry-after", 429)])
def test_rate_limit_storm_fault(sb, api, form, status):
    sb.admin.add_fault(kind="rate_limit", count=2, form=form, path="/api/v1/balance")
    rs = burst(api, 3)
    assert [r.status_code for r in rs] == [status, status, 200]
    if form == "500":
        assert rs[0].json()["error"].startswith("Limite de requisições excedido")
    assert ("Retry-After" in rs[0].headers) == (form == "429-retry-after")
    # the storm also matches the /api prefix without v1
    sb.admin.add_fault(kind="rate_limit", count=1, form=form, path="/api/v1/balance")
    assert requests.get(sb.url + "/api/balance", headers=api.s.headers).status_code == status
