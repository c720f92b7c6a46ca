"""Per-account token buckets over /api routes, and the three forms a limited answer takes.

Rate is in nominal requests/second and is multiplied by the time scale (wall rate =
rate x time_scale); burst is a plain number of requests.
"""
from __future__ import annotations

import json
import math
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

LIMIT_MESSAGE_500 = "Limite de requisições excedido. Tente novamente em alguns segundos."


class Answer(NamedTuple):
    """A whole HTTP answer, sent by the gateway without the app."""

    status: int
    headers: List[Tuple[bytes, bytes]]
    body: bytes


def limited_response(form: str, retry_after_s: float = 1.0) -> Answer:
    """A rate-limited answer in the given form: "500" (the real server), "429" (VAST.ai) or
    "429-retry-after"."""
    if form == "429":
        return Answer(429, [(b"content-type", b"text/plain; charset=utf-8")], b"Too Many Requests")
    if form == "429-retry-after":
        body = json.dumps({"error": "Rate limit exceeded"}).encode()
        secs = max(1, int(math.ceil(retry_after_s)))
        return Answer(429, [(b"content-type", b"application/json"), (b"retry-after", str(secs).encode())], body)
    body = json.dumps({"error": LIMIT_MESSAGE_500}, ensure_ascii=False).encode()
    return Answer(500, [(b"content-type", b"application/json")], body)


class RateLimiter:
    def __init__(self, rate: Optional[float], burst: int, mode: str, time_scale: float):
        self.rate = rate
        self.burst = burst
        self.mode = mode
        self.time_scale = time_scale
        self._buckets: Dict[str, Tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.rate)

    def configure(self, rate=..., burst=..., mode=...) -> None:
        if rate is not ...:
            self.rate = rate or None
        if burst is not ...:
            self.burst = int(burst)
        if mode is not ...:
            self.mode = mode
        self._buckets.clear()

    def describe(self) -> dict:
        return {"rate": self.rate, "burst": self.burst, "mode": self.mode}

    def check(self, key: str, now: Optional[float] = None) -> Tuple[bool, float]:
        """Take one token for key. Returns (allowed, wall seconds until a token is available)."""
        if not self.enabled:
            return True, 0.0
        now = time.monotonic() if now is None else now
        wall_rate = self.rate * self.time_scale
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * wall_rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return True, 0.0
        self._buckets[key] = (tokens, now)
        return False, (1.0 - tokens) / wall_rate

    def admit(self, key: str) -> Optional[Answer]:
        """None when the request may go on; else the limited answer to send instead."""
        ok, retry = self.check(key)
        return None if ok else limited_response(self.mode, retry)
