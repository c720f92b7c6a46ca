"""Per-account token bucket over /api routes, and the three forms a limited answer takes.

Rate is in nominal requests/second and is multiplied by the time scale (wall rate =
rate x time_scale); burst is a plain number of requests.
"""
from __future__ import annotations

import json
import math
import time
from typing import Dict, List, Optional, Tuple

LIMIT_MESSAGE_500 = "Limite de requisições excedido. Tente novamente em alguns segundos."


def limited_response(form: str, retry_after_s: float = 1.0) -> Tuple[int, List[Tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of a rate-limited answer in the given form."""
    if form == "429":
        body = b"Too Many Requests"
        return 429, [(b"content-type", b"text/plain; charset=utf-8")], body
    if form == "429-retry-after":
        body = json.dumps({"error": "Rate limit exceeded"}).encode()
        secs = max(1, int(math.ceil(retry_after_s)))
        return 429, [(b"content-type", b"application/json"), (b"retry-after", str(secs).encode())], body
    body = json.dumps({"error": LIMIT_MESSAGE_500}, ensure_ascii=False).encode()
    return 500, [(b"content-type", b"application/json")], body


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
