"""Health, auth, error shapes, prefixes and the routing quirks."""
import requests

from tests.sandbox.helpers import DEFAULT_PASSWORD, Api, login, new_account


def test_health_has_sandbox_key(sb):
    body = requests.get(sb.url + "/health", timeout=5).json()
    assert body["status"] == "healthy" and body["version"] == "3.0.0" and body["service"] == "dumont-cloud"
    assert body["sandbox"]["time_scale"] == sb.time_scale
    assert body["sandbox"]["model_mirror"] == sb.url + "/_sandbox/models"


def test_login_default_account_and_username_alias(sb):
    for key in ("email", "username"):
        r = requests.post(sb.url + "/api/v1/auth/login", json={key: "test@test.com", "password": "test123"})
        assert r.status_code == 200
        body = r.json()
        assert body["success"] is True and body["user"] == "test@test.com" and body["token"]


def test_login_bad_credentials_and_bad_input(sb):
    r = requests.post(sb.url + "/api/v1/auth/login", json={"email": "test@test.com", "password": "nope"})
    assert r.status_code == 401 and "error" in r.json()
    r = requests.post(sb.url + "/api/v1/auth/login", json={"email": "not-an-email", "password": "x"})
    assert r.status_code == 422 and r.json()["error"] == "Validation error" and r.json()["details"]
    r = requests.post(sb.url + "/api/v1/auth/login", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "Validation error"
    r = requests.post(sb.url + "/api/v1/auth/login", json={"password": "x"})
    assert r.status_code == 422


def test_register_answers_500_like_the_real_server(sb):
    """Verified: POST /auth/register answers 500 on the real server's current schema; login
    needs an account that exists (the default one does)."""
    email = "nobody-yet@example.com"
    r = requests.post(sb.url + "/api/v1/auth/register", json={"email": email, "password": "abcdef"})
    assert r.status_code == 500 and r.json()["error"] == "Internal server error" and r.json()["details"]
    assert requests.post(sb.url + "/api/v1/auth/login", json={"email": email, "password": "abcdef"}).status_code == 401
    r3 = requests.post(sb.url + "/api/v1/auth/register", json={"email": "short@example.com", "password": "abc"})
    assert r3.status_code == 422   # validation comes first
    assert login(sb.url, "test@test.com", "test123")


def test_register_me_and_duplicates_when_registration_works(sb):
    """--register ok (not real): registration as the contract describes it."""
    sb.admin.settings(register="ok")
    try:
        email = "Reg-User@Example.com"
        r = requests.post(sb.url + "/api/v1/auth/register", json={"email": email, "password": "abcdef"})
        assert r.status_code == 200 and r.json()["token"] and r.json()["user"] == email.lower()
        r2 = requests.post(sb.url + "/api/v1/auth/register", json={"email": email, "password": "abcdef"})
        assert r2.status_code == 400 and "error" in r2.json()
        api = Api(sb.url, r.json()["token"])
        me = api.get("/auth/me").json()
        assert me == {"authenticated": True,
                      "user": {"email": email.lower(), "username": email.lower(), "settings": {}}}
    finally:
        sb.admin.settings(register="500")


def test_401_answers_carry_no_www_authenticate_header(sb):
    for headers in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic abc"}):
        for method, path in (("GET", "/api/v1/instances"), ("GET", "/api/v1/balance"),
                             ("POST", "/api/v1/instances"), ("GET", "/api/v1/auth/me"),
                             ("GET", "/api/v1/snapshots")):
            r = requests.request(method, sb.url + path, headers=headers, json={})
            assert r.status_code == 401, (method, path, headers)
            assert r.json() == {"error": "Not authenticated"}
            assert "WWW-Authenticate" not in r.headers


def test_both_prefixes_serve_the_same(sb, api):
    v1 = api.get("/balance").json()
    short = Api(sb.url, api.s.headers["Authorization"].split()[1], prefix="/api").get("/balance").json()
    assert v1["email"] == short["email"] == api.email


def test_unknown_get_redirects_with_slash_then_404(sb, api):
    r = api.get("/does-not-exist", params={"a": 1})
    assert r.status_code == 307
    assert r.headers["location"].endswith("/api/v1/does-not-exist/?a=1")
    r = api.get("/does-not-exist/")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    r = api.post("/does-not-exist")
    assert r.status_code == 404 and "error" in r.json()


def test_balance_shapes(sb, api):
    b = api.get("/balance").json()
    assert set(b) >= {"credit", "balance", "balance_threshold", "email"}
    assert b["credit"] == 100.0
    raw = api.get("/instances/balance").json()
    assert raw["credit"] == 100.0


def test_accounts_are_isolated(sb, api):
    other = new_account(sb)
    inst = api.create().json()
    assert other.instance(inst["id"]).status_code == 404
    assert other.post(f"/instances/{inst['id']}/pause").status_code == 404
    assert other.delete(f"/instances/{inst['id']}").status_code == 500
    assert all(i["id"] != inst["id"] for i in other.get("/instances").json()["instances"])
    assert api.instance(inst["id"]).status_code == 200


def test_token_survives_password_change_for_set_account(sb):
    api = new_account(sb)
    sb.admin.set_account(api.email, password="another1")
    assert login(sb.url, api.email, "another1")
    r = requests.post(sb.url + "/api/v1/auth/login", json={"email": api.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 401


def test_keep_alive_requests_are_not_delayed():
    """Regression: without TCP_NODELAY every reused connection waited ~40 ms for a delayed ACK. Checked at
    its cause, not by timing requests (on a busy machine a few milliseconds mean nothing): a connection
    accepted on the sandbox's listening socket, the way uvicorn accepts it, sends at once."""
    import asyncio
    import socket

    from sandbox.server import _bind

    async def nodelay_of_an_accepted_connection() -> int:
        accepted = asyncio.get_running_loop().create_future()

        class Accept(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Accept, sock=_bind("127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(accepted, 30)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(nodelay_of_an_accepted_connection()) != 0
