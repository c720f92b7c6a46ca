"""One request budget for the whole run, shared by every process of it.

Rate limits are per identity and shared by all parallel workers (known
trap: one limiter per run, not per process). The bucket lives in a small
file locked with ``flock``, so journeys running in separate processes draw
from the same tokens.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path


class SharedTokenBucket:
    """``rate`` requests per second on average, ``burst`` at once, across processes."""

    def __init__(self, path: Path, rate: float, burst: float, sleep=time.sleep, clock=time.time):
        self.path = Path(path)
        self.rate = rate
        self.burst = burst
        self._sleep = sleep
        self._clock = clock
        self.waited = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _take(self) -> float:
        """Take a token if there is one; else how long until there will be."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 4096)
            now = self._clock()
            try:
                state = json.loads(raw) if raw else {}
                tokens, stamp = float(state["tokens"]), float(state["t"])
            except (ValueError, KeyError, TypeError):
                tokens, stamp = self.burst, now
            tokens = min(self.burst, tokens + max(0.0, now - stamp) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            if not wait:
                tokens -= 1
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"tokens": tokens, "t": now}).encode())
            return wait
        finally:
            os.close(fd)   # closing releases the lock

    def acquire(self) -> None:
        """Block until this process may send one request."""
        while True:
            wait = self._take()
            if not wait:
                return
            self.waited += wait
            self._sleep(wait)
