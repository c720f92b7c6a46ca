"""Test doubles shared by the unit tests: a fake clock, an in-memory Dumont server, a machine over SSH.

The server is reached through a ``requests`` transport adapter mounted on the
client's session, so the client's real code path (session, headers, timeouts,
status handling) runs without a socket.
"""

from __future__ import annotations

import http.client
import io
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from support.clock import Clock, Moment
from support.config import Timeouts
from support.journey import Journey, Machine
from support.ledger import Ledger
from support.progress import Progress
from support.resources import Resource
from support.timings import TimingHistory

API = "/api/v1"


class GuardThatAllows:
    """A spend guard for client tests: allows every paid call, and remembers it."""

    def __init__(self):
        self.calls = []
        self.offers = []

    def authorize(self, call, client) -> None:
        self.calls.append(call)

    def saw_offers(self, offers) -> None:
        self.offers += offers


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it (or calls ``advance``)."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"negative sleep {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Seen:
    """One request as the fake server received it."""

    method: str
    path: str
    query: dict
    json: object
    headers: dict
    timeout: object
    raw_body: bytes = b""


def reply(status: int, body=None, headers: dict | None = None):
    return (status, body if body is not None else {}, headers or {})


def rate_limited_500():
    return reply(500, {"error": "Limite de requisições excedido. Tente novamente em alguns segundos."})


@dataclass
class FakeDumont:
    """Just enough of the Dumont API, with scripted faults in front of it.

    ``fault(method, path, *actions)`` queues actions consumed one per matching
    request, before the normal route runs. An action is a reply tuple, an
    exception to raise from the transport, or ``callable(server, seen)``
    returning either of those (or None to fall through to the normal route).
    """

    user: str = "qa.user@example.com"
    password: str = "pa55-Word-never-shown"
    instances: dict = field(default_factory=dict)
    next_id: int = 5001
    tokens: set = field(default_factory=set)
    issued: int = 0
    faults: list = field(default_factory=list)
    requests: list = field(default_factory=list)

    # -- scripting ---------------------------------------------------------------

    def fault(self, method: str, path: str, *actions) -> None:
        for action in actions:
            self.faults.append((method, path, action))

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def seen(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [r for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)]

    @property
    def last_token(self) -> str:
        return f"tok-{self.issued}-eyJhbGciOiJIUzI1NiJ9.secretpart"

    # -- serving -----------------------------------------------------------------

    def handle(self, seen: Seen):
        for index, (method, path, action) in enumerate(self.faults):
            if method == seen.method and path == seen.path:
                del self.faults[index]
                if callable(action) and not isinstance(action, BaseException):
                    action = action(self, seen)
                if isinstance(action, BaseException):
                    raise action
                if action is not None:
                    return action
                break
        return self.route(seen)

    def route(self, seen: Seen):
        method, path = seen.method, seen.path
        if path == "/health":
            return reply(200, {"status": "healthy", "version": "3.0.0"})
        if (method, path) == ("POST", f"{API}/auth/login"):
            body = seen.json or {}
            if body.get("email") == self.user and body.get("password") == self.password:
                self.issued += 1
                self.tokens.add(self.last_token)
                return reply(200, {"success": True, "user": self.user, "token": self.last_token})
            return reply(401, {"error": "Invalid credentials"})
        if path == f"{API}/instances/offers":
            return reply(200, {"offers": [], "count": 0})
        auth = seen.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in self.tokens:
            return reply(401, {"error": "Not authenticated"}, {"WWW-Authenticate": "Bearer"})
        if (method, path) == ("GET", f"{API}/balance"):
            return reply(200, {"credit": 12.5, "balance": 12.5, "balance_threshold": 0, "email": self.user})
        if (method, path) == ("GET", f"{API}/instances"):
            items = list(self.instances.values())
            return reply(200, {"instances": items, "count": len(items)})
        if (method, path) == ("POST", f"{API}/instances"):
            return reply(201, self.create((seen.json or {}).get("label", "")))
        if path.startswith(f"{API}/instances/"):
            instance_id = int(path.rsplit("/", 1)[1])
            if method == "GET":
                if instance_id not in self.instances:
                    return reply(404, {"error": f"Instance {instance_id} not found"})
                return reply(200, self.instances[instance_id])
            if method == "DELETE":
                if self.instances.pop(instance_id, None) is None:
                    return reply(500, {"error": f"Failed to destroy instance {instance_id}"})
                return reply(200, {"success": True, "message": f"Instance {instance_id} destroyed successfully"})
        return reply(404, {"error": "Not Found"})

    def create(self, label: str) -> dict:
        instance = {"id": self.next_id, "label": label, "status": "running", "actual_status": "loading",
                    "gpu_name": "RTX 3060", "dph_total": 0.1}
        self.instances[self.next_id] = instance
        self.next_id += 1
        return instance


def lose_response(server: FakeDumont, seen: Seen):
    """Carry the request out, then drop the answer on the floor."""
    server.route(seen)
    return requests.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed'))")


class ScriptAdapter(BaseAdapter):
    """A requests transport that answers from a :class:`FakeDumont`."""

    def __init__(self, server: FakeDumont):
        super().__init__()
        self.server = server

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        raw = request.body or b""
        if isinstance(raw, str):
            raw = raw.encode()
        seen = Seen(request.method, parts.path, dict(parse_qsl(parts.query)),
                    json.loads(raw) if raw else None, dict(request.headers), timeout, raw)
        self.server.requests.append(seen)
        status, body, headers = self.server.handle(seen)
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        if isinstance(body, (dict, list)):
            response._content = json.dumps(body).encode()
            response.headers.setdefault("Content-Type", "application/json")
        else:
            response._content = str(body).encode()
            response.headers.setdefault("Content-Type", "text/plain")
        response.encoding = "utf-8"
        response.reason = http.client.responses.get(status, "")
        response.url = request.url
        response.request = request
        response.connection = self
        return response

    def close(self):
        pass


class FakeSession:
    """An SSH session to a machine that answers every command with ``result`` (or raises ``error``)."""

    def __init__(self, result=None, error=None):
        self.result, self.error = result, error
        self.commands = []

    def run(self, command, timeout):
        self.commands.append((command, timeout))
        if self.error:
            raise self.error
        return self.result


def journey_on(session, tmp_path, view: dict | None = None, offer: dict | None = None):
    """A journey on machine 7, reached through ``session``, with a run that has no server behind it."""
    def no_server(*args, **kwargs):
        raise ConnectionError("no server in this test")

    run = SimpleNamespace(
        config=SimpleNamespace(keep_snapshots=False, model_install_cmd=None, run_label="acc-r1", gpu_speed_floor=0.5),
        target=SimpleNamespace(model_mirror="http://mirror/models"), clock=Clock(60), timeouts=Timeouts(),
        ledger=Ledger(tmp_path / "ledger.jsonl", "r1", "t"), guard=None, polling=None, kinds={}, spend_guard=None,
        history=TimingHistory(tmp_path / "phase-history.jsonl", "sandbox"),
        progress=Progress(Clock(60), stream=io.StringIO(), live=False),
        client=SimpleNamespace(find_instance=no_server, list_instances=no_server),
        journeys=[], new_label=lambda slug: f"acc-r1-{slug}-1")
    journey = Journey(run, "a scenario", "x.feature", [])
    journey.using(Machine(Resource("instance", "7", "lbl"), view or {}, offer or {}, made=Moment.now(),
                          boot=Moment.now(), session=session))
    return journey
