"""The sandbox prepares its routes when it starts, not while the first requests wait."""
import asyncio

import fastapi.routing

from sandbox.web.app import create_app


def request(app, path: str) -> int:
    """One GET through the ASGI app in this process; its status."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": [],
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_a_request_after_start_prepares_no_route(monkeypatch):
    # The last routes matched (the admin API's) are the ones a lazy preparation makes the first request pay for.
    app = create_app(core=None)
    prepared = []
    original = fastapi.routing._populate_api_route_state

    def counting(*args, **kwargs):
        prepared.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "_populate_api_route_state", counting)
    assert request(app, "/_sandbox/no-such-route") == 404
    assert prepared == []
