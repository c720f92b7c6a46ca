"""One request budget per endpoint for the whole run, shared by every process of it, and polite.

The provider limits each endpoint and identity to a minimum interval between
calls, with small bursts, and its limits are shared by every parallel worker
(docs/known-traps.md: one limiter per run, not per process). So the run keeps
one token bucket per endpoint (the route with its ids blanked) in a small file
locked with ``flock``. A rate-limited answer halves that endpoint's rate; each
answer that was not rate limited gives back a little, up to the configured
rate — the adaptive way cloud SDKs retry. The recovery is settled with the
process's next request to that endpoint, in the same locked step as its token:
one locked change per request, not two.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from support.shared_state import change_locked

_IDS = re.compile(r"/(\d+|[0-9a-f]{8,})(?=/|$)")
#: A rate limit answer halves the rate, down to this share of the configured rate at the least.
SLOWEST = 1 / 16
#: Each answer that was not rate limited brings the rate back by this share of the configured rate.
RECOVERY = 1 / 20


def endpoint_of(method: str, path: str) -> str:
    """``GET /api/v1/instances/31000001`` → ``GET /api/v1/instances/{id}``."""
    return f"{method} {_IDS.sub('/{id}', path)}"


class SharedRequestBudget:
    """``rate`` requests per second per endpoint on average, ``burst`` at once, across processes."""

    def __init__(self, path: Path, rate: float, burst: float, sleep=time.sleep, clock=time.time):
        self.path = Path(path)
        self.rate = rate
        self.burst = burst
        self._sleep = sleep
        self._clock = clock
        self.waited = 0.0
        #: Answers that were not rate limited, per endpoint, whose recovery is not yet in the file.
        self._recovering: dict[str, int] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _locked(self, change):
        return change_locked(self.path, change)

    def _bucket(self, state: dict, endpoint: str, now: float) -> dict:
        bucket = state.get(endpoint)
        if not isinstance(bucket, dict) or not {"tokens", "t", "rate"} <= set(bucket):
            bucket = state[endpoint] = {"tokens": self.burst, "t": now, "rate": self.rate}
        bucket["tokens"] = min(self.burst, bucket["tokens"] + max(0.0, now - bucket["t"]) * bucket["rate"])
        bucket["t"] = now
        recovered = self._recovering.pop(endpoint, 0)
        if recovered:
            bucket["rate"] = min(self.rate, bucket["rate"] + recovered * self.rate * RECOVERY)
        return bucket

    def _take(self, endpoint: str) -> float:
        """Take a token if there is one; else how long until there will be."""
        def take(state: dict) -> float:
            bucket = self._bucket(state, endpoint, self._clock())
            if bucket["tokens"] >= 1:
                bucket["tokens"] -= 1
                return 0.0
            return (1 - bucket["tokens"]) / bucket["rate"]
        return self._locked(take)

    def acquire(self, endpoint: str = "") -> None:
        """Block until this process may send one request to ``endpoint``."""
        while True:
            wait = self._take(endpoint)
            if not wait:
                return
            self.waited += wait
            self._sleep(wait)

    def answered(self, endpoint: str, rate_limited: bool) -> None:
        """Slow down at once on a rate limit (every process of the run sees it before its next request);
        recover slowly otherwise, with this process's next request to the endpoint."""
        if not rate_limited:
            self._recovering[endpoint] = self._recovering.get(endpoint, 0) + 1
            return

        def slow_down(state: dict) -> None:
            bucket = self._bucket(state, endpoint, self._clock())
            bucket["rate"] = max(self.rate * SLOWEST, bucket["rate"] / 2)
            bucket["tokens"] = min(bucket["tokens"], 0.0)
        self._locked(slow_down)

    def rate_of(self, endpoint: str) -> float:
        return self._locked(lambda state: self._bucket(state, endpoint, self._clock())["rate"])
