"""Simulated time: nominal (real-world) durations scaled down to wall time, and seeded draws.

A nominal duration of N seconds takes N / time_scale wall seconds. Timestamps are wall epoch
floats (time.time()). Every duration comes from a named distribution that can be overridden
with --timings (see README).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from typing import Any, Dict, Optional

# name -> spec. A spec is a number (fixed nominal value), [low, high, mode] (triangular) or
# {"dist": "fixed"|"uniform"|"triangular", "value"|"low","high","mode": ...}.
DEFAULT_TIMINGS: Dict[str, Any] = {
    "boot": [60, 240, 100],          # create -> running, nominal seconds
    "ssh_ready": [5, 30, 10],         # running -> SSH accepts
    "pause": [5, 20, 8],              # pause request -> stopped
    "resume": [20, 90, 40],           # resume request -> running
    "snapshot_base": 5,               # snapshot create: base seconds
    "snapshot_per_gb": 30,            # + seconds per nominal GB archived
    "restore_base": 5,                # restore: base seconds
    "restore_per_gb": 20,             # + seconds per nominal GB restored
    "model_mb_per_s": 200,            # model mirror bandwidth, nominal MB/s
    # The real server's machine setup after each create, during which its whole loop is blocked
    # (--create-stall ssh): it tries the new machine's SSH every `create_ssh_interval` s for up to
    # `create_ssh_wait` s, then, once SSH answered, runs its setup over SSH for `create_setup` s.
    "create_ssh_wait": 120,
    "create_ssh_interval": 10,
    "create_setup": [8, 15, 10],
}


def iso(t: Optional[float]) -> Optional[str]:
    """A wall epoch time as the API writes it (ISO 8601, UTC); None stays None."""
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat()


class Clock:
    def __init__(self, time_scale: float):
        self.scale = float(time_scale)

    @staticmethod
    def now() -> float:
        return time.time()

    def wall(self, nominal_seconds: float) -> float:
        return max(0.0, float(nominal_seconds)) / self.scale

    def nominal(self, wall_seconds: float) -> float:
        return float(wall_seconds) * self.scale

    async def sleep(self, nominal_seconds: float) -> None:
        await asyncio.sleep(self.wall(nominal_seconds))


def _check_spec(name: str, spec: Any) -> Any:
    if isinstance(spec, bool):
        raise ValueError(f"timing {name}: not a number")
    if isinstance(spec, (int, float)):
        if spec < 0:
            raise ValueError(f"timing {name}: negative")
        return float(spec)
    if isinstance(spec, (list, tuple)):
        if len(spec) != 3:
            raise ValueError(f"timing {name}: a list must be [low, high, mode]")
        low, high, mode = (float(x) for x in spec)
        if not (0 <= low <= mode <= high):
            raise ValueError(f"timing {name}: need 0 <= low <= mode <= high")
        return {"dist": "triangular", "low": low, "high": high, "mode": mode}
    if isinstance(spec, dict):
        dist = spec.get("dist", "fixed")
        if dist == "fixed":
            return _check_spec(name, spec.get("value"))
        if dist == "uniform":
            low, high = float(spec["low"]), float(spec["high"])
            if not 0 <= low <= high:
                raise ValueError(f"timing {name}: need 0 <= low <= high")
            return {"dist": "uniform", "low": low, "high": high}
        if dist == "triangular":
            return _check_spec(name, [spec["low"], spec["high"], spec.get("mode", (spec["low"] + spec["high"]) / 2)])
        raise ValueError(f"timing {name}: unknown dist {dist!r}")
    raise ValueError(f"timing {name}: bad spec {spec!r}")


class Timings:
    """Named nominal-duration distributions, each drawn from its own seeded generator per subject.

    A subject is what a duration belongs to (the offer a machine was rented from, for its boot): with
    one generator for everything, every draw anywhere shifted every later one, so a journey's machines
    got other times as soon as another journey ran beside it. Per distribution and subject, a seeded
    journey gets the same times alone or among others, as long as it rents offers nobody else does
    (the bench compares a journey alone with the same journey in a parallel run).
    """

    def __init__(self, overrides: Optional[Dict[str, Any]] = None, seed: Optional[int] = None):
        self.seed = seed
        self._streams: Dict[tuple, random.Random] = {}
        self.specs: Dict[str, Any] = {}
        for name, spec in DEFAULT_TIMINGS.items():
            self.specs[name] = _check_spec(name, spec)
        self._overrides = dict(overrides or {})
        for name, spec in self._overrides.items():
            self.specs[name] = _check_spec(name, spec)

    def register_default(self, name: str, spec: Any) -> None:
        """For extensions (e.g. standby): add a distribution unless the user overrode it."""
        if name not in self._overrides:
            self.specs[name] = _check_spec(name, spec)

    def draw(self, name: str, subject: Any = None) -> float:
        spec = self.specs[name]
        if isinstance(spec, float):
            return spec
        rng = self._streams.get((name, subject))
        if rng is None:
            rng = random.Random(f"{self.seed}:timings:{name}:{subject}") if self.seed is not None else random.Random()
            self._streams[(name, subject)] = rng
        if spec["dist"] == "uniform":
            return rng.uniform(spec["low"], spec["high"])
        return rng.triangular(spec["low"], spec["high"], spec["mode"])

    def value(self, name: str) -> float:
        """The fixed value (or the mode/mean) of a distribution; for rates and per-GB costs."""
        spec = self.specs[name]
        if isinstance(spec, float):
            return spec
        if spec["dist"] == "uniform":
            return (spec["low"] + spec["high"]) / 2
        return spec["mode"]

    def describe(self) -> Dict[str, Any]:
        return dict(self.specs)
