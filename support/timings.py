"""How long phases took in earlier runs, so that polls are dense only where the event is likely.

One JSON line per timed phase, appended (one ``O_APPEND`` write) to
``<reports>/phase-history.jsonl`` and kept across runs like the ledger. Times
are real-world seconds (the clock turns the sandbox's wall seconds into
them), keyed by the kind of target (the sandbox, or one real server) so that
one never steers the other.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

#: How many of the latest times of a phase shape its window, and how far past them it reaches.
RECENT = 8
MARGIN = 0.05


@dataclass(frozen=True)
class Expected:
    """Where an event is likely: between ``low`` and ``high`` real seconds after its phase began."""

    low: float
    high: float


class TimingHistory:
    def __init__(self, path: Path, target: str):
        self.path = Path(path)
        self.target = target

    def add(self, phase: str, seconds: float) -> None:
        line = json.dumps({"t": round(time.time(), 3), "target": self.target, "phase": phase,
                           "seconds": round(seconds, 4)}) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def expected(self, phase: str) -> Expected | None:
        """The window of the latest times of ``phase`` on this kind of target, widened a little; None
        without history."""
        times = self._recent(phase)
        if not times:
            return None
        return Expected(min(times) * (1 - MARGIN), max(times) * (1 + MARGIN))

    def _recent(self, phase: str) -> list[float]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        times = []
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("target") == self.target and record.get("phase") == phase and record.get("seconds", 0) > 0:
                times.append(float(record["seconds"]))
                if len(times) == RECENT:
                    break
        return times
