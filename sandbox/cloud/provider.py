"""The simulated provider (VAST.ai) behind the Dumont server: when one of the server's calls to
it fails, and how that failure reads once the server's HTTP client has seen it.

Two things make a provider call fail:

- a ``provider_error`` fault (``error``: rate_limit, timeout, down or server_error), matched
  against the Dumont request that makes the call;
- the provider's rate limiter: a minimum interval between two requests to one endpoint by one
  identity, with a small burst (a token bucket of ``burst`` tokens, one more every
  ``interval`` nominal seconds). The endpoint is the Dumont route pattern (ids replaced); the
  identity is the account, or "server" for the calls made with the server's own key (offers).

The real server retries a failing call 3 times (2 + 4 + 8 s, after each attempt's own timeout
for a timeout) before it gives up; ``ProviderFailure.nominal_delay`` is that time. What the
server then answers depends on the route: the routes turn a failure into their own form
(web/routes), from the text a ``requests`` exception would carry (``ProviderFailure.text``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from ..faults import Faults

PROVIDER_HOST = "console.vast.ai"
PROVIDER_API = f"https://{PROVIDER_HOST}/api/v0"
ERROR_KINDS = ("rate_limit", "timeout", "down", "server_error")
READ_TIMEOUT_S = 30          # the real server's timeout of one provider request
ATTEMPTS = 4                 # one call and 3 retries
SERVER_IDENTITY = "server"   # the server's own provider key (public routes: offers)


def provider_url(endpoint: str, query: str = "") -> str:
    """The URL the real server would have called, e.g. provider_url("instances/5/")."""
    return f"{PROVIDER_API}/{endpoint.lstrip('/')}" + (f"?{query}" if query else "")


def error_text(kind: str, url: str) -> str:
    """str() of the requests exception the real server's client raises for this failure."""
    if kind == "timeout":
        return (f"HTTPSConnectionPool(host='{PROVIDER_HOST}', port=443): Read timed out. "
                f"(read timeout={READ_TIMEOUT_S})")
    if kind == "down":
        path = url.split(PROVIDER_HOST, 1)[-1]
        return (f"HTTPSConnectionPool(host='{PROVIDER_HOST}', port=443): Max retries exceeded with url: {path} "
                "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f3c9b2e1d50>: "
                "Failed to establish a new connection: [Errno 111] Connection refused'))")
    if kind == "server_error":
        return f"503 Server Error: Service Unavailable for url: {url}"
    return f"429 Client Error: Too Many Requests for url: {url}"


@dataclass(frozen=True)
class ProviderFailure:
    """A provider call that failed for good (after the server's retries)."""

    kind: str                 # one of ERROR_KINDS
    url: str                  # the provider URL the server called
    source: str               # "provider_rate_limit" or "provider_error:<fault id>" (request log)
    nominal_delay: float      # nominal seconds the server spent on it before answering

    @property
    def text(self) -> str:
        return error_text(self.kind, self.url)


class ProviderLimiter:
    """Per (endpoint, identity): at most `burst` requests at once, then one per `interval`
    nominal seconds (wall interval = interval / time_scale)."""

    def __init__(self, interval: Optional[float], burst: int, time_scale: float):
        self.interval = interval
        self.burst = int(burst)
        self.time_scale = time_scale
        self._buckets: Dict[Tuple[str, str], Tuple[float, float]] = {}
        self.limited = 0

    @property
    def enabled(self) -> bool:
        return bool(self.interval)

    def configure(self, interval: Any = ..., burst: Any = ...) -> None:
        if interval is not ...:
            self.interval = interval or None
        if burst is not ...:
            self.burst = int(burst)
        self._buckets.clear()

    def describe(self) -> Dict[str, Any]:
        return {"interval": self.interval, "burst": self.burst, "limited": self.limited}

    def admit(self, endpoint: str, identity: str, now: Optional[float] = None) -> bool:
        if not self.enabled:
            return True
        now = time.monotonic() if now is None else now
        wall_interval = self.interval / self.time_scale
        key = (endpoint, identity)
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) / wall_interval)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return True
        self._buckets[key] = (tokens, now)
        self.limited += 1
        return False


class Provider:
    """Decides whether a provider call the server makes for a request fails, and how."""

    def __init__(self, faults: Faults, limiter: ProviderLimiter, retry_delay: float):
        self.faults = faults
        self.limiter = limiter
        self.retry_delay = float(retry_delay)

    def delay_of(self, kind: str) -> float:
        """Nominal seconds the server spends on a call that fails this way: the retries' sleeps,
        plus every attempt's timeout for a timeout."""
        return self.retry_delay + (ATTEMPTS * READ_TIMEOUT_S if kind == "timeout" else 0.0)

    def call(self, endpoint: str, identity: str, url: str, *, method: Optional[str] = None,
             path: Optional[str] = None, **attrs: Any) -> Optional[ProviderFailure]:
        """None when the call succeeds. A fault is looked at first, then the limiter (a call
        refused by a fault does not reach the provider, so it takes no token)."""
        fault = self.faults.take("provider_error", method, path, **attrs)
        if fault is not None:
            kind = fault.spec.get("error", "rate_limit")
            return ProviderFailure(kind, url, f"provider_error:{fault.id}", self.delay_of(kind))
        if not self.limiter.admit(endpoint, identity):
            return ProviderFailure("rate_limit", url, "provider_rate_limit", self.delay_of("rate_limit"))
        return None
