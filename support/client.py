"""The Dumont Cloud HTTP client: the one place that knows a route.

One :class:`DumontClient` per run: a ``requests.Session`` with the base URL,
bearer login (and one re-login on 401), a timeout on every call, retries
with backoff (see :mod:`support.backoff`), and a record of every call for the
reports. Route methods return the server's JSON as plain dicts; what a
route's answer *means* (is a machine gone? is it running?) is decided by
the callers in :mod:`support.resources` and the journey modules.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field

import requests
import tenacity

from support.backoff import BackoffPolicy, is_retryable, parse_retry_after
from support.clock import Moment
from support.errors import ApiError, ConnectionProblem, LoginFailed, SpendRefused
from support.ratelimit import endpoint_of
from support.spending import ANY_GPU, GPU, STANDBY, PaidCall

API = "/api/v1"
#: Requests that can start billing (the routes are mounted under /api/v1 and /api alike). The client
#: sends them only from the route methods below, each authorised by the run's spend guard first.
BILLING_ROUTES = re.compile(r"^POST /api(/v1)?/(instances|standby/provision/[^/]+|instances/[^/]+/failback)/?$")


#: An answer slower than this (real-world seconds) is a stall, unless the call is long by design.
STALL_AFTER_SECONDS = 5.0


@dataclass
class CallRecord:
    method: str
    path: str
    status: int | None
    seconds: float
    attempts: int
    rate_limited: int
    waited: float
    #: Each exchange with the server, in order: (when it was sent, monotonic; wall seconds from sending
    #: to the answer or the failure; whether an answer came). A re-login's resend is an exchange of the
    #: same attempt.
    exchanges: tuple[tuple[float, float, bool], ...] = ()
    #: Wall seconds past which an answered exchange counts as stalled; None for a call that is long by
    #: design (one given its own timeout: a synchronous snapshot or restore).
    stall_after: float | None = None

    def stalled(self) -> list[tuple[float, float]]:
        """The (start, end) monotonic intervals lost to stalls: every exchange that got no answer (a timeout,
        a dropped connection), and every answered one slower than :attr:`stall_after`, counted whole."""
        return [(sent, sent + seconds) for sent, seconds, answered in self.exchanges
                if not answered or (self.stall_after is not None and seconds > self.stall_after)]

    @property
    def stalled_seconds(self) -> float:
        return covered_seconds(self.stalled())


def covered_seconds(intervals) -> float:
    """The time the ``(start, end)`` intervals cover together: calls that stalled side by side (the watch,
    a wait and the standby's reads all held behind one server stall) lose that time once, not each."""
    total, reached = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reached:
            total += end - max(start, reached)
            reached = end
    return total


@dataclass
class CallLog:
    """Every API call of the run, for metrics.json and the reports."""

    calls: list[CallRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self.calls.append(record)

    def answered_since(self, moment: float) -> bool:
        """Whether a request sent at or after ``moment`` (monotonic) got an answer: the server was free then."""
        with self._lock:
            return any(answered and sent >= moment for call in self.calls for sent, _, answered in call.exchanges)

    def position(self) -> int:
        """How many calls are logged so far: a journey's calls are those between two positions."""
        with self._lock:
            return len(self.calls)

    def figures(self, start: int = 0, end: int | None = None) -> dict:
        """What the calls from position ``start`` to ``end`` cost in time: calls, retries, rate-limited
        answers, wall seconds waited in backoff and wall seconds lost to stalls."""
        with self._lock:
            calls = self.calls[start:end]
        return {
            "calls": len(calls),
            "retries": sum(c.attempts - 1 for c in calls),
            "rate_limited": sum(c.rate_limited for c in calls),
            "backoff_seconds": round(sum(c.waited for c in calls), 3),
            "stalled_seconds": round(covered_seconds(i for c in calls for i in c.stalled()), 3),
        }

    def summary(self) -> dict:
        with self._lock:
            calls = list(self.calls)
        return {
            "calls": len(calls),
            "attempts": sum(c.attempts for c in calls),
            "retries": sum(c.attempts - 1 for c in calls),
            "rate_limited": sum(c.rate_limited for c in calls),
            "backoff_seconds": round(sum(c.waited for c in calls), 3),
            "failed": sum(1 for c in calls if c.status is None or c.status >= 400),
        }


@dataclass(frozen=True)
class Created:
    """What a create taught us: the instance as answered, and when the server made it."""

    instance: dict
    made: Moment       # between sending the request that made it and its answer


class DumontClient:
    """Talks to a Dumont Cloud server (real or sandbox)."""

    def __init__(self, base_url: str, user: str, password: str, *,
                 timeout: float = 30.0, backoff: BackoffPolicy | None = None,
                 call_log: CallLog | None = None, sleep=time.sleep, limiter=None, spend_guard=None):
        self.base_url = base_url.rstrip("/")
        self.spend_guard = spend_guard    # support.spending.SpendGuard; without one nothing that bills is sent
        self.limiter = limiter            # a SharedRequestBudget, or None for no client-side limit
        self.user = user
        self._password = password
        self.timeout = timeout
        self.backoff = backoff or BackoffPolicy()
        self.call_log = call_log or CallLog()
        self._sleep = sleep
        self._token: str | None = None
        self.session = _session_for(self.base_url)

    def __repr__(self) -> str:
        return f"DumontClient({self.base_url!r}, user={self.user!r})"

    def secrets(self) -> list[str]:
        return [s for s in (self._password, self._token) if s]

    # -- transport -----------------------------------------------------------

    def _send_once(self, method: str, path: str, *, params, json, timeout, auth, exchanges=None) -> requests.Response:
        headers = {}
        if auth:
            if self._token is None:
                self.login()
            headers["Authorization"] = f"Bearer {self._token}"
        if self.limiter is not None:
            self.limiter.acquire(endpoint_of(method, path))
        sent = time.monotonic()      # after the client-side rate limit: only the server's time counts
        answered = False
        try:
            response = self.session.request(method, self.base_url + path, params=params, json=json,
                                            headers=headers, timeout=timeout or self.timeout,
                                            allow_redirects=True)
            answered = True
            return response
        except requests.Timeout:
            raise ConnectionProblem(method, path, "timed out") from None
        except requests.ConnectionError as error:
            raise ConnectionProblem(method, path, _connection_reason(error)) from None
        finally:
            if exchanges is not None:
                exchanges.append((sent, time.monotonic() - sent, answered))

    def _attempt(self, method: str, path: str, *, params, json, timeout, auth, counters) -> dict:
        counters["attempts"] += 1
        exchanges = counters["exchanges"]
        response = self._send_once(method, path, params=params, json=json, timeout=timeout, auth=auth,
                                   exchanges=exchanges)
        if response.status_code == 401 and auth and not counters["relogged"]:
            counters["relogged"] = True
            self.login()
            response = self._send_once(method, path, params=params, json=json, timeout=timeout, auth=auth,
                                       exchanges=exchanges)
        counters["status"] = response.status_code
        error = None
        if response.status_code >= 400:
            error = ApiError(method, path, response.status_code, _error_text(response),
                             parse_retry_after(response.headers.get("Retry-After")))
            if error.rate_limited:
                counters["rate_limited"] += 1
        if self.limiter is not None:
            self.limiter.answered(endpoint_of(method, path), rate_limited=bool(error and error.rate_limited))
        if error is not None:
            raise error
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            return {"text": response.text}

    def request(self, method: str, path: str, *, params=None, json=None, timeout: float | None = None,
                idempotent: bool | None = None, auth: bool = True, paid: PaidCall | None = None) -> dict:
        """Send one call, retrying as :mod:`support.backoff` allows; return the JSON body.

        ``idempotent`` defaults to True for GET, PUT and DELETE. A billing route is sent only with the
        ``paid`` call its route method had authorised.
        """
        if paid is None and BILLING_ROUTES.match(f"{method} {path}"):
            raise SpendRefused(f"{method} {path} can start billing: it is sent only through the client's route "
                               f"method, after the spend guard authorised it")
        if idempotent is None:
            idempotent = method in ("GET", "PUT", "DELETE", "HEAD")
        counters = {"attempts": 0, "rate_limited": 0, "relogged": False, "status": None, "waited": 0.0,
                    "exchanges": []}
        policy = self.backoff

        def wait(state: tenacity.RetryCallState) -> float:
            seconds = policy.wait_before(state.attempt_number, state.outcome.exception())
            counters["waited"] += seconds
            return seconds

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: is_retryable(e, idempotent)),
            wait=wait,
            stop=tenacity.stop_before_delay(policy.wall_deadline),
            sleep=self._sleep,
            reraise=True,
        )
        started = time.monotonic()
        try:
            return retrying(self._attempt, method, path, params=params, json=json,
                            timeout=timeout, auth=auth, counters=counters)
        finally:
            self.call_log.add(CallRecord(method, path, counters["status"], time.monotonic() - started,
                                         counters["attempts"], counters["rate_limited"],
                                         counters["waited"], tuple(counters["exchanges"]),
                                         None if timeout else policy.clock.wall(STALL_AFTER_SECONDS)))

    def get(self, path: str, **kw) -> dict:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> dict:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw) -> dict:
        return self.request("DELETE", path, **kw)

    # -- auth and account ------------------------------------------------------

    def login(self) -> None:
        """Get a bearer token; raise :class:`LoginFailed` on refused credentials."""
        self._token = None
        try:
            body = self.request("POST", f"{API}/auth/login", auth=False, idempotent=True,
                                json={"email": self.user, "password": self._password})
        except ApiError as error:
            if error.status in (400, 401, 403, 422):
                raise LoginFailed(f"login refused for {self.user} ({error.status}: {error.error})") from None
            raise
        token = body.get("token") or body.get("access_token")
        if not token:
            raise LoginFailed(f"login for {self.user} answered without a token")
        self._token = token

    def health(self) -> dict:
        return self.get("/health", auth=False)

    def balance(self) -> dict:
        return self.get(f"{API}/balance")

    # -- offers and instances -------------------------------------------------

    def offers(self, **filters) -> list[dict]:
        params = {k: v for k, v in filters.items() if v is not None}
        offers = self.get(f"{API}/instances/offers", params=params, auth=False).get("offers", [])
        if self.spend_guard is not None:
            self.spend_guard.saw_offers(offers)     # the only place a GPU's price is known before a create
        return offers

    def _authorize(self, call: PaidCall) -> PaidCall:
        if self.spend_guard is None:
            raise SpendRefused(f"{call.what}: this client has no spend guard, so it sends nothing that bills")
        self.spend_guard.authorize(call, self)
        return call

    def list_instances(self) -> list[dict]:
        return self.get(f"{API}/instances").get("instances", [])

    def find_instance(self, instance_id: int) -> dict | None:
        """The instance, or None when GET answered 404.

        The real server answers 404 for any provider error too (a rate limit,
        a timeout): None is no proof the instance is gone. Proof is in
        :meth:`support.resources.InstanceKind.is_gone`.
        """
        try:
            return self.get(f"{API}/instances/{instance_id}")
        except ApiError as error:
            if error.not_found:
                return None
            raise

    def find_instances_by_label(self, label: str) -> list[dict]:
        return [i for i in self.list_instances() if i.get("label") == label]

    def create_instance(self, offer_id: int, label: str, *, reconcile_wait: float | None = None,
                        **options) -> Created:
        """Create one instance, never two.

        Rate limits are retried (the server did nothing). After an ambiguous
        failure (no answer, or a 5xx) the instances are listed by ``label``:
        if the create went through, that instance is returned; otherwise
        the create is sent again, at most three times in all. The answer says
        when the request that made the instance was in flight (billing starts then).
        """
        body = {"offer_id": offer_id, "label": label, **options}
        rents = (GPU,) if options.get("skip_standby", True) else (GPU, STANDBY)
        paid = self._authorize(PaidCall("create an instance", rents, offer_id))
        if reconcile_wait is None:
            reconcile_wait = self.backoff.clock.wall(5.0)
        last_error: Exception | None = None
        first_sent = answered = None
        for attempt in range(3):
            if attempt:
                found = self._reconcile(label, reconcile_wait)
                if found is not None:
                    # Made by one of the requests sent so far: between the first send and the last answer.
                    return Created(found, Moment.during(first_sent, answered))
            sent = time.monotonic()
            first_sent = first_sent or sent
            try:
                instance = self.post(f"{API}/instances", json=body, idempotent=False, paid=paid)
            except (ConnectionProblem, ApiError) as error:
                answered = time.monotonic()
                if isinstance(error, ApiError) and not error.server_error:
                    raise
                last_error = error
                continue
            return Created(instance, Moment.during(sent, time.monotonic()))
        found = self._reconcile(label, reconcile_wait)
        if found is not None:
            return Created(found, Moment.during(first_sent, answered))
        raise last_error

    def _reconcile(self, label: str, settle: float) -> dict | None:
        """Look for an instance created under ``label``; give the listing ``settle`` seconds to show it."""
        deadline = time.monotonic() + settle
        interval = settle / 10
        while True:
            found = self.find_instances_by_label(label)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                return None
            self._sleep(interval)

    def delete_instance(self, instance_id: int, destroy_standby: bool = True) -> dict:
        params = {"destroy_standby": str(destroy_standby).lower(), "reason": "user_request"}
        # Not retried on 5xx: the real server answers 500 to a delete of something already gone,
        # and retrying that would stall for the whole backoff deadline. Callers verify the deletion
        # and resend (see support.resources); rate limits are still retried.
        return self.delete(f"{API}/instances/{instance_id}", params=params, idempotent=False)

    def pause_instance(self, instance_id: int) -> dict:
        return self.post(f"{API}/instances/{instance_id}/pause", idempotent=True)

    def resume_instance(self, instance_id: int) -> dict:
        return self.post(f"{API}/instances/{instance_id}/resume", idempotent=True)

    # -- snapshots -------------------------------------------------------------

    def create_snapshot(self, instance_id: int, tags: list[str], timeout: float) -> dict:
        """Synchronous on the server: the answer comes when the archive is done."""
        return self.post(f"{API}/snapshots", json={"instance_id": instance_id, "tags": tags,
                                                   "source_path": "/workspace"},
                         timeout=timeout, idempotent=False)

    def list_snapshots(self) -> list[dict]:
        return self.get(f"{API}/snapshots").get("snapshots", [])

    def restore_snapshot(self, snapshot_id: str, instance_id: int, timeout: float) -> dict:
        return self.post(f"{API}/snapshots/restore", params={"instance_id": instance_id},
                         json={"snapshot_id": snapshot_id, "target_path": "/workspace", "verify": True},
                         timeout=timeout, idempotent=True)

    def delete_snapshot(self, snapshot_id: str) -> dict:
        return self.delete(f"{API}/snapshots/{snapshot_id}", idempotent=False)  # 500 when gone: see above

    # -- CPU standby ------------------------------------------------------------

    def standby_status(self) -> dict:
        """``{"configured", "auto_standby_enabled", "associations", "config", ...}`` of the account."""
        return self.get(f"{API}/standby/status")

    def configure_standby(self, settings: dict) -> dict:
        """Replace the account's standby settings. Send every field you mean: the server defaults
        ``enabled`` to true when it is missing."""
        return self.post(f"{API}/standby/configure", json=settings, idempotent=True)

    def associations(self) -> dict[str, dict]:
        """Every standby association of the account, keyed by GPU instance id (as a string)."""
        body = self.get(f"{API}/standby/associations")
        return {str(k): v for k, v in (body.get("associations") or {}).items()}

    def find_association(self, gpu_id: int) -> dict | None:
        """The standby association of a GPU instance, or None when the server answers 404."""
        try:
            return self.get(f"{API}/standby/associations/{gpu_id}")
        except ApiError as error:
            if error.not_found:
                return None
            raise

    def delete_association(self, gpu_id: int) -> dict:
        # keep_gpu is accepted and ignored by the real server; sent for servers that honour it.
        return self.delete(f"{API}/standby/associations/{gpu_id}", params={"keep_gpu": "true"},
                           idempotent=False)

    def fail_over(self, instance_id: int, reason: str) -> dict:
        """A stub on the real server: it answers "initiated" and does nothing."""
        return self.post(f"{API}/instances/{instance_id}/failover",
                         json={"reason": reason, "strategy": "cpu_standby"})

    def fail_back(self, instance_id: int) -> dict:
        """May rent a new GPU of the server's choosing. A stub on the real server: it answers "initiated"
        and does nothing."""
        paid = self._authorize(PaidCall("fail back to a GPU", (ANY_GPU,)))
        return self.post(f"{API}/instances/{instance_id}/failback", json={}, paid=paid)

    def provision_standby(self, gpu_id: int, label: str) -> dict:
        paid = self._authorize(PaidCall("provision a CPU standby", (STANDBY,)))
        return self.post(f"{API}/standby/provision/{gpu_id}", params={"label": label}, paid=paid)

    def standby_pricing(self, machine_type: str = "e2-medium", disk_gb: int = 100, spot: bool = False) -> dict:
        return self.get(f"{API}/standby/pricing",
                        params={"machine_type": machine_type, "disk_gb": disk_gb, "spot": str(spot).lower()})


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "").strip()[:300]
    if isinstance(body, dict):
        message = body.get("error") or body.get("detail") or body.get("message") or body
        return str(message)[:300]
    return str(body)[:300]


def _session_for(base_url: str) -> requests.Session:
    """A session that reads its proxy and CA bundle from the environment once, here.

    requests would look them up again on every request (walking the whole environment each time, and
    reading ~/.netrc, whose credentials this client never wants: it authenticates with its own token),
    and at a fast time scale those lookups were a measurable part of every poll.
    """
    session = requests.Session()
    session.headers["User-Agent"] = "dumont-acceptance"
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    return session


def _connection_reason(error: requests.ConnectionError) -> str:
    text = str(error)
    for hint in ("Connection refused", "Name or service not known", "Connection aborted",
                 "RemoteDisconnected", "Connection reset", "timed out", "No route to host"):
        if hint in text:
            return hint
    return type(error).__name__
